"""One contract for every ATS adapter, run against each seeded simulator over loopback HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from integrations.ats import AtsClient, AtsPerson, NewCandidate, link_key, missing
from integrations.errors import AuthFailed, RateLimited, Rejected, Unavailable
from integrations.greenhouse import GreenhouseClient
from integrations.greenhouse_ats import GreenhouseAts
from integrations.lever import LeverClient
from integrations.lever_ats import LeverAts
from integrations.sandbox import greenhouse as gh_sim
from integrations.sandbox import lever as lever_sim
from integrations.sandbox import world
from integrations.sandbox.base import SimulatorState
from integrations.sandbox.server import RunningServer, free_port
from tests.conftest import Switchboard

GH, NW = world.ACME_GREENHOUSE, world.NORTHWIND_LEVER
SOURCE = "LinkedIn Recruiter"
GH_SOURCE_ID = 7  # the org's id for the source named SOURCE (configuration in real life)


class Clock:
    """The simulators' time, moved by the test (so "changed since" needs no sleeping)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += seconds
        return datetime.fromtimestamp(self.now, UTC)


@dataclass
class Backend:
    """One seeded simulator, its adapter, and what the contract needs to know about the vendor."""

    kind: str
    state: SimulatorState
    app: Any
    connect: Callable[[str], AtsClient]  # an adapter for a base URL
    clock: Clock
    jobs: tuple[str, str]
    stages: list[tuple[str, str]]  # jobs[0]'s pipeline, in order
    missing_id: str
    dedupes_by_email: bool  # Lever folds a create with a known email into that contact
    says_retry_after: bool  # Greenhouse sends Retry-After on 429; Lever documents none
    ats: AtsClient | None = None

    @property
    def client(self) -> AtsClient:
        assert self.ats is not None
        return self.ats


def _greenhouse(http: httpx.Client, clock: Clock) -> Backend:
    state = gh_sim.seed_sandbox(gh_sim.GreenhouseState(seed=7, rate_limit=10_000, clock=clock))

    def connect(url: str) -> AtsClient:
        client = GreenhouseClient(http, api_url=url, auth_url=url, client_id=GH.client_id,
                                  client_secret=GH.client_secret, user_id=int(GH.users[0].id))
        return GreenhouseAts(client, source_ids={SOURCE: GH_SOURCE_ID})

    stages = [(s.id, s.name) for s in GH.jobs[0].stages]
    return Backend("greenhouse", state, gh_sim.create_app(state), connect, clock, (GH.jobs[0].id, GH.jobs[1].id),
                   stages, "999", dedupes_by_email=False, says_retry_after=True)


def _lever(http: httpx.Client, clock: Clock) -> Backend:
    state = lever_sim.seed_sandbox(lever_sim.LeverState(seed=7, rate=1000.0, burst=1000.0, clock=clock))

    def connect(url: str) -> AtsClient:
        return LeverAts(LeverClient(http, api_url=f"{url}/v1", api_key=NW.api_key, perform_as=NW.users[0].id,
                                    backoff=0.001))

    stages = [(s.id, s.name) for s in NW.stages]
    return Backend("lever", state, lever_sim.create_app(state), connect, clock,
                   (NW.postings[0].id, NW.postings[1].id), stages, "00000000-0000-4000-8000-000000000000",
                   dedupes_by_email=True, says_retry_after=False)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


def _install(build: Callable[[httpx.Client, Clock], Backend], switchboard: tuple[Switchboard, RunningServer],
             http: httpx.Client) -> Backend:
    board, server = switchboard
    built = build(http, Clock())
    board.app = built.app
    built.ats = built.connect(server.url)
    return built


@pytest.fixture(params=[_greenhouse, _lever], ids=["greenhouse", "lever"])
def backend(request: pytest.FixtureRequest, switchboard: tuple[Switchboard, RunningServer],
            http: httpx.Client) -> Backend:
    return _install(request.param, switchboard, http)


