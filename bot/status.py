"""Sync health for `/candidate status`: the queue, dead letters, last successful sync per integration, budgets.

Read from the store only (no call to any vendor), so it answers in milliseconds even while an integration is
down — which is when ops ask.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from bot.config_model import AppConfig
from bot.exports import EXPORT
from bot.health import SLACK_SCOPE, integrations_of
from bot.inmail import POLL
from bot.mirror import MIRROR
from bot.pushback import PUSH_BACK
from bot.slack_export import SLACK_EXPORT
from bot.sync import SYNC
from storage.models import AttentionItem, IntegrationHealth, OutboxMessage, OutboxState, WorkItem, WorkState, table

WORK, OUTBOX, ATTENTION = table(WorkItem).c, table(OutboxMessage).c, table(AttentionItem).c
#: the work that proves an integration works when it finishes: the ATS, or LinkedIn
KINDS = {"ats": (SYNC, MIRROR, SLACK_EXPORT), "linkedin": (EXPORT, POLL, PUSH_BACK)}
MAX_DEAD_SHOWN = 5
SHOWN_STATES = (WorkState.QUEUED, WorkState.RUNNING, WorkState.DEAD)


@dataclass(frozen=True)
class IntegrationStatus:
    tenant_id: str
    integration: str  # greenhouse | lever | linkedin | slack
    last_synced_at: datetime | None  # the last work item against it that finished
    last_check_ok_at: datetime | None  # the last connection check that passed
    failures: int  # connection checks failed in a row
    last_error: str | None
    budget_used: int | None = None  # today's requests (UTC day), where a daily budget applies
    budget_limit: int | None = None


@dataclass(frozen=True)
class DeadLetter:
    id: int
    kind: str
    tenant_id: str | None
    error: str | None
    at: datetime | None


@dataclass(frozen=True)
class Status:
    as_of: datetime
    queue: dict[str, int]  # queued | running | dead
    waiting_by_kind: dict[str, int]  # queued items per kind, largest first
    dead: list[DeadLetter]
    outbox: dict[str, int]  # pending | dead Slack messages
    attention: dict[str, int]  # open attention items per tenant
    integrations: list[IntegrationStatus]

    @property
    def healthy(self) -> bool:
        return (not self.queue.get(WorkState.DEAD) and not self.outbox.get(OutboxState.DEAD)
                and all(i.failures == 0 for i in self.integrations))


def read_status(session: Session, config: AppConfig, now: datetime,
                tenant_ids: Sequence[str] | None = None) -> Status:
    """Everything `/candidate status` shows, for the given tenants (None: all)."""
    tenants = [t for t in config.tenants if tenant_ids is None or t.id in tenant_ids]
    ids = [t.id for t in tenants]
    in_scope = WORK.tenant_id.in_(ids) | WORK.tenant_id.is_(None)
    by_state = _pairs(session.execute(select(WORK.state, func.count()).where(
        in_scope, WORK.state != WorkState.DONE).group_by(WORK.state)).all())
    waiting = session.execute(select(WORK.kind, func.count()).where(in_scope, WORK.state == WorkState.QUEUED)
                              .group_by(WORK.kind).order_by(func.count().desc(), WORK.kind)).all()
    dead = session.execute(select(WORK.id, WORK.kind, WORK.tenant_id, WORK.last_error, WORK.finished_at).where(
        in_scope, WORK.state == WorkState.DEAD).order_by(WORK.id.desc()).limit(MAX_DEAD_SHOWN)).all()
    outbox = _pairs(session.execute(select(OUTBOX.state, func.count()).where(
        OUTBOX.state.in_([OutboxState.PENDING, OutboxState.SENDING, OutboxState.DEAD]))
        .group_by(OUTBOX.state)).all())
    attention = _pairs(session.execute(select(ATTENTION.tenant_id, func.count()).where(
        ATTENTION.tenant_id.in_(ids), ATTENTION.resolved_at.is_(None))
        .group_by(ATTENTION.tenant_id)).all())
    return Status(
        as_of=now,
        queue={s.value: int(by_state.get(s.value, 0)) for s in SHOWN_STATES},
        waiting_by_kind={str(kind): int(n) for kind, n in waiting},
        dead=[DeadLetter(r.id, r.kind, r.tenant_id, r.last_error, r.finished_at) for r in dead],
        outbox={s.value: int(outbox.get(s.value, 0)) for s in (OutboxState.PENDING, OutboxState.DEAD)},
        attention={t: int(attention.get(t, 0)) for t in ids},
        integrations=_integrations(session, config, ids, now),
    )


def _pairs(rows: Sequence[Any]) -> dict[str, int]:
    return {str(key): int(count) for key, count in rows}


def _integrations(session: Session, config: AppConfig, ids: list[str], now: datetime) -> list[IntegrationStatus]:
    health = {(h.tenant_id, h.integration): h for h in session.execute(select(IntegrationHealth)).scalars()}
    last_done = select(WORK.tenant_id, WORK.kind, func.max(WORK.finished_at)).where(
        WORK.tenant_id.in_(ids), WORK.state == WorkState.DONE).group_by(WORK.tenant_id, WORK.kind)
    finished = {(t, k): at for t, k, at in session.execute(last_done).all()}
    rows = []
    for tenant_id in ids:
        for integration in integrations_of(config, tenant_id):
            family = "linkedin" if integration == "linkedin" else "ats"
            times = [at for kind in KINDS[family] if (at := finished.get((tenant_id, kind))) is not None]
            h = health.get((tenant_id, integration))
            budget = _budget(config, tenant_id, h, now) if integration == "linkedin" else (None, None)
            rows.append(IntegrationStatus(tenant_id, integration, max(times, default=None),
                                          h.last_success_at if h else None, h.consecutive_failures if h else 0,
                                          h.last_error if h else None, *budget))
    slack = health.get((SLACK_SCOPE, "slack"))
    if slack is not None:
        rows.append(IntegrationStatus(SLACK_SCOPE, "slack", None, slack.last_success_at,
                                      slack.consecutive_failures, slack.last_error))
    return rows


def _budget(config: AppConfig, tenant_id: str, h: IntegrationHealth | None,
            now: datetime) -> tuple[int | None, int | None]:
    used = h.budget_used if h is not None and h.budget_day == now.date().isoformat() else 0
    return used, config.linkedin_daily_budget(tenant_id)
