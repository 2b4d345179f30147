"""`hirebridge import`, `mapping show`, `attention list` and `sync --once` against the simulators."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.bot.world import World
from tests.conftest import Database

pytestmark = pytest.mark.slow
runner = CliRunner()
CSV = ("first_name,last_name,email,linkedin_url,notes\n"
       "Jane,Doe,jane@example.com,https://www.linkedin.com/in/jane-doe-csv,x\n"
       "Nolast,,,https://linkedin.com/in/nolast,\n"
       "Omar,Haddad,,linkedin.com/in/Omar-Haddad-CSV/?trk=x,\n")


@pytest.fixture
def env(world: World, db: Database, tmp_path: Path) -> dict[str, str]:
    return {**world.cli_env(db, tmp_path / "sandbox.toml"), "COLUMNS": "200"}


def test_import_creates_reports_and_is_idempotent(world: World, env: dict[str, str], tmp_path: Path) -> None:
    before = len(world.people("acme"))
    (tmp_path / "c.csv").write_text(CSV)
    first = runner.invoke(app, ["import", str(tmp_path / "c.csv"), "--tenant", "acme", "--job", "4401"], env=env)
    assert first.exit_code == 0, first.output
    assert "3 row(s): 2 created" in first.output and "line 3: no last name" in first.output
    assert "ignored column(s): notes" in first.output
    again = runner.invoke(app, ["import", str(tmp_path / "c.csv"), "--tenant", "acme", "--job", "4401"], env=env)
    assert "imported before: nothing to do" in again.output
    assert len(world.people("acme")) == before + 2
    listed = runner.invoke(app, ["attention", "list"], env=env)
    assert "no last name" in listed.output and "Nolast" in listed.output


@pytest.mark.parametrize(("argv", "code", "message"), [
    (["import", "missing.csv", "--tenant", "acme"], 1, "cannot read missing.csv"),
    (["import", "{csv}", "--tenant", "nope"], 2, "unknown tenant 'nope'"),
    (["import", "{bad}", "--tenant", "acme"], 1, "need a name column"),
])
def test_import_refuses_bad_input_clearly(argv: list[str], code: int, message: str, env: dict[str, str],
                                          tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text(CSV)
    (tmp_path / "bad.csv").write_text("email\na@b.co\n")
    argv = [a.format(csv=tmp_path / "c.csv", bad=tmp_path / "bad.csv") for a in argv]
    result = runner.invoke(app, argv, env=env)
    assert result.exit_code == code and message in result.output


def test_mapping_show_prints_fields_projects_and_stages(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["mapping", "show", "--tenant", "northwind"], env=env)
    assert result.exit_code == 0, result.output
    for needle in ("social_media_addresses[]", "links[]", "northwind: LinkedIn projects", "Phone screen"):
        assert needle in result.output
    assert "acme:" not in result.output


def test_sync_once_pulls_every_tenant(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["sync", "--once"], env=env)
    assert result.exit_code == 0, result.output
    assert "6 item(s): 6 done" in result.output


def test_import_reports_as_failed_only_the_rows_whose_last_attempt_failed(world: World) -> None:
    from sqlmodel import Session, select

    from bot.domain.csv_rows import parse_candidates_csv
    from bot.importer import import_csv
    from bot.sync import SYNC
    from storage.models import WorkItem

    rows = "".join(f"Flaky{n},Row,,https://www.linkedin.com/in/flaky-{n}-row\n" for n in range(60))
    parsed = parse_candidates_csv("first_name,last_name,email,linkedin_url\n" + rows, job_id="4401")
    world.sims.states["greenhouse"].faults.error_rate = 0.5  # many rows fail once, then succeed in the import

    report = import_csv(world.rt, parsed, "acme")

    world.sims.states["greenhouse"].faults.error_rate = 0.0
    with Session(world.rt.engine) as s:
        left = {item.payload["prospect"]["source_id"].rsplit(":", 1)[-1]
                for item in s.exec(select(WorkItem).where(WorkItem.state != "done", WorkItem.kind == SYNC))}
    failed = [row for row, _ in report.failed]
    assert len(failed) == len(set(failed)), "a row retried in the import is reported once"
    assert set(failed) == left, "failed: exactly the rows the worker still has to retry"
    assert sum(report.outcomes.values()) + len(failed) == 60


def test_rows_the_rate_limit_holds_back_are_deferred_not_failed(world: World) -> None:
    from bot.domain.csv_rows import parse_candidates_csv
    from bot.importer import import_csv

    rows = "".join(f"Held{n},Back,,https://www.linkedin.com/in/held-{n}-back\n" for n in range(5))
    parsed = parse_candidates_csv("first_name,last_name,email,linkedin_url\n" + rows, job_id="4401")
    world.sims.states["greenhouse"].faults.rate_limited_rate = 1.0  # every create answered 429

    report = import_csv(world.rt, parsed, "acme")

    world.sims.states["greenhouse"].faults.rate_limited_rate = 0.0
    assert (report.deferred, report.failed) == (5, []), "held back, for the worker: nothing failed"
