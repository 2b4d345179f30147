"""Merging two ATS people (Greenhouse merge, Lever link-and-archive) and withdrawing LinkedIn's record of the
one merged away, each against its simulator over loopback HTTP; crashes are raised from httpx response hooks,
so every write before the crash really landed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from integrations.ats import NewCandidate, merge_marker
from integrations.errors import Rejected
from integrations.greenhouse import GreenhouseClient
from integrations.greenhouse_ats import GreenhouseAts
from integrations.lever import LeverClient, LeverOpportunity
from integrations.lever_ats import LeverAts
from integrations.linkedin import AtsCandidate, LinkedInClient
from integrations.sandbox import greenhouse as gh_sim
from integrations.sandbox import lever as lever_sim
from integrations.sandbox import world
from integrations.sandbox.base import SimulatorState
from integrations.sandbox.linkedin import LinkedInState, create_app, seed_sandbox
from integrations.sandbox.server import RunningServer
from tests.conftest import Switchboard

GH, NW = world.ACME_GREENHOUSE, world.NORTHWIND_LEVER
NOTE = "HireBridge merged a duplicate record into this one: same email. Decided in Slack."
REASON = "archive-reason-duplicate"  # the tenant's configured archive reason id
ORG = "urn:li:organization:1001"
Hook = Callable[[httpx.Response], None]


class Crash(Exception):
    """The process died here."""


class CrashAfter:
    """A response hook: the process dies once the n-th write (from 0) has landed, before its answer is read."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.seen = 0

    def __call__(self, response: httpx.Response) -> None:
        if response.request.method == "GET" or response.request.url.path.endswith("/token"):
            return
        self.seen += 1
        if self.seen > self.n:
            raise Crash(f"after write {self.n}: {response.request.method} {response.request.url.path}")


def writes(state: SimulatorState) -> list[str]:
    return [f"{r.method} {r.path}" for r in state.recorder.items() if r.method != "GET" and r.path != "/token"]


@dataclass
class Sim:
    state: Any
    url: str
    clients: list[httpx.Client]

    def http(self, hook: Hook | None = None) -> httpx.Client:
        client = httpx.Client(timeout=5, event_hooks={"response": [hook]} if hook else None)
        self.clients.append(client)
        return client


@pytest.fixture
def greenhouse(switchboard: tuple[Switchboard, RunningServer]) -> Iterator[Sim]:
    board, server = switchboard
    state = gh_sim.seed_sandbox(gh_sim.GreenhouseState(seed=5, rate_limit=10_000))
    board.app = gh_sim.create_app(state)
    sim = Sim(state, server.url, [])
    yield sim
    for client in sim.clients:
        client.close()


@pytest.fixture
def lever(switchboard: tuple[Switchboard, RunningServer]) -> Iterator[Sim]:
    board, server = switchboard
    state = lever_sim.seed_sandbox(lever_sim.LeverState(seed=5, rate=1000.0, burst=1000.0))
    board.app = lever_sim.create_app(state)
    sim = Sim(state, server.url, [])
    yield sim
    for client in sim.clients:
        client.close()


# --- Greenhouse ---------------------------------------------------------------------------------------------

def gh_ats(sim: Sim, hook: Hook | None = None) -> GreenhouseAts:
    return GreenhouseAts(GreenhouseClient(sim.http(hook), api_url=sim.url, auth_url=sim.url,
                                          client_id=GH.client_id, client_secret=GH.client_secret,
                                          user_id=int(GH.users[0].id)))


def gh_pair(ats: GreenhouseAts) -> tuple[str, str, str]:
    """A survivor on job 1 and a duplicate on job 2: (survivor id, absorbed id, absorbed application id)."""
    survivor, _ = ats.create_candidate(NewCandidate("Ada", "Merge", GH.jobs[0].id, emails=("ada@one.example",),
                                                    phones=("+1 555 0101",)))
    absorbed, application = ats.create_candidate(NewCandidate(
        "Ada", "Merge", GH.jobs[1].id, emails=("ada@two.example",), phones=("+1 555 0202",),
        links=("linkedin.com/in/ada-merge",)))
    return survivor.person_id, absorbed.person_id, application.application_id


