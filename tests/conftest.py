"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from integrations.sandbox.server import RunningServer, serve_in_thread
from storage.db import build_engine
from storage.migrate import upgrade


@pytest.fixture
def serve() -> Iterator[Callable[..., RunningServer]]:
    """Serve ASGI apps on free loopback ports for the test; all are stopped afterwards."""
    running: list[RunningServer] = []

    def start(app: Any, name: str = "app") -> RunningServer:
        server = serve_in_thread(app, name)
        running.append(server)
        return server

    yield start
    for server in running:
        server.stop()


class Switchboard:
    """An ASGI app that forwards to whichever app the current test installed (one server per module)."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def switchboard() -> Iterator[tuple[Switchboard, RunningServer]]:
    """One loopback server per test module; each test installs its app on the board."""
    board = Switchboard()
    server = serve_in_thread(board, "switchboard")
    yield board, server
    server.stop()


# --- databases -------------------------------------------------------------------------------------------

POSTGRES_URL = os.environ.get("HIREBRIDGE_TEST_POSTGRES_URL")


@dataclass(frozen=True)
class Database:
    """A migrated, empty database for one test: its URL, schema (PostgreSQL) and engine."""

    url: str
    schema: str | None
    engine: Engine

    @property
    def backend(self) -> str:
        return self.engine.dialect.name


def _sqlite_database(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'hirebridge.db'}"
    engine = build_engine(url)
    upgrade(engine)
    yield Database(url, None, engine)
    engine.dispose()


def _postgres_database() -> Iterator[Database]:
    assert POSTGRES_URL
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = build_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine = build_engine(POSTGRES_URL, schema=schema)
    upgrade(engine)
    try:
        yield Database(POSTGRES_URL, schema, engine)
    finally:
        engine.dispose()
        _drop_schema(admin, schema)
        admin.dispose()


def _drop_schema(admin: Engine, schema: str) -> None:
    """Drop a test's schema; a connection the test left holding a lock in it (a thread or process still
    running after a failure) is ended rather than waited on for ever."""
    for _ in range(5):
        try:
            with admin.begin() as conn:
                conn.exec_driver_sql("SET LOCAL lock_timeout = '5s'")
                conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            return
        except OperationalError:  # lock_not_available
            with admin.begin() as conn:
                conn.exec_driver_sql(
                    "SELECT pg_terminate_backend(l.pid) FROM pg_locks l"
                    " JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = %(schema)s AND l.pid <> pg_backend_pid()", {"schema": schema})
    raise RuntimeError(f"could not drop test schema {schema}")


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=[
        pytest.mark.postgres,
        pytest.mark.skipif(not POSTGRES_URL, reason="HIREBRIDGE_TEST_POSTGRES_URL is not set"),
    ]),
]


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated database on every backend available: SQLite always, PostgreSQL when configured."""
    gen = _sqlite_database(tmp_path) if request.param == "sqlite" else _postgres_database()
    yield from gen


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    """A migrated SQLite database (for tests about behaviour, not backends)."""
    yield from _sqlite_database(tmp_path)
