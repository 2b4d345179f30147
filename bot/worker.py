"""Queue consumers: claim an item, run its handler and complete it in one transaction, or retry / dead-letter."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from integrations.errors import IntegrationError, RateLimited
from storage.db import transaction
from storage.models import WorkState
from storage.queue import Claimed, PermanentError, RetryLater, WorkQueue

log = logging.getLogger(__name__)

#: A handler does the work of one item inside the transaction that will also mark it done. A handler object
#: may also have `on_dead(item, error)`: called (outside any transaction) once its item is dead-lettered,
#: e.g. to tell the person who asked for the work that it failed.
Handler = Callable[[Session, Claimed], None]


class LeaseLost(Exception):
    """The item was reclaimed by another worker while this one ran it; our writes are rolled back."""


@dataclass
class Outcome:
    """What happened to one item, for logs, the demo narration and tests."""

    item: Claimed
    state: WorkState | None  # None: the lease was lost
    error: str | None = None


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


@dataclass
class Worker:
    """Runs items of the kinds it has handlers for; other kinds stay queued for a worker that knows them."""

    engine: Engine
    queue: WorkQueue
    handlers: Mapping[str, Handler]
    name: str = field(default_factory=worker_name)
    on_outcome: Callable[[Outcome], None] | None = None
    #: called between items (outside any transaction), with True when the worker stops or has drained the
    #: queue: e.g. writing the process's API call tallies to the store (throttled unless told it is the end)
    between_items: Callable[[bool], object] | None = None

    def run_once(self) -> Outcome | None:
        """Claim and process one item; None when nothing is runnable now."""
        claimed = self.queue.claim(self.name, kinds=list(self.handlers))
        if not claimed:
            return None
        outcome = self.process(claimed[0])
        if self.on_outcome:
            self.on_outcome(outcome)
        self._between_items()
        return outcome

    def _between_items(self, final: bool = False) -> None:
        if self.between_items is not None:
            try:
                self.between_items(final)
            except Exception:  # bookkeeping only: the work itself is done and recorded
                log.exception("between-items hook failed")

    def process(self, item: Claimed) -> Outcome:
        try:
            with transaction(self.engine) as session:
                self.handlers[item.kind](session, item)
                if not self.queue.complete(item, session=session):
                    raise LeaseLost(f"item {item.id} was reclaimed while running")
            log.info("%s: item %s (%s) done", self.name, item.id, item.kind)
            return Outcome(item, WorkState.DONE)
        except LeaseLost as exc:
            log.warning("%s", exc)
            return Outcome(item, None, str(exc))
        except Exception as exc:  # every failure is recorded on the item; none is lost
            return self._failed(item, exc)

    def _failed(self, item: Claimed, exc: Exception) -> Outcome:
        error = f"{type(exc).__name__}: {exc}"
        permanent = isinstance(exc, PermanentError) or (isinstance(exc, IntegrationError) and not exc.retryable)
        rate_limited = isinstance(exc, (RateLimited, RetryLater))
        retry_after = exc.retry_after if isinstance(exc, (RateLimited, RetryLater)) else None
        if not isinstance(exc, (PermanentError, IntegrationError, RetryLater)):
            log.exception("item %s (%s) failed", item.id, item.kind)
        state = self.queue.fail(item, error, permanent=permanent, retry_after=retry_after,
                                count_attempt=not rate_limited)
        on_dead = getattr(self.handlers.get(item.kind), "on_dead", None)
        if state == WorkState.DEAD and on_dead is not None:
            try:
                on_dead(item, error)
            except Exception:  # the item is recorded dead already; a failed notice must not hide that
                log.exception("dead-letter notice for item %s (%s) failed", item.id, item.kind)
        return Outcome(item, state, error)

    def run(self, stop: threading.Event, *, poll_interval: float = 0.5,
            reclaim_every: timedelta = timedelta(seconds=15)) -> None:
        """Work until `stop` is set, sleeping `poll_interval` when idle and reclaiming expired leases."""
        next_reclaim = 0.0
        while not stop.is_set():
            if time.monotonic() >= next_reclaim:
                self.queue.reclaim_expired()
                next_reclaim = time.monotonic() + reclaim_every.total_seconds()
            if self.run_once() is None:
                self._between_items()
                stop.wait(poll_interval)
        self._between_items(final=True)

    def drain(self, max_items: int = 10_000) -> list[Outcome]:
        """Process runnable items until none is left (or `max_items`); for the demo, CLI and tests."""
        outcomes: list[Outcome] = []
        while len(outcomes) < max_items:
            outcome = self.run_once()
            if outcome is None:
                break
            outcomes.append(outcome)
        self._between_items(final=True)
        return outcomes
