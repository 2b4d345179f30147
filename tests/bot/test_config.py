"""The config file: the example against the sandbox world, every problem in plain words, the model's look-ups."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import (
    AppConfig,
    ConfigError,
    Role,
    check_config,
    format_report,
    load_config,
)
from integrations.sandbox import world

EXAMPLE = Path(__file__).resolve().parents[2] / "hirebridge.example.toml"

# a small valid file: tenant 0 on Greenhouse, tenant 1 on Lever; cases below change one line of it
BASE = """\
[roles]
admin = ["U0ADA"]
ops = ["S0OPSTEAM"]
recruiter = ["U0RAE"]

[[agencies]]
id = "forge"
name = "Forge"
tenants = ["beta"]

[[tenants]]
id = "acme"
name = "Acme"
ats = "greenhouse"
ops_channel = "C0OPS"
recruiter_channel = "C0REC"

[tenants.greenhouse]
client_id = "acme-harvest"
client_secret_env = "ACME_GH_SECRET"
user_id = 91
webhook_secret_env = "ACME_GH_WEBHOOK"

[tenants.linkedin]
client_id = "acme-rsc"
client_secret_env = "ACME_LI_SECRET"
organization = "urn:li:organization:1001"
contract = "urn:li:contract:5001"
seats = ["urn:li:seat:6001"]

[[tenants.jobs]]
id = "4401"
name = "Backend Engineer"
department = "Engineering"

[tenants.projects]
"Backend Engineers" = ["4401"]

[tenants.stage_map.stages]
"7001" = "Application Review"
"7003" = "Phone Screen"

[tenants.linkedin_events]
exported = ["7001"]

[[tenants.alerts]]
channel = "C0ENG"
stages = ["Phone Screen", "Hired"]

[[tenants]]
id = "beta"
name = "Beta"
ats = "lever"
ops_channel = "C0BOPS"
recruiter_channel = "C0BREC"

