"""Loading and checking `hirebridge.toml`: every problem is reported at once, in plain words, with its path."""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError, create_model

from bot.config_checks import env_warnings, reference_problems, slack_warnings
from bot.config_model import (
    OUTCOMES,
    Agency,
    AlertRoute,
    AppConfig,
    BotConfig,
    GreenhouseConnection,
    Job,
    LeverConnection,
    LinkedInConnection,
    LinkedInEvents,
    Role,
    Roles,
    StageMap,
    Tenant,
)
from bot.config_problems import Problem, problems_from
from bot.settings import Settings, SettingsError

__all__ = [
    "OUTCOMES",
    "Agency",
    "AlertRoute",
    "AppConfig",
    "BotConfig",
    "CheckReport",
    "ConfigError",
    "GreenhouseConnection",
    "Job",
    "LeverConnection",
    "LinkedInConnection",
    "LinkedInEvents",
    "Problem",
    "Role",
    "Roles",
    "StageMap",
    "Tenant",
    "check_config",
    "format_report",
    "load_config",
    "validate_document",
]

ModelT = TypeVar("ModelT", bound=BaseModel)

_TOML_POSITION = re.compile(r"(?P<what>.*) \(at line (?P<line>\d+), column (?P<column>\d+)\)")


class ConfigError(Exception):
    """The config file cannot be used; `problems` lists everything wrong with it."""

    def __init__(self, path: Path, problems: list[Problem]) -> None:
        self.path = path
        self.problems = problems
        lines = "".join(f"\n  {problem}" for problem in problems)
        super().__init__(f"{path}: {len(problems)} problem(s) in the config file:{lines}")


@dataclass(frozen=True)
class CheckReport:
    """What `hirebridge config check` found: errors stop the bot, warnings do not."""

    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    config: AppConfig | None = None

    @property
    def ok(self) -> bool:
        """True when the bot can start with this config."""
        return not self.errors


def load_config(path: Path) -> AppConfig:
    """Read and validate the config file; ConfigError lists every problem found."""
    config, problems = validate_document(read_document(path))
    if config is None or problems:
        raise ConfigError(path, problems)
    return config


def read_document(path: Path) -> dict[str, Any]:
    """Parse the TOML file; ConfigError for an unreadable file or a syntax error (with line and column)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise _file_error(path, f"cannot read the config file ({error.strerror or error})") from None
    except UnicodeDecodeError as error:
        raise _file_error(path, f"not UTF-8 text (byte {error.start})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(path, [_syntax_problem(path, str(error))]) from None


def validate_document(document: Mapping[str, Any]) -> tuple[AppConfig | None, list[Problem]]:
    """Validate a parsed document; the config is None when its structure is wrong."""
    try:
        config = AppConfig.model_validate(document)
    except ValidationError as error:
        return None, problems_from(error, AppConfig) + _partial_reference_problems(document)
    tenant_ids = [(index, tenant.id) for index, tenant in enumerate(config.tenants)]
    tenants = [(index, tenant, None) for index, tenant in enumerate(config.tenants)]
    return config, reference_problems(tenant_ids, tenants, list(enumerate(config.agencies)))


def check_config(path: Path, environ: Mapping[str, str]) -> CheckReport:
    """Check the config file and the environment it names; missing variables are warnings."""
    settings_errors, warnings = _settings_findings(environ)
    try:
        config = load_config(path)
    except ConfigError as error:
        return CheckReport(errors=error.problems + settings_errors, warnings=warnings)
    return CheckReport(errors=settings_errors, warnings=env_warnings(config, environ) + warnings, config=config)


def format_report(report: CheckReport, path: Path) -> list[str]:
    """The lines `hirebridge config check` prints: errors, warnings, then a one-line verdict."""
    lines = [f"error: {problem}" for problem in report.errors]
    lines += [f"warning: {problem}" for problem in report.warnings]
    warnings = _count(len(report.warnings), "warning")
    if report.config is not None and report.ok:
        tenants = ", ".join(tenant.id for tenant in report.config.tenants)
        lines.append(f"{path}: OK, {_count(len(report.config.tenants), 'tenant')} ({tenants}), {warnings}")
    else:
        lines.append(f"{path}: {_count(len(report.errors), 'error')}, {warnings}")
    return lines


def _file_error(path: Path, message: str) -> ConfigError:
    return ConfigError(path, [Problem(str(path), message)])


def _syntax_problem(path: Path, message: str) -> Problem:
    match = _TOML_POSITION.fullmatch(message)
    if match is None:
        return Problem(str(path), message)
    return Problem(f"{path}:{match['line']}:{match['column']}", match["what"])


def _partial_reference_problems(document: Mapping[str, Any]) -> list[Problem]:
    # the structure is broken somewhere, but the tenants and agencies that do validate still get their
    # cross-reference checks, so one run reports every problem rather than the first layer of them
    raw_tenants = _list_of_tables(document.get("tenants"))
    tenant_ids = [(index, raw["id"]) for index, raw in raw_tenants if isinstance(raw.get("id"), str)]
    tenants = [(index, *_salvage_tenant(raw)) for index, raw in raw_tenants]
    agencies = _valid(_list_of_tables(document.get("agencies")), Agency)
    return reference_problems(tenant_ids, tenants, agencies)


def _list_of_tables(value: Any) -> list[tuple[int, dict[str, Any]]]:
    items = value if isinstance(value, list) else []
    return [(index, item) for index, item in enumerate(items) if isinstance(item, dict)]


def _valid(items: Sequence[tuple[int, dict[str, Any]]], model: type[ModelT]) -> list[tuple[int, ModelT]]:
    valid = []
    for index, item in items:
        try:
            valid.append((index, model.model_validate(item)))
        except ValidationError:
            continue  # already reported by the whole-document validation
    return valid


def _salvage_tenant(raw: Mapping[str, Any]) -> tuple[Tenant, set[str]]:
    """A tenant assembled from its fields that validate on their own, and the names of those fields."""
    values: dict[str, Any] = {}
    for name, model in _tenant_field_models().items():
        try:
            values[name] = getattr(model.model_validate({name: raw[name]}), name)
        except (KeyError, ValidationError):
            continue
    defaulted = {name for name, info in Tenant.model_fields.items() if name not in raw and not info.is_required()}
    # model_construct skips validation: fields that failed stay unset, and only checks avoiding them run
    return Tenant.model_construct(**values), set(values) | defaulted


@functools.cache
def _tenant_field_models() -> dict[str, type[BaseModel]]:
    """One single-field model per tenant field, so each field can be validated on its own."""
    models = {}
    for name, info in Tenant.model_fields.items():
        definition: Any = (info.annotation, info)
        models[name] = create_model(f"Tenant_{name}", __config__=Tenant.model_config, **{name: definition})
    return models


def _settings_findings(environ: Mapping[str, str]) -> tuple[list[Problem], list[Problem]]:
    try:
        settings = Settings.from_env(environ)
    except SettingsError as error:
        return error.problems, []
    return [], slack_warnings(settings)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
