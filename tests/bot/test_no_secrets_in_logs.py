"""No secret reaches a log: real flows at DEBUG (a sync with token fetches, a Slack command, refused
credentials, the `hirebridge` command in a process of its own), every record and its fields searched for every
secret of the sandbox environment and every access token the simulators issued."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from integrations.errors import AuthFailed
from integrations.sandbox.world import SANDBOX_ENV
from tests.bot.slack_client import post, slash, wait_for_response
from tests.bot.slack_client import server as server
from tests.bot.world import World
from tests.conftest import Database

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)  # the root logger: every library's debug output, every thread's
    return caplog


def issued_tokens(world: World) -> list[str]:
    states: Any = world.sims.states
    return [*states["greenhouse"].tokens.values(), *states["linkedin"].tokens.values()]


def leaks(world: World, texts: Iterable[str]) -> list[str]:
    """The names of the secrets (or "access token") found in any of `texts`."""
    secrets = {**{name: value for name, value in SANDBOX_ENV.items() if len(value) >= 8},
               **{f"access token {token[:6]}…": token for token in issued_tokens(world)}}
    return sorted({name for text in texts for name, value in secrets.items() if value in text})


def records(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Each record as formatted (traceback included) and all its attributes (structured handlers log them)."""
    return [caplog.text, *(repr(vars(r)) for r in caplog.records)]


def exported(world: World, slug: str) -> None:
    world.export("acme", [{"firstName": "Nia", "lastName": "Okafor",
                           "profileUrl": f"https://www.linkedin.com/in/{slug}"}], job="4401")


def test_a_sync_with_token_fetches_logs_no_secret(world: World, logs: pytest.LogCaptureFixture) -> None:
    exported(world, "nia-okafor-1")
    outcomes = world.drain()
    world.relay()
    assert outcomes and all(o.error is None for o in outcomes), [o.error for o in outcomes]
    assert issued_tokens(world), "the flow fetched tokens"
    assert len(logs.records) > 20, "debug logging was on"
    assert leaks(world, records(logs)) == []


def test_refused_credentials_log_no_secret(world: World, logs: pytest.LogCaptureFixture) -> None:
    for name in ("greenhouse", "linkedin"):
        world.sims.states[name].faults.reject_credentials = True
    exported(world, "nia-okafor-2")  # accepted by our server; fetching it from LinkedIn is refused
    outcomes = world.drain()
    assert any(o.error and "AuthFailed" in o.error for o in outcomes)
    with pytest.raises(AuthFailed):
        world.rt.connections().ats_adapter("acme").ping()
    assert leaks(world, [*records(logs), *(o.error or "" for o in outcomes)]) == []


def test_a_slack_command_logs_no_secret(world: World, server: Any, logs: pytest.LogCaptureFixture) -> None:
    assert post(server, slash(world, "status", user="U0OLU", channel="C0ACMEOPS")).status_code == 200
    wait_for_response(world)
    assert any("slack" in r.name for r in logs.records)
    assert leaks(world, records(logs)) == []


def test_the_cli_logs_no_secret_at_debug(world: World, db: Database, tmp_path: Path) -> None:
    env = {**os.environ, **world.cli_env(db, tmp_path / "sandbox.toml"), "PYTHONPATH": str(ROOT),
           "HIREBRIDGE_LOG_LEVEL": "DEBUG"}
    done = subprocess.run([sys.executable, "-m", "bot.cli", "sync", "--once"], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "DEBUG" in done.stderr and issued_tokens(world), "debug logs were written and tokens fetched"
    assert leaks(world, [done.stdout, done.stderr]) == []
