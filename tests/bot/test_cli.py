"""The command line: database, dead letters, and verbs whose capability has not landed."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from storage.db import build_engine
from storage.migrate import current_revision, head_revision
from storage.queue import WorkQueue

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"HIREBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}


def test_db_upgrade_creates_the_schema_and_is_repeatable(env: dict[str, str]) -> None:
    first = runner.invoke(app, ["db", "upgrade"], env=env)
    again = runner.invoke(app, ["db", "upgrade"], env=env)
    assert first.exit_code == 0 and "was empty" in first.output
    assert again.exit_code == 0
    engine = build_engine(env["HIREBRIDGE_DATABASE_URL"])
    assert current_revision(engine) == head_revision()


def test_bad_database_url_is_named(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["db", "upgrade"], env={"HIREBRIDGE_DATABASE_URL": "not a url"})
    assert result.exit_code == 2
    assert "HIREBRIDGE_DATABASE_URL" in result.output


def dead_items(env: dict[str, str], n: int) -> list[int]:
    runner.invoke(app, ["db", "upgrade"], env=env)
    queue = WorkQueue(build_engine(env["HIREBRIDGE_DATABASE_URL"]))
    ids = []
    for i in range(n):
        queue.enqueue("sync.candidate", {}, dedupe_key=f"k{i}", tenant_id="acme")
        (item,) = queue.claim("w")
        queue.fail(item, f"Rejected: 422 bad record {i}", permanent=True)
        ids.append(item.id)
    return ids


def test_dlq_list_shows_ids_kinds_errors_and_ages(env: dict[str, str]) -> None:
    ids = dead_items(env, 2)
    result = runner.invoke(app, ["dlq", "list"], env={**env, "COLUMNS": "200"})
    assert result.exit_code == 0
    for needle in (str(ids[0]), "sync.candidate", "acme", "Rejected: 422 bad record 1", "0s"):
        assert needle in result.output


def test_dlq_retry_requeues_and_reports_unknown_ids(env: dict[str, str]) -> None:
    ids = dead_items(env, 2)
    ok = runner.invoke(app, ["dlq", "retry", str(ids[0])], env=env)
    partly = runner.invoke(app, ["dlq", "retry", str(ids[0]), "9999"], env=env)
    assert ok.exit_code == 0 and "requeued 1" in ok.output
    assert partly.exit_code == 1 and "not dead-lettered" in partly.output


def test_dlq_retry_needs_ids_or_all(env: dict[str, str]) -> None:
    dead_items(env, 1)
    assert runner.invoke(app, ["dlq", "retry"], env=env).exit_code == 2
    result = runner.invoke(app, ["dlq", "retry", "--all"], env=env)
    assert result.exit_code == 0 and "requeued 1" in result.output


def test_dlq_drop_deletes_after_confirmation(env: dict[str, str]) -> None:
    ids = dead_items(env, 1)
    refused = runner.invoke(app, ["dlq", "drop", str(ids[0])], env=env, input="n\n")
    dropped = runner.invoke(app, ["dlq", "drop", str(ids[0]), "--yes"], env=env)
    assert refused.exit_code == 1
    assert dropped.exit_code == 0 and "dropped 1" in dropped.output


@pytest.mark.parametrize(("argv", "problem"), [
    (["erase"], "exactly one"),
    (["erase", "--email", "a@b.io", "--linkedin-url", "https://linkedin.com/in/a"], "exactly one"),
    (["erase", "--email", "not-an-address"], "not an email address"),
    (["erase", "--linkedin-url", "https://example.com/in/a"], "LinkedIn"),
])
def test_erase_needs_exactly_one_email_or_profile_url(argv: list[str], problem: str, env: dict[str, str]) -> None:
    result = runner.invoke(app, argv, env=env)
    assert result.exit_code == 2 and problem in result.output


@pytest.mark.parametrize("verb", ["demo", "serve", "worker", "sandbox", "sync", "audit-duplicates", "import",
                                  "erase", "stats", "db", "config", "dlq", "mapping", "attention"])
def test_every_verb_has_help(verb: str) -> None:
    result = runner.invoke(app, [verb, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


EXAMPLE = Path(__file__).resolve().parents[2] / "hirebridge.example.toml"


def test_config_check_passes_on_the_example() -> None:
    result = runner.invoke(app, ["config", "check", str(EXAMPLE)], env={"HIREBRIDGE_CONFIG": ""})
    assert result.exit_code == 0, result.output
    assert "OK, 3 tenants" in result.output


def test_config_check_names_every_broken_field_and_fails(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    text = EXAMPLE.read_text().replace('ats = "lever"', 'ats = "gren house"', 1).replace(
        'ops_channel = "C0ACMEOPS"', 'ops_channel = "acme-ops"', 1)
    broken.write_text(text)
    result = runner.invoke(app, ["config", "check", str(broken)])
    assert result.exit_code == 1
    assert 'tenants[1].ats: "gren house" is not one of greenhouse, lever' in result.output
    assert "tenants[0].ops_channel" in result.output


def test_config_check_reads_hirebridge_config_by_default() -> None:
    result = runner.invoke(app, ["config", "check"], env={"HIREBRIDGE_CONFIG": str(EXAMPLE)})
    assert result.exit_code == 0, result.output


def test_config_check_names_a_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["config", "check", str(tmp_path / "nope.toml")])
    assert result.exit_code == 1
    assert "nope.toml" in result.output


@pytest.mark.parametrize("argv", [["dlq", "list"], ["attention", "list"], ["dlq", "retry", "--all"]])
def test_commands_on_an_empty_database_say_to_upgrade(argv: list[str], env: dict[str, str]) -> None:
    result = runner.invoke(app, argv, env=env)
    assert result.exit_code == 2
    assert "run `hirebridge db upgrade`" in result.output


# --- hirebridge stats ------------------------------------------------------------------------------------------

def stats_env(env: dict[str, str]) -> dict[str, str]:
    """A migrated database holding a week of acme's activity, and the example config."""
    from datetime import UTC, datetime, timedelta

    from bot.config import load_config
    from bot.tenants import register_tenants
    from storage.db import transaction
    from tests.bot.kpi_rows import Rows

    runner.invoke(app, ["db", "upgrade"], env=env)
    engine = build_engine(env["HIREBRIDGE_DATABASE_URL"])
    register_tenants(engine, load_config(EXAMPLE))
    now = datetime.now(UTC)
    with transaction(engine) as s:
        acme = Rows(s)
        jane = acme.candidate("Jane", "Doe", ats="p1", created=now - timedelta(days=40), keys=("email",),
                              source="linkedin:export")
        acme.exported(jane, now - timedelta(days=3), reviewed=now - timedelta(days=2))
        acme.sync(now - timedelta(days=3), now - timedelta(days=3) + timedelta(seconds=12))
        acme.audit(now - timedelta(days=2), "slack:U0OLU", "command.stats")
    engine.dispose()
    return {**env, "HIREBRIDGE_CONFIG": str(EXAMPLE)}


