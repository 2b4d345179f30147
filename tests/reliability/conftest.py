"""The reliability suite (`pytest -m reliability`): crashes, fault storms, scale-out and hostile input, on every
database backend available. Every test collected here carries the `reliability` and `slow` markers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bot.conftest import world as world  # the simulators + runtime + web app, on SQLite and PostgreSQL

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.reliability)
            item.add_marker(pytest.mark.slow)
