"""Keep the tenants table in step with the configuration (rows are referenced by candidates and history)."""

from __future__ import annotations

from sqlalchemy import Engine

from bot.config_model import AppConfig
from storage.db import transaction
from storage.models import Tenant


def register_tenants(engine: Engine, config: AppConfig) -> int:
    """Insert or update a row per configured tenant; returns how many there are."""
    with transaction(engine) as session:
        for tenant in config.tenants:
            row = session.get(Tenant, tenant.id)
            if row is None:
                session.add(Tenant(id=tenant.id, name=tenant.name, ats=tenant.ats))
            else:
                row.name, row.ats = tenant.name, tenant.ats
    return len(config.tenants)
