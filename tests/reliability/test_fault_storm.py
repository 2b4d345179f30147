"""Fault storm: with the ATS simulators answering 30 % 5xx, 10 % 429 and 5 % timeouts, everyone is synced
exactly once, only permanently rejected records are dead-lettered, and the faults cause no retry storm.

One world per backend runs two batches of the same size and shape: first with no faults (the baseline), then,
with other people, under the storm on both ATS simulators the sync calls (Greenhouse and Lever; the sync calls
no other). Each batch plants people on a job the ATS no longer has, which it rejects with a 4xx: those, and
only those, must end dead, with a permanent error.

"No retry storm", read so that it can hold: every simulator request fails independently with probability
0.45, so even a perfect client needs 1 / 0.55 ≈ 1.82 attempts per call, and "all calls ≤ 1.5 × the fault-free
run" is impossible. Two bounds are asserted instead, per simulator:

* answered calls (those the simulator handled rather than answered with an injected fault) ≤ 1.5 × the
  fault-free run: the faults add no more than half again the real work (no re-listing storms, no repeated
  creates);
* all calls, faulted ones included, ≤ 1.5 × (fault-free calls ÷ 0.55), the expected attempts at this rate.

Timeouts are real client timeouts: the test gives the runtime's HTTP client a short read timeout and the
simulators hang longer than that. Run with `-s` to see the figures.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlmodel import Session, col, select

from bot.domain.prospect import Prospect
from bot.sync import SYNC
from integrations.sandbox.base import Faults
from integrations.sandbox.greenhouse import GreenhouseState
from integrations.sandbox.lever import LeverState
from storage.models import WorkItem, WorkState, utcnow
from tests.bot.world import World, sync_states

STORM = {"error_rate": 0.30, "rate_limited_rate": 0.10, "timeout_rate": 0.05, "timeout_seconds": 0.8}
ANSWERED_SHARE = 1.0 - STORM["error_rate"] - STORM["rate_limited_rate"] - STORM["timeout_rate"]
#: what the fault knobs answer with (`Faults.error_status`, injected 429s, a hang ending in 504)
FAULT_STATUSES = frozenset({Faults().error_status, 429, 504})
CLIENT_TIMEOUT = httpx.Timeout(0.3, connect=2.0)  # well under the simulators' hang, so the client gives up
HEADROOM = 1.5
MAX_ROUNDS = 60


@dataclass(frozen=True)
class Target:
    """One ATS tenant: the simulator behind it, the job people go to, and a job its ATS no longer has."""

    sim: str
    tenant: str
    job: str
    gone_job: str
    size: int  # people per batch
    planted: int  # of them, how many go to the job that is gone


TARGETS = (Target("greenhouse", "acme", "4401", "4402", size=150, planted=2),
           Target("lever", "northwind", "post-nw-platform", "post-nw-sre", size=30, planted=1))


@dataclass(frozen=True)
class Calls:
    """The requests one simulator received for one batch, split by whether a fault knob answered them."""

    answered: int
    faulted: int
    statuses: Counter[int]

    @property
    def total(self) -> int:
        return self.answered + self.faulted


def person(n: int, target: Target, *, planted: bool = False) -> Prospect:
    return Prospect(source="csv", source_id=f"storm:{n}", first_name=f"Storm{n:04d}",
                    last_name="Gone" if planted else "Person", profile_url=f"https://linkedin.com/in/storm-{n}",
                    job_id=target.gone_job if planted else target.job)


def batch(target: Target, first: int) -> list[Prospect]:
    """`size` people numbered from `first`, the last `planted` of them on the job that is gone."""
    good = target.size - target.planted
    return [person(first + i, target, planted=i >= good) for i in range(target.size)]


def remove_jobs(world: World) -> None:
    """The planted jobs are deleted in the ATS after the config named them: creates there are rejected (4xx)."""
    greenhouse = world.sims.states["greenhouse"]
    assert isinstance(greenhouse, GreenhouseState)
    del greenhouse.account().jobs[int(TARGETS[0].gone_job)]
    lever = world.sims.states["lever"]
    assert isinstance(lever, LeverState)
    (book,) = [b for b in lever.books.values() if b.account.tenant == TARGETS[1].tenant]
    book.account = dataclasses.replace(
        book.account, postings=tuple(p for p in book.account.postings if p.id != TARGETS[1].gone_job))


def enqueue(world: World, batches: dict[Target, list[Prospect]]) -> None:
    with Session(world.rt.engine) as s, s.begin():
        for target, people in batches.items():
            for p in people:
                world.rt.sync_service().enqueue(s, target.tenant, p)


def sync_queued(world: World) -> int:
    with Session(world.rt.engine) as s:
        return len(s.exec(select(WorkItem.id).where(
            col(WorkItem.kind) == SYNC, col(WorkItem.state).in_([WorkState.QUEUED, WorkState.RUNNING]))).all())


def shifted(offset: timedelta) -> Callable[[], datetime]:
    return lambda: utcnow() + offset


def settle(world: World) -> int:
    """Drain until no sync item is waiting, moving the queue's clock on so every backoff has elapsed; the
    rounds it took."""
    try:
        for rounds in range(1, MAX_ROUNDS + 1):
            world.drain()
            if sync_queued(world) == 0:
                return rounds
            world.rt.queue.clock = shifted(timedelta(minutes=5 * rounds))
    finally:
        world.rt.queue.clock = utcnow
    raise AssertionError(f"sync items still queued after {MAX_ROUNDS} rounds: {sync_states(world)}")


def take_calls(world: World, sim: str) -> Calls:
    """What the simulator recorded since the last take (its recorder holds API requests only)."""
    recorder = world.sims.states[sim].recorder
    statuses = Counter(r.status for r in recorder.items())
    recorder.clear()
    faulted = sum(n for status, n in statuses.items() if status in FAULT_STATUSES)
    return Calls(answered=statuses.total() - faulted, faulted=faulted, statuses=statuses)


def set_storm(world: World, on: bool) -> None:
    for target in TARGETS:
        world.sims.states[target.sim].faults.update(STORM if on else dict.fromkeys(STORM, 0.0))


def test_storm_syncs_everyone_once_without_a_retry_storm(world: World) -> None:
    world.rt.http().timeout = CLIENT_TIMEOUT
    remove_jobs(world)
    before = {t: {(p.first_name, p.last_name) for p in world.people(t.tenant)} for t in TARGETS}  # warms tokens
    for target in TARGETS:
        take_calls(world, target.sim)

    calm = {t: batch(t, 1000 * i) for i, t in enumerate(TARGETS)}
    enqueue(world, calm)
    assert settle(world) == 1, "without faults one pass syncs everyone"
    baseline = {t: take_calls(world, t.sim) for t in TARGETS}
    for target, calls in baseline.items():
        assert calls.faulted == 0, (target.sim, calls.statuses)  # the split below counts only injected faults

    stormy = {t: batch(t, 1000 * i + 500) for i, t in enumerate(TARGETS)}
    set_storm(world, on=True)
    try:
        enqueue(world, stormy)
        rounds = settle(world)
    finally:
        set_storm(world, on=False)
    time.sleep(float(STORM["timeout_seconds"]) + 0.5)  # requests the client gave up on are recorded when they end
    storm = {t: take_calls(world, t.sim) for t in TARGETS}

    planted = [p for people in (*calm.values(), *stormy.values()) for p in people if p.last_name == "Gone"]
    total = sum(t.size for t in TARGETS) * 2
    assert sync_states(world) == {"done": total - len(planted), "dead": len(planted)}, [
        d.last_error for d in world.rt.queue.dead()]
    dead = world.rt.queue.dead()
    assert sorted(d.payload["prospect"]["source_id"] for d in dead) == sorted(p.source_id for p in planted)
    for item in dead:
        error = item.last_error or ""
        assert error.startswith("Rejected: ") and "gave up" not in error, error
        assert not any(name in error for name in ("Unavailable", "RateLimited", "timed out")), error

    for target in TARGETS:
        wanted = [(p.first_name, p.last_name) for p in (*calm[target], *stormy[target]) if p.last_name != "Gone"]
        names = Counter((p.first_name, p.last_name) for p in world.people(target.tenant))
        synced = {name: n for name, n in names.items() if name not in before[target]}
        assert synced == dict.fromkeys(wanted, 1), (target.tenant, sorted(synced.items()))

    for target in TARGETS:
        fault_free, stormed = baseline[target], storm[target]
        print(f"\n{target.sim} on {world.rt.engine.dialect.name}, {rounds} rounds: fault-free {fault_free.total} "
              f"calls; storm {stormed.total} = {stormed.answered} answered + {stormed.faulted} faulted "
              f"{dict(sorted(stormed.statuses.items()))}; answered / fault-free "
              f"{stormed.answered / fault_free.total:.2f} (bound {HEADROOM}); all / expected attempts "
              f"{stormed.total * ANSWERED_SHARE / fault_free.total:.2f} (bound {HEADROOM})")
    for target in TARGETS:
        fault_free, stormed = baseline[target], storm[target]
        assert stormed.faulted > 0, f"the storm did not reach {target.sim}"
        good = target.size - target.planted  # both simulators answer a create 201, and nothing else the sync sends
        assert fault_free.statuses[201] == stormed.statuses[201] == good, (target.sim, "a create was repeated")
        assert stormed.answered <= HEADROOM * fault_free.total, (target.sim, stormed, fault_free)
        assert stormed.total <= HEADROOM * fault_free.total / ANSWERED_SHARE, (target.sim, stormed, fault_free)