@pytest.fixture
def lever(switchboard: tuple[Switchboard, RunningServer], http: httpx.Client) -> Backend:
    return _install(_lever, switchboard, http)


@pytest.fixture
def greenhouse(switchboard: tuple[Switchboard, RunningServer], http: httpx.Client) -> Backend:
    """Greenhouse alone, for what only its API has (list fields replaced whole, 50-id filters)."""
    return _install(_greenhouse, switchboard, http)


def new(backend: Backend, **changes: Any) -> NewCandidate:
    fields: dict[str, Any] = {
        "first_name": "Ada", "last_name": "Contract", "job_id": backend.jobs[0],
        "emails": ("Ada.Contract@Example.com",), "phones": ("+1 555 0100",),
        "links": ("linkedin.com/in/ada-contract",), "company": "Analytical Co", "title": "Engineer",
        "tags": ("hirebridge",)}
    return NewCandidate(**{**fields, **changes})


def stage_of(ats: AtsClient, person_id: str, application_id: str) -> tuple[str | None, str | None]:
    person = ats.get_person(person_id)
    assert person is not None
    found = [a for a in person.applications if a.application_id == application_id]
    return found[0].stage_id, found[0].stage_name


def ids(people: Iterator[AtsPerson]) -> set[str]:
    return {p.person_id for p in people}


def writes(state: SimulatorState) -> int:
    return sum(1 for r in state.recorder.items() if r.method != "GET" and r.path != "/token")


# --- creating and finding ---

@pytest.mark.parametrize("stage_index", [None, 2])
def test_ats_create_is_one_call_and_lands_on_the_job_in_the_stage(backend: Backend,
                                                                   stage_index: int | None) -> None:
    ats = backend.client
    ats.ping()  # Greenhouse: the token is fetched on first use
    before = ats.api_calls
    stage = None if stage_index is None else backend.stages[stage_index][0]
    person, application = ats.create_candidate(new(backend, stage_id=stage))
    assert ats.api_calls - before == 1
    assert (application.job_id, application.stage_id, application.stage_name, application.status) == (
        backend.jobs[0], *backend.stages[stage_index or 0], "active")
    assert person.applications == (application,)
    assert (person.first_name, person.last_name) == ("Ada", "Contract")
    assert person.emails == ("Ada.Contract@Example.com",)
    assert (person.phones, person.links) == (("+1 555 0100",), ("linkedin.com/in/ada-contract",))
    assert person.source == SOURCE and person.url and person.created_at and person.updated_at


def test_ats_counts_every_http_request_tokens_included(backend: Backend) -> None:
    ats = backend.client
    ats.ping()
    person, _ = ats.create_candidate(new(backend))
    ats.get_person(person.person_id)
    assert ats.api_calls == len(backend.state.recorder.items()) > 2


def test_ats_find_by_email_is_case_insensitive_and_brings_applications(backend: Backend) -> None:
    ats = backend.client
    person, application = ats.create_candidate(new(backend))
    found = ats.find_by_email("ADA.CONTRACT@example.COM")
    assert [p.person_id for p in found] == [person.person_id]
    assert found[0].applications == (application,)
    assert ats.find_by_email("nobody@example.com") == []


def test_ats_get_person_returns_applications_or_none(backend: Backend) -> None:
    ats = backend.client
    person, application = ats.create_candidate(new(backend))
    got = ats.get_person(person.person_id)
    assert got is not None
    assert (got.person_id, got.emails, got.links, got.applications) == (
        person.person_id, person.emails, person.links, (application,))
    assert ats.get_person(backend.missing_id) is None


