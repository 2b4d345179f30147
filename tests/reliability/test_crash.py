"""Crash: `hirebridge worker` SIGKILLed at random moments, 20 times, during a 1,000-candidate import, restarted
each time, while stage changes arrive → every candidate in the ATS exactly once, every alert posted once,
nothing left in limbo (no work item queued, running or dead; no Slack message unsent).

Each round starts a worker, waits until it has finished a sync item (so a slow start-up never takes the
round), then kills it after a random 0-0.6 s: mid-create, mid-commit, mid-post. `--lease 1` lets the next
worker reclaim what the killed one held after a second, for the queue and the Slack outbox alike.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, func, select

from bot.domain.prospect import Prospect
from bot.stage_events import ATS_EVENT
from storage.db import transaction
from storage.models import Application, Candidate, OutboxMessage, WorkItem
from storage.queue import Priority, enqueue
from tests.bot.world import World, sync_states

pytestmark = pytest.mark.timeout(400)
ROOT = Path(__file__).resolve().parents[2]
PEOPLE = 1_000
ROUNDS = 20
CHANNEL = "C0ACMEENG"  # where the example config routes job 4401's stage changes


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    args = ["worker", "--poll", "0.05", "--lease", "1", "--no-scheduler"]  # the scheduler's pulls would add work
    return subprocess.Popen([sys.executable, "-m", "bot.cli", *args],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait(predicate: Callable[[], bool], deadline: float, what: str, proc: subprocess.Popen[bytes]) -> None:
    while not predicate():
        assert proc.poll() is None, "the worker exited by itself"
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def applications(world: World, count: int) -> list[Application]:
    """`count` people exported to job 4401 and synced in this process: the applications stage changes move."""
    people = [{"firstName": f"Alert{n}", "lastName": "Mover", "profileUrl": f"https://www.linkedin.com/in/alert-{n}"}
              for n in range(count)]
    world.export("acme", people, job="4401")
    world.drain()
    world.relay()
    with Session(world.rt.engine) as s:
        rows = s.exec(select(Application, Candidate).join(Candidate, Candidate.id == Application.candidate_id)
                      .where(Candidate.last_name == "Mover").order_by(Candidate.first_name)).all()
    assert len(rows) == count
    return [app for app, _ in rows]


def stage_change(world: World, app: Application) -> None:
    """What the Greenhouse webhook intake queues for an accepted stage change (tests/bot/test_stage_events.py)."""
    event = {"event_id": f"crash-{app.id}", "vendor": "greenhouse", "kind": "stage_change", "person_id": None,
             "application_id": app.ats_application_id, "job_id": app.job_id, "to_stage_id": "7003",
             "to_stage_name": "Phone Screen", "from_stage_id": None, "status": "active", "actor": None,
             "occurred_at": datetime.now(UTC).isoformat()}
    with transaction(world.rt.engine) as s:
        enqueue(s, ATS_EVENT, {"tenant": "acme", "event": event}, tenant_id="acme", priority=Priority.PUSH,
                dedupe_key=f"ats-event:greenhouse:acme:{event['event_id']}")


def alerts_posted(world: World) -> Counter[str]:
    """Phone Screen alerts in the hiring channel, per person."""
    answer = httpx.get(f"{world.sims.url('slack')}/_sandbox/messages", params={"channel": CHANNEL}).json()
    names = Counter[str]()
    for message in answer["messages"]:
        text = str(message["blocks"])
        if "→ *Phone Screen*" in text:
            names.update(name for name in (f"Alert{n} Mover" for n in range(ROUNDS)) if f"{name}*" in text)
    return names


def limbo(world: World) -> dict[str, int]:
    """Work items and Slack messages not finished: nothing may be left here."""
    with Session(world.rt.engine) as s:
        items = s.exec(select(WorkItem.state, func.count()).where(WorkItem.state != "done")
                       .group_by(WorkItem.state)).all()
        messages = s.exec(select(OutboxMessage.state, func.count()).where(OutboxMessage.state != "sent")
                          .group_by(OutboxMessage.state)).all()
    return {**{f"item {state}": n for state, n in items}, **{f"message {state}": n for state, n in messages}}


def test_twenty_kills_during_an_import_lose_nothing_and_repeat_nothing(
        world: World, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    apps = applications(world, ROUNDS)  # one stage change arrives in each round
    env = world.cli_env(request.getfixturevalue("db"), tmp_path / "sandbox.toml")
    before, synced_before = len(world.people("acme")), sync_states(world)["done"]
    with Session(world.rt.engine) as s, s.begin():
        for n in range(PEOPLE):
            world.rt.sync_service().enqueue(s, "acme", Prospect(
                source="csv", source_id=f"crash:{n}", first_name=f"Crash{n}", last_name="Round",
                profile_url=f"https://linkedin.com/in/crash-{n}-round", job_id="4401"))
    rng = random.Random(20)
    deadline = time.monotonic() + 300
    for app in apps:
        done = sync_states(world)["done"]
        assert done < synced_before + PEOPLE, f"the import finished before all {ROUNDS} kills"
        stage_change(world, app)
        proc = start_worker(env)
        try:
            wait(lambda done=done: sync_states(world)["done"] > done, deadline, "no progress", proc)
            time.sleep(rng.uniform(0.0, 0.6))
        finally:  # even when the test fails here: never leave a worker running after it
            proc.send_signal(signal.SIGKILL)
            proc.wait()

    proc = start_worker(env)  # the last one finishes the work
    try:
        wait(lambda: not limbo(world), deadline, "work left after the restarts", proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)

    people = [p for p in world.people("acme") if p.last_name == "Round"]
    assert len(people) == PEOPLE, "every candidate in the ATS"
    assert len({p.first_name for p in people}) == PEOPLE, "exactly once each"
    assert len(world.people("acme")) == before + PEOPLE, "and nobody else created"
    assert sync_states(world) == {"done": synced_before + PEOPLE}
    assert alerts_posted(world) == Counter(f"Alert{n} Mover" for n in range(ROUNDS)), "every alert posted once"
    assert limbo(world) == {}, "nothing left in limbo"
