"""SIGTERM and SIGINT stop a long-running command even when they land while its main thread holds the stop
event's lock (inside `stop.wait()` between polls): a handler that set the event itself waited for ever."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from bot.cli_support import stop_on_signals


@pytest.fixture
def handlers_restored() -> Iterator[None]:
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


# "signal": without the fix the main thread hangs in the handler's lock wait, which only a signal can break
@pytest.mark.timeout(20, method="signal")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_landing_while_the_main_thread_holds_the_events_lock_still_stops(
        handlers_restored: None, sig: signal.Signals) -> None:
    stop = stop_on_signals()
    with stop._cond:  # where the main thread is at the start and end of every stop.wait(poll)
        os.kill(os.getpid(), sig)  # the handler runs here, in this thread, before the next line
        assert not stop.is_set()
    assert stop.wait(10), "the event was set once the lock was let go"


def test_a_signal_on_an_idle_main_thread_stops_at_once(handlers_restored: None) -> None:
    stop = stop_on_signals()
    os.kill(os.getpid(), signal.SIGTERM)
    assert stop.wait(10)
