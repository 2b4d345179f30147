"""The worker's scheduler: static jobs, each occurrence run once across any number of worker processes.

Every `hirebridge worker` runs an APScheduler 3.x `BackgroundScheduler` (in-memory store, explicit job ids,
`coalesce`, `max_instances=1`, an explicit misfire grace). Interval triggers share one anchor, so every
process's scheduler fires the same occurrences; before doing anything an occurrence is claimed in the store
(`storage.jobruns`: a unique `(job, scheduled_for)` row) and the processes that lose the claim skip it.
Scheduled work mostly queues work items (keyed by the occurrence too), so the queue's own guarantees — leases,
retries, dead letters — apply to it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine
from sqlmodel import Session

from bot.config_model import AppConfig
from bot.dedupe_scan import DuplicateScans, ScanRequest
from bot.inmail import InMailPoller
from bot.mirror import Mirror
from bot.ops_watch import OpsWatch
from bot.tokens import TokenRefresh
from storage.db import transaction
from storage.health import health_of
from storage.housekeeping import purge_plumbing
from storage.jobruns import claim_run, finish_run
from storage.models import utcnow
from storage.queue import WorkQueue

log = logging.getLogger(__name__)

#: every interval trigger counts from this instant, so all processes agree on the occurrences
ANCHOR = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class JobSpec:
    """One static job: its id, how often, how late it may still run, and what it does for an occurrence.

    `per_process`: the occurrence is claimed once per worker process instead of once in all (a job that
    keeps something of the process's own fresh, such as its OAuth tokens). `anchor`: the instant the
    occurrences count from (a weekly job anchored on a Monday morning runs on Monday mornings).
    """

    id: str
    every: timedelta
    run: Callable[[datetime], object]  # given the occurrence's scheduled time
    misfire_grace: timedelta = timedelta(seconds=30)
    per_process: bool = False
    anchor: datetime = ANCHOR


def occurrence(every: timedelta, now: datetime, anchor: datetime = ANCHOR) -> datetime:
    """The scheduled time of the occurrence `now` belongs to (the last anchor-aligned tick at or before it)."""
    ticks = (now - anchor) // every
    return anchor + ticks * every


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
        due = occurrence(spec.every, self.clock(), spec.anchor)
        holder = self.holder or holder_name()
        job = f"{spec.id}@{hashlib.sha1(holder.encode()).hexdigest()[:12]}" if spec.per_process else spec.id
        run_id = claim_run(self.engine, job, due, holder, self.clock())
        if run_id is None:
            return False
        try:
            spec.run(due)
        except Exception as exc:  # a failed occurrence is recorded for ops; the next one runs as usual
            log.exception("scheduled job %s (%s) failed", spec.id, due.isoformat())
            finish_run(self.engine, run_id, self.clock(), error=f"{type(exc).__name__}: {exc}")
            return True
        finish_run(self.engine, run_id, self.clock())
        log.info("scheduled job %s ran for %s", job, due.isoformat())
        return True

    def start(self) -> None:
        """Start the background scheduler with every job (idempotent ids; nothing persisted)."""
        scheduler = BackgroundScheduler(timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1})
        for spec in self.jobs:
            scheduler.add_job(self.run_occurrence, IntervalTrigger(seconds=spec.every.total_seconds(),
                                                                   start_date=spec.anchor, timezone=UTC),
                              args=[spec], id=spec.id, name=spec.id, replace_existing=True,
                              misfire_grace_time=int(spec.misfire_grace.total_seconds()) or 1)
        scheduler.start()
        self._scheduler = scheduler

    def shutdown(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None


#: error classes of a dead item that another round may cure (the vendor was down, or busy, or the budget spent)
TRANSIENT_ERRORS = ("Unavailable", "RateLimited", "WriteRefused", "BudgetExhausted", "UnexpectedResponse")
#: the weekly digest goes out on Monday mornings (UTC)
WEEKLY_ANCHOR = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@dataclass
class ScheduledWork:
    """What the worker's jobs do, each optional (a test or a one-off process may run a few)."""

    mirror: Mirror | None = None
    inmail: InMailPoller | None = None
    scans: DuplicateScans | None = None
    watch: OpsWatch | None = None
    queue: WorkQueue | None = None
    tokens: TokenRefresh | None = None
    retention: Callable[[datetime], object] | None = None
    digest: Callable[[datetime], object] | None = None


def scheduled_jobs(config: AppConfig, engine: Engine, work: ScheduledWork) -> list[JobSpec]:
    """The worker's static jobs (intervals from `[bot]`):

    - `sync.pull` every `sync_interval_seconds`: each tenant's ATS mirror pull and LinkedIn InMail poll;
    - `dedupe.scan` every `dedupe_scan_hours`: a duplicate scan per tenant;
    - `ops.watch` every `watch_interval_seconds`: the incidents;
    - `queue.reclaim` every 15 s: work whose worker died is given back (workers also do it as they poll);
    - `dlq.sweep` every `dead_letter_sweep_minutes`: dead items that failed for a passing reason get another
      round (at most `dead_letter_sweeps`), unless an integration of their tenant is still failing;
    - `tokens.refresh` every `token_refresh_minutes`, in each process: OAuth tokens renewed ahead of expiry;
    - `retention.purge` daily: candidates inactive beyond the retention, and finished plumbing beyond
      `plumbing_days`;
    - `digest.weekly` on Mondays at 09:00 UTC: each tenant's KPIs to its ops channel.

    The pulls and scans queue work items keyed by the occurrence, so even a second claim queues nothing.
    """
    bot = config.bot
    every = timedelta(seconds=bot.sync_interval_seconds)
    jobs: list[JobSpec] = []
    mirror, inmail, scans = work.mirror, work.inmail, work.scans
    if mirror is not None and inmail is not None:
        def pull(due: datetime) -> None:
            run = f"scheduled-{due:%Y%m%dT%H%M%S}"
            with transaction(engine) as session:
                for tenant in config.tenants:
                    mirror.enqueue(session, tenant.id, run)
                    if tenant.linkedin is not None:
                        inmail.enqueue(session, tenant.id, run)

        jobs.append(JobSpec("sync.pull", every, pull, misfire_grace=every))
    if scans is not None:
        def scan(due: datetime) -> None:
            for tenant in config.tenants:
                scans.request(ScanRequest(tenant_id=tenant.id,
                                          request_key=f"scheduled:{tenant.id}:{due:%Y%m%dT%H%M}"))

        jobs.append(JobSpec("dedupe.scan", timedelta(hours=bot.dedupe_scan_hours), scan,
                            misfire_grace=timedelta(hours=1)))
    if work.watch is not None:
        watch_every = timedelta(seconds=bot.watch_interval_seconds)
        jobs.append(JobSpec("ops.watch", watch_every, work.watch.run, misfire_grace=watch_every))
    if (queue := work.queue) is not None:
        def reclaim(due: datetime) -> None:
            queue.reclaim_expired()

        def sweep(due: datetime) -> int:
            with Session(engine) as session:
                failing = sorted({row.tenant_id for row in health_of(session) if row.consecutive_failures})
            return queue.revive_dead(transient=TRANSIENT_ERRORS, max_revivals=bot.dead_letter_sweeps,
                                     skip_tenants=failing)

        jobs.append(JobSpec("queue.reclaim", timedelta(seconds=15), reclaim, misfire_grace=timedelta(seconds=15)))
        sweep_every = timedelta(minutes=bot.dead_letter_sweep_minutes)
        jobs.append(JobSpec("dlq.sweep", sweep_every, sweep, misfire_grace=sweep_every))
    if work.tokens is not None:
        token_every = timedelta(minutes=bot.token_refresh_minutes)
        jobs.append(JobSpec("tokens.refresh", token_every, work.tokens.run, misfire_grace=token_every,
                            per_process=True))
    retention = work.retention

    def purge(due: datetime) -> None:
        if retention is not None:
            retention(due)
        purge_plumbing(engine, due - timedelta(days=bot.plumbing_days))

    jobs.append(JobSpec("retention.purge", timedelta(days=1), purge, misfire_grace=timedelta(hours=6)))
    if work.digest is not None:
        jobs.append(JobSpec("digest.weekly", timedelta(days=7), work.digest, misfire_grace=timedelta(hours=12),
                            anchor=WEEKLY_ANCHOR))
    return jobs
