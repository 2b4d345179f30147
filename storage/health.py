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


def add_calls(session: Session, tenant_id: str, integration: str, *, calls: int, errors: int,
              failures_since_success: int, last_success_at: datetime | None, last_failure_at: datetime | None,
              last_error: str | None, now: datetime) -> IntegrationHealth:
    """Fold a process's tally of API calls into the shared row (see integrations.calls).

    A success in the tally resets the run of failures to those after it; a tally of failures only extends the
    run. Processes' tallies interleave, so across several workers the run is approximate — by at most the
    calls one process made between two flushes.
    """
    row = _row(session, tenant_id, integration, now)
    row.calls_total += calls
    row.errors_total += errors
    if last_success_at is not None:
        row.consecutive_failures = failures_since_success
        row.last_success_at = max(last_success_at, row.last_success_at or last_success_at)
    else:
        row.consecutive_failures += failures_since_success
    if last_failure_at is not None:
        row.last_failure_at, row.last_error = last_failure_at, (last_error or "")[:4000]
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
