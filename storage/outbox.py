"""The Slack outbox: messages written with the change that caused them, then claimed and sent by a relay.

The claim paces channel posts (about one per second per channel, across relay processes). A post is
claimable only while it is its channel's head (no older post to that channel is pending or sending),
nothing is in flight to that channel, and the channel's last post went out at least `pace` ago.
Answers to a `response_url` are not channel posts: they have no `paced_channel` and are never held.

Why only the head: on PostgreSQL two relays can claim at the same instant, each on a snapshot that does
not show the other's uncommitted claim. Had the rule been "any due post of a channel with nothing in
flight", each could take a different post of one channel. Both can only ever pick the head; SKIP LOCKED
gives it to one, and a relay whose snapshot predates another's committed claim re-checks the head's row
when it locks it (READ COMMITTED re-evaluates the row's own conditions) and drops it. On SQLite the
writer is single (BEGIN IMMEDIATE). Holding a channel behind its head also keeps its posts in order, and
makes a 429's Retry-After (or a retry's backoff) hold the channel: the next post would be refused too.

Coalescing: a message queued with a `batch` kind (stage alerts) takes along, in the same claim, the younger
due messages of its channel and kind that wait behind it (up to `batch_size` in all, none past a message of
another kind), so a burst into one channel goes out as fewer posts that still name every change. Riders are
locked by the claim that holds their head: no other relay can claim them, as they are not their channel's head.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Row, case, exists, func, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from storage.models import OutboxMessage, OutboxState, table, utcnow
from storage.queue import RetryPolicy

OUTBOX = table(OutboxMessage)
#: the channel of a direct message is this prefix and the recipient's email (the relay finds their Slack user)
DM_PREFIX = "@"


@dataclass(frozen=True)
class Pending:
    """A message this relay holds until `claimed_until`."""

    id: int
    channel: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime
    #: an earlier attempt may have reached Slack: look for the message before posting it again
    maybe_posted: bool = False
    #: the coalescing kind it was queued with (None: always posted alone)
    batch: str | None = None
    #: younger messages of the same channel and kind, claimed with this one to be posted as one message
    riders: tuple[Pending, ...] = ()

    @property
    def parts(self) -> tuple[Pending, ...]:
        """This message and its riders, oldest first."""
        return (self, *self.riders)


@dataclass(frozen=True)
class _Claimed:
    pending: Pending
    paced_channel: str | None


def _pending(row: Row[Any]) -> _Claimed:
    return _Claimed(Pending(row.id, row.channel, row.payload, row.attempts, row.created_at, bool(row.maybe_posted),
                            row.batch), row.paced_channel)


def add_message(session: Session, *, dedupe_key: str, channel: str, payload: dict[str, Any],
                tenant_id: str | None = None, now: datetime | None = None, batch: str | None = None) -> int | None:
    """Queue a message in the caller's transaction; None if `dedupe_key` was already queued (never twice).

    `batch`: a kind of message that may be coalesced with others of its kind waiting for the same channel.
    """
    now = now or utcnow()
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    paced_channel = None if payload.get("response_url") else channel  # an answer is not a channel post
    stmt = insert(OutboxMessage).values(
        dedupe_key=dedupe_key, channel=channel, paced_channel=paced_channel, payload=payload,
        tenant_id=tenant_id, state=OutboxState.PENDING, attempts=0, maybe_posted=False, batch=batch,
        next_attempt_at=now, created_at=now,
    ).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(OUTBOX.c.id)
    return session.execute(stmt).scalar_one_or_none()


class Outbox:
    """Claim due messages with a lease, paced per channel; record sent, retry later, or dead-letter."""

    def __init__(self, engine: Engine, *, lease: timedelta = timedelta(seconds=60), max_attempts: int = 8,
                 policy: RetryPolicy | None = None, clock: Callable[[], datetime] = utcnow,
                 rng: random.Random | None = None, pace: timedelta = timedelta(seconds=1),
                 batch_size: int = 10) -> None:
        self.engine = engine
        self.lease = lease
        self.max_attempts = max_attempts
        self.policy = policy or RetryPolicy()
        self.clock = clock
        self.rng = rng or random.Random()
        self.pace = pace
        self.batch_size = batch_size

    def claim(self, limit: int = 20) -> list[Pending]:
        """Due messages, at most one per channel and none to a channel posted to within `pace`, oldest first.

        A message whose sender died mid-send (lease expired) is due again, flagged `maybe_posted`.
        """
        now = self.clock()
        c = OUTBOX.c
        due = ((c.state == OutboxState.PENDING) & (c.next_attempt_at <= now)) | (
            (c.state == OutboxState.SENDING) & (c.claimed_until < now))
        # MATERIALIZED: PostgreSQL may otherwise re-run a LIMITed subquery per row and claim more than asked.
        picked = (select(c.id).where(due, c.paced_channel.is_(None) | ~self._channel_busy(now))
                  .order_by(c.next_attempt_at, c.id).limit(limit)
                  .with_for_update(skip_locked=True).cte("picked").prefix_with("MATERIALIZED"))
        stmt = self._take(picked, now).where(due).returning(*self._returned())
        with self.engine.begin() as conn:
            heads = [_pending(r) for r in conn.execute(stmt).all()]
            claimed = [self._with_riders(conn, head, now, due) for head in heads]
        return sorted(claimed, key=lambda p: p.id)

    def _take(self, picked: Any, now: datetime) -> Any:
        """The claim's UPDATE of the rows `picked` selects (and locks)."""
        c = OUTBOX.c
        # SET reads the row as it was: a row claimed while `sending` was left mid-send by a dead relay.
        # (RETURNING cannot show the old state on both backends, hence the column.)
        was_sending = case((c.state == OutboxState.SENDING, true()), else_=c.maybe_posted)
        return (update(OUTBOX).where(c.id == picked.c.id)
                .values(state=OutboxState.SENDING, claimed_until=now + self.lease, attempts=c.attempts + 1,
                        maybe_posted=was_sending))

    @staticmethod
    def _returned() -> tuple[Any, ...]:
        c = OUTBOX.c
        return c.id, c.channel, c.payload, c.attempts, c.created_at, c.maybe_posted, c.batch, c.paced_channel

    def _with_riders(self, conn: Connection, head: _Claimed, now: datetime, due: ColumnElement[bool]) -> Pending:
        """The head with the younger due messages of its channel and kind that it can take along."""
        if head.pending.batch is None or head.paced_channel is None or self.batch_size <= 1:
            return head.pending
        c, other = OUTBOX.c, OUTBOX.alias("other").c
        other_kind_between = exists().where(
            other.paced_channel == head.paced_channel, other.state.in_([OutboxState.PENDING, OutboxState.SENDING]),
            other.id > head.pending.id, other.id < c.id,
            other.batch.is_(None) | (other.batch != head.pending.batch))
        picked = (select(c.id).where(c.paced_channel == head.paced_channel, c.batch == head.pending.batch,
                                     c.id > head.pending.id, due, ~other_kind_between)
                  .order_by(c.id).limit(self.batch_size - 1)
                  .with_for_update(skip_locked=True).cte("riders").prefix_with("MATERIALIZED"))
        stmt = self._take(picked, now).where(due).returning(*self._returned())
        riders = sorted((_pending(r).pending for r in conn.execute(stmt).all()), key=lambda p: p.id)
        return replace(head.pending, riders=tuple(riders))

    def _channel_busy(self, now: datetime) -> ColumnElement[bool]:
        """Whether the candidate row's channel must wait: it is not the head, or a post is in flight or recent."""
        c, other = OUTBOX.c, OUTBOX.alias("other").c
        same = other.paced_channel == c.paced_channel
        older_unfinished = exists().where(
            same, other.state.in_([OutboxState.PENDING, OutboxState.SENDING]), other.id < c.id)
        # A younger post can be in flight: ids are not committed in order on PostgreSQL.
        in_flight = exists().where(same, other.state == OutboxState.SENDING, other.claimed_until >= now)
        recent = exists().where(same, other.sent_at > now - self.pace)
        return older_unfinished | in_flight | recent

    def mark_sent(self, message: Pending, slack_ts: str | None) -> None:
        """Record `message` and its riders as posted (as one Slack message, `slack_ts`)."""
        self._set(message.parts, state=OutboxState.SENT, slack_ts=slack_ts, sent_at=self.clock(),
                  claimed_until=None)

    def retry(self, message: Pending, error: str, retry_after: float | None = None, *,
              maybe_posted: bool = False, count_attempt: bool = True) -> OutboxState:
        """Try again later (after `retry_after` seconds when Slack said so), or dead-letter when out of tries.

        `maybe_posted`: this attempt (or an earlier one nobody checked) may have reached Slack, so the next
        attempt looks for the message first. `count_attempt=False` (Slack's 429: wait, not a failure) gives the
        claim's attempt back, so a long rate-limit never dead-letters a good message. Riders share the fate of
        their head, except that each gives up on its own count of attempts.
        """
        spent = [p for p in message.parts if count_attempt and p.attempts >= self.max_attempts]
        if spent:
            self._set(spent, state=OutboxState.DEAD, claimed_until=None,
                      last_error=f"{error} (gave up after {message.attempts} attempts)"[:4000])
        again = [p for p in message.parts if p not in spent]
        if again:
            wait = (timedelta(seconds=retry_after) if retry_after is not None
                    else self.policy.delay(message.attempts, self.rng))
            c = OUTBOX.c
            attempts = c.attempts if count_attempt else case((c.attempts > 0, c.attempts - 1), else_=0)
            self._set(again, state=OutboxState.PENDING, last_error=error[:4000], maybe_posted=maybe_posted,
                      next_attempt_at=self.clock() + wait, claimed_until=None, attempts=attempts)
        return OutboxState.DEAD if message in spent else OutboxState.PENDING

    def dead(self, message: Pending, error: str) -> OutboxState:
        self._set(message.parts, state=OutboxState.DEAD, last_error=error[:4000], claimed_until=None)
        return OutboxState.DEAD

    def _set(self, messages: Sequence[Pending], **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(OUTBOX).where(OUTBOX.c.id.in_([m.id for m in messages])).values(**values))

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(OUTBOX.c.state, func.count()).group_by(OUTBOX.c.state)).all()
        found = {str(state): int(n) for state, n in rows}
        return {s.value: found.get(s.value, 0) for s in OutboxState}
