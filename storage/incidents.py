"""Incidents: open once per condition, resolve once; both conditional, so concurrent checks cannot double them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from storage.models import Incident, table

INCIDENTS = table(Incident)


def condition_key(tenant_id: str, kind: str, integration: str = "") -> str:
    return f"{tenant_id}:{kind}:{integration}"


def open_incident(session: Session, *, tenant_id: str, kind: str, integration: str = "", summary: str,
                  detail: dict[str, Any], now: datetime) -> int | None:
    """Open an incident for the condition; None when one is open already (nothing is repeated)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(Incident).values(
        tenant_id=tenant_id, kind=kind, integration=integration, summary=summary, detail=detail, opened_at=now,
        open_key=condition_key(tenant_id, kind, integration),
    ).on_conflict_do_nothing(index_elements=["open_key"]).returning(INCIDENTS.c.id)
    return session.execute(stmt).scalar_one_or_none()


def resolve_incident(session: Session, *, tenant_id: str, kind: str, integration: str = "",
                     now: datetime) -> Incident | None:
    """Resolve the condition's open incident; the incident if this call resolved it, else None."""
    key = condition_key(tenant_id, kind, integration)
    c = INCIDENTS.c
    row: Incident | None = session.execute(select(Incident).where(c.open_key == key)).scalars().first()
    if row is None:
        return None
    result = session.execute(update(INCIDENTS).where(c.id == row.id, c.open_key == key)
                             .values(open_key=None, resolved_at=now))
    if getattr(result, "rowcount", 0) != 1:
        return None
    session.refresh(row)
    return row


def open_incidents(session: Session, tenant_id: str | None = None) -> list[Incident]:
    query = select(Incident).where(INCIDENTS.c.open_key.is_not(None)).order_by(INCIDENTS.c.id)
    if tenant_id is not None:
        query = query.where(INCIDENTS.c.tenant_id == tenant_id)
    return list(session.execute(query).scalars())