def test_stats_prints_each_tenants_kpis(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cli_support import console

    monkeypatch.setattr(console, "width", 400)  # the console read COLUMNS when it was made: no wrapping here
    result = runner.invoke(app, ["stats"], env=stats_env(env))
    assert result.exit_code == 0, result.output
    assert "Recruiting KPIs, last 30 day(s)" in result.output
    assert "median 24.0 h, p90 24.0 h — 1 of 1 exported application(s) reviewed" in result.output
    assert "p50 12.0 s, p95 12.0 s over 1 sync(s)" in result.output
    assert "100.0% — 1 of 1 LinkedIn-sourced record(s) credited to LinkedIn" in result.output
    assert ("Adoption: 0.2 command(s) per user per week — 1 command(s) by 1 user(s), 0 refused (install-wide)\n"
            in result.output)
    for tenant in ("acme", "northwind", "globex"):
        assert tenant in result.output
    assert "no data — no application exported in this period" in result.output  # northwind and globex


def test_stats_json_for_one_tenant_over_a_window(env: dict[str, str]) -> None:
    import json

    seeded = stats_env(env)
    month = json.loads(runner.invoke(app, ["stats", "--tenant", "acme", "--json"], env=seeded).stdout)
    day = json.loads(runner.invoke(app, ["stats", "--tenant", "acme", "--days", "1", "--json"], env=seeded).stdout)
    assert [k["tenant_id"] for k in month] == ["acme"]
    assert month[0]["review"] == {"exported": 1, "reviewed": 1, "median_hours": 24.0, "p90_hours": 24.0}
    assert month[0]["duplicates"] == {"records": 1, "found": 0, "percent": 0.0}
    assert month[0]["adoption"]["commands"] == 1 and month[0]["adoption"]["weeks"] == pytest.approx(30 / 7)
    assert day[0]["review"] == {"exported": 0, "reviewed": 0, "median_hours": None, "p90_hours": None}
    assert day[0]["sync_lag"] == {"syncs": 0, "p50_seconds": None, "p95_seconds": None}


@pytest.mark.parametrize(("argv", "says"), [
    (["stats", "--days", "0"], "--days must be 1 or more, not 0"),
    (["stats", "--tenant", "nobody"], "unknown tenant 'nobody'; configured: acme, northwind, globex"),
])
def test_stats_usage_errors_exit_2(argv: list[str], says: str, env: dict[str, str]) -> None:
    runner.invoke(app, ["db", "upgrade"], env=env)
    result = runner.invoke(app, argv, env={**env, "HIREBRIDGE_CONFIG": str(EXAMPLE)})
    assert result.exit_code == 2
    assert says in result.output


def test_dlq_list_on_a_fresh_store(env: dict[str, str]) -> None:
    empty = runner.invoke(app, ["dlq", "list"], env=env)
    assert empty.exit_code == 2 and "hirebridge db upgrade" in empty.output, "no schema yet: say what to run"
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    fresh = runner.invoke(app, ["dlq", "list"], env=env)
    assert fresh.exit_code == 0, fresh.output
    assert "no dead-lettered items" in fresh.output
