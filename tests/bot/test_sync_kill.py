"""A worker SIGKILLed at random moments during an import, then restarted: nobody twice, nobody missing."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlmodel import Session

from bot.domain.prospect import Prospect
from tests.bot.world import World, sync_states

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
PEOPLE = 40


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    args = ["worker", "--poll", "0.05", "--lease", "1", "--no-scheduler"]  # the scheduler's pulls would add work
    return subprocess.Popen([sys.executable, "-m", "bot.cli", *args],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_worker_killed_mid_import_and_restarted_leaves_no_duplicate_and_no_gap(
        world: World, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    env = world.cli_env(request.getfixturevalue("db"), tmp_path / "sandbox.toml")
    before = len(world.people("acme"))
    with Session(world.rt.engine) as s, s.begin():
        for n in range(PEOPLE):
            world.rt.sync_service().enqueue(s, "acme", Prospect(
                source="csv", source_id=f"kill:{n}", first_name=f"Kill{n}", last_name="Round",
                profile_url=f"https://linkedin.com/in/kill-{n}-round", job_id="4401"))
    world.sims.states["greenhouse"].faults.latency_ms = 40  # the import outlasts a worker's life
    rng = random.Random(7)
    deadline = time.monotonic() + 150
    rounds = 0
    while sync_states(world)["done"] < PEOPLE:
        assert time.monotonic() < deadline, sync_states(world)
        rounds += 1
        proc = start_worker(env)
        time.sleep(rng.uniform(1.0, 2.5))  # start-up takes about a second; then kill at a random moment
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    world.sims.states["greenhouse"].faults.latency_ms = 0
    assert rounds >= 3, "the worker was killed mid-import several times"
    people = [p for p in world.people("acme") if p.last_name == "Round"]
    assert len(people) == PEOPLE, "every candidate in the ATS"
    assert len({p.first_name for p in people}) == PEOPLE, "exactly once each"
    assert len(world.people("acme")) == before + PEOPLE
    assert sync_states(world) == {"done": PEOPLE}, "nothing left in limbo"
