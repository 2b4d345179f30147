"""LinkedInClient against the simulator over 127.0.0.1, and against recorded payloads via MockTransport."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations.errors import AuthFailed, IntegrationError, RateLimited, Rejected, Unavailable
from integrations.linkedin import (
    AtsApplication,
    AtsCandidate,
    AtsStage,
    LinkedInClient,
    challenge_response,
    parse_push_event,
    push_signature,
    verify_push_signature,
)
from integrations.linkedin_restli import batch_ids_v1, encode_key_v1, parse_key, read_batch_result
from integrations.sandbox.linkedin import LinkedInState, create_app, seed_sandbox
from integrations.sandbox.linkedin_push import add_conversation_event, add_mail_stub
from integrations.sandbox.server import RunningServer, free_port
from tests.conftest import Switchboard

PAYLOADS = Path(__file__).parent.parent / "payloads"
ORG = "urn:li:organization:1001"
SEAT = "urn:li:seat:6001"
HOUR_MS = 3_600_000
# a fresh connection per request: the loopback server's keep-alive replies stall ~40 ms on Nagle
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


@dataclass
class Setup:
    client: LinkedInClient
    state: LinkedInState
    now: list[float]
    url: str


def make_client(http: httpx.Client, url: str, clock: Callable[[], float] = lambda: 0.0,
                secret: str = "sandbox-acme-rsc-secret") -> LinkedInClient:
    return LinkedInClient(http, api_url=url, token_url=f"{url}/oauth/v2/accessToken", client_id="acme-rsc",
                          client_secret=secret, organization=ORG, contract="urn:li:contract:5001", clock=clock)


@pytest.fixture
def setup(switchboard: tuple[Switchboard, RunningServer]) -> Iterator[Setup]:
    now = [START_MS / 1000]
    state = seed_sandbox(LinkedInState(seed=3, clock=lambda: now[0], time_scale=0.0))
    board, server = switchboard
    board.app = create_app(state)
    with httpx.Client(timeout=10) as http:
        yield Setup(make_client(http, server.url, lambda: now[0]), state, now, server.url)


def candidate(candidate_id: str, **changes: Any) -> AtsCandidate:
    fields: dict[str, Any] = {"ats_candidate_id": candidate_id, "ats_created_at": 1_700_000_000_000,
                              "ats_last_modified_at": 1_700_000_000_001, "first_name": "Ada", **changes}
    return AtsCandidate(**fields)


def api_calls(state: LinkedInState, path: str) -> list[Any]:
    return [r for r in state.recorder.items() if r.path.startswith(path)]


def test_client_refreshes_the_token_five_minutes_before_expiry(setup: Setup) -> None:
    setup.client.ping()
    setup.now[0] += 1490  # 310 s left: still reused
    setup.client.ping()
    assert setup.state.tokens.issued == 1
    setup.now[0] += 20  # 290 s left: refreshed although the old token still works
    setup.client.ping()
    assert setup.state.tokens.issued == 2
    assert [r.status for r in api_calls(setup.state, "/v2/")] == [200, 200, 200]


def test_client_refreshes_once_after_a_401_and_succeeds(setup: Setup) -> None:
    setup.client.ping()
    setup.state.tokens.expire_all()
    setup.client.ping()
    assert [r.status for r in api_calls(setup.state, "/v2/")] == [200, 401, 200]
    assert setup.state.tokens.issued == 2 and setup.client.requests_made == 3


def test_client_raises_auth_failed_when_credentials_are_refused(setup: Setup) -> None:
    setup.state.faults.reject_credentials = True
    with pytest.raises(AuthFailed):
        setup.client.ping()


def test_client_raises_auth_failed_when_fresh_tokens_keep_failing() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path.endswith("accessToken"):
            return httpx.Response(200, json={"access_token": f"t{len(calls)}", "expires_in": 1800})
        return httpx.Response(401, json={"message": "Invalid access token", "serviceErrorCode": 65600,
                                         "status": 401})

    with httpx.Client(transport=httpx.MockTransport(handler)) as http, pytest.raises(AuthFailed):
        make_client(http, "https://api.example").ping()
    assert calls == ["/oauth/v2/accessToken", "/v2/seatsV2", "/oauth/v2/accessToken", "/v2/seatsV2"]


def test_client_upserts_250_records_in_3_sequential_batches_and_reports_each_failure(setup: Setup) -> None:
    records = [candidate(f"C{i:03}") for i in range(250)]
    records[7] = candidate("C007", ats_last_modified_at=1)  # modified before created
    records[180] = candidate("C180", email_addresses=["nope"])
    result = setup.client.upsert_candidates(records)
    sizes = [len(r.body["entities"]) for r in api_calls(setup.state, "/v2/atsCandidates")]
    assert sizes == [100, 100, 50]
    assert len(result.ok) == 248 and not result.all_ok
    assert [(f.id, f.status) for f in result.failed] == [("C007", 400), ("C180", 400)]
    assert "atsLastModifiedAt" in result.failed[0].message
    assert len(setup.state.candidates) == 248


def test_client_upsert_refuses_duplicate_ids() -> None:
    with httpx.Client() as http, pytest.raises(ValueError):
        make_client(http, "https://api.example").upsert_candidates([candidate("C1"), candidate("C1")])


def test_client_links_a_member_and_rejects_an_unknown_candidate(setup: Setup) -> None:
    setup.client.upsert_candidates([candidate("C1")])
    setup.client.link_member("C1", "urn:li:person:abc")
    assert setup.state.candidates[(ORG, "C1")]["manualMatchedMember"] == "urn:li:person:abc"
    with pytest.raises(Rejected) as refused:
        setup.client.link_member("C404", "urn:li:person:abc")
    assert refused.value.status == 404


def application(**changes: Any) -> AtsApplication:
    fields: dict[str, Any] = {
        "ats_job_application_id": "APP-1", "ats_candidate_id": "C1", "ats_created_at": 1,
        "ats_last_modified_at": 2, "ats_job_posting_id": "4401", "ats_job_posting_name": "Backend Engineer",
        "candidate_email": "ada@example.com", "first_name": "Ada", "last_name": "L", "source": "LinkedIn",
        "disposition_reason": None, **changes}
    return AtsApplication(**fields)


def test_client_sends_every_application_field_including_nulls(setup: Setup) -> None:
    setup.client.push_application(application())
    setup.client.push_application(application(source=None))
    body = api_calls(setup.state, "/v2/atsApplications")[-1].body
    entity = next(iter(body["entities"].values()))
    assert entity["source"] is None and entity["dispositionReason"] is None
    assert set(entity) == {"atsCandidateId", "atsCreatedAt", "atsLastModifiedAt", "atsJobPostingId",
                           "atsJobPostingName", "candidateEmail", "firstName", "lastName", "source",
                           "dispositionReason"}
    assert setup.state.applications[(ORG, "APP-1")]["source"] is None
    with pytest.raises(Rejected):
        setup.client.push_application(application(ats_job_posting_name=""))


def test_client_pushes_stages_with_a_verdict_per_stage(setup: Setup) -> None:
    setup.client.push_application(application())
    stages = [AtsStage(stage_id="S1", ats_created_at=5, stage="Phone Screen"),
              AtsStage(stage_id="S2", ats_created_at=6, stage="Not Available")]
    result = setup.client.push_application_stages("APP-1", stages)
    assert result.ok == ["S1"] and [(f.id, f.status) for f in result.failed] == [("S2", 400)]


def test_client_splits_inmail_history_into_12_hour_windows_and_pages(setup: Setup) -> None:
    times = [START_MS + i * 60_000 for i in range(60)] + [START_MS + 12 * HOUR_MS, START_MS + 30 * HOUR_MS - 1]
    for at in times:
        add_conversation_event(setup.state, SEAT, {"subject": "Hi", "text": "Hello", "createdAt": at,
                                                   "recipients": ["urn:li:person:p1"]})
    events = setup.client.conversation_events(SEAT, START_MS, START_MS + 30 * HOUR_MS)
    queries = [dict(httpx.QueryParams(r.query)) for r in api_calls(setup.state, "/v2/conversationEvents")]
    windows = {(q["timeRange.start"], q["timeRange.end"]) for q in queries}
    assert sorted(e.created_at for e in events) == times
    assert len(api_calls(setup.state, "/v2/conversationEvents")) == 4  # 60 events in the first window: 2 pages
    assert windows == {(str(START_MS), str(START_MS + 12 * HOUR_MS)),
                       (str(START_MS + 12 * HOUR_MS), str(START_MS + 24 * HOUR_MS)),
                       (str(START_MS + 24 * HOUR_MS), str(START_MS + 30 * HOUR_MS))}
    assert events[0].is_outbound and events[0].mail is not None and events[0].mail.subject == "Hi"


def test_client_reads_mail_stubs_and_seats(setup: Setup) -> None:
    add_mail_stub(setup.state, SEAT, {"firstName": "Pat", "emailAddress": "pat@example.com",
                                      "createdAt": START_MS})
    stubs = setup.client.mail_stubs("urn:li:contract:5001", SEAT, START_MS, START_MS + HOUR_MS)
    assert [(s.owner, s.email_address) for s in stubs] == [(SEAT, "pat@example.com")]
    assert [s.urn for s in setup.client.seats()] == [SEAT]


def test_client_raises_unavailable_on_outage_and_refused_connections(setup: Setup) -> None:
    setup.state.faults.outage = True
    with pytest.raises(Unavailable) as outage:
        setup.client.ping()
    assert outage.value.status == 503
    with httpx.Client(timeout=2) as http, pytest.raises(Unavailable):
        make_client(http, f"http://127.0.0.1:{free_port()}").ping()


def test_client_raises_rate_limited_when_the_budget_is_spent(setup: Setup) -> None:
    setup.state.daily_budget = 1
    setup.client.ping()
    with pytest.raises(RateLimited) as limited:
        setup.client.ping()
    assert limited.value.retry_after is None and limited.value.status == 429


def test_client_honours_retry_after_when_present() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("accessToken"):
            return httpx.Response(200, json=json.loads((PAYLOADS / "linkedin_token.json").read_text()))
        throttle = json.loads((PAYLOADS / "linkedin_throttle_error.json").read_text())
        return httpx.Response(429, json=throttle, headers={"Retry-After": "7"})

    with httpx.Client(transport=httpx.MockTransport(handler)) as http, pytest.raises(RateLimited) as limited:
        make_client(http, "https://api.example").ping()
    assert limited.value.retry_after == 7.0


def test_client_export_round_trip_through_a_signed_push(setup: Setup, serve: Callable[..., RunningServer]) -> None:
    pushes: list[str] = []

    async def callback(request: Request) -> Response:
        raw = await request.body()
        if not verify_push_signature("sandbox-acme-rsc-secret", raw, request.headers.get("x-li-signature")):
            return JSONResponse({}, status_code=401)
        pushes.append(parse_push_event(raw).id)
        return JSONResponse({})

    receiver = serve(Starlette(routes=[Route("/li/acme", callback, methods=["POST"])]), "receiver")
    setup.client.register_callback_url(f"{receiver.url}/li/acme")
    with httpx.Client(timeout=10) as http:
        outcome = http.post(f"{setup.url}/_sandbox/exports", json={
            "client_id": "acme-rsc", "candidates": [{"firstName": "Jane", "lastName": "Doe"}],
            "externalJobPostingId": "4401"}).json()
    exported = setup.client.get_exported_candidates(pushes[0])
    assert outcome["delivered"] and pushes == [outcome["requestId"]]
    assert exported[0].candidate.first_name == "Jane" and exported[0].external_job_posting_id == "4401"


def recorded_transport(payload: str) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("accessToken"):
            return httpx.Response(200, json=json.loads((PAYLOADS / "linkedin_token.json").read_text()))
        return httpx.Response(200, json=json.loads((PAYLOADS / payload).read_text()))

    return httpx.MockTransport(handler)


def test_client_reads_the_documented_export_and_refuses_another_organization() -> None:
    with httpx.Client(transport=recorded_transport("linkedin_exported_candidates.json")) as http:
        client = make_client(http, "https://api.example")
        with pytest.raises(Rejected):
            client.get_exported_candidates("6998431234567890123")
        client.organization = "urn:li:organization:123"
        exported = client.get_exported_candidates("6998431234567890123")
    profile = exported[0].candidate
    assert (profile.member, profile.email_addresses, profile.educations[0].school_name) == (
        "urn:li:person:a1b2c3d4e5", ["jane.doe@example.com"], "MIT")


def test_client_reads_the_documented_seats_sample() -> None:
    with httpx.Client(transport=recorded_transport("linkedin_seats.json")) as http:
        seats = make_client(http, "https://api.example").seats()
    assert [(s.member, s.state, s.seat_roles, s.urn) for s in seats] == [
        ("urn:li:person:a1b2c3d4", "ACTIVE", ["ADMIN_SEAT", "SOURCER_ADD_PROSPECT"], None)]


def test_client_reads_the_documented_inmail_sample() -> None:
    with httpx.Client(transport=recorded_transport("linkedin_conversation_events.json")) as http:
        events = make_client(http, "https://api.example").conversation_events("urn:li:seat:123456789", 0, 1000)
    assert [e.is_outbound for e in events] == [True, False]
    assert events[1].mail is not None and events[1].mail.body is not None
    assert events[1].mail.body.text == "Responding to test v2."


def test_batch_result_surfaces_record_errors_hidden_in_a_200() -> None:
    recorded = json.loads((PAYLOADS / "linkedin_batch_update_response.json").read_text())
    key = next(iter(recorded["results"]))
    org = "urn:li:organization:2414183"
    recorded["errors"][f"atsCandidateId=X&dataProvider=ATS&integrationContext={org}"] = {
        "status": 422, "message": "bad"}
    # the answer may echo a key in another encoding than the one sent
    v2_key = "(atsCandidateId:X,dataProvider:ATS,integrationContext:urn%3Ali%3Aorganization%3A2414183)"
    sent = {key: "CAND-1001", v2_key: "X", "atsCandidateId=GONE": "GONE"}
    result = read_batch_result(recorded, sent)
    assert result.ok == ["CAND-1001"]
    assert [(f.id, f.status) for f in result.failed] == [("X", 422), ("GONE", None)]


def test_protocol_1_keys_match_the_documented_request() -> None:
    recorded = json.loads((PAYLOADS / "linkedin_candidates_batch_update.json").read_text())
    fields = {"atsCandidateId": "CAND-1001", "dataProvider": "ATS",
              "integrationContext": "urn:li:organization:2414183"}
    assert encode_key_v1(fields) == next(iter(recorded["entities"]))
    assert parse_key(encode_key_v1({"atsCandidateId": "A&B=C"})) == {"atsCandidateId": "A&B=C"}
    assert batch_ids_v1([fields])[0] == ("ids[0].atsCandidateId", "CAND-1001")


def test_push_signature_verification() -> None:
    raw = (PAYLOADS / "linkedin_push_event.json").read_bytes()
    good = push_signature("s3cret", raw)
    assert len(good) == 64
    assert verify_push_signature("s3cret", raw, good)
    assert verify_push_signature("s3cret", raw, f"hmacsha256={good.upper()}")
    assert not verify_push_signature("s3cret", raw + b" ", good)
    assert not verify_push_signature("other", raw, good)
    assert not verify_push_signature("s3cret", raw, None)
    assert parse_push_event(raw).id == "6998431234567890123"
    assert parse_push_event(b'{"requestId": "42", "type": "EXPORT_CANDIDATE_PROFILE"}').expires_at is None


def test_challenge_response_is_hex_hmac_keyed_by_the_secret() -> None:
    # fixed vector: HMAC-SHA256(key="s3cret", msg="890e4665-4dfe-4ab1-b689-ed553bceeed0")
    assert challenge_response("890e4665-4dfe-4ab1-b689-ed553bceeed0", "s3cret") == (
        "282e84d6c3fe9e152bf838a2c9ac5fabeace9e4bcc5a62d3eb0925f22f514d62")


def test_client_stops_paging_a_server_that_ignores_start() -> None:
    stub = {"owner": SEAT, "member": "urn:li:person:p1"}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("accessToken"):
            return httpx.Response(200, json={"access_token": "t", "expires_in": 1800})
        return httpx.Response(200, json={"elements": [stub] * 50, "paging": {"start": 0, "count": 50}})

    with httpx.Client(transport=httpx.MockTransport(handler)) as http, pytest.raises(Unavailable):
        make_client(http, "https://api.example").mail_stubs("urn:li:contract:5001", SEAT, 0, 1)


def test_client_errors_are_all_integration_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with httpx.Client(transport=httpx.MockTransport(handler)) as http, pytest.raises(IntegrationError):
        make_client(http, "https://api.example").ping()
