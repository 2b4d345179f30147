"""LinkedIn's daily budget is shared through the database: spent means the work waits until midnight UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.budget import BudgetExhausted, DailyBudget
from tests.conftest import Database

NOON = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def test_budget_charges_what_was_spent_and_refuses_when_spent(db: Database) -> None:
    now = [NOON]
    budget = DailyBudget(db.engine, "linkedin", lambda tenant: 5, lambda: now[0])
    calls = [0]
    for spend in (3, 2):
        with budget.spending("acme", lambda: calls[0]):
            calls[0] += spend
    with pytest.raises(BudgetExhausted) as caught, budget.spending("acme", lambda: calls[0]):
        pass
    assert caught.value.retry_after == 12 * 3600, "waits until midnight UTC"
    with budget.spending("globex", lambda: calls[0]):
        pass  # another tenant has its own budget


def test_budget_is_shared_by_processes_and_resets_at_midnight(db: Database) -> None:
    now = [NOON]
    first = DailyBudget(db.engine, "linkedin", lambda tenant: 2, lambda: now[0])
    second = DailyBudget(db.engine, "linkedin", lambda tenant: 2, lambda: now[0])  # another process
    calls = [0]
    with first.spending("acme", lambda: calls[0]):
        calls[0] += 2
    with pytest.raises(BudgetExhausted), second.spending("acme", lambda: calls[0]):
        pass
    now[0] = datetime(2026, 11, 3, 0, 0, 1, tzinfo=UTC)
    with second.spending("acme", lambda: calls[0]):
        pass