def test_ats_add_application_puts_the_person_on_a_second_job(backend: Backend) -> None:
    ats = backend.client
    person, first = ats.create_candidate(new(backend))
    target = ats.job_stages(backend.jobs[1])[1]
    second = ats.add_application(person.person_id, backend.jobs[1], target[0])
    assert (second.job_id, second.status) == (backend.jobs[1], "active")
    assert (second.stage_id, second.stage_name) == target
    assert second.application_id != first.application_id
    got = ats.get_person(person.person_id)
    assert got is not None and {a.application_id for a in got.applications} == {
        first.application_id, second.application_id}
    assert {a.job_id for a in got.applications} == set(backend.jobs)


def test_ats_create_with_a_known_email_dedupes_only_where_the_vendor_does(backend: Backend) -> None:
    ats = backend.client
    first, _ = ats.create_candidate(new(backend, emails=("same@example.com",)))
    second, application = ats.create_candidate(new(backend, job_id=backend.jobs[1], emails=("SAME@example.com",)))
    assert (second.person_id == first.person_id) is backend.dedupes_by_email
    assert application in second.applications
    assert len(second.applications) == (2 if backend.dedupes_by_email else 1)


# --- updating ---

def test_ats_update_person_appends_without_dropping_or_repeating(backend: Backend) -> None:
    ats = backend.client
    person, _ = ats.create_candidate(new(backend, emails=("ada@example.com",), links=("https://example.com/ada",)))
    additions: dict[str, Any] = {
        "add_emails": ["ada.work@example.com", "ADA@example.com"], "add_phones": ["+1 555 0199", "+15550100"],
        "add_links": ["linkedin.com/in/ada-contract", "https://www.linkedin.com/in/ada-contract/"]}
    ats.update_person(person.person_id, **additions)
    got = ats.get_person(person.person_id)
    assert got is not None
    assert got.emails == ("ada@example.com", "ada.work@example.com")
    assert got.phones == ("+1 555 0100", "+1 555 0199")
    assert got.links == ("https://example.com/ada", "linkedin.com/in/ada-contract")
    before = writes(backend.state)
    ats.update_person(person.person_id, **additions)
    assert writes(backend.state) == before
    assert ats.get_person(person.person_id) == got


def test_ats_notes_round_trip(backend: Backend) -> None:
    ats = backend.client
    person, _ = ats.create_candidate(new(backend))
    first = ats.add_note(person.person_id, "Imported from LinkedIn Recruiter [li:1]")
    second_job = ats.add_application(person.person_id, backend.jobs[1])
    second = ats.add_note(person.person_id, "On the second job [li:2]", application_id=second_job.application_id)
    assert sorted(ats.list_notes(person.person_id)) == sorted([
        (first, "Imported from LinkedIn Recruiter [li:1]"), (second, "On the second job [li:2]")])


def test_ats_move_stage_with_a_guard_without_one_and_stale(backend: Backend) -> None:
    ats, stages = backend.client, backend.stages
    person, application = ats.create_candidate(new(backend))
    ats.move_stage(application.application_id, stages[2][0], from_stage_id=stages[0][0])
    assert stage_of(ats, person.person_id, application.application_id) == stages[2]
    ats.move_stage(application.application_id, stages[3][0])
    assert stage_of(ats, person.person_id, application.application_id) == stages[3]
    with pytest.raises(Rejected):
        ats.move_stage(application.application_id, stages[1][0], from_stage_id=stages[0][0])
    assert stage_of(ats, person.person_id, application.application_id) == stages[3]


def test_ats_job_stages_are_in_pipeline_order(backend: Backend) -> None:
    assert backend.client.job_stages(backend.jobs[0]) == backend.stages


# --- the mirror pull ---

def test_ats_changed_since_returns_people_changed_at_or_after(backend: Backend) -> None:
    ats, clock = backend.client, backend.clock
    old, _ = ats.create_candidate(new(backend, emails=("old@example.com",)))
    since = clock.advance(60)
    clock.advance(60)
    fresh, application = ats.create_candidate(new(backend, first_name="Bea", emails=("bea@example.com",)))
    changed = list(ats.changed_since(since))
    assert [p.person_id for p in changed] == [fresh.person_id]
    assert changed[0].applications == (application,)
    clock.advance(60)
    ats.update_person(old.person_id, add_links=["linkedin.com/in/old-one"])
    assert ids(ats.changed_since(since)) == {old.person_id, fresh.person_id}
    assert ids(ats.changed_since(None)) == {old.person_id, fresh.person_id}
    assert ids(ats.changed_since(clock.advance(60))) == set()


