"""The retention purge: inactive candidates erased locally per tenant's days, active ones and aggregates kept,
in batches, each batch audited; never outside."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from bot.config import load_config
from bot.config_model import AppConfig
from bot.demo.script import EXAMPLE_CONFIG
from bot.retention import PURGED, RetentionPurge
from bot.tenants import register_tenants
from storage.candidates import add_keys, upsert_application
from storage.db import transaction
from storage.models import (
    AuditEntry,
    Candidate,
    CandidateIdentity,
    KpiSnapshot,
    OutboxMessage,
    OutboxState,
    WorkItem,
    table,
)
from storage.outbox import add_message
from tests.conftest import Database

DUE = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


@pytest.fixture
def config(db: Database) -> AppConfig:
    loaded = load_config(EXAMPLE_CONFIG)
    register_tenants(db.engine, loaded)
    return loaded


def candidate(db: Database, tenant: str, name: str, *, active: datetime | None, updated: datetime) -> int:
    """A synced candidate with an email key and an application, last active (or updated) when said."""
    with transaction(db.engine) as s:
        row = Candidate(tenant_id=tenant, first_name=name, last_name="Quill", ats_candidate_id=f"ats-{name}",
                        last_activity_at=active, created_at=updated, updated_at=updated)
        s.add(row)
        s.flush()
        add_keys(s, tenant, row.id or 0, [("email", f"{name.lower()}@example.org"), ("ats", f"ats-{name}")])
        upsert_application(s, tenant, row.id or 0, f"app-{name}", job_id="4401")
        return row.id or 0


def names(db: Database) -> set[str]:
    with Session(db.engine) as s:
        return {c.first_name for c in s.execute(select(Candidate)).scalars()}


def purges(db: Database) -> list[AuditEntry]:
    with Session(db.engine) as s:
        return list(s.execute(select(AuditEntry).where(AuditEntry.action == PURGED).order_by(AuditEntry.id))
                    .scalars())


def test_inactive_candidates_go_active_ones_and_aggregates_stay(db: Database, config: AppConfig) -> None:
    days = timedelta(days=1)
    candidate(db, "acme", "Old", active=DUE - 400 * days, updated=DUE - 1 * days)  # activity wins over updates
    candidate(db, "acme", "Stale", active=None, updated=DUE - 366 * days)  # no activity: its last update
    candidate(db, "acme", "Recent", active=DUE - 10 * days, updated=DUE - 500 * days)
    candidate(db, "acme", "Middle", active=DUE - 200 * days, updated=DUE - 200 * days)  # acme keeps a year
    candidate(db, "globex", "Short", active=DUE - 200 * days, updated=DUE - 200 * days)  # globex keeps 180 days
    with transaction(db.engine) as s:
        s.add(KpiSnapshot(tenant_id="acme", week="2025-10-06", figures={"exported": 12, "duplicates": 1}))
        sent = add_message(s, dedupe_key="alert:acme:1", channel="C0ACMEENG", tenant_id="acme",
                           payload={"text": "Old Quill moved to Onsite"})
        s.execute(table(OutboxMessage).update().values(state=OutboxState.SENT).where(
            table(OutboxMessage).c.id == sent))

    totals = RetentionPurge(db.engine, config, clock=lambda: DUE).run(DUE)

    assert names(db) == {"Recent", "Middle"}
    assert totals["candidate"] == 3 and totals["candidateidentity"] == 6 and totals["application"] == 3
    assert totals["outboxmessage"] == 1, "a sent message naming them is redacted"
    with Session(db.engine) as s:
        (kpi,) = s.execute(select(KpiSnapshot)).scalars()
        assert kpi.figures == {"exported": 12, "duplicates": 1}, "aggregates outlive the people"
        assert s.execute(select(WorkItem)).first() is None, "never erased outside: nothing queued"
        left = {i.value for i in s.execute(select(CandidateIdentity)).scalars()}
    assert left == {"recent@example.org", "ats-Recent", "middle@example.org", "ats-Middle"}
    by_tenant = {(a.tenant_id, a.detail["candidates"], a.detail["days"]) for a in purges(db)}
    assert by_tenant == {("acme", 2, 365), ("globex", 1, 180)}
    assert all(a.actor == "retention" and "Quill" not in str(a.detail) for a in purges(db))


def test_a_large_purge_goes_in_batches_each_its_own_transaction(db: Database, config: AppConfig) -> None:
    for i in range(5):
        candidate(db, "acme", f"Gone{i}", active=DUE - timedelta(days=400), updated=DUE - timedelta(days=400))
    candidate(db, "acme", "Kept", active=DUE, updated=DUE)
    purge = RetentionPurge(db.engine, config, clock=lambda: DUE, batch=2)

    assert purge.run(DUE)["candidate"] == 5
    assert names(db) == {"Kept"}
    assert [a.detail["candidates"] for a in purges(db)] == [2, 2, 1]
    assert purge.run(DUE) == {}, "a second run finds nothing more"
    assert len(purges(db)) == 3
