"""The durable work queue: idempotent enqueue, leased claims, retries with backoff, and the dead-letter state.

One claim statement serves both backends: on PostgreSQL a materialized CTE
`WITH picked AS (SELECT … FOR UPDATE SKIP LOCKED) UPDATE … FROM picked`; on SQLite the locking clause is
omitted and the engine's BEGIN IMMEDIATE makes the writer single.
Every state change after a claim is fenced by the claim's `lease_token`, so a worker whose lease expired
(and whose item was reclaimed by another) can no longer complete or fail it.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any

from sqlalchemy import Engine, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col
from sqlmodel import select as select_model

from storage.models import WorkItem, WorkState, table, utcnow

Clock = Callable[[], datetime]
WORK = table(WorkItem)


class Priority(IntEnum):
    """Lower runs first: a recruiter waiting in Slack, then push events, then polls, then bulk backfill."""

    INTERACTIVE = 0
    PUSH = 20
    NORMAL = 50
    POLL = 60
    BULK = 100


class PermanentError(Exception):
    """Raised by a handler when retrying cannot help: the item goes straight to the dead-letter state."""


class RetryLater(Exception):
    """Raised by a handler that must wait (another worker holds what it needs): not a failure, no attempt used."""

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: the n-th retry waits between half and all of base·2^(n-1), capped."""

    base_seconds: float = 2.0
    cap_seconds: float = 3600.0

    def delay(self, attempts: int, rng: random.Random) -> timedelta:
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempts - 1))
        # "Equal jitter": never zero (no hot retry loop), never synchronised across items.
        return timedelta(seconds=ceiling / 2 + rng.uniform(0, ceiling / 2))


@dataclass(frozen=True)
class Claimed:
    """An item this worker holds until `locked_until`; pass it back to complete or fail it."""

    id: int
    kind: str
    dedupe_key: str
    tenant_id: str | None
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    lease_token: str
    locked_until: datetime


def _insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(WorkItem)


def enqueue(session: Session, kind: str, payload: dict[str, Any], *, dedupe_key: str,
            priority: int = Priority.NORMAL, run_after: datetime | None = None,
            tenant_id: str | None = None, max_attempts: int = 20, now: datetime | None = None) -> int | None:
    """Add an item in the caller's transaction; returns its id, or None if `dedupe_key` already exists."""
    now = now or utcnow()
    stmt = _insert(session).values(
        kind=kind, dedupe_key=dedupe_key, tenant_id=tenant_id, payload=payload, priority=int(priority),
        state=WorkState.QUEUED, attempts=0, max_attempts=max_attempts, run_after=run_after or now,
        created_at=now, updated_at=now,
    ).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(WORK.c.id)
    return session.execute(stmt).scalar_one_or_none()


def is_running(session: Session, dedupe_key: str, now: datetime) -> bool:
    """Whether the item with this key is being worked on right now (claimed, lease not expired)."""
    t = WORK.c
    found = session.execute(select(t.id).where(
        t.dedupe_key == dedupe_key, t.state == WorkState.RUNNING, t.locked_until > now)).first()
    return found is not None