def test_ats_changed_since_without_applications_is_one_cheap_scan_of_keys(backend: Backend) -> None:
    ats, clock = backend.client, backend.clock
    since = clock.advance(60)
    clock.advance(60)
    fresh, _ = ats.create_candidate(new(backend, first_name="Cy", links=("linkedin.com/in/cy-example",)))
    before = ats.api_calls
    (found,) = ats.changed_since(since, applications=False)
    assert found.person_id == fresh.person_id
    assert any("cy-example" in link for link in found.links)
    assert ats.api_calls - before == 1


def test_ats_changed_since_sees_a_stage_move(backend: Backend) -> None:
    ats, clock = backend.client, backend.clock
    person, application = ats.create_candidate(new(backend))
    since = clock.advance(60)
    ats.move_stage(application.application_id, backend.stages[1][0])
    changed = list(ats.changed_since(since))
    assert [p.person_id for p in changed] == [person.person_id]
    assert changed[0].applications[0].stage_id == backend.stages[1][0]


# --- errors: only IntegrationError subclasses, never httpx's ---

def test_ats_outage_raises_unavailable(backend: Backend) -> None:
    backend.state.faults.outage = True
    with pytest.raises(Unavailable):
        backend.client.ping()
    with pytest.raises(Unavailable):
        backend.client.create_candidate(new(backend))


def test_ats_bad_credentials_raise_auth_failed(backend: Backend) -> None:
    backend.state.faults.reject_credentials = True
    with pytest.raises(AuthFailed) as caught:
        backend.client.ping()
    assert not caught.value.retryable


def test_ats_429_raises_rate_limited_with_the_vendors_retry_after(backend: Backend) -> None:
    backend.state.faults.rate_limited_rate = 1.0
    with pytest.raises(RateLimited) as caught:
        backend.client.find_by_email("ada@example.com")
    assert (caught.value.retry_after is not None) is backend.says_retry_after


def test_ats_unreachable_service_raises_unavailable(backend: Backend) -> None:
    with pytest.raises(Unavailable):
        backend.connect(f"http://127.0.0.1:{free_port()}").get_person(backend.missing_id)


# --- shared helpers ---

@pytest.mark.parametrize(("existing", "additions", "expected"), [
    (["https://www.linkedin.com/in/ada/"], ["linkedin.com/in/ada", "x.com/bob"], ["x.com/bob"]),
    ([], [" a.com ", "a.com", ""], ["a.com"]),
])
def test_missing_keeps_only_new_values_once(existing: list[str], additions: list[str],
                                            expected: list[str]) -> None:
    assert missing(existing, additions, link_key) == expected


# --- Greenhouse specifics ---

def test_greenhouse_update_patches_complete_lists_keeping_types(greenhouse: Backend) -> None:
    ats = greenhouse.client
    person, _ = ats.create_candidate(new(greenhouse))
    ats.update_person(person.person_id, add_emails=["second@example.com"])
    (patch,) = [r for r in greenhouse.state.recorder.items() if r.method == "PATCH"]
    assert patch.body == {"email_addresses": [{"value": "Ada.Contract@Example.com", "type": "personal"},
                                              {"value": "second@example.com", "type": "personal"}]}


def test_greenhouse_reads_applications_50_candidates_at_a_time(greenhouse: Backend) -> None:
    assert isinstance(greenhouse.state, gh_sim.GreenhouseState)
    account = greenhouse.state.account()
    for i in range(60):
        account.create_candidate({"first_name": f"N{i}", "last_name": "Same",
                                  "email_addresses": [{"value": "same@example.com", "type": "work"}]})
    assert len(greenhouse.client.find_by_email("same@example.com")) == 60
    queries = [r.query for r in greenhouse.state.recorder.items() if r.path == "/v3/applications"]
    assert [q.count("%2C") + 1 for q in queries] == [50, 10]