def test_greenhouse_merge_moves_applications_drops_the_duplicate_and_notes_the_survivor(greenhouse: Sim) -> None:
    ats = gh_ats(greenhouse)
    survivor, absorbed, moved = gh_pair(ats)
    greenhouse.state.recorder.clear()

    outcome = ats.merge_people(survivor, absorbed, note=NOTE)

    assert not outcome.already_merged
    assert outcome.survivor.person_id == survivor
    assert moved in {a.application_id for a in outcome.survivor.applications}
    assert {a.job_id for a in outcome.survivor.applications} == {GH.jobs[0].id, GH.jobs[1].id}
    assert "ada@two.example" in outcome.survivor.emails and "linkedin.com/in/ada-merge" in outcome.survivor.links
    assert ats.get_person(absorbed) is None
    assert int(absorbed) not in greenhouse.state.account().candidates
    merge_calls = [r for r in greenhouse.state.recorder.items() if r.path.endswith("/merge")]
    assert [(r.method, r.path, r.body) for r in merge_calls] == [
        ("POST", f"/v3/candidates/{survivor}/merge", {"duplicate_candidate_id": int(absorbed)})]
    notes = [body for _, body in ats.list_notes(survivor)]
    assert [n for n in notes if merge_marker(survivor, absorbed) in n] == [
        f"{NOTE}\n\n{merge_marker(survivor, absorbed)}"]
    assert any(absorbed in a and "merged" in a for a in outcome.actions)


def test_greenhouse_repeat_is_already_merged_and_makes_no_merge_call(greenhouse: Sim) -> None:
    ats = gh_ats(greenhouse)
    survivor, absorbed, moved = gh_pair(ats)
    ats.merge_people(survivor, absorbed, note=NOTE)
    greenhouse.state.recorder.clear()

    again = ats.merge_people(survivor, absorbed, note=NOTE)

    assert again.already_merged
    assert moved in {a.application_id for a in again.survivor.applications}
    assert writes(greenhouse.state) == []  # no merge, and the note is there already
    assert len([n for _, n in ats.list_notes(survivor) if merge_marker(survivor, absorbed) in n]) == 1


@pytest.mark.parametrize("crash_after", [0, 1], ids=["merged-not-noted", "noted"])
def test_greenhouse_merge_finishes_after_a_crash_without_writing_twice(greenhouse: Sim, crash_after: int) -> None:
    survivor, absorbed, moved = gh_pair(gh_ats(greenhouse))
    with pytest.raises(Crash):
        gh_ats(greenhouse, CrashAfter(crash_after)).merge_people(survivor, absorbed, note=NOTE)
    greenhouse.state.recorder.clear()

    ats = gh_ats(greenhouse)
    outcome = ats.merge_people(survivor, absorbed, note=NOTE)

    assert outcome.already_merged
    assert writes(greenhouse.state) == ([] if crash_after == 1 else ["POST /v3/notes"])
    assert moved in {a.application_id for a in outcome.survivor.applications}
    assert len([n for _, n in ats.list_notes(survivor) if merge_marker(survivor, absorbed) in n]) == 1


def test_greenhouse_merge_refuses_a_missing_survivor_or_itself_and_writes_nothing(greenhouse: Sim) -> None:
    ats = gh_ats(greenhouse)
    survivor, absorbed, _ = gh_pair(ats)
    greenhouse.state.recorder.clear()
    with pytest.raises(Rejected) as missing:
        ats.merge_people("999999", absorbed, note=NOTE)
    assert missing.value.status == 404
    with pytest.raises(Rejected):
        ats.merge_people(survivor, survivor, note=NOTE)
    assert writes(greenhouse.state) == []
    assert ats.get_person(absorbed) is not None


# --- Lever --------------------------------------------------------------------------------------------------

def lever_ats(sim: Sim, hook: Hook | None = None, reason: str | None = REASON) -> LeverAts:
    client = LeverClient(sim.http(hook), api_url=f"{sim.url}/v1", api_key=NW.api_key, perform_as=NW.users[0].id,
                         backoff=0.001)
    return LeverAts(client, duplicate_archive_reason=reason)


@dataclass
class LeverPair:
    survivor: str
    absorbed: str
    shared: str  # the absorbed opportunity on the posting both have
    only: str  # the absorbed opportunity on a posting only the absorbed has


