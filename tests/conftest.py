"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from integrations.sandbox.server import RunningServer, serve_in_thread


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