def test_greenhouse_changed_since_finds_an_application_only_change(greenhouse: Backend) -> None:
    """A rejection in the UI changes the application, not the candidate: the applications pull finds it."""
    assert isinstance(greenhouse.state, gh_sim.GreenhouseState)
    ats = greenhouse.client
    person, application = ats.create_candidate(new(greenhouse))
    since = greenhouse.clock.advance(60)
    greenhouse.state.account().decide(int(application.application_id), "rejected")
    changed = list(ats.changed_since(since))
    assert [p.person_id for p in changed] == [person.person_id]
    assert changed[0].applications[0].status == "rejected"


def test_greenhouse_refuses_an_id_that_is_not_a_number(greenhouse: Backend) -> None:
    with pytest.raises(Rejected):
        greenhouse.client.get_person("not-a-number")
    assert greenhouse.client.api_calls == 0


def test_greenhouse_create_moves_when_the_nested_stage_is_ignored() -> None:
    """reference 3.2 says the nested application starts at the first stage; if `initial_stage_id` is
    ignored there, the adapter moves the application (and reads it back) rather than misreport it."""
    seen: list[str] = []
    application = {"id": 5, "candidate_id": 1, "job_id": 4401, "job_interview_stage_id": 7001,
                   "stage_name": "Application Review", "status": "in_process"}
    candidate = {"id": 1, "first_name": "A", "last_name": "B", "created_at": "2026-08-01T00:00:00Z",
                 "updated_at": "2026-08-01T00:00:00Z"}

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        if request.url.path == "/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        if request.method == "POST" and request.url.path == "/v3/candidates":
            return httpx.Response(201, json={"candidate": candidate, "application": application})
        if request.url.path.endswith("/move"):
            return httpx.Response(204)
        return httpx.Response(200, json=[{**application, "job_interview_stage_id": 7003, "stage_name": "Phone"}])

    with httpx.Client(transport=httpx.MockTransport(answer)) as http:
        client = GreenhouseClient(http, api_url="https://harvest.test", auth_url="https://auth.test",
                                  client_id="cid", client_secret="secret", user_id=91)
        _, placed = GreenhouseAts(client).create_candidate(NewCandidate("A", "B", "4401", stage_id="7003"))
    assert (placed.stage_id, placed.stage_name) == ("7003", "Phone")
    assert seen == ["POST /token", "POST /v3/candidates", "POST /v3/applications/5/move", "GET /v3/applications"]



# --- Lever specifics ---

def test_lever_archived_opportunity_reads_as_archived(lever: Backend) -> None:
    assert isinstance(lever.state, lever_sim.LeverState)
    ats = lever.client
    person, application = ats.create_candidate(new(lever))
    opportunity = lever.state.books[NW.api_key].opportunities[application.application_id]
    opportunity.archived = {"archivedAt": 1, "reason": "reason-withdrew"}  # what archiving in the UI does
    got = ats.get_person(person.person_id)
    assert got is not None and got.applications[0].status == "archived"


def test_lever_notes_go_to_the_latest_opportunity_unless_named(lever: Backend) -> None:
    ats = lever.client
    person, first = ats.create_candidate(new(lever))
    lever.clock.advance(1)
    second = ats.add_application(person.person_id, lever.jobs[1])
    ats.add_note(person.person_id, "latest")
    ats.add_note(person.person_id, "named", application_id=first.application_id)
    assert isinstance(lever.state, lever_sim.LeverState)
    notes = lever.state.books[NW.api_key].notes
    assert [n["text"] for n in notes[second.application_id]] == ["latest"]
    assert [n["text"] for n in notes[first.application_id]] == ["named"]
