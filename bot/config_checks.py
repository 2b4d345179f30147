"""Checks across fields of the config (references between sections), and warnings about the environment."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

from bot.config_model import OUTCOMES, Agency, AppConfig, Tenant, project_key
from bot.config_problems import Problem, format_loc, show_value
from bot.settings import Settings

Loc = tuple[int | str, ...]


#: a tenant, its index in the file, and the fields that validated (None: all of them)
TenantEntry = tuple[int, Tenant, Collection[str] | None]


def reference_problems(
    tenant_ids: Sequence[tuple[int, str]],
    tenants: Sequence[TenantEntry],
    agencies: Sequence[tuple[int, Agency]],
) -> list[Problem]:
    """Problems between sections, for whichever tenants and agencies (or parts of them) validated."""
    problems = _duplicates("tenants", tenant_ids)
    problems += _duplicates("agencies", [(index, agency.id) for index, agency in agencies])
    problems += _agency_problems(agencies, {tenant_id for _, tenant_id in tenant_ids})
    for index, tenant, valid_fields in tenants:
        problems += [_within(("tenants", index), problem) for problem in tenant_problems(tenant, valid_fields)]
    return problems


def tenant_problems(tenant: Tenant, valid_fields: Collection[str] | None = None) -> list[Problem]:
    """Problems inside one tenant, paths relative to it; only checks whose fields all validated run."""
    return [
        problem
        for check, reads in _TENANT_CHECKS
        if valid_fields is None or reads <= set(valid_fields)
        for problem in check(tenant)
    ]


def env_warnings(config: AppConfig, environ: Mapping[str, str]) -> list[Problem]:
    """One warning per secret variable the config names that the environment does not set."""
    return [
        Problem(f"tenants[{index}].{path}", f"environment variable {name} is not set")
        for index, tenant in enumerate(config.tenants)
        for path, name in tenant.secret_env_fields()
        if not environ.get(name)
    ]


def slack_warnings(settings: Settings) -> list[Problem]:
    """Warnings for the Slack secrets the bot cannot run without."""
    missing = {
        "SLACK_BOT_TOKEN": (settings.slack_bot_token, "the bot cannot post to Slack"),
        "SLACK_SIGNING_SECRET": (settings.slack_signing_secret, "Slack requests cannot be verified"),
    }
    return [Problem(name, f"not set, so {why}") for name, (value, why) in missing.items() if value is None]


def _within(prefix: Loc, problem: Problem) -> Problem:
    return Problem(f"{format_loc(prefix)}.{problem.path}", problem.message)


def _duplicates(section: str, ids: Iterable[tuple[int, str]]) -> list[Problem]:
    first: dict[str, int] = {}
    problems = []
    for index, item_id in ids:
        if item_id in first:
            message = f"{show_value(item_id)} is already used by {section}[{first[item_id]}]"
            problems.append(Problem(f"{section}[{index}].id", message))
        first.setdefault(item_id, index)
    return problems


def _agency_problems(agencies: Sequence[tuple[int, Agency]], tenant_ids: set[str]) -> list[Problem]:
    owner: dict[str, str] = {}
    problems = []
    for index, agency in agencies:
        for position, tenant_id in enumerate(agency.tenants):
            path = f"agencies[{index}].tenants[{position}]"
            if tenant_id not in tenant_ids:
                problems.append(Problem(path, _not_found("tenant", tenant_id, tenant_ids, "")))
            elif tenant_id in agency.tenants[:position]:
                problems.append(Problem(path, f'tenant "{tenant_id}" is listed twice'))
            elif owner.get(tenant_id, agency.id) != agency.id:
                message = f'tenant "{tenant_id}" already belongs to agency "{owner[tenant_id]}"'
                problems.append(Problem(path, message))
            owner.setdefault(tenant_id, agency.id)
    return problems


def _job_problems(tenant: Tenant) -> list[Problem]:
    return _duplicates("jobs", [(index, job.id) for index, job in enumerate(tenant.jobs)])


def _connection_problems(tenant: Tenant) -> list[Problem]:
    other = "lever" if tenant.ats == "greenhouse" else "greenhouse"
    problems = []
    if getattr(tenant, tenant.ats) is None:
        message = f'required when ats = "{tenant.ats}" (add a [tenants.{tenant.ats}] table)'
        problems.append(Problem(tenant.ats, message))
    if getattr(tenant, other) is not None:
        message = f'not used when ats = "{tenant.ats}": remove the [tenants.{other}] table or change ats'
        problems.append(Problem(other, message))
    return problems


def _project_problems(tenant: Tenant) -> list[Problem]:
    job_ids = {job.id for job in tenant.jobs}
    problems = []
    seen: dict[str, str] = {}
    for name, ids in tenant.projects.items():
        key = project_key(name)
        if key in seen:
            problems.append(Problem(format_loc(("projects", name)), f'names the same project as "{seen[key]}"'))
        seen.setdefault(key, name)
        problems += [
            Problem(format_loc(("projects", name, position)), _not_found("job", job_id, job_ids))
            for position, job_id in enumerate(ids)
            if job_id not in job_ids
        ]
    return problems


def _stage_map_problems(tenant: Tenant) -> list[Problem]:
    job_ids = {job.id for job in tenant.jobs}
    return [
        Problem(format_loc(("stage_map", "jobs", job_id)), _not_found("job", job_id, job_ids))
        for job_id in tenant.stage_map.jobs
        if job_id not in job_ids
    ]


def _event_problems(tenant: Tenant) -> list[Problem]:
    stage_ids = tenant.stage_map.ids()
    return [
        Problem(f"linkedin_events.{event}[{position}]", f"stage {show_value(stage_id)} is not in the stage map")
        for event in type(tenant.linkedin_events).model_fields
        for position, stage_id in enumerate(getattr(tenant.linkedin_events, event))
        if stage_id not in stage_ids
    ]


def _alert_problems(tenant: Tenant) -> list[Problem]:
    job_ids = {job.id for job in tenant.jobs}
    departments = {job.department for job in tenant.jobs if job.department}
    stage_names = tenant.stage_map.names() | set(OUTCOMES)
    problems = []
    for index, route in enumerate(tenant.alerts):
        for field, values, known, what in (
            ("jobs", route.jobs, job_ids, "job"),
            ("departments", route.departments, departments, "department"),
            ("stages", route.stages, stage_names, "stage named"),
        ):
            problems += [
                Problem(f"alerts[{index}].{field}[{position}]", _not_found(what, value, known))
                for position, value in enumerate(values)
                if value not in known
            ]
    return problems


def _erasure_problems(tenant: Tenant) -> list[Problem]:
    if tenant.erase_in_ats and tenant.ats == "lever":
        return [Problem("erase_in_ats", "Lever's API documents no way to delete a person: set it to false "
                                        "and erase people in Lever itself")]
    return []


#: every check on a tenant, with the fields it reads
_TENANT_CHECKS: list[tuple[Callable[[Tenant], list[Problem]], set[str]]] = [
    (_connection_problems, {"ats", "greenhouse", "lever"}),
    (_job_problems, {"jobs"}),
    (_project_problems, {"projects", "jobs"}),
    (_stage_map_problems, {"stage_map", "jobs"}),
    (_event_problems, {"linkedin_events", "stage_map"}),
    (_alert_problems, {"alerts", "jobs", "stage_map"}),
    (_erasure_problems, {"ats", "erase_in_ats"}),
]


def _not_found(what: str, value: str, known: set[str], where: str = " in this tenant") -> str:
    # ids that differ by a digit are different things, so only names get a "did you mean"
    close = [] if what == "job" else difflib.get_close_matches(value, sorted(known), n=1, cutoff=0.6)
    hint = f'did you mean "{close[0]}"?' if close else "known: " + (", ".join(sorted(known)) or "none")
    return f"no {what} {show_value(value)}{where} ({hint})"
