"""Environment settings: defaults, overrides, bad values named by variable, secrets that never print."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.settings import Settings, SettingsError


def test_settings_defaults_from_an_empty_environment() -> None:
    settings = Settings.from_env({})

    assert settings.database_url == "sqlite:///hirebridge.db"
    assert settings.config_path == Path("hirebridge.toml")
    assert settings.slack_bot_token is None
    assert settings.slack_signing_secret is None
    assert settings.slack_app_token is None
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.log_level == "INFO"


def test_settings_reads_every_variable() -> None:
    settings = Settings.from_env(
        {
            "HIREBRIDGE_DATABASE_URL": "postgresql+psycopg://bot@db/hirebridge",
            "HIREBRIDGE_CONFIG": "/etc/hirebridge/hirebridge.toml",
            "SLACK_BOT_TOKEN": "xoxb-bot",
            "SLACK_SIGNING_SECRET": "signing",
            "SLACK_APP_TOKEN": "xapp-app",
            "HIREBRIDGE_SLACK_API_URL": "http://127.0.0.1:9001/api/",
            "HIREBRIDGE_LOG_LEVEL": "DEBUG",
        }
    )

    assert settings.database_url == "postgresql+psycopg://bot@db/hirebridge"
    assert settings.config_path == Path("/etc/hirebridge/hirebridge.toml")
    assert settings.slack_bot_token is not None and settings.slack_bot_token.get_secret_value() == "xoxb-bot"
    assert settings.slack_signing_secret is not None
    assert settings.slack_signing_secret.get_secret_value() == "signing"
    assert settings.slack_app_token is not None and settings.slack_app_token.get_secret_value() == "xapp-app"
    assert settings.slack_api_url == "http://127.0.0.1:9001/api/"
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("variable", "value", "field", "expected"),
    [
        ("HIREBRIDGE_SLACK_API_URL", "http://127.0.0.1:9001/api", "slack_api_url", "http://127.0.0.1:9001/api/"),
        ("HIREBRIDGE_LOG_LEVEL", "warning", "log_level", "WARNING"),
        ("HIREBRIDGE_LOG_LEVEL", "", "log_level", "INFO"),
        ("HIREBRIDGE_DATABASE_URL", "  ", "database_url", "sqlite:///hirebridge.db"),
    ],
)
def test_settings_normalises_values(variable: str, value: str, field: str, expected: str) -> None:
    assert getattr(Settings.from_env({variable: value}), field) == expected


def test_settings_empty_secret_counts_as_unset() -> None:
    assert Settings.from_env({"SLACK_APP_TOKEN": ""}).slack_app_token is None


def test_settings_log_level_number_follows_logging() -> None:
    assert Settings.from_env({"HIREBRIDGE_LOG_LEVEL": "error"}).log_level_number == 40


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("HIREBRIDGE_LOG_LEVEL", "LOUD", '"LOUD" is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL'),
        ("HIREBRIDGE_DATABASE_URL", "hirebridge.db", "expected a database URL"),
        ("HIREBRIDGE_SLACK_API_URL", "slack.com/api", 'expected an http(s) URL like "https://slack.com/api/"'),
        ("SLACK_BOT_TOKEN", "xoxp-user-token", "expected a token starting with xoxb-"),
        ("SLACK_APP_TOKEN", "xoxb-bot-token", "expected a token starting with xapp-"),
    ],
)
def test_settings_bad_value_names_the_variable(variable: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({variable: value})

    [problem] = caught.value.problems
    assert problem.path == variable
    assert message in problem.message
    assert str(caught.value).startswith(f"{variable}: ")


def test_settings_reports_every_bad_variable() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"HIREBRIDGE_LOG_LEVEL": "LOUD", "HIREBRIDGE_DATABASE_URL": "nowhere"})

    assert {problem.path for problem in caught.value.problems} == {
        "HIREBRIDGE_LOG_LEVEL",
        "HIREBRIDGE_DATABASE_URL",
    }


def test_settings_secrets_never_print() -> None:
    secrets = {
        "SLACK_BOT_TOKEN": "xoxb-s3cr3t",
        "SLACK_SIGNING_SECRET": "s1gn1ng",
        "SLACK_APP_TOKEN": "xapp-s3cr3t",
    }
    settings = Settings.from_env(secrets)

    shown = repr(settings) + str(settings) + str(settings.model_dump())
    for value in secrets.values():
        assert value not in shown


def test_settings_bad_token_error_does_not_quote_the_token() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"SLACK_BOT_TOKEN": "xoxp-do-not-print"})

    assert "do-not-print" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_settings_are_frozen() -> None:
    settings = Settings.from_env({})

    with pytest.raises(ValidationError):
        settings.log_level = "DEBUG"  # type: ignore[misc]
