"""`hirebridge erase` on a stored person: counts first, confirmation, --yes, nobody found, an unknown tenant."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from bot.cli import app
from bot.erasure import ERASED as ERASED_ACTION
from storage.models import AuditEntry, Candidate
from tests.bot.erasure_seed import ERASED, KEPT, in_ats
from tests.bot.world import World
from tests.conftest import Database

pytestmark = pytest.mark.slow
runner = CliRunner()


@pytest.fixture
def env(world: World, db: Database, tmp_path: Path) -> dict[str, str]:
    in_ats(world, ERASED, "4401")
    in_ats(world, KEPT, "4402")
    return {**world.cli_env(db, tmp_path / "hirebridge.toml"), "COLUMNS": "200"}


def people(world: World) -> int:
    with Session(world.rt.engine) as s:
        return len(s.execute(select(Candidate)).scalars().all())


def audits(world: World) -> list[AuditEntry]:
    with Session(world.rt.engine) as s:
        return list(s.execute(select(AuditEntry).where(AuditEntry.action == ERASED_ACTION)).scalars())


def test_erase_shows_counts_asks_and_does_nothing_when_refused(world: World, env: dict[str, str]) -> None:
    result = runner.invoke(app, ["erase", "--email", ERASED.email], env=env, input="n\n")
    assert result.exit_code == 1 and "Nothing was erased" in result.output
    assert "candidateidentity" in result.output and "acme" in result.output
    assert "Erase this person" in result.output
    assert ERASED.email not in result.output, "counts, not the data"
    assert people(world) == 2 and audits(world) == []


def test_erase_with_yes_erases_and_prints_rows_per_table(world: World, env: dict[str, str]) -> None:
    result = runner.invoke(app, ["erase", "--linkedin-url", ERASED.url, "--yes"], env=env)
    assert result.exit_code == 0, result.output
    assert "Erased (the audit log knows it as erasure" in result.output and "candidate" in result.output
    assert "greenhouse (acme): off" in result.output and "linkedin (acme): queued" in result.output
    assert people(world) == 1
    (entry,) = audits(world)
    assert entry.actor.startswith("cli:") and entry.detail["candidates"] == 1


def test_erase_confirmed_interactively(world: World, env: dict[str, str]) -> None:
    result = runner.invoke(app, ["erase", "--email", ERASED.email.upper(), "--tenant", "acme"], env=env,
                           input="y\n")
    assert result.exit_code == 0, result.output
    assert people(world) == 1


def test_erase_of_someone_never_stored_says_so_and_exits_1(world: World, env: dict[str, str]) -> None:
    result = runner.invoke(app, ["erase", "--email", "nobody@example.org", "--yes"], env=env)
    assert result.exit_code == 1 and "Nothing is stored about this email" in result.output
    assert people(world) == 2 and audits(world) == []


def test_erase_in_an_unknown_tenant_is_a_usage_error(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["erase", "--email", ERASED.email, "--tenant", "nope"], env=env)
    assert result.exit_code == 2 and "unknown tenant 'nope'" in result.output
