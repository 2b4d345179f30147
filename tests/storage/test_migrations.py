"""Alembic creates exactly the schema the models declare, on SQLite and PostgreSQL, and can go back."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from storage.migrate import current_revision, downgrade, head_revision, upgrade
from storage.models import metadata
from tests.conftest import Database


def test_migrated_schema_matches_the_models(db: Database) -> None:
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == [], diff


def test_database_is_at_the_newest_revision(db: Database) -> None:
    assert current_revision(db.engine) == head_revision()


def test_downgrade_to_empty_and_upgrade_again(db: Database) -> None:
    downgrade(db.engine, "base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    upgrade(db.engine)
    assert {"workitem", "candidateidentity", "outboxmessage"} <= set(inspect(db.engine).get_table_names())


def test_sqlite_engine_uses_wal_foreign_keys_and_a_busy_timeout(sqlite_db: Database) -> None:
    with sqlite_db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
