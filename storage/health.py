"""Per-integration health: consecutive failures, last success and failure, the daily request budget."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from storage.models import IntegrationHealth


def _row(session: Session, tenant_id: str, integration: str, now: datetime) -> IntegrationHealth:
    row = session.get(IntegrationHealth, (tenant_id, integration))
    if row is None:
        row = IntegrationHealth(tenant_id=tenant_id, integration=integration, updated_at=now)
        session.add(row)
    return row


def record_success(session: Session, tenant_id: str, integration: str, now: datetime) -> IntegrationHealth:
    row = _row(session, tenant_id, integration, now)
    row.consecutive_failures = 0
    row.last_success_at = now
    row.updated_at = now
    session.flush()
    return row


def record_failure(session: Session, tenant_id: str, integration: str, error: str,
                   now: datetime) -> IntegrationHealth:
    row = _row(session, tenant_id, integration, now)
    row.consecutive_failures += 1
    row.last_failure_at = now
    row.last_error = error[:4000]
    row.updated_at = now
    session.flush()
    return row


def count_requests(session: Session, tenant_id: str, integration: str, requests: int,
                   now: datetime) -> IntegrationHealth:
    """Add to today's (UTC) request count; the counter restarts at midnight UTC, as LinkedIn's budget does."""
    row = _row(session, tenant_id, integration, now)
    day = now.date().isoformat()
    if row.budget_day != day:
        row.budget_day, row.budget_used = day, 0
    row.budget_used += requests
    row.updated_at = now
    session.flush()
    return row


def health_of(session: Session, tenant_id: str | None = None) -> list[IntegrationHealth]:
    query = select(IntegrationHealth)
    if tenant_id is not None:
        query = query.where(IntegrationHealth.tenant_id == tenant_id)
    return list(session.exec(query.order_by(IntegrationHealth.tenant_id, IntegrationHealth.integration)).all())  # type: ignore[arg-type]


def budget_left(session: Session, tenant_id: str, integration: str, limit: int, now: datetime) -> int:
    """Requests left today (UTC) under `limit`; every process reads the same row."""
    row = session.get(IntegrationHealth, (tenant_id, integration))
    used = row.budget_used if row is not None and row.budget_day == now.date().isoformat() else 0
    return max(0, limit - used)
