"""The worker's scheduler: static jobs, each occurrence run once across any number of worker processes.

Every `hirebridge worker` runs an APScheduler 3.x `BackgroundScheduler` (in-memory store, explicit job ids,
`coalesce`, `max_instances=1`, an explicit misfire grace). Interval triggers share one anchor, so every
process's scheduler fires the same occurrences; before doing anything an occurrence is claimed in the store
(`storage.jobruns`: a unique `(job, scheduled_for)` row) and the processes that lose the claim skip it.
Scheduled work mostly queues work items (keyed by the occurrence too), so the queue's own guarantees — leases,
retries, dead letters — apply to it.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from bot.config_model import AppConfig
from bot.dedupe_scan import DuplicateScans, ScanRequest
from bot.inmail import InMailPoller
from bot.mirror import Mirror
from bot.ops_watch import OpsWatch
from storage.db import transaction
from storage.jobruns import claim_run, finish_run
from storage.models import utcnow

log = logging.getLogger(__name__)

#: every interval trigger counts from this instant, so all processes agree on the occurrences
ANCHOR = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class JobSpec:
    """One static job: its id, how often, how late it may still run, and what it does for an occurrence."""

    id: str
    every: timedelta
    run: Callable[[datetime], object]  # given the occurrence's scheduled time
    misfire_grace: timedelta = timedelta(seconds=30)


def occurrence(every: timedelta, now: datetime) -> datetime:
    """The scheduled time of the occurrence `now` belongs to (the last anchor-aligned tick at or before it)."""
    ticks = (now - ANCHOR) // every
    return ANCHOR + ticks * every


def every_text(every: timedelta) -> str:
    """An interval as people write it: 10 s, 1 min, 24 h."""
    seconds = int(every.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Scheduler:
    engine: Engine
    jobs: Sequence[JobSpec]
    holder: str = ""
    clock: Callable[[], datetime] = utcnow
    _scheduler: BackgroundScheduler | None = None

    def run_occurrence(self, spec: JobSpec) -> bool:
        """Claim the current occurrence of `spec` and run it; False when another process has it."""
        due = occurrence(spec.every, self.clock())
        run_id = claim_run(self.engine, spec.id, due, self.holder or holder_name(), self.clock())
        if run_id is None:
            return False
        try:
            spec.run(due)
        except Exception as exc:  # a failed occurrence is recorded for ops; the next one runs as usual
            log.exception("scheduled job %s (%s) failed", spec.id, due.isoformat())
            finish_run(self.engine, run_id, self.clock(), error=f"{type(exc).__name__}: {exc}")
            return True
        finish_run(self.engine, run_id, self.clock())
        return True

    def start(self) -> None:
        """Start the background scheduler with every job (idempotent ids; nothing persisted)."""
        scheduler = BackgroundScheduler(timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1})
        for spec in self.jobs:
            scheduler.add_job(self.run_occurrence, IntervalTrigger(seconds=spec.every.total_seconds(),
                                                                   start_date=ANCHOR, timezone=UTC),
                              args=[spec], id=spec.id, name=spec.id, replace_existing=True,
                              misfire_grace_time=int(spec.misfire_grace.total_seconds()) or 1)
        scheduler.start()
        self._scheduler = scheduler

    def shutdown(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None


def scheduled_jobs(config: AppConfig, engine: Engine, *, mirror: Mirror, inmail: InMailPoller,
                   scans: DuplicateScans, watch: OpsWatch | None = None) -> list[JobSpec]:
    """The worker's static jobs: the pulls every `sync_interval_seconds`, a duplicate scan per tenant daily,
    and the ops watch (incidents) every `watch_interval_seconds`.

    Each queues work items keyed by the occurrence, so even a second claim of one occurrence queues nothing.
    """
    every = timedelta(seconds=config.bot.sync_interval_seconds)

    def pull(due: datetime) -> None:
        run = f"scheduled-{due:%Y%m%dT%H%M%S}"
        with transaction(engine) as session:
            for tenant in config.tenants:
                mirror.enqueue(session, tenant.id, run)
                if tenant.linkedin is not None:
                    inmail.enqueue(session, tenant.id, run)

    def scan(due: datetime) -> None:
        for tenant in config.tenants:
            scans.request(ScanRequest(tenant_id=tenant.id, request_key=f"scheduled:{tenant.id}:{due:%Y%m%dT%H%M}"))

    watch_every = timedelta(seconds=config.bot.watch_interval_seconds)
    return [
        JobSpec("sync.pull", every, pull, misfire_grace=every),
        JobSpec("dedupe.scan", timedelta(hours=config.bot.dedupe_scan_hours), scan,
                misfire_grace=timedelta(hours=1)),
        *([JobSpec("ops.watch", watch_every, watch.run, misfire_grace=watch_every)] if watch else []),
    ]