def lever_pair(ats: LeverAts) -> LeverPair:
    """The survivor on posting 1; the duplicate (other email) on posting 1 too, and alone on posting 2."""
    survivor, _ = ats.create_candidate(NewCandidate(
        "Ada", "Merge", NW.postings[0].id, emails=("ada@one.example",), phones=("+1 555 0101",),
        links=("linkedin.com/in/ada-one",)))
    absorbed, only = ats.create_candidate(NewCandidate(
        "Ada", "Merge", NW.postings[1].id, NW.stages[2].id, emails=("ada@two.example",), phones=("+1 555 0202",),
        links=("linkedin.com/in/ada-two",), tags=("referral",)))
    shared = ats.add_application(absorbed.person_id, NW.postings[0].id)
    assert survivor.person_id != absorbed.person_id
    return LeverPair(survivor.person_id, absorbed.person_id, shared.application_id, only.application_id)


def opportunities(sim: Sim, contact_id: str) -> list[LeverOpportunity]:
    book = sim.state.books[NW.api_key]
    return [LeverOpportunity.model_validate(o.wire(["applications"])) for o in book.opportunities.values()
            if o.contact.id == contact_id]


def marked_notes(sim: Sim, opportunity_id: str, marker: str) -> list[str]:
    return [n["fields"][0]["value"] for n in sim.state.books[NW.api_key].notes.get(opportunity_id, [])
            if marker in n["fields"][0]["value"]]


def assert_merged(sim: Sim, pair: LeverPair) -> None:
    """The end state of a finished merge, each write exactly once."""
    marker = merge_marker(pair.survivor, pair.absorbed)
    kept = opportunities(sim, pair.survivor)
    assert sorted(o.posting_id or "" for o in kept) == sorted([NW.postings[0].id, NW.postings[1].id])
    carried = next(o for o in kept if o.posting_id == NW.postings[1].id)
    assert (carried.stage, carried.archived, carried.owner) == (NW.stages[2].id, None, NW.users[0].id)
    contact = sim.state.books[NW.api_key].contacts[pair.survivor]
    assert contact.emails == ["ada@one.example", "ada@two.example"]
    assert [p["value"] for p in contact.phones] == ["+1 555 0101", "+1 555 0202"]
    assert contact.links == ["linkedin.com/in/ada-one", "linkedin.com/in/ada-two"]
    gone = opportunities(sim, pair.absorbed)
    assert {o.id for o in gone} == {pair.shared, pair.only}
    assert all(o.archived is not None and o.archived.reason == REASON for o in gone)
    for o in gone:
        assert marked_notes(sim, o.id, marker) == [
            f"{NOTE}\n\nMerged into Lever contact {pair.survivor}.\n\n{marker}"]
    survivor_notes = [n for o in kept for n in marked_notes(sim, o.id, marker)]
    assert len(survivor_notes) == 1 and f"Merged in Lever contact {pair.absorbed}" in survivor_notes[0]


def test_lever_merge_copies_details_carries_candidacies_over_and_archives_the_duplicates(lever: Sim) -> None:
    ats = lever_ats(lever)
    pair = lever_pair(ats)
    lever.state.recorder.clear()

    outcome = ats.merge_people(pair.survivor, pair.absorbed, note=NOTE)

    assert not outcome.already_merged
    assert_merged(lever, pair)
    person = outcome.survivor
    assert person.person_id == pair.survivor
    assert {a.job_id for a in person.applications} == {NW.postings[0].id, NW.postings[1].id}
    assert all(a.status == "active" for a in person.applications)
    assert "ada@two.example" in person.emails and "+1 555 0202" in person.phones
    archives = [r for r in lever.state.recorder.items() if r.path.endswith("/archived")]
    assert sorted((r.method, r.path, r.body["reason"]) for r in archives) == sorted(
        ("PUT", f"/v1/opportunities/{o}/archived", REASON) for o in (pair.shared, pair.only))
    created = [r.body for r in lever.state.recorder.items()
               if (r.method, r.path) == ("POST", "/v1/opportunities")]
    assert created == [{"emails": [], "phones": [], "links": [], "sources": ["LinkedIn Recruiter"],
                        "tags": ["referral"], "stage": NW.stages[2].id, "origin": "sourced",
                        "contact": pair.survivor, "owner": NW.users[0].id, "postings": [NW.postings[1].id]}]
    assert any("archived opportunity" in a for a in outcome.actions)


