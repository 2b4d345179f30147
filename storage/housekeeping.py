"""Deleting finished plumbing: done work items, posted messages, received webhooks and job runs.

They are the bridge's memory of what it has done (idempotency keys, run logs) and their payloads may name a
candidate, so they are kept for a while, then deleted. Dead items and dead messages are never deleted here:
they wait for ops (`hirebridge dlq`). Deletion goes in batches, each its own short transaction, so a large
backlog of old rows never holds SQLite's single write lock for long.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Engine, Table, delete, select

from storage.models import InboxEvent, JobRun, OutboxMessage, OutboxState, WorkItem, WorkState, table

BATCH = 1000


def purge_plumbing(engine: Engine, before: datetime, batch: int = BATCH) -> dict[str, int]:
    """Delete what finished before `before`; returns how many rows per table."""
    work, outbox, inbox, runs = table(WorkItem), table(OutboxMessage), table(InboxEvent), table(JobRun)
    targets: list[tuple[Table, ColumnElement[bool]]] = [
        (work, (work.c.state == WorkState.DONE) & (work.c.finished_at < before)),
        (outbox, (outbox.c.state == OutboxState.SENT) & (outbox.c.sent_at < before)),
        (inbox, inbox.c.received_at < before),
        (runs, (runs.c.status != "running") & (runs.c.started_at < before)),
    ]
    counts: dict[str, int] = {}
    for target, cond in targets:
        deleted = 0
        while True:
            ids = select(target.c.id).where(cond).order_by(target.c.id).limit(batch)
            with engine.begin() as conn:
                n = int(conn.execute(delete(target).where(target.c.id.in_(ids.scalar_subquery()))).rowcount)
            deleted += n
            if n < batch:
                break
        counts[target.name] = deleted
    return counts
