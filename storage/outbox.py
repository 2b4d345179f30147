"""The Slack outbox: messages written with the change that caused them, then claimed and sent by a relay."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from storage.models import OutboxMessage, OutboxState, table, utcnow
from storage.queue import RetryPolicy

OUTBOX = table(OutboxMessage)


@dataclass(frozen=True)
class Pending:
    """A message this relay holds until `claimed_until`."""

    id: int
    channel: str
    payload: dict[str, Any]
    attempts: int


def add_message(session: Session, *, dedupe_key: str, channel: str, payload: dict[str, Any],
                tenant_id: str | None = None, now: datetime | None = None) -> int | None:
    """Queue a message in the caller's transaction; None if `dedupe_key` was already queued (never twice)."""
    now = now or utcnow()
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(OutboxMessage).values(
        dedupe_key=dedupe_key, channel=channel, payload=payload, tenant_id=tenant_id,
        state=OutboxState.PENDING, attempts=0, next_attempt_at=now, created_at=now,
    ).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(OUTBOX.c.id)
    return session.execute(stmt).scalar_one_or_none()


class Outbox:
    """Claim due messages with a lease; record sent, retry later, or dead-letter."""

    def __init__(self, engine: Engine, *, lease: timedelta = timedelta(seconds=60), max_attempts: int = 8,
                 policy: RetryPolicy | None = None, clock: Callable[[], datetime] = utcnow,
                 rng: random.Random | None = None) -> None:
        self.engine = engine
        self.lease = lease
        self.max_attempts = max_attempts
        self.policy = policy or RetryPolicy()
        self.clock = clock
        self.rng = rng or random.Random()

    def claim(self, limit: int = 20) -> list[Pending]:
        """Due pending messages, plus any whose sender died mid-send (lease expired), oldest first."""
        now = self.clock()
        c = OUTBOX.c
        due = ((c.state == OutboxState.PENDING) & (c.next_attempt_at <= now)) | (
            (c.state == OutboxState.SENDING) & (c.claimed_until < now))
        picked = (select(c.id).where(due).order_by(c.next_attempt_at, c.id).limit(limit)
                  .with_for_update(skip_locked=True).cte("picked").prefix_with("MATERIALIZED"))
        stmt = (update(OUTBOX).where(c.id == picked.c.id, due)
                .values(state=OutboxState.SENDING, claimed_until=now + self.lease, attempts=c.attempts + 1)
                .returning(c.id, c.channel, c.payload, c.attempts))
        with self.engine.begin() as conn:
            rows = conn.execute(stmt).all()
        return sorted((Pending(r.id, r.channel, r.payload, r.attempts) for r in rows), key=lambda p: p.id)

    def mark_sent(self, message: Pending, slack_ts: str | None) -> None:
        self._set(message, state=OutboxState.SENT, slack_ts=slack_ts, sent_at=self.clock(), claimed_until=None)

    def retry(self, message: Pending, error: str, retry_after: float | None = None) -> OutboxState:
        """Try again later (after `retry_after` seconds when Slack said so), or dead-letter when out of tries."""
        if message.attempts >= self.max_attempts:
            return self.dead(message, f"{error} (gave up after {message.attempts} attempts)")
        wait = (timedelta(seconds=retry_after) if retry_after is not None
                else self.policy.delay(message.attempts, self.rng))
        self._set(message, state=OutboxState.PENDING, last_error=error[:4000],
                  next_attempt_at=self.clock() + wait, claimed_until=None)
        return OutboxState.PENDING

    def dead(self, message: Pending, error: str) -> OutboxState:
        self._set(message, state=OutboxState.DEAD, last_error=error[:4000], claimed_until=None)
        return OutboxState.DEAD

    def _set(self, message: Pending, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(OUTBOX).where(OUTBOX.c.id == message.id).values(**values))

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(OUTBOX.c.state, func.count()).group_by(OUTBOX.c.state)).all()
        found = {str(state): int(n) for state, n in rows}
        return {s.value: found.get(s.value, 0) for s in OutboxState}