class WorkQueue:
    """Claim, complete, fail and reclaim work items; `clock` and `rng` are injectable for tests."""

    def __init__(self, engine: Engine, *, lease: timedelta = timedelta(seconds=60),
                 policy: RetryPolicy | None = None, clock: Clock = utcnow,
                 rng: random.Random | None = None) -> None:
        self.engine = engine
        self.lease = lease
        self.policy = policy or RetryPolicy()
        self.clock = clock
        self.rng = rng or random.Random()

    def enqueue(self, kind: str, payload: dict[str, Any], *, dedupe_key: str, **kwargs: Any) -> int | None:
        """Enqueue in a transaction of its own (see the module function to enqueue within yours)."""
        with Session(self.engine) as session, session.begin():
            return enqueue(session, kind, payload, dedupe_key=dedupe_key, now=self.clock(), **kwargs)

    def claim(self, worker: str, kinds: Sequence[str] | None = None, limit: int = 1) -> list[Claimed]:
        """Lease up to `limit` runnable items, highest priority first."""
        now = self.clock()
        token = f"{worker}:{uuid.uuid4().hex}"[:64]
        t = WORK.c
        pick = select(t.id).where(t.state == WorkState.QUEUED, t.run_after <= now)
        if kinds is not None:
            pick = pick.where(t.kind.in_(list(kinds)))
        # MATERIALIZED: PostgreSQL may otherwise re-run a LIMITed subquery per row and claim more than asked.
        picked = (pick.order_by(t.priority, t.run_after, t.id).limit(limit)
                  .with_for_update(skip_locked=True).cte("picked").prefix_with("MATERIALIZED"))
        stmt = (
            update(WORK)
            .where(t.id == picked.c.id, t.state == WorkState.QUEUED)
            .values(state=WorkState.RUNNING, attempts=t.attempts + 1, locked_until=now + self.lease,
                    lease_token=token, updated_at=now)
            .returning(t.id, t.kind, t.dedupe_key, t.tenant_id, t.payload, t.attempts, t.max_attempts,
                       t.locked_until)
        )
        with self.engine.begin() as conn:
            rows = conn.execute(stmt).all()
        claimed = [Claimed(r.id, r.kind, r.dedupe_key, r.tenant_id, r.payload, r.attempts, r.max_attempts,
                           token, r.locked_until) for r in rows]
        return sorted(claimed, key=lambda c: c.id)

    def complete(self, item: Claimed, session: Session | None = None) -> bool:
        """Mark done if we still hold the lease; with `session`, commits with the handler's own writes."""
        now = self.clock()
        return self._fenced(item, session, state=WorkState.DONE, finished_at=now, updated_at=now,
                            locked_until=None, lease_token=None)

    def extend(self, item: Claimed) -> bool:
        """Renew the lease of a long-running item."""
        now = self.clock()
        return self._fenced(item, None, locked_until=now + self.lease, updated_at=now)

    def fail(self, item: Claimed, error: str, *, permanent: bool = False,
             retry_after: float | None = None, count_attempt: bool = True) -> WorkState | None:
        """Schedule a retry (backoff, or `retry_after` seconds) or dead-letter; None if the lease was lost.

        `count_attempt=False` (a rate limit: the work did not fail, it was asked to wait) gives the
        attempt back, so waiting out a long 429 storm never dead-letters good work.
        """
        now = self.clock()
        if not count_attempt and not permanent:
            wait = timedelta(seconds=retry_after if retry_after is not None else self.policy.base_seconds)
            ok = self._fenced(item, None, state=WorkState.QUEUED, last_error=error[:4000], run_after=now + wait,
                              attempts=WORK.c.attempts - 1, updated_at=now, locked_until=None, lease_token=None)
            return WorkState.QUEUED if ok else None
        if permanent or item.attempts >= item.max_attempts:
            reason = error if permanent else f"{error} (gave up after {item.attempts} attempts)"
            ok = self._fenced(item, None, state=WorkState.DEAD, last_error=reason[:4000], finished_at=now,
                              updated_at=now, locked_until=None, lease_token=None)
            return WorkState.DEAD if ok else None
        wait = (timedelta(seconds=retry_after) if retry_after is not None
                else self.policy.delay(item.attempts, self.rng))
        ok = self._fenced(item, None, state=WorkState.QUEUED, last_error=error[:4000], run_after=now + wait,
                          updated_at=now, locked_until=None, lease_token=None)
        return WorkState.QUEUED if ok else None

    def _fenced(self, item: Claimed, session: Session | None, **values: Any) -> bool:
        t = WORK.c
        stmt = (update(WORK)
                .where(t.id == item.id, t.lease_token == item.lease_token, t.state == WorkState.RUNNING)
                .values(**values))
        if session is not None:
            return bool(session.execute(stmt).rowcount)  # type: ignore[attr-defined]
        with self.engine.begin() as conn:
            return bool(conn.execute(stmt).rowcount)

    def reclaim_expired(self) -> tuple[int, int]:
        """Requeue items whose worker died mid-item; dead-letter those out of attempts. (requeued, dead)."""
        now = self.clock()
        t = WORK.c
        expired = (t.state == WorkState.RUNNING) & (t.locked_until < now)
        common = {"locked_until": None, "lease_token": None, "updated_at": now}
        with self.engine.begin() as conn:
            dead = conn.execute(update(WORK).where(expired, t.attempts >= t.max_attempts).values(
                state=WorkState.DEAD, finished_at=now,
                last_error="lease expired: the worker stopped mid-item on its last attempt", **common)).rowcount
            requeued = conn.execute(update(WORK).where(expired).values(
                state=WorkState.QUEUED, run_after=now,
                last_error="lease expired: the worker stopped mid-item", **common)).rowcount
        return requeued, dead

    def counts(self) -> dict[str, int]:
        """Items per state (every state present, zero if none)."""
        t = WORK.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.state, func.count()).group_by(t.state)).all()
        found = {str(state): int(n) for state, n in rows}
        return {s.value: found.get(s.value, 0) for s in WorkState}

    def next_due(self) -> datetime | None:
        """When the earliest queued item becomes runnable (None when nothing is queued)."""
        t = WORK.c
        with self.engine.connect() as conn:
            due: datetime | None = conn.execute(
                select(func.min(t.run_after)).where(t.state == WorkState.QUEUED)).scalar_one()
        return due

    def dead(self, limit: int = 100, kind: str | None = None) -> list[WorkItem]:
        """Dead-lettered items, oldest first."""
        query = select_model(WorkItem).where(col(WorkItem.state) == WorkState.DEAD)
        if kind:
            query = query.where(col(WorkItem.kind) == kind)
        with Session(self.engine, expire_on_commit=False) as session:
            return list(session.exec(query.order_by(col(WorkItem.id)).limit(limit)).all())

    def retry_dead(self, ids: Sequence[int] | None = None) -> int:
        """Give dead items a fresh set of attempts now (all of them when `ids` is None)."""
        now = self.clock()
        t = WORK.c
        cond = t.state == WorkState.DEAD
        if ids is not None:
            cond = cond & t.id.in_(list(ids))
        with self.engine.begin() as conn:
            return int(conn.execute(update(WORK).where(cond).values(
                state=WorkState.QUEUED, attempts=0, run_after=now, finished_at=None, updated_at=now)).rowcount)

    def revive_dead(self, *, transient: Sequence[str], max_revivals: int,
                    skip_tenants: Sequence[str] = (), limit: int = 500) -> int:
        """Give another round to dead items whose last error was transient (it starts with one of the error
        class names in `transient`) and that were revived fewer than `max_revivals` times; items of
        `skip_tenants` (an integration still failing) wait for a later sweep. Returns how many were revived.

        Permanent failures (a rejected record, refused credentials) stay dead: retrying cannot help them.
        """
        now = self.clock()
        t = WORK.c
        cond = (t.state == WorkState.DEAD) & (t.revived < max_revivals) & or_(
            *(t.last_error.like(f"{name}:%") for name in transient))
        if skip_tenants:
            cond = cond & (t.tenant_id.is_(None) | t.tenant_id.not_in(list(skip_tenants)))
        picked = select(t.id).where(cond).order_by(t.id).limit(limit)
        with self.engine.begin() as conn:
            return int(conn.execute(update(WORK).where(t.id.in_(picked.scalar_subquery())).values(
                state=WorkState.QUEUED, attempts=0, revived=t.revived + 1, run_after=now, finished_at=None,
                updated_at=now)).rowcount)

    def drop_dead(self, ids: Sequence[int]) -> int:
        """Delete dead items for good (only dead ones: a live item is never dropped by mistake)."""
        t = WORK.c
        with self.engine.begin() as conn:
            return int(conn.execute(delete(WORK).where(
                t.state == WorkState.DEAD, t.id.in_(list(ids)))).rowcount)
