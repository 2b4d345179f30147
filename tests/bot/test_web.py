"""The web server's health endpoint, over real HTTP."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from bot.web import create_web_app
from integrations.sandbox.server import RunningServer
from storage.db import build_engine
from tests.conftest import Database


def test_healthz_reports_process_and_database(db: Database, serve: Callable[..., RunningServer]) -> None:
    server = serve(create_web_app(db.engine), "web")
    response = httpx.get(f"{server.url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_healthz_is_503_when_the_database_is_unreachable(serve: Callable[..., RunningServer]) -> None:
    engine = build_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    server = serve(create_web_app(engine), "web")
    response = httpx.get(f"{server.url}/healthz", timeout=20)
    assert response.status_code == 503
    assert response.json()["status"] == "unhealthy"
