"""The work queue's guarantees, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from storage.models import WorkItem, WorkState
from storage.queue import Priority, RetryPolicy, WorkQueue, enqueue
from tests.conftest import Database

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class Clock:
    """A settable clock for the queue."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue(db: Database, clock: Clock) -> WorkQueue:
    return WorkQueue(db.engine, lease=timedelta(seconds=30), clock=clock, rng=random.Random(7))


def rows(db: Database) -> list[WorkItem]:
    with Session(db.engine) as session:
        return list(session.exec(select(WorkItem).order_by(WorkItem.id)).all())  # type: ignore[arg-type]


def test_enqueue_same_dedupe_key_twice_is_a_noop(queue: WorkQueue, db: Database) -> None:
    first = queue.enqueue("sync.candidate", {"n": 1}, dedupe_key="li:export:42")
    second = queue.enqueue("sync.candidate", {"n": 2}, dedupe_key="li:export:42")
    assert first is not None and second is None
    assert [(r.dedupe_key, r.payload) for r in rows(db)] == [("li:export:42", {"n": 1})]


def test_enqueue_inside_a_rolled_back_transaction_leaves_nothing(queue: WorkQueue, db: Database) -> None:
    with pytest.raises(RuntimeError), Session(db.engine) as session, session.begin():
        enqueue(session, "sync.candidate", {}, dedupe_key="k1")
        raise RuntimeError("the use-case failed after enqueueing")
    assert rows(db) == []


def test_claim_takes_interactive_work_before_bulk(queue: WorkQueue) -> None:
    queue.enqueue("sync.candidate", {}, dedupe_key="bulk", priority=Priority.BULK)
    queue.enqueue("sync.candidate", {}, dedupe_key="export", priority=Priority.INTERACTIVE)
    assert [c.dedupe_key for c in queue.claim("w1")] == ["export"]
    assert [c.dedupe_key for c in queue.claim("w1")] == ["bulk"]


def test_claim_waits_for_run_after(queue: WorkQueue, clock: Clock) -> None:
    queue.enqueue("k", {}, dedupe_key="later", run_after=clock.now + timedelta(minutes=5))
    assert queue.claim("w1") == []
    clock.advance(minutes=5)
    assert [c.dedupe_key for c in queue.claim("w1")] == ["later"]


def test_claim_leases_an_item_to_one_worker_only(queue: WorkQueue) -> None:
    queue.enqueue("k", {}, dedupe_key="a")
    assert len(queue.claim("w1")) == 1
    assert queue.claim("w2") == []


def test_claim_filters_by_kind(queue: WorkQueue) -> None:
    queue.enqueue("unknown.kind", {}, dedupe_key="a")
    assert queue.claim("w1", kinds=["sync.candidate"]) == []
    assert queue.counts()["queued"] == 1


def test_complete_marks_done(queue: WorkQueue, db: Database) -> None:
    queue.enqueue("k", {}, dedupe_key="a")
    (item,) = queue.claim("w1")
    assert queue.complete(item)
    assert rows(db)[0].state == WorkState.DONE


def test_expired_lease_is_reclaimed_and_the_old_worker_cannot_complete(
        queue: WorkQueue, clock: Clock, db: Database) -> None:
    queue.enqueue("k", {}, dedupe_key="a")
    (stale,) = queue.claim("w1")
    clock.advance(seconds=31)
    assert queue.reclaim_expired() == (1, 0)
    (fresh,) = queue.claim("w2")
    assert not queue.complete(stale), "a worker whose lease expired must not complete the item"
    assert queue.fail(stale, "late failure") is None
    assert queue.complete(fresh)
    (row,) = rows(db)
    assert row.state == WorkState.DONE and row.attempts == 2


def test_lease_that_has_not_expired_is_not_reclaimed(queue: WorkQueue, clock: Clock) -> None:
    queue.enqueue("k", {}, dedupe_key="a")
    queue.claim("w1")
    clock.advance(seconds=29)
    assert queue.reclaim_expired() == (0, 0)


def test_extend_renews_the_lease(queue: WorkQueue, clock: Clock) -> None:
    queue.enqueue("k", {}, dedupe_key="a")
    (item,) = queue.claim("w1")
    clock.advance(seconds=25)
    assert queue.extend(item)
    clock.advance(seconds=25)
    assert queue.reclaim_expired() == (0, 0)


