"""LinkedIn's daily request budget, shared by every process through the database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from integrations.errors import RateLimited
from storage.db import transaction
from storage.health import budget_left, count_requests


class BudgetExhausted(RateLimited):
    """Today's request budget is spent: the work waits until the budget resets at midnight UTC."""


@dataclass
class DailyBudget:
    """Check before calling, charge what was really spent after (`requests_made` before and after)."""

    engine: Engine
    integration: str
    limit_for: Callable[[str], int]
    clock: Callable[[], datetime]

    @contextmanager
    def spending(self, tenant_id: str, counter: Callable[[], int],
                 session: Session | None = None) -> Iterator[None]:
        """Refuse when spent; charge what the block spent. With `session`, both happen in the caller's
        transaction (a caller already holding SQLite's write lock must not open a second one)."""
        now = self.clock()
        with self._session(session) as s:
            left = budget_left(s, tenant_id, self.integration, self.limit_for(tenant_id), now)
        if left <= 0:
            midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=now.tzinfo)
            raise BudgetExhausted(f"{self.integration} daily request budget for {tenant_id} is spent",
                                  integration=self.integration, retry_after=(midnight - now).total_seconds())
        before = counter()
        try:
            yield
        finally:
            spent = counter() - before
            if spent:
                with self._session(session) as s:
                    count_requests(s, tenant_id, self.integration, spent, self.clock())

    @contextmanager
    def _session(self, session: Session | None) -> Iterator[Session]:
        if session is not None:
            yield session
            return
        with transaction(self.engine) as own:
            yield own
