"""Environment settings: where the database and config file are, the Slack secrets, the log level."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_core import ErrorDetails

from bot.config_problems import Problem

#: each setting and the environment variable it is read from
ENV_VARS = {
    "database_url": "HIREBRIDGE_DATABASE_URL",
    "config_path": "HIREBRIDGE_CONFIG",
    "slack_bot_token": "SLACK_BOT_TOKEN",
    "slack_signing_secret": "SLACK_SIGNING_SECRET",
    "slack_app_token": "SLACK_APP_TOKEN",
    "slack_api_url": "HIREBRIDGE_SLACK_API_URL",
    "log_level": "HIREBRIDGE_LOG_LEVEL",
}

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_DATABASE_URL = re.compile(r"[a-z][a-z0-9+]*://.*")
# the token kinds Slack issues; a user token (xoxp-) pasted as the bot token is the usual mistake
_TOKEN_PREFIXES = {"slack_bot_token": "xoxb-", "slack_app_token": "xapp-"}


class SettingsError(ValueError):
    """One or more environment variables hold values the bot cannot use."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(problem) for problem in problems))
        self.problems = problems


class Settings(BaseModel):
    """Settings read from the environment by the composition root; secrets never print."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    database_url: str = "sqlite:///hirebridge.db"
    config_path: Path = Path("hirebridge.toml")
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read the settings from an environment mapping; empty variables count as unset."""
        values = {field: environ[name] for field, name in ENV_VARS.items() if environ.get(name, "").strip()}
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            # `from None`: pydantic's error text quotes the input, which may be a token
            raise SettingsError([_problem(detail) for detail in error.errors()]) from None

    @property
    def log_level_number(self) -> int:
        """The level as the `logging` module numbers it."""
        return logging.getLevelNamesMapping()[self.log_level]

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not _DATABASE_URL.fullmatch(value.strip()):
            raise ValueError('expected a database URL like "sqlite:///hirebridge.db" or "postgresql+psycopg://…"')
        return value.strip()

    @field_validator("slack_api_url")
    @classmethod
    def _slack_api_url(cls, value: str) -> str:
        value = value.strip()
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f'expected an http(s) URL like "https://slack.com/api/", got "{value}"')
        return value if value.endswith("/") else value + "/"

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f'"{value}" is not one of {", ".join(LOG_LEVELS)}')
        return level

    @field_validator("slack_bot_token", "slack_app_token")
    @classmethod
    def _token_kind(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        prefix = _TOKEN_PREFIXES[str(info.field_name)]
        if value is not None and not value.get_secret_value().startswith(prefix):
            # never echo the value: it is a credential
            raise ValueError(f"expected a token starting with {prefix}")
        return value


def _problem(detail: ErrorDetails) -> Problem:
    error = detail.get("ctx", {}).get("error")
    return Problem(ENV_VARS[str(detail["loc"][0])], str(error) if error is not None else detail["msg"])
