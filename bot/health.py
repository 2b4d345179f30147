"""Connection checks: prove each integration answers, record its health, report to the tenant's ops channel."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine
from sqlmodel import Session

from bot.config_model import AppConfig
from bot.connections import Connections
from bot.slack import blocks
from integrations.errors import AuthFailed, IntegrationError, Unavailable
from storage.db import transaction
from storage.health import health_of, record_failure, record_success
from storage.models import utcnow
from storage.outbox import add_message
from storage.queue import Claimed, Priority, enqueue

CHECK = "integration.check"
REPORT = "health.report"
SLACK_SCOPE = "*"  # Slack is one workspace for every tenant


def integrations_of(config: AppConfig, tenant_id: str) -> list[str]:
    """The integrations a tenant uses: its ATS, then LinkedIn when configured."""
    tenant = config.tenant(tenant_id)
    return [tenant.ats, *(["linkedin"] if tenant.linkedin else [])]


def ping_slack(slack: WebClient) -> None:
    """auth.test, with Slack's errors translated into the integration error tree."""
    try:
        slack.auth_test()
    except SlackApiError as exc:
        raise AuthFailed(f"slack: {exc.response.get('error')}", integration="slack") from None
    except Exception as exc:  # urllib errors: Slack is unreachable
        raise Unavailable(f"slack unreachable: {exc}", integration="slack") from None


@dataclass
class HealthChecks:
    """The use-cases behind the `integration.check` and `health.report` work items."""

    engine: Engine
    config: AppConfig
    connections: Connections
    slack: Callable[[], WebClient]
    clock: Callable[[], datetime] = utcnow

    def enqueue_checks(self, session: Session, run: str) -> int:
        """Queue a check of every integration of every tenant (and Slack), then one report per tenant."""
        count = 0
        targets = [(SLACK_SCOPE, "slack")] + [(t.id, i) for t in self.config.tenants
                                              for i in integrations_of(self.config, t.id)]
        for tenant_id, integration in targets:
            payload = {"tenant": tenant_id, "integration": integration}
            count += enqueue(session, CHECK, payload, dedupe_key=f"check:{run}:{tenant_id}:{integration}",
                             tenant_id=tenant_id, priority=Priority.NORMAL) is not None
        return count

    def check(self, session: Session, item: Claimed) -> None:
        tenant_id, integration = item.payload["tenant"], item.payload["integration"]
        try:
            self._ping(tenant_id, integration)
        except IntegrationError as exc:
            # The item's own transaction rolls back on failure: the failure is recorded in one of its own.
            with transaction(self.engine) as own:
                record_failure(own, tenant_id, integration, f"{type(exc).__name__}: {exc}", self.clock())
            raise
        record_success(session, tenant_id, integration, self.clock())

    def _ping(self, tenant_id: str, integration: str) -> None:
        if integration == "slack":
            ping_slack(self.slack())
        elif integration == "linkedin":
            self.connections.linkedin(tenant_id).ping()
        else:
            self.connections.ats(tenant_id).ping()

    def report(self, session: Session, item: Claimed) -> None:
        """Post the tenant's integration health to its ops channel, once per report item."""
        tenant = self.config.tenant(item.payload["tenant"])
        rows = [r for r in health_of(session) if r.tenant_id in (tenant.id, SLACK_SCOPE)]
        message = blocks.health_report(tenant.name, rows)
        add_message(session, dedupe_key=f"report:{item.dedupe_key}", channel=tenant.ops_channel,
                    payload=message, tenant_id=tenant.id)
