"""Ops warnings as incidents: each watched condition opens once, stays quiet while open, and resolves once.

The watch (a scheduled job, its occurrence claimed once) reads only the store and evaluates, per tenant:

- `backlog`: more candidates waiting in the sync queue than `[bot] backlog_threshold`;
- `api_errors`: an integration failing `consecutive_error_threshold` times in a row;
- `auth`: an integration whose last failure was a refused credential (a revoked key, an expired token);
- `budget`: today's LinkedIn requests at `budget_warning_percent` of `linkedin_daily_budget`;
- `dead_letters`: work items of the tenant in the dead-letter queue;
- `unmapped`: projects or stages the maps do not name, waiting in attention;
- `stale_sync`: an integration that worked once and has not succeeded for `stale_sync_minutes`.

A condition that holds opens an incident (one message to the tenant's ops channel); while it holds nothing more
is said; once it clears the incident resolves (one message). Messages go through the outbox in the same
transaction as the incident, keyed by it, so each is posted once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select
from sqlmodel import Session

from bot.config_model import AppConfig, Tenant
from bot.slack.blocks import LABELS, context, esc, message, section
from bot.sync import SYNC
from storage.db import transaction
from storage.health import health_of
from storage.incidents import open_incident, resolve_incident
from storage.models import AttentionItem, WorkItem, WorkState, table, utcnow
from storage.outbox import add_message

WORK, ATTENTION = table(WorkItem).c, table(AttentionItem).c
UNMAPPED_SOURCES = ("unmapped_stage", "export", "mail_stub")  # attention kept for want of a mapping
KINDS = ("backlog", "api_errors", "auth", "budget", "dead_letters", "unmapped", "stale_sync")


@dataclass(frozen=True)
class Condition:
    """One watched condition of a tenant, as evaluated now."""

    kind: str
    integration: str
    holds: bool
    summary: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


def evaluate(session: Session, config: AppConfig, tenant: Tenant, now: datetime) -> list[Condition]:
    """Every watched condition of the tenant, holding or not (so a held one can be seen to clear)."""
    bot = config.bot
    conditions: list[Condition] = []
    waiting = session.execute(select(func.count()).where(
        WORK.tenant_id == tenant.id, WORK.kind == SYNC, WORK.state.in_([WorkState.QUEUED, WorkState.RUNNING]))
    ).scalar_one()
    conditions.append(Condition("backlog", "", waiting > bot.backlog_threshold,
                                f"{waiting} candidates are waiting in the sync queue (warning above "
                                f"{bot.backlog_threshold})", {"waiting": waiting}))
    dead = session.execute(select(func.count()).where(WORK.tenant_id == tenant.id,
                                                      WORK.state == WorkState.DEAD)).scalar_one()
    conditions.append(Condition("dead_letters", "", dead > 0,
                                f"{dead} work item(s) are in the dead-letter queue: `hirebridge dlq list`",
                                {"dead": dead}))
    unmapped = session.execute(select(func.count()).where(
        ATTENTION.tenant_id == tenant.id, ATTENTION.resolved_at.is_(None),
        ATTENTION.source.in_(UNMAPPED_SOURCES))).scalar_one()
    conditions.append(Condition("unmapped", "", unmapped > 0,
                                f"{unmapped} record(s) wait for a project or stage mapping: "
                                "`hirebridge attention list`", {"waiting": unmapped}))
    for row in health_of(session, tenant.id):
        label = LABELS.get(row.integration, row.integration)
        error = (row.last_error or "")[:300]
        failing = row.consecutive_failures >= bot.consecutive_error_threshold
        conditions.append(Condition("api_errors", row.integration, failing,
                                    f"{label}: {row.consecutive_failures} failed calls in a row — {error}",
                                    {"failures": row.consecutive_failures}))
        refused = row.consecutive_failures > 0 and error.startswith("AuthFailed")
        conditions.append(Condition("auth", row.integration, refused,
                                    f"{label} refuses HireBridge's credentials — {error}", {}))
        stale = (row.last_success_at is not None and row.consecutive_failures > 0
                 and now - row.last_success_at > timedelta(minutes=bot.stale_sync_minutes))
        conditions.append(Condition("stale_sync", row.integration, stale,
                                    f"no successful {label} call for over {bot.stale_sync_minutes} minutes", {}))
        if row.integration == "linkedin":
            used = row.budget_used if row.budget_day == now.date().isoformat() else 0
            limit = bot.linkedin_daily_budget
            conditions.append(Condition("budget", "linkedin", used * 100 >= limit * bot.budget_warning_percent,
                                        f"{used} of today's {limit} LinkedIn requests used", {"used": used}))
    return conditions


def incident_opened(tenant: Tenant, condition: Condition) -> dict[str, Any]:
    title = f"HireBridge warning for {tenant.name}: {condition.kind.replace('_', ' ')}"
    return message(title, [section(f":rotating_light: *{esc(title)}*"), section(esc(condition.summary)),
                           context("One message now and one when it clears; nothing in between.")])


def incident_resolved(tenant: Tenant, kind: str, integration: str, opened: datetime,
                      now: datetime) -> dict[str, Any]:
    what = f"{kind.replace('_', ' ')}{f' ({LABELS.get(integration, integration)})' if integration else ''}"
    title = f"Resolved for {tenant.name}: {what}"
    minutes = max(1, round((now - opened).total_seconds() / 60))
    return message(title, [section(f":white_check_mark: *{esc(title)}* after {minutes} min")])


@dataclass
class OpsWatch:
    engine: Engine
    config: AppConfig
    clock: Callable[[], datetime] = utcnow

    def run(self, due: datetime | None = None) -> tuple[int, int]:
        """Check every tenant once; returns (incidents opened, incidents resolved)."""
        opened = resolved = 0
        now = self.clock()
        for tenant in self.config.tenants:
            with transaction(self.engine) as session:
                for condition in evaluate(session, self.config, tenant, now):
                    if condition.holds:
                        incident = open_incident(session, tenant_id=tenant.id, kind=condition.kind,
                                                 integration=condition.integration, summary=condition.summary,
                                                 detail=condition.detail, now=now)
                        if incident is not None:
                            opened += 1
                            add_message(session, dedupe_key=f"incident:{incident}:open",
                                        channel=tenant.ops_channel, tenant_id=tenant.id, now=now,
                                        payload=incident_opened(tenant, condition))
                    elif (gone := resolve_incident(session, tenant_id=tenant.id, kind=condition.kind,
                                                   integration=condition.integration, now=now)) is not None:
                        resolved += 1
                        add_message(session, dedupe_key=f"incident:{gone.id}:resolved",
                                    channel=tenant.ops_channel, tenant_id=tenant.id, now=now,
                                    payload=incident_resolved(tenant, condition.kind, condition.integration,
                                                              gone.opened_at, now))
        return opened, resolved
