"""The weekly digest: each tenant's KPIs for the week, posted to its ops channel and kept as a snapshot.

A scheduled job (its occurrence claimed once across processes) calls `WeeklyDigest.run(due)`. Per tenant, one
transaction stores the week's `KpiSnapshot` (aggregates only, so the figures outlive the retention purge of the
people they were computed from) and queues the message in the outbox; both are unique per tenant and week, so a
second run for the same week — a retry, a manual run — changes nothing and posts nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from bot.config_model import AppConfig, Tenant
from bot.kpis import WEEK, Kpis, compute_kpis
from bot.slack.kpi_blocks import weekly_digest
from storage.db import transaction
from storage.models import KpiSnapshot, table, utcnow
from storage.outbox import add_message

SNAPSHOTS = table(KpiSnapshot)


def week_of(moment: datetime) -> str:
    """The Monday (UTC) of the week `moment` falls in, as YYYY-MM-DD: how snapshots name their week."""
    day = moment.date()
    return (day - timedelta(days=day.weekday())).isoformat()


@dataclass
class WeeklyDigest:
    engine: Engine
    config: AppConfig
    clock: Callable[[], datetime] = utcnow

    def run(self, due: datetime) -> int:
        """Report the 7 days before `due` for every tenant; returns how many digests were queued.

        The week is named by the Monday of the window's first day, so a job due at the same time each week
        names consecutive weeks, and any run for the same `due` names the same one.
        """
        since = due - WEEK
        week = week_of(since)
        queued = 0
        for tenant in self.config.tenants:
            with transaction(self.engine) as session:
                kpis = compute_kpis(session, self.config, tenant.id, since=since, until=due)
                if self._snapshot(session, tenant.id, week, kpis) and self._post(session, tenant, week, kpis):
                    queued += 1
        return queued

    def _snapshot(self, session: Session, tenant_id: str, week: str, kpis: Kpis) -> bool:
        """Keep the week's figures; False if the week was kept already (its digest went out then)."""
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        stmt = insert(KpiSnapshot).values(tenant_id=tenant_id, week=week, figures=kpis.figures(),
                                          created_at=self.clock()).on_conflict_do_nothing(
            index_elements=["tenant_id", "week"]).returning(SNAPSHOTS.c.id)
        return session.execute(stmt).scalar_one_or_none() is not None

    def _post(self, session: Session, tenant: Tenant, week: str, kpis: Kpis) -> bool:
        previous = self._previous(session, tenant.id, week)
        payload = weekly_digest(tenant.name, week, kpis, previous)
        return add_message(session, dedupe_key=f"digest:{tenant.id}:{week}", channel=tenant.ops_channel,
                           tenant_id=tenant.id, now=self.clock(), payload=payload) is not None

    @staticmethod
    def _previous(session: Session, tenant_id: str, week: str) -> Kpis | None:
        """Last week's figures, if that week's digest was kept (and is readable by this version)."""
        before = (datetime.fromisoformat(week) - WEEK).date().isoformat()
        figures = session.execute(select(SNAPSHOTS.c.figures).where(
            SNAPSHOTS.c.tenant_id == tenant_id, SNAPSHOTS.c.week == before)).scalar_one_or_none()
        return Kpis.from_figures(figures) if figures is not None else None
