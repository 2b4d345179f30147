"""Build each tenant's integration clients from the config and the environment's secrets (cached per tenant)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from bot.config_model import AppConfig, Tenant
from integrations.ats import AtsClient
from integrations.calls import CallMeter, Observer
from integrations.errors import AuthFailed
from integrations.greenhouse import GreenhouseClient
from integrations.greenhouse_ats import GreenhouseAts
from integrations.lever import LeverClient
from integrations.lever_ats import LeverAts
from integrations.linkedin import LinkedInClient

C = TypeVar("C")


class MissingSecret(AuthFailed):
    """A secret the config names by environment variable is not set: ops must set it; retrying cannot help."""


def secret(environ: Mapping[str, str], name: str, integration: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise MissingSecret(f"environment variable {name} is not set", integration=integration)
    return value


@dataclass
class Connections:
    """One client per tenant and integration, so token caches and rate limiters live as long as the process."""

    config: AppConfig
    environ: Mapping[str, str]
    http: httpx.Client
    meter: CallMeter | None = None  # told of every API call, per tenant and integration
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict)

    def ats(self, tenant_id: str) -> GreenhouseClient | LeverClient:
        tenant = self.config.tenant(tenant_id)
        return self.greenhouse(tenant) if tenant.ats == "greenhouse" else self.lever(tenant)

    def ats_adapter(self, tenant_id: str) -> AtsClient:
        """The tenant's ATS behind the neutral protocol (one adapter per tenant, reusing its client)."""
        tenant = self.config.tenant(tenant_id)
        if tenant.ats == "greenhouse":
            return self._cached(tenant_id, "greenhouse_ats", lambda: GreenhouseAts(self.greenhouse(tenant)))
        reason = tenant.lever.duplicate_archive_reason if tenant.lever else None
        return self._cached(tenant_id, "lever_ats",
                            lambda: LeverAts(self.lever(tenant), duplicate_archive_reason=reason))

    def greenhouse(self, tenant: Tenant) -> GreenhouseClient:
        conn = tenant.greenhouse
        assert conn is not None, f"tenant {tenant.id} has no Greenhouse connection"
        return self._cached(tenant.id, "greenhouse", lambda: GreenhouseClient(
            self.http, api_url=str(conn.api_url), auth_url=str(conn.auth_url), client_id=conn.client_id,
            client_secret=secret(self.environ, conn.client_secret_env, "greenhouse"), user_id=conn.user_id,
            observe=self._observer(tenant.id, "greenhouse")))

    def lever(self, tenant: Tenant) -> LeverClient:
        conn = tenant.lever
        assert conn is not None, f"tenant {tenant.id} has no Lever connection"
        return self._cached(tenant.id, "lever", lambda: LeverClient(
            self.http, api_url=str(conn.api_url), api_key=secret(self.environ, conn.api_key_env, "lever"),
            perform_as=conn.perform_as, observe=self._observer(tenant.id, "lever")))

    def linkedin(self, tenant_id: str) -> LinkedInClient:
        tenant = self.config.tenant(tenant_id)
        conn = tenant.linkedin
        if conn is None:
            raise MissingSecret(f"tenant {tenant_id} has no LinkedIn connection", integration="linkedin")
        return self._cached(tenant_id, "linkedin", lambda: LinkedInClient(
            self.http, api_url=str(conn.api_url), token_url=str(conn.token_url), client_id=conn.client_id,
            client_secret=secret(self.environ, conn.client_secret_env, "linkedin"),
            organization=conn.organization, contract=conn.contract, observe=self._observer(tenant_id, "linkedin")))

    def _observer(self, tenant_id: str, integration: str) -> Observer | None:
        return self.meter.observer(tenant_id, integration) if self.meter is not None else None

    def _cached(self, tenant_id: str, integration: str, build: Callable[[], C]) -> C:
        key = (tenant_id, integration)
        if key not in self._clients:
            self._clients[key] = build()
        client: C = self._clients[key]
        return client
