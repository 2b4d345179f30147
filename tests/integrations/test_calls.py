"""The call meter: what counts as a failure, the run of failures, and counting from many threads at once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from integrations.calls import CallMeter, failure_kind

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(("status", "kind"), [
    (None, "Unavailable"), (500, "Unavailable"), (503, "Unavailable"), (429, "RateLimited"), (401, "AuthFailed"),
    (403, "AuthFailed"), (200, None), (201, None), (204, None), (400, None), (404, None), (409, None),
    (422, None),
])
def test_only_what_ops_must_hear_about_is_a_failure(status: int | None, kind: str | None) -> None:
    assert failure_kind(status) == kind


def test_a_success_resets_the_run_of_failures_and_take_starts_again() -> None:
    ticks = iter(T0 + timedelta(seconds=n) for n in range(100))
    meter = CallMeter(clock=lambda: next(ticks))
    observe = meter.observer("acme", "greenhouse")
    for status in (503, 503, 200, 429, None):
        observe(status, "POST /v3/candidates")
    meter.observer("acme", "linkedin")(401, "GET /v2/seatsV2")
    taken = meter.take()
    gh = taken[("acme", "greenhouse")]
    assert (gh.calls, gh.errors, gh.failures_since_success) == (5, 4, 2)
    assert gh.last_success_at == T0 + timedelta(seconds=2) and gh.last_failure_at == T0 + timedelta(seconds=4)
    assert gh.last_error == "Unavailable: POST /v3/candidates — no answer"
    li = taken[("acme", "linkedin")]
    assert (li.calls, li.errors, li.last_success_at, li.last_error) == (
        1, 1, None, "AuthFailed: GET /v2/seatsV2 — HTTP 401")
    assert meter.take() == {} and not meter.pending()


def test_no_call_is_lost_when_threads_count_and_take_at_once() -> None:
    meter = CallMeter()
    taken: list[int] = []
    stop = threading.Event()

    def count() -> None:
        observe = meter.observer("acme", "lever")
        for n in range(5000):
            observe(200 if n % 2 else 503, "GET /opportunities")

    def drain() -> None:
        while not stop.is_set():
            taken.extend(t.calls for t in meter.take().values())

    drainer = threading.Thread(target=drain)
    drainer.start()
    counters = [threading.Thread(target=count) for _ in range(4)]
    for thread in counters:
        thread.start()
    for thread in counters:
        thread.join()
    stop.set()
    drainer.join()
    taken.extend(t.calls for t in meter.take().values())
    assert sum(taken) == 4 * 5000
