"""Scheduled jobs: every occurrence runs once across processes; a failure is recorded and the next one runs."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from freezegun import freeze_time
from sqlmodel import Session, select

from bot.inmail import POLL
from bot.mirror import MIRROR
from bot.scheduler import ANCHOR, JobSpec, Scheduler, occurrence, scheduled_jobs
from storage.models import AuditEntry, JobRun, WorkItem
from tests.bot.world import World
from tests.conftest import Database

ROOT = Path(__file__).resolve().parents[2]
MINUTE = timedelta(minutes=1)


@pytest.mark.parametrize(("now", "every", "due"), [
    (ANCHOR, MINUTE, ANCHOR),
    (ANCHOR + timedelta(seconds=59.9), MINUTE, ANCHOR),
    (ANCHOR + timedelta(minutes=7, seconds=1), MINUTE, ANCHOR + 7 * MINUTE),
    (datetime(2026, 11, 22, 10, 30, 5, tzinfo=UTC), timedelta(hours=24), datetime(2026, 11, 22, tzinfo=UTC)),
])
def test_an_occurrence_is_the_last_anchored_tick(now: datetime, every: timedelta, due: datetime) -> None:
    assert occurrence(every, now) == due


def runs(db: Database) -> list[JobRun]:
    with Session(db.engine) as s:
        return list(s.exec(select(JobRun).order_by(JobRun.id)).all())  # type: ignore[arg-type]


def test_two_schedulers_run_each_occurrence_once(db: Database) -> None:
    ran: list[tuple[str, datetime]] = []
    spec = JobSpec("test.job", MINUTE, lambda due: ran.append(("run", due)))
    first, second = Scheduler(db.engine, [spec], holder="a"), Scheduler(db.engine, [spec], holder="b")
    with freeze_time("2026-11-22 10:00:05", tz_offset=0):
        assert first.run_occurrence(spec) and not second.run_occurrence(spec)
        assert not first.run_occurrence(spec), "a fire repeated within one occurrence runs nothing"
    with freeze_time("2026-11-22 10:01:00.5", tz_offset=0):
        assert second.run_occurrence(spec) and not first.run_occurrence(spec)
    assert [due for _, due in ran] == [datetime(2026, 11, 22, 10, 0, tzinfo=UTC),
                                       datetime(2026, 11, 22, 10, 1, tzinfo=UTC)]
    assert [(r.holder, r.status) for r in runs(db)] == [("a", "done"), ("b", "done")]


def test_a_failed_occurrence_is_recorded_and_the_next_one_runs(db: Database) -> None:
    calls: list[datetime] = []

    def flaky(due: datetime) -> None:
        calls.append(due)
        if len(calls) == 1:
            raise RuntimeError("Greenhouse said 503")

    spec = JobSpec("test.flaky", MINUTE, flaky)
    scheduler = Scheduler(db.engine, [spec], holder="a")
    with freeze_time("2026-11-22 10:00:00", tz_offset=0):
        assert scheduler.run_occurrence(spec)
    with freeze_time("2026-11-22 10:01:00", tz_offset=0):
        assert scheduler.run_occurrence(spec)
    assert [(r.status, r.error) for r in runs(db)] == [("failed", "RuntimeError: Greenhouse said 503"),
                                                       ("done", None)]


@pytest.mark.slow
def test_the_pull_queues_each_tenants_work_once_per_occurrence(world: World) -> None:
    rt = world.rt
    jobs = {j.id: j for j in scheduled_jobs(rt.app_config(), rt.engine, rt.scheduled_work())}
    assert set(jobs) == {"sync.pull", "dedupe.scan", "ops.watch", "queue.reclaim", "dlq.sweep", "tokens.refresh",
                         "retention.purge", "digest.weekly"}, "a worker runs every job of the issue"
    due = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    jobs["sync.pull"].run(due)
    jobs["sync.pull"].run(due)  # even a second run of one occurrence queues nothing more
    jobs["dedupe.scan"].run(due)
    with Session(rt.engine) as s:
        kinds = Counter(i.kind for i in s.exec(select(WorkItem)).all())
    tenants = rt.app_config().tenants
    assert kinds == {MIRROR: len(tenants), POLL: sum(t.linkedin is not None for t in tenants),
                     "dedupe.scan": len(tenants)}


@pytest.mark.slow
def test_two_scheduler_processes_run_every_occurrence_exactly_once(db: Database) -> None:
    args = [sys.executable, "-m", "tests.bot.scheduler_proc", db.url, db.schema or "", "4.5"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen(args, cwd=ROOT, env=env) for _ in range(2)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    with Session(db.engine) as s:
        ticks = Counter(e.subject for e in s.exec(select(AuditEntry).where(AuditEntry.action == "test.tick")))
    claimed = [r for r in runs(db) if r.job == "test.tick"]
    assert len(ticks) >= 3, "the job fired every second for several seconds"
    assert set(ticks.values()) == {1}, f"an occurrence ran twice: {ticks}"
    assert sorted(ticks) == sorted(r.scheduled_for.isoformat() for r in claimed)
    assert all(r.status == "done" for r in claimed)
