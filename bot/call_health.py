"""Move the process's API call tallies (integrations.calls) into the shared integration health rows.

Workers call `flush` between items (never inside an item's transaction: on SQLite a second transaction in the
same thread would wait for ever on the write lock the item holds) at most once a `every`, and once more when
they stop or drain; the ops watch then sees failing calls of real work, not only of connection checks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from integrations.calls import CallMeter
from storage.db import transaction
from storage.health import add_calls
from storage.models import utcnow


@dataclass
class CallHealth:
    engine: Engine
    meter: CallMeter
    every: float = 1.0  # seconds between two writes at most
    clock: Callable[[], datetime] = utcnow
    _next: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def flush(self, force: bool = False) -> int:
        """Write what the meter counted since the last flush; returns the rows touched (0 when not due)."""
        with self._lock:
            if not force and time.monotonic() < self._next:
                return 0
            self._next = time.monotonic() + self.every
        tallies = self.meter.take()
        if not tallies:
            return 0
        with transaction(self.engine) as session:
            for (tenant_id, integration), tally in sorted(tallies.items()):
                add_calls(session, tenant_id, integration, calls=tally.calls, errors=tally.errors,
                          failures_since_success=tally.failures_since_success,
                          last_success_at=tally.last_success_at, last_failure_at=tally.last_failure_at,
                          last_error=tally.last_error, now=self.clock())
        return len(tallies)
