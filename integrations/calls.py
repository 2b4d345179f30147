"""Every API call's outcome, tallied per tenant and integration in memory, for health and metrics.

A client reports each HTTP exchange it makes (`observe`) to a `CallMeter`; the meter only adds to counters
under a lock, so a call costs nothing measurable. The process that owns the meter moves the tallies into the
store now and then (`take`), never per call: a database write per API call would double the cost of a bulk
backfill and, on SQLite, contend for the one write lock with the work that made the call.

What counts as a failure is what ops must hear about: the vendor unreachable or timing out, a 5xx, a 429, and
a refused credential (401, 403). A 400/404/409/422 is the vendor answering a request it could not accept —
the integration itself works — so it is a call, not an error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

#: (status or None when no answer came, what was asked: "POST /v3/candidates") -> None
Observer = Callable[[int | None, str], None]

AUTH_STATUSES = (401, 403)


def failure_kind(status: int | None) -> str | None:
    """The error class a call's outcome belongs to (as `integrations.errors` names them), None for a success."""
    if status is None or status >= 500:
        return "Unavailable"
    if status == 429:
        return "RateLimited"
    if status in AUTH_STATUSES:
        return "AuthFailed"
    return None


@dataclass
class CallTally:
    """What one tenant's integration did since the last `take`."""

    calls: int = 0
    errors: int = 0
    failures_since_success: int = 0  # failures after the last success in this tally (all of them if none)
    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None
    last_error: str | None = None


@dataclass
class CallMeter:
    """Thread-safe call counters, taken (and reset) by whoever writes them to the store."""

    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _tallies: dict[tuple[str, str], CallTally] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def observer(self, tenant_id: str, integration: str) -> Observer:
        """The callback a client of this tenant and integration reports its calls to."""

        def observe(status: int | None, what: str) -> None:
            self.record(tenant_id, integration, status, what)

        return observe

    def record(self, tenant_id: str, integration: str, status: int | None, what: str) -> None:
        kind, now = failure_kind(status), self.clock()
        with self._lock:
            tally = self._tallies.setdefault((tenant_id, integration), CallTally())
            tally.calls += 1
            if kind is None:
                tally.failures_since_success, tally.last_success_at = 0, now
                return
            tally.errors += 1
            tally.failures_since_success += 1
            answered = "no answer" if status is None else f"HTTP {status}"
            tally.last_failure_at, tally.last_error = now, f"{kind}: {what} — {answered}"

    def take(self) -> dict[tuple[str, str], CallTally]:
        """Every tally since the last take, and start again from zero."""
        with self._lock:
            taken, self._tallies = self._tallies, {}
        return taken

    def pending(self) -> bool:
        with self._lock:
            return bool(self._tallies)