def test_lever_repeat_is_already_merged_and_writes_nothing(lever: Sim) -> None:
    ats = lever_ats(lever)
    pair = lever_pair(ats)
    first = ats.merge_people(pair.survivor, pair.absorbed, note=NOTE)
    lever.state.recorder.clear()

    again = ats.merge_people(pair.survivor, pair.absorbed, note=NOTE)

    assert again.already_merged and writes(lever.state) == []
    assert again.survivor.applications == first.survivor.applications
    assert_merged(lever, pair)


@pytest.mark.parametrize("crash_after", range(8))  # 8 writes: contact, links, create, 2 × (note, archive), note
def test_lever_merge_finishes_after_a_crash_at_any_write_without_writing_twice(lever: Sim,
                                                                               crash_after: int) -> None:
    pair = lever_pair(lever_ats(lever))
    crashing = CrashAfter(crash_after)
    with pytest.raises(Crash):
        lever_ats(lever, crashing).merge_people(pair.survivor, pair.absorbed, note=NOTE)
    assert crashing.seen == crash_after + 1
    lever.state.recorder.clear()

    outcome = lever_ats(lever).merge_people(pair.survivor, pair.absorbed, note=NOTE)

    # only once the survivor's note, the last write, has landed does a repeat find the merge done
    assert outcome.already_merged == (crash_after == 7)
    assert len(writes(lever.state)) == 8 - crash_after - 1
    assert_merged(lever, pair)
    assert lever_ats(lever).merge_people(pair.survivor, pair.absorbed, note=NOTE).already_merged


def test_lever_merge_without_an_archive_reason_is_refused_before_any_request(lever: Sim) -> None:
    pair = lever_pair(lever_ats(lever))
    lever.state.recorder.clear()
    with pytest.raises(Rejected) as refused:
        lever_ats(lever, reason=None).merge_people(pair.survivor, pair.absorbed, note=NOTE)
    assert "duplicate_archive_reason" in str(refused.value) and not refused.value.retryable
    assert lever.state.recorder.items() == []
    assert all(o.archived is None for o in opportunities(lever, pair.absorbed))


def test_lever_merge_of_a_contact_without_opportunities_is_already_merged(lever: Sim) -> None:
    ats = lever_ats(lever)
    pair = lever_pair(ats)
    lever.state.recorder.clear()
    outcome = ats.merge_people(pair.survivor, "00000000-0000-4000-8000-000000000000", note=NOTE)
    assert outcome.already_merged and writes(lever.state) == []
    with pytest.raises(Rejected):
        ats.merge_people("00000000-0000-4000-8000-000000000000", pair.absorbed, note=NOTE)
    with pytest.raises(Rejected):
        ats.merge_people(pair.survivor, pair.survivor, note=NOTE)
    assert writes(lever.state) == []


def test_lever_merge_leaves_an_already_closed_candidacy_closed_with_its_reason(lever: Sim) -> None:
    ats = lever_ats(lever)
    pair = lever_pair(ats)
    LeverClient(lever.http(), api_url=f"{lever.url}/v1", api_key=NW.api_key,
                perform_as=NW.users[0].id).archive_opportunity(pair.only, "archive-reason-rejected")

    outcome = ats.merge_people(pair.survivor, pair.absorbed, note=NOTE)

    assert not outcome.already_merged
    assert {a.job_id for a in outcome.survivor.applications} == {NW.postings[0].id}  # not revived
    reasons = {o.id: o.archived.reason if o.archived else None for o in opportunities(lever, pair.absorbed)}
    assert reasons == {pair.shared: REASON, pair.only: "archive-reason-rejected"}
    assert marked_notes(lever, pair.only, merge_marker(pair.survivor, pair.absorbed))
    assert ats.merge_people(pair.survivor, pair.absorbed, note=NOTE).already_merged


# --- LinkedIn -----------------------------------------------------------------------------------------------

@dataclass
class LinkedIn:
    client: LinkedInClient
    state: LinkedInState
    url: str


