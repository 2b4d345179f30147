"""Fixtures for the bot's end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.bot.slack_client import server as server
from tests.bot.world import World, build_world
from tests.conftest import Database


@pytest.fixture
def world(db: Database) -> Iterator[World]:
    """Simulators + runtime + web app on every database backend available."""
    yield from build_world(db)