[tenants.lever]
api_key_env = "BETA_LEVER_KEY"
perform_as = "user-1"
signature_token_env = "BETA_LEVER_SIG"
"""


def edited(old: str, new: str, text: str = BASE) -> str:
    """BASE with one exact snippet replaced (the snippet must occur once, so the case stays meaningful)."""
    assert text.count(old) == 1, old
    return text.replace(old, new)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hirebridge.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_in(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    return [str(problem) for problem in caught.value.problems]


# --- the example file ------------------------------------------------------------------------------------


def test_config_example_passes_check_on_a_fresh_machine() -> None:
    report = check_config(EXAMPLE, {})

    assert report.errors == []
    assert report.ok
    assert all("is not set" in problem.message or "not set," in problem.message for problem in report.warnings)


def test_config_example_warns_about_exactly_the_sandbox_variables() -> None:
    report = check_config(EXAMPLE, {})

    warned = {name for name in world.SANDBOX_ENV if any(name in str(problem) for problem in report.warnings)}
    assert warned == set(world.SANDBOX_ENV)
    assert len(report.warnings) == len(world.SANDBOX_ENV)


def test_config_example_is_clean_with_the_sandbox_environment() -> None:
    report = check_config(EXAMPLE, world.SANDBOX_ENV)

    assert (report.errors, report.warnings) == ([], [])
    assert format_report(report, EXAMPLE)[-1] == f"{EXAMPLE}: OK, 3 tenants (acme, northwind, globex), 0 warnings"


def test_config_example_matches_the_greenhouse_world() -> None:
    config = load_config(EXAMPLE)
    acme, account = config.tenant("acme"), world.ACME_GREENHOUSE

    assert acme.ats == "greenhouse" and acme.greenhouse is not None
    assert acme.greenhouse.client_id == account.client_id
    assert str(acme.greenhouse.user_id) == account.users[0].id
    assert [job.id for job in acme.jobs] == [job.id for job in account.jobs]
    left_out = {"7106"}  # the sandbox's unmapped stage, on purpose: the demo shows its ops notice
    for job in account.jobs:
        assert {stage.id: acme.stage_name(stage.id, job.id) for stage in job.stages} == {
            stage.id: None if stage.id in left_out else stage.name for stage in job.stages
        }


@pytest.mark.parametrize("account", [world.NORTHWIND_LEVER, world.GLOBEX_LEVER], ids=lambda a: a.tenant)
def test_config_example_matches_the_lever_world(account: world.LeverAccount) -> None:
    config = load_config(EXAMPLE)
    tenant = config.tenant(account.tenant)

    assert tenant.ats == "lever" and tenant.lever is not None
    assert tenant.lever.perform_as in {user.id for user in account.users}
    assert [job.id for job in tenant.jobs] == [posting.id for posting in account.postings]
    assert tenant.stage_map.stages == {stage.id: stage.name for stage in account.stages}
    assert config.agency_of(account.tenant) is not None


@pytest.mark.parametrize("customer", world.LINKEDIN_CUSTOMERS, ids=lambda c: c.tenant)
def test_config_example_matches_the_linkedin_world(customer: world.LinkedInCustomer) -> None:
    linkedin = load_config(EXAMPLE).tenant(customer.tenant).linkedin

    assert linkedin is not None
    assert (linkedin.client_id, linkedin.organization, linkedin.contract) == (
        customer.client_id,
        customer.organization,
        customer.contract,
    )
    assert tuple(linkedin.seats) == customer.seats


def test_config_example_uses_only_sandbox_channels_and_users() -> None:
    config = load_config(EXAMPLE)
    channels = {t.ops_channel for t in config.tenants} | {t.recruiter_channel for t in config.tenants}
    channels |= {route.channel for t in config.tenants for route in t.alerts}

    assert channels <= set(world.SLACK.channels)
    members = config.roles.admin + config.roles.ops + config.roles.recruiter
    assert set(members) <= set(world.SLACK.users) | set(world.SLACK.usergroups)
    assert config.role_of("U0ADA") is Role.ADMIN
    assert config.role_of("U0LEE") is None and config.role_of("U0LEE", ["S0SOURCERS"]) is Role.RECRUITER
    assert config.role_of("U0OLU") is Role.OPS
    assert {config.role_of(user) for user in ("U0RAE", "U0NIA", "U0GUS")} == {Role.RECRUITER}


def test_config_example_routes_backend_alerts() -> None:
    acme = load_config(EXAMPLE).tenant("acme")

    for stage in ("Phone Screen", "Offer", "Hired"):
        assert [route.channel for route in acme.alert_routes("4401", stage)] == ["C0ACMEENG"]
    assert acme.alert_routes("4401", "Application Review") == []


# --- message shapes --------------------------------------------------------------------------------------

SHAPES = [
    ('ats = "lever"', 'ats = "gren house"', 'tenants[1].ats: "gren house" is not one of greenhouse, lever'),
    (
        "[tenants.greenhouse]",
        "[tenants.greenhous]",
        'tenants[0].greenhous: unknown field (did you mean "greenhouse"?)',
    ),
    ('client_id = "acme-harvest"\n', "", "tenants[0].greenhouse.client_id: required"),
    (
        'seats = ["urn:li:seat:6001"]',
        'seats = "urn:li:seat:1"',
        'tenants[0].linkedin.seats: expected a list of strings, got "urn:li:seat:1"',
    ),
    ("user_id = 91", 'user_id = "91"', 'tenants[0].greenhouse.user_id: expected a whole number, got "91"'),
    ("[roles]", "[bot]\nbacklog_threshold = 0\n\n[roles]", "bot.backlog_threshold: must be at least 1, got 0"),
    (
        "[roles]",
        "[bot]\nsync_interval = 60\n\n[roles]",
        'bot.sync_interval: unknown field (did you mean "sync_interval_seconds"?)',
    ),
    (
        "[roles]",
        '[bot]\ndefault_phone_region = "USA"\n\n[roles]',
        'bot.default_phone_region: "USA" is not a phone region code like "US" or "GB"',
    ),
    (
        "[[tenants.alerts]]\n",
        "[[tenants.alerts]]\ndm_recruiter = 1\n",
        "tenants[0].alerts[0].dm_recruiter: expected a boolean (true or false), got 1",
    ),
    (
        'id = "acme"',
        'id = "Acme Corp"',
        'tenants[0].id: "Acme Corp" is not a valid id: use lower-case letters, digits and dashes ("acme")',
    ),
    (
        'ops_channel = "C0OPS"',
        'ops_channel = "#recruiting"',
        'tenants[0].ops_channel: "#recruiting" is not a Slack channel id (C… or G…, like "C0123ABCD"): '
        "use the channel's id, not its name",
    ),
    (
        'admin = ["U0ADA"]',
        'admin = ["ada"]',
        'roles.admin[0]: "ada" is not a Slack user id (U… or W…) or user group id (S…)',
    ),
    (
        'client_secret_env = "ACME_GH_SECRET"',
        'client_secret_env = "acme_gh_secret"',
        "tenants[0].greenhouse.client_secret_env: "
        'environment variable names are upper case (did you mean "ACME_GH_SECRET"?)',
    ),
    (
        'client_secret_env = "ACME_GH_SECRET"',
        'client_secret_env = "my secret"',
        "tenants[0].greenhouse.client_secret_env: "
        "expected the name of an environment variable (capital letters, digits and _)",
    ),
    (
        'client_secret_env = "ACME_LI_SECRET"',
        'client_secret = "abc"',
        "tenants[0].linkedin.client_secret: unknown field: "
        'secrets stay in the environment; name the variable holding it in "client_secret_env"',
    ),
    (
        'organization = "urn:li:organization:1001"',
        'organization = "1001"',
        'tenants[0].linkedin.organization: expected a URN like "urn:li:organization:123", got "1001"',
    ),
    (
        "[tenants.lever]\n",
        '[tenants.lever]\napi_url = "api.lever.co"\n',
        'tenants[1].lever.api_url: expected an http(s) URL, got "api.lever.co"',
    ),
    (
        '"Backend Engineers" = ["4401"]',
        '"Backend Engineers" = []',
        'tenants[0].projects["Backend Engineers"]: must not be empty',
    ),
    # cross-references
    ('id = "beta"', 'id = "acme"', 'tenants[1].id: "acme" is already used by tenants[0]'),
    (
        'ats = "lever"',
        'ats = "greenhouse"',
        'tenants[1].greenhouse: required when ats = "greenhouse" (add a [tenants.greenhouse] table)',
    ),
    (
        'ats = "lever"',
        'ats = "greenhouse"',
        'tenants[1].lever: not used when ats = "greenhouse": remove the [tenants.lever] table or change ats',
    ),
    (
        '"Backend Engineers" = ["4401"]',
        '"Backend Engineers" = ["4401", "4499"]',
        'tenants[0].projects["Backend Engineers"][1]: no job "4499" in this tenant (known: 4401)',
    ),
    (
        "[[tenants.alerts]]\n",
        '[[tenants.alerts]]\njobs = ["4499"]\n',
        'tenants[0].alerts[0].jobs[0]: no job "4499" in this tenant (known: 4401)',
    ),
    (
        'stages = ["Phone Screen", "Hired"]',
        'stages = ["Phone Scren", "Hired"]',
        "tenants[0].alerts[0].stages[0]: "
        'no stage named "Phone Scren" in this tenant (did you mean "Phone Screen"?)',
    ),
    (
        "[[tenants.alerts]]\n",
        '[[tenants.alerts]]\ndepartments = ["Sales"]\n',
        'tenants[0].alerts[0].departments[0]: no department "Sales" in this tenant (known: Engineering)',
    ),
    (
        'exported = ["7001"]',
        'exported = ["7999"]',
        'tenants[0].linkedin_events.exported[0]: stage "7999" is not in the stage map',
    ),
    (
        "[tenants.linkedin_events]",
        '[tenants.stage_map.jobs."4499"]\n"7002" = "Screen"\n\n[tenants.linkedin_events]',
        'tenants[0].stage_map.jobs["4499"]: no job "4499" in this tenant (known: 4401)',
    ),
    (
        'tenants = ["beta"]',
        'tenants = ["beta", "gamma"]',
        'agencies[0].tenants[1]: no tenant "gamma" (known: acme, beta)',
    ),
    ('tenants = ["beta"]', 'tenants = ["beta", "beta"]', 'agencies[0].tenants[1]: tenant "beta" is listed twice'),
    (
        '[[tenants]]\nid = "acme"',
        '[[agencies]]\nid = "other"\nname = "Other"\ntenants = ["beta"]\n\n[[tenants]]\nid = "acme"',
        'agencies[1].tenants[0]: tenant "beta" already belongs to agency "forge"',
    ),
    (
        "[tenants.projects]",
        '[[tenants.jobs]]\nid = "4401"\nname = "Again"\n\n[tenants.projects]',
        'tenants[0].jobs[1].id: "4401" is already used by jobs[0]',
    ),
    (
        '"Backend Engineers" = ["4401"]',
        '"Backend Engineers" = ["4401"]\n"backend  engineers" = ["4401"]',
        'tenants[0].projects["backend  engineers"]: names the same project as "Backend Engineers"',
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), SHAPES, ids=[shape[2].split(":")[0] for shape in SHAPES])
def test_config_problem_message_shapes(tmp_path: Path, old: str, new: str, expected: str) -> None:
    problems = problems_in(tmp_path, edited(old, new))

    assert expected in problems


@pytest.mark.parametrize(("old", "new", "_expected"), SHAPES, ids=[shape[2].split(":")[0] for shape in SHAPES])
def test_config_problems_speak_no_pydantic(tmp_path: Path, old: str, new: str, _expected: str) -> None:
    for problem in problems_in(tmp_path, edited(old, new)):
        assert "Input should" not in problem and "Value error" not in problem and "pydantic" not in problem


def test_config_base_file_is_valid(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BASE))

    assert [tenant.id for tenant in config.tenants] == ["acme", "beta"]


def test_config_literal_secret_in_env_field_is_an_error_that_does_not_repeat_it(tmp_path: Path) -> None:
    secret = "sandbox-acme-harvest-secret"
    problems = problems_in(tmp_path, edited('"ACME_GH_SECRET"', f'"{secret}"'))

    [problem] = [p for p in problems if p.startswith("tenants[0].greenhouse.client_secret_env:")]
    assert "put the secret in the environment" in problem
    assert secret not in problem


@pytest.mark.parametrize("token", ["xoxb-1234-5678-abcdef", "sk_live_abc", "eyJhbGciOiJIUzI1NiJ9.e30.x"])
def test_config_token_shaped_env_values_are_called_secrets(tmp_path: Path, token: str) -> None:
    problems = problems_in(tmp_path, edited('"ACME_GH_SECRET"', f'"{token}"'))

    assert any("looks like a secret" in problem for problem in problems)


def test_config_reports_every_problem_at_once(tmp_path: Path) -> None:
    text = edited('ats = "lever"', 'ats = "gren house"')
    text = edited('ops_channel = "C0OPS"', 'ops_channel = "ops"', text)
    text = edited('"Backend Engineers" = ["4401"]', '"Backend Engineers" = ["4499"]', text)
    text = edited("user_id = 91", "user_id = 0", text)
    text = edited('tenants = ["beta"]', 'tenants = ["beta", "gamma"]', text)

    assert {problem.split(":")[0] for problem in problems_in(tmp_path, text)} == {
        "tenants[1].ats",
        "tenants[0].ops_channel",
        'tenants[0].projects["Backend Engineers"][0]',
        "tenants[0].greenhouse.user_id",
        "agencies[0].tenants[1]",
    }


def test_config_accepts_numeric_ids_and_group_members(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, edited('id = "4401"', "id = 4401")))

    assert config.tenant("acme").jobs[0].id == "4401"
    assert config.role_of("U0SOMEONE", user_groups=["S0OPSTEAM"]) is Role.OPS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "tenants: required"),
        ("tenants = []", "tenants: at least one [[tenants]] table is required"),
        ("[bot]\n[[tenants]]\n", "tenants[0].id: required"),
    ],
)
def test_config_empty_documents(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in problems_in(tmp_path, text)


# --- files -----------------------------------------------------------------------------------------------


def test_config_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "[bot]\nretention_days = = 3\n")

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert [str(problem) for problem in caught.value.problems] == [f"{path}:2:18: Invalid value"]


@pytest.mark.parametrize("name", ["missing.toml", "."])
def test_config_unreadable_file_names_the_path(tmp_path: Path, name: str) -> None:
    path = tmp_path / name

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    [problem] = caught.value.problems
    assert problem.path == str(path)
    assert problem.message.startswith("cannot read the config file (")


def test_config_non_utf8_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "hirebridge.toml"
    path.write_bytes(b'name = "\xff"\n')

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert str(caught.value.problems[0]) == f"{path}: not UTF-8 text (byte 8)"


def test_config_error_text_lists_every_problem(tmp_path: Path) -> None:
    path = write(tmp_path, edited('ats = "lever"', 'ats = "gren house"'))

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert str(caught.value) == (
        f'{path}: 1 problem(s) in the config file:\n  tenants[1].ats: "gren house" is not one of greenhouse, lever'
    )


# --- check and report ------------------------------------------------------------------------------------


def test_config_check_missing_variables_are_warnings(tmp_path: Path) -> None:
    report = check_config(write(tmp_path, BASE), {"ACME_GH_SECRET": "s", "SLACK_BOT_TOKEN": "xoxb-1"})

    assert report.ok
    assert "tenants[0].greenhouse.webhook_secret_env: environment variable ACME_GH_WEBHOOK is not set" in [
        str(problem) for problem in report.warnings
    ]
    assert not any(
        "ACME_GH_SECRET" in str(problem) or "SLACK_BOT_TOKEN" in str(problem) for problem in report.warnings
    )


def test_config_check_empty_variable_counts_as_missing(tmp_path: Path) -> None:
    report = check_config(write(tmp_path, BASE), {"ACME_GH_SECRET": ""})

    assert any("ACME_GH_SECRET is not set" in str(problem) for problem in report.warnings)


def test_config_check_reports_bad_settings_as_errors(tmp_path: Path) -> None:
    report = check_config(write(tmp_path, BASE), {"HIREBRIDGE_LOG_LEVEL": "LOUD"})

    assert not report.ok
    assert [problem.path for problem in report.errors] == ["HIREBRIDGE_LOG_LEVEL"]


def test_config_format_report_lists_errors_then_a_verdict(tmp_path: Path) -> None:
    path = write(tmp_path, edited('ats = "lever"', 'ats = "gren house"'))

    lines = format_report(check_config(path, {"SLACK_BOT_TOKEN": "xoxb-1"}), path)

    assert lines == [
        'error: tenants[1].ats: "gren house" is not one of greenhouse, lever',
        "warning: SLACK_SIGNING_SECRET: not set, so Slack requests cannot be verified",
        f"{path}: 1 error, 1 warning",
    ]


# --- look-ups on the model -------------------------------------------------------------------------------


@pytest.fixture
def example() -> AppConfig:
    return load_config(EXAMPLE)


def test_config_tenant_unknown_raises_key_error(example: AppConfig) -> None:
    with pytest.raises(KeyError):
        example.tenant("initech")


@pytest.mark.parametrize(
    ("project", "jobs"),
    [
        ("Backend Engineers", ["4401"]),
        ("  backend   ENGINEERS ", ["4401"]),
        ("Engineering Talent Pool", ["4401", "4402"]),
        ("Sales", []),
    ],
)
def test_config_jobs_for_project(example: AppConfig, project: str, jobs: list[str]) -> None:
    assert [job.id for job in example.tenant("acme").jobs_for_project(project)] == jobs


def test_config_secret_env_names(example: AppConfig) -> None:
    assert example.tenant("northwind").secret_env_names() == [
        "NORTHWIND_LEVER_API_KEY",
        "NORTHWIND_LEVER_SIGNATURE_TOKEN",
        "NORTHWIND_LINKEDIN_CLIENT_SECRET",
    ]


@pytest.mark.parametrize(
    ("user", "groups", "role"),
    [
        ("U0ADA", (), Role.ADMIN),
        ("U0RAE", (), Role.RECRUITER),
        ("U0HIRINGMGR", (), None),
        ("U0HIRINGMGR", ("S0NOBODY",), None),
    ],
)
def test_config_role_of(example: AppConfig, user: str, groups: tuple[str, ...], role: Role | None) -> None:
    assert example.role_of(user, groups) is role


@pytest.mark.parametrize(
    ("role", "minimum", "allowed"),
    [
        (Role.ADMIN, Role.OPS, True),
        (Role.OPS, Role.OPS, True),
        (Role.RECRUITER, Role.OPS, False),
        (Role.OPS, Role.ADMIN, False),
    ],
)
def test_config_role_at_least(role: Role, minimum: Role, allowed: bool) -> None:
    assert role.at_least(minimum) is allowed


def test_config_role_of_picks_the_highest_role(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, edited('recruiter = ["U0RAE"]', 'recruiter = ["U0RAE", "S0OPSTEAM"]')))

    assert config.role_of("U0RAE", ["S0OPSTEAM"]) is Role.OPS


@pytest.mark.parametrize(
    ("tenant", "event", "job", "stage"),
    [
        ("acme", "exported", "4401", "7001"),
        ("acme", "exported", "4402", "7101"),
        ("acme", "inmail_sent", "4401", None),
        ("northwind", "inmail_replied", "post-nw-sre", "stage-nw-phone"),
    ],
)
def test_config_event_stage_id(example: AppConfig, tenant: str, event: str, job: str, stage: str | None) -> None:
    assert example.tenant(tenant).event_stage_id(event, job) == stage  # type: ignore[arg-type]


def test_config_stage_name_prefers_the_job_override(tmp_path: Path) -> None:
    text = edited(
        "[tenants.linkedin_events]",
        '[tenants.stage_map.jobs."4401"]\n"7003" = "Tech Screen"\n\n[tenants.linkedin_events]',
    )
    acme = load_config(write(tmp_path, text)).tenant("acme")

    assert acme.stage_name("7003", "4401") == "Tech Screen"
    assert acme.stage_name("7001", "4401") == "Application Review"
    assert acme.stage_name("7003") == "Phone Screen"
    assert acme.stage_name("9999") is None


def test_config_tenant_values_fall_back_to_bot_defaults(example: AppConfig) -> None:
    assert example.retention_days("globex") == 180
    assert example.retention_days("acme") == example.bot.retention_days == 365
    assert example.phone_region("northwind") == "US"
    assert example.linkedin_daily_budget("acme") == 500


def test_config_models_are_frozen(example: AppConfig) -> None:
    with pytest.raises(ValueError, match="frozen"):
        example.tenant("acme").name = "Other"  # type: ignore[misc]