@pytest.fixture
def linkedin(switchboard: tuple[Switchboard, RunningServer]) -> Iterator[LinkedIn]:
    state = seed_sandbox(LinkedInState(seed=3))
    board, server = switchboard
    board.app = create_app(state)
    with httpx.Client(timeout=10) as http:
        yield LinkedIn(LinkedInClient(http, api_url=server.url, token_url=f"{server.url}/oauth/v2/accessToken",
                                      client_id="acme-rsc", client_secret="sandbox-acme-rsc-secret",
                                      organization=ORG), state, server.url)


def li_candidate(candidate_id: str) -> AtsCandidate:
    return AtsCandidate(ats_candidate_id=candidate_id, ats_created_at=1_700_000_000_000,
                        ats_last_modified_at=1_700_000_000_001, first_name="Ada")


def test_linkedin_delete_removes_the_record_and_counts_a_missing_one_as_done(linkedin: LinkedIn) -> None:
    assert linkedin.client.upsert_candidates([li_candidate("C1"), li_candidate("C2")]).all_ok
    linkedin.client.link_member("C1", "urn:li:person:abc")
    linkedin.state.notes[(ORG, "C1")] = {"N1": {"atsCreatedAt": 1, "note": "kept with the candidate"}}
    linkedin.state.recorder.clear()

    result = linkedin.client.delete_ats_candidates(["C1", "C404", "C1"])

    assert (result.ok, result.failed) == (["C1", "C404"], [])
    assert set(linkedin.state.candidates) == {(ORG, "C2")} and (ORG, "C1") not in linkedin.state.notes
    [call] = linkedin.state.recorder.items()
    assert (call.method, call.path, call.body, call.status) == ("DELETE", "/v2/atsCandidates", None, 200)
    assert call.headers["x-restli-method"] == "BATCH_DELETE"
    assert "ids[0].atsCandidateId=C1" in call.query.replace("%5B", "[").replace("%5D", "]")
    again = linkedin.client.delete_ats_candidates(["C1"])  # a repeat after a crash
    assert (again.ok, again.failed) == (["C1"], [])


def test_linkedin_delete_sends_at_most_100_per_call_and_reports_refused_records(linkedin: LinkedIn) -> None:
    ids = [f"C{i:03}" for i in range(150)]
    assert linkedin.client.upsert_candidates([li_candidate(i) for i in ids]).all_ok
    linkedin.state.recorder.clear()
    result = linkedin.client.delete_ats_candidates(ids)
    assert len(result.ok) == 150 and result.all_ok and not linkedin.state.candidates
    assert [r.method for r in linkedin.state.recorder.items() if r.path == "/v2/atsCandidates"] == ["DELETE"] * 2

    refused = linkedin.client.delete_ats_candidates([""])  # a key without its id
    assert refused.ok == [] and [(f.id, f.status) for f in refused.failed] == [("", 400)]


def test_linkedin_simulator_deletes_with_protocol_2_keys_and_checks_the_request(linkedin: LinkedIn) -> None:
    assert linkedin.client.upsert_candidates([li_candidate("C1")]).all_ok
    url = f"{linkedin.url}/v2/atsCandidates"
    key = "(atsCandidateId:C1,dataProvider:ATS,integrationContext:urn%3Ali%3Aorganization%3A1001)"
    token = linkedin.state.tokens.issue("acme-rsc").value
    headers = {"Authorization": f"Bearer {token}", "X-RestLi-Protocol-Version": "2.0.0"}
    with httpx.Client(timeout=5) as http:
        wrong = http.delete(f"{url}?ids=List({key})", headers={**headers, "X-RestLi-Method": "BATCH_UPDATE"})
        assert wrong.status_code == 400 and (ORG, "C1") in linkedin.state.candidates
        none = http.delete(url, headers={**headers, "X-RestLi-Method": "BATCH_DELETE"})
        assert none.status_code == 400
        done = http.delete(f"{url}?ids=List({key})", headers={**headers, "X-RestLi-Method": "BATCH_DELETE"})
    assert done.status_code == 200 and done.json() == {"results": {key: {"status": 204}}, "errors": {}}
    assert (ORG, "C1") not in linkedin.state.candidates