def test_fail_schedules_a_retry_with_exponential_backoff_and_jitter(
        queue: WorkQueue, clock: Clock, db: Database) -> None:
    queue.enqueue("k", {}, dedupe_key="a")
    waits = []
    for _attempt in range(1, 5):
        (item,) = queue.claim("w1")
        assert queue.fail(item, "Unavailable: 503") == WorkState.QUEUED
        run_after = rows(db)[0].run_after
        waits.append((run_after - clock.now).total_seconds())
        clock.now = run_after
    # attempt n waits between half and all of 2·2^(n-1) seconds
    for n, wait in enumerate(waits, start=1):
        ceiling = 2.0 * 2 ** (n - 1)
        assert ceiling / 2 <= wait <= ceiling, (n, wait)
    assert waits[3] > waits[0]
    assert rows(db)[0].last_error == "Unavailable: 503"


def test_backoff_is_capped_and_jittered() -> None:
    policy = RetryPolicy(base_seconds=2, cap_seconds=60)
    rng = random.Random(1)
    delays = {policy.delay(20, rng).total_seconds() for _ in range(20)}
    assert all(30 <= d <= 60 for d in delays)
    assert len(delays) > 1, "jitter must spread retries"


def test_fail_honours_retry_after(queue: WorkQueue, clock: Clock, db: Database) -> None:
    queue.enqueue("k", {}, dedupe_key="a")
    (item,) = queue.claim("w1")
    queue.fail(item, "RateLimited", retry_after=42)
    assert rows(db)[0].run_after == clock.now + timedelta(seconds=42)


def test_permanent_failure_goes_straight_to_dead_letter_with_the_error(queue: WorkQueue, db: Database) -> None:
    queue.enqueue("k", {}, dedupe_key="a")
    (item,) = queue.claim("w1")
    assert queue.fail(item, "Rejected: 422 first_name required", permanent=True) == WorkState.DEAD
    (row,) = rows(db)
    assert (row.state, row.attempts, row.last_error) == ("dead", 1, "Rejected: 422 first_name required")


def test_item_dead_letters_after_max_attempts(queue: WorkQueue, clock: Clock, db: Database) -> None:
    queue.enqueue("k", {}, dedupe_key="a", max_attempts=3)
    states = []
    for _ in range(3):
        clock.advance(hours=2)
        (item,) = queue.claim("w1")
        states.append(queue.fail(item, "Unavailable"))
    assert states == [WorkState.QUEUED, WorkState.QUEUED, WorkState.DEAD]
    assert "gave up after 3 attempts" in (rows(db)[0].last_error or "")


def test_reclaim_dead_letters_an_item_whose_worker_died_on_its_last_attempt(
        queue: WorkQueue, clock: Clock, db: Database) -> None:
    queue.enqueue("k", {}, dedupe_key="poison", max_attempts=1)
    queue.claim("w1")
    clock.advance(minutes=1)
    assert queue.reclaim_expired() == (0, 1)
    assert rows(db)[0].state == WorkState.DEAD


def test_dead_letters_can_be_listed_retried_and_dropped(queue: WorkQueue, db: Database) -> None:
    for key in ("a", "b", "c"):
        queue.enqueue("k", {}, dedupe_key=key)
        (item,) = queue.claim("w1")
        queue.fail(item, f"bad {key}", permanent=True)
    dead = queue.dead()
    assert [d.last_error for d in dead] == ["bad a", "bad b", "bad c"]
    assert queue.retry_dead([dead[0].id or 0]) == 1
    assert queue.drop_dead([dead[1].id or 0]) == 1
    assert queue.counts() == {"queued": 1, "running": 0, "done": 0, "dead": 1}
    (retried,) = queue.claim("w1")
    assert (retried.dedupe_key, retried.attempts) == ("a", 1)


def test_drop_never_deletes_a_live_item(queue: WorkQueue) -> None:
    item_id = queue.enqueue("k", {}, dedupe_key="a")
    assert queue.drop_dead([item_id or 0]) == 0
    assert queue.counts()["queued"] == 1


def test_claim_many_returns_distinct_items(queue: WorkQueue) -> None:
    for i in range(5):
        queue.enqueue("k", {}, dedupe_key=f"i{i}")
    batch = queue.claim("w1", limit=3)
    assert len({c.id for c in batch}) == 3
    assert len(queue.claim("w2", limit=10)) == 2


def test_rate_limit_waits_do_not_use_up_attempts(queue: WorkQueue, clock: Clock, db: Database) -> None:
    queue.enqueue("k", {}, dedupe_key="a", max_attempts=2)
    for _ in range(5):
        (item,) = queue.claim("w1")
        assert queue.fail(item, "RateLimited", retry_after=30, count_attempt=False) == WorkState.QUEUED
        assert rows(db)[0].run_after == clock.now + timedelta(seconds=30)
        clock.advance(seconds=30)
    (row,) = rows(db)
    assert (row.state, row.attempts) == (WorkState.QUEUED, 0)
