"""The sync survives crashes, expired tokens, 429s and 5xx without losing or duplicating anyone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from bot.domain.prospect import Mapped, Prospect, map_prospect
from bot.sync import SYNC, SyncService
from storage.models import Candidate, WorkState, utcnow
from tests.bot.world import World, sync_states

pytestmark = pytest.mark.slow


def prospect(n: int, **extra: object) -> Prospect:
    fields: dict[str, object] = {"source": "csv", "source_id": f"f:{n}", "first_name": f"Person{n}",
                                 "last_name": "Test", "profile_url": f"https://linkedin.com/in/person-{n}-test",
                                 "job_id": "4401"}
    fields.update(extra)
    return Prospect(**fields)  # type: ignore[arg-type]


def enqueue(world: World, tenant: str, prospects: list[Prospect]) -> None:
    with Session(world.rt.engine) as s, s.begin():
        for p in prospects:
            world.rt.sync_service().enqueue(s, tenant, p)


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so nothing on the way catches it."""


def test_crash_after_the_ats_create_is_reconciled_not_created_again(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    before = len(world.people("acme"))
    enqueue(world, "acme", [prospect(1)])

    def die(*args: object, **kwargs: object) -> None:
        raise Crash

    monkeypatch.setattr(SyncService, "_record", die)
    with pytest.raises(Crash):
        world.drain()
    monkeypatch.undo()
    assert len(world.people("acme")) == before + 1, "the ATS create happened; its record did not"

    world.rt.queue.clock = lambda: utcnow() + timedelta(minutes=2)  # the restart comes after the lease
    assert world.rt.queue.reclaim_expired() == (1, 0)
    outcomes = [o for o in world.drain() if o.item.kind == SYNC]
    assert [o.state for o in outcomes] == [WorkState.DONE]
    assert len(world.people("acme")) == before + 1, "no duplicate after the restart"
    with Session(world.rt.engine) as s:
        (row,) = s.exec(select(Candidate).where(Candidate.first_name == "Person1")).all()
    assert row.sync_status == "synced" and row.ats_candidate_id


@pytest.mark.parametrize(("sim", "tenant"), [("greenhouse", "acme"), ("lever", "northwind")])
def test_5xx_and_429_are_retried_until_everyone_is_in_once(world: World, sim: str, tenant: str) -> None:
    job = "4401" if tenant == "acme" else "post-nw-platform"
    before = len(world.people(tenant))
    faults = world.sims.states[sim].faults
    faults.error_rate, faults.rate_limited_rate = 0.3, 0.1
    enqueue(world, tenant, [prospect(n, job_id=job) for n in range(12)])
    for rounds in range(1, 200):
        world.drain()
        if world.rt.queue.counts()["queued"] == 0:
            break
        offset = timedelta(minutes=5 * rounds)  # let backoffs and Retry-After elapse
        world.rt.queue.clock = lambda offset=offset: utcnow() + offset
    faults.error_rate = faults.rate_limited_rate = 0.0
    world.rt.queue.clock = utcnow
    counts = sync_states(world)
    assert counts == {"done": 12}, (counts, [d.last_error for d in world.rt.queue.dead()])
    people = world.people(tenant)
    assert len(people) == before + 12, sorted(p.first_name for p in people)
    assert len({(p.first_name, p.last_name) for p in people if p.last_name == "Test"}) == 12


def test_expired_tokens_are_refreshed_without_losing_work(world: World) -> None:
    enqueue(world, "acme", [prospect(1)])
    world.drain()
    world.sims.states["greenhouse"].tokens.expire_all()  # type: ignore[attr-defined]
    world.sims.states["linkedin"].tokens.expire_all()  # type: ignore[attr-defined]
    enqueue(world, "acme", [prospect(2)])
    world.export("acme", [{"firstName": "Ana", "lastName": "Lima", "profileUrl": "https://linkedin.com/in/ana-lima"}],
                 job="4401")
    outcomes = world.drain()
    assert all(o.state == WorkState.DONE for o in outcomes), [o.error for o in outcomes]
    assert {"Person2", "Ana"} <= {p.first_name for p in world.people("acme")}


def test_linkedin_faults_while_fetching_an_export_are_retried(world: World) -> None:
    faults = world.sims.states["linkedin"].faults
    faults.error_rate, faults.rate_limited_rate = 0.5, 0.2
    world.export("acme", [{"firstName": "Ana", "lastName": "Lima", "profileUrl": "https://linkedin.com/in/ana-lima"}],
                 job="4401")  # the push itself is delivered; fetching what it names fails often
    for rounds in range(1, 100):
        world.drain()
        if sync_states(world).get("done") == 1:
            break
        offset = timedelta(minutes=5 * rounds)
        world.rt.queue.clock = lambda offset=offset: utcnow() + offset
    faults.error_rate = faults.rate_limited_rate = 0.0
    assert sync_states(world) == {"done": 1}
    assert [p.first_name for p in world.people("acme")].count("Ana") == 1


def test_two_items_for_one_person_never_both_create(world: World) -> None:
    """An export and a reply for the same person at once: the second waits while the first runs."""
    before = len(world.people("acme"))
    first = prospect(7)
    second = prospect(7, source_id="other-source:7", emails=("person7@example.com",))
    enqueue(world, "acme", [first])
    (running,) = world.rt.queue.claim("worker-a")  # the first is mid-flight in another worker
    mapped = map_prospect(first, known_jobs={"4401"}, jobs_for_project=lambda n: [], region="US")
    assert isinstance(mapped, Mapped)
    world.rt.sync_service()._claim("acme", mapped, running.dedupe_key)  # its claim, before any ATS call
    enqueue(world, "acme", [second])
    (waited,) = [o for o in world.drain() if o.item.kind == SYNC]
    assert waited.state == WorkState.QUEUED and "waiting for it" in (waited.error or "")
    assert len(world.people("acme")) == before, "nothing created while the owner runs"
    assert world.rt.queue.complete(running) is True  # the owner finishes without having created (say it failed)
    with Session(world.rt.engine) as s, s.begin():
        row = s.exec(select(Candidate).where(Candidate.first_name == "Person7")).one()
        assert row.claimed_by == running.dedupe_key
    world.rt.queue.clock = lambda: utcnow() + timedelta(minutes=1)
    outcomes = [o for o in world.drain() if o.item.kind == SYNC]
    assert [o.state for o in outcomes] == [WorkState.DONE], "the waiting item took the sync over"
    assert len([p for p in world.people("acme") if p.first_name == "Person7"]) == 1


def listings(world: World) -> int:
    """Reconcile listings Greenhouse answered (`GET /v3/candidates?updated_at…`) since the recorder was cleared."""
    return sum(1 for r in world.sims.states["greenhouse"].recorder.items()
               if r.method == "GET" and r.path == "/v3/candidates" and "updated_at" in r.query and r.status == 200)


def retry_later(world: World) -> None:
    world.rt.queue.clock = lambda: utcnow() + timedelta(minutes=10)
    world.drain()
    world.rt.queue.clock = utcnow


def test_one_reconcile_listing_answers_for_every_create_that_failed_before_it(world: World) -> None:
    before = len(world.people("acme"))
    faults = world.sims.states["greenhouse"].faults
    enqueue(world, "acme", [prospect(n) for n in range(5)])
    faults.error_rate = 1.0  # each create may or may not have happened: each retry must look first
    world.drain()
    faults.error_rate = 0.0
    world.sims.states["greenhouse"].recorder.clear()

    retry_later(world)

    assert sync_states(world) == {"done": 5}
    assert listings(world) == 1, "one listing began after every failed create ended: it answers for all five"
    assert len(world.people("acme")) == before + 5


def test_a_create_the_rate_limit_refused_is_retried_without_a_listing(world: World) -> None:
    before = len(world.people("acme"))
    faults = world.sims.states["greenhouse"].faults
    enqueue(world, "acme", [prospect(1)])
    faults.rate_limited_rate = 1.0  # a 429: Greenhouse did not process the create
    world.drain()
    faults.rate_limited_rate = 0.0
    with Session(world.rt.engine) as s:
        (row,) = s.exec(select(Candidate).where(Candidate.first_name == "Person1")).all()
    assert row.intent_at is None, "nothing was created, so nothing to reconcile"
    world.sims.states["greenhouse"].recorder.clear()

    retry_later(world)

    assert sync_states(world) == {"done": 1}
    assert listings(world) == 0
    assert len(world.people("acme")) == before + 1
