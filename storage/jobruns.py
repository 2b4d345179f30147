"""Scheduled occurrences claimed once: the first process to insert `(job, scheduled_for)` runs it, others skip.

The unique pair is the whole guarantee: APScheduler 3.x cannot share a job store between processes (its FAQ),
so every worker process runs its own in-memory scheduler and each occurrence is claimed here first. The rows
double as the run log (who ran it, when, how it ended).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, update
from sqlalchemy.dialects import postgresql, sqlite

from storage.models import JobRun, table

RUNS = table(JobRun)


def claim_run(engine: Engine, job: str, scheduled_for: datetime, holder: str, now: datetime) -> int | None:
    """Claim one occurrence of `job`; its run id, or None when another process claimed it first."""
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(JobRun).values(job=job, scheduled_for=scheduled_for, holder=holder[:128], status="running",
                                 started_at=now).on_conflict_do_nothing(
        index_elements=["job", "scheduled_for"]).returning(RUNS.c.id)
    with engine.begin() as conn:
        return conn.execute(stmt).scalar_one_or_none()


def finish_run(engine: Engine, run_id: int, now: datetime, error: str | None = None) -> None:
    """Record how the occurrence ended (`done`, or `failed` with the error)."""
    with engine.begin() as conn:
        conn.execute(update(RUNS).where(RUNS.c.id == run_id).values(
            status="failed" if error else "done", finished_at=now, error=error[:4000] if error else None))
