"""Alembic environment: runs on the connection handed in by storage.migrate (or the configured URL)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, engine_from_config, pool

from storage import models
from storage.db import normalize_url

config = context.config
target_metadata = models.metadata


def render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    """Render our UTC timestamp type as the plain column type it is, so migrations never import models."""
    if type_ == "type" and isinstance(obj, models.UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_on(connection: Connection) -> None:
    context.configure(
        render_item=render_item,
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things in place
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    section = config.get_section(config.config_ini_section) or {}
    section["sqlalchemy.url"] = normalize_url(section["sqlalchemy.url"])
    engine = engine_from_config(section, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as conn:
        run_on(conn)


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; use `hirebridge db upgrade`")
run_migrations_online()
