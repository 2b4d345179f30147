"""The retention policy: candidates inactive longer than their tenant's `retention_days` are erased locally.

- Inactive: their last activity (`last_activity_at`, else `updated_at`) is older than the tenant's
  `retention_days` before the run's due time.
- Erased with the erasure's own code (bot/erasure.py): the same rows go, the same free text is cleaned. Never
  outside: the ATS is the customer's system of record with its own retention, and LinkedIn's In-ATS record
  mirrors the ATS, where the person still is.
- Aggregates stay: KPI snapshots are never touched, and each batch leaves one `retention.purged` audit entry
  with how many candidates went and the rows per table.
- In batches (500 candidates by default), one short transaction each, picked inside it: a large purge never
  holds SQLite's single write lock for long, and no second transaction is opened while one is.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select
from sqlmodel import Session

from bot.config_model import AppConfig, Tenant
from bot.erasure import Erasure, target_of
from storage.db import transaction
from storage.models import AuditEntry, Candidate, table, utcnow

PURGED = "retention.purged"
BATCH = 500


@dataclass
class RetentionPurge:
    engine: Engine
    config: AppConfig
    clock: Callable[[], datetime] = utcnow
    batch: int = BATCH

    def run(self, due: datetime) -> dict[str, int]:
        """Purge every tenant's inactive candidates as of `due`; rows per table (`candidate`: how many people)."""
        totals: dict[str, int] = {}
        for tenant in self.config.tenants:
            before = due - timedelta(days=self.config.retention_days(tenant.id))
            while True:
                with transaction(self.engine) as session:
                    ids = self._inactive(session, tenant.id, before)
                    counts = self._purge(session, tenant, ids, before) if ids else {}
                for name, n in counts.items():
                    totals[name] = totals.get(name, 0) + n
                if len(ids) < self.batch:
                    break
        return dict(sorted(totals.items()))

    def _inactive(self, session: Session, tenant_id: str, before: datetime) -> list[int]:
        c = table(Candidate).c
        last = func.coalesce(c.last_activity_at, c.updated_at)
        query = select(c.id).where(c.tenant_id == tenant_id, last < before).order_by(c.id).limit(self.batch)
        return [int(i) for i in session.execute(query).scalars()]

    def _purge(self, session: Session, tenant: Tenant, ids: list[int], before: datetime) -> dict[str, int]:
        erasure_id = secrets.token_hex(8)
        erasure = Erasure(self.engine, self.config, self.clock)
        counts, _ = erasure.erase_target(session, tenant, target_of(session, tenant.id, ids), erasure_id,
                                         outside=False)
        session.add(AuditEntry(at=self.clock(), actor="retention", action=PURGED, tenant_id=tenant.id,
                               subject=f"erasure:{erasure_id}",
                               detail={"erasure": erasure_id, "candidates": len(ids), "inactive_before":
                                       before.isoformat(), "days": self.config.retention_days(tenant.id),
                                       "counts": counts}))
        return counts
