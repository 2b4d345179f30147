"""Renewing OAuth tokens ahead of expiry (Greenhouse Harvest v3, LinkedIn RSC; Lever uses an API key).

Tokens live in each process's clients, so every worker renews its own: the job runs once per process per
occurrence (its claim names the process), not once across processes like the other jobs. A token that ends
within twice the job's interval is fetched anew, so no request waits for a token fetch or meets an expired
one; a refused credential is recorded as the integration's failure, and the ops watch opens an `auth`
incident for it before real work fails on it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from bot.config_model import AppConfig
from bot.connections import Connections
from integrations.errors import IntegrationError
from storage.db import transaction
from storage.health import record_failure
from storage.models import utcnow

log = logging.getLogger(__name__)


@dataclass
class TokenRefresh:
    engine: Engine
    config: AppConfig
    connections: Connections
    every: timedelta
    clock: Callable[[], datetime] = utcnow

    def run(self, due: datetime | None = None) -> dict[str, int]:
        """Renew what is due in every tenant; counts of tokens `renewed`, `fresh` (still good) and `failed`."""
        counts = {"renewed": 0, "fresh": 0, "failed": 0}
        within = 2 * self.every.total_seconds()
        for tenant in self.config.tenants:
            for integration in ("greenhouse", "linkedin"):
                if getattr(tenant, integration) is None:
                    continue
                try:
                    client = (self.connections.greenhouse(tenant) if integration == "greenhouse"
                              else self.connections.linkedin(tenant.id))  # a missing secret raises here
                    counts["renewed" if client.refresh_token(within) else "fresh"] += 1
                except IntegrationError as exc:
                    counts["failed"] += 1
                    log.warning("token renewal for %s/%s failed: %s", tenant.id, integration, exc)
                    with transaction(self.engine) as session:
                        record_failure(session, tenant.id, integration, f"{type(exc).__name__}: {exc}",
                                       self.clock())
        return counts
