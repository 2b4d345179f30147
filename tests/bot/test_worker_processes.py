"""Queue guarantees across real OS processes: exactly-once claims, and recovery from a SIGKILLed worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from bot.worker import Worker
from storage.models import AuditEntry, WorkItem, WorkState, utcnow
from storage.queue import WorkQueue
from tests.bot.worker_proc import record_effect
from tests.conftest import Database

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def spawn(db: Database, mode: str, marker: Path | None = None) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "tests.bot.worker_proc", db.url, db.schema or "", mode]
    if marker:
        args.append(str(marker))
    return subprocess.Popen(args, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})


def effects(db: Database) -> list[AuditEntry]:
    with Session(db.engine) as session:
        return list(session.exec(select(AuditEntry).where(AuditEntry.action == "test.effect")).all())


def test_two_worker_processes_claim_every_item_exactly_once(db: Database) -> None:
    queue = WorkQueue(db.engine)
    keys = [f"item-{i}" for i in range(300)]
    for key in keys:
        queue.enqueue("test.effect", {}, dedupe_key=key)
    workers = [spawn(db, "drain"), spawn(db, "drain")]
    for proc in workers:
        assert proc.wait(timeout=90) == 0
    done = effects(db)
    assert Counter(e.subject for e in done) == Counter(keys), "every item once, none twice"
    assert len({e.actor for e in done}) == 2, "both processes took part"
    assert queue.counts() == {"queued": 0, "running": 0, "done": 300, "dead": 0}
    with Session(db.engine) as session:
        attempts = Counter(row.attempts for row in session.exec(select(WorkItem)).all())
    assert attempts == {1: 300}, "each item claimed once (a double claim is hidden by lease fencing otherwise)"


def test_sigkilled_worker_item_is_reclaimed_and_done_once(db: Database, tmp_path: Path) -> None:
    queue = WorkQueue(db.engine, lease=timedelta(seconds=30))
    queue.enqueue("test.effect", {}, dedupe_key="the-item")
    marker = tmp_path / "mid-item"
    proc = spawn(db, "hang", marker)
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "worker never reached the item"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert queue.counts()["running"] == 1, "the killed worker's item is still leased"

    later = WorkQueue(db.engine, clock=lambda: utcnow() + timedelta(seconds=31))  # past the lease
    assert later.reclaim_expired() == (1, 0)
    survivor = Worker(db.engine, later, {"test.effect": lambda s, item: record_effect(s, item, "survivor")})
    assert [o.state for o in survivor.drain()] == [WorkState.DONE]

    assert [(e.subject, e.actor) for e in effects(db)] == [("the-item", "survivor")]
    with Session(db.engine) as session:
        (row,) = session.exec(select(WorkItem)).all()
    assert (row.state, row.attempts) == (WorkState.DONE, 2)
