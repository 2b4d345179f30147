"""The LinkedIn RSC simulator over real HTTP on 127.0.0.1: auth, Rest.li batches, finders, pushes, throttles."""

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
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from integrations.linkedin import challenge_response, verify_push_signature
from integrations.sandbox.linkedin import LinkedInState, create_app, seed_sandbox
from integrations.sandbox.server import RunningServer
from tests.conftest import Switchboard

PAYLOADS = Path(__file__).parent.parent / "payloads"
ACME = ("acme-rsc", "sandbox-acme-rsc-secret")
ORG = "urn:li:organization:1001"
SEAT = "urn:li:seat:6001"
HOUR_MS = 3_600_000
# a fresh connection per request: the loopback server's keep-alive replies stall ~40 ms on Nagle


@dataclass
class Sim:
    url: str
    state: LinkedInState
    http: httpx.Client
    now: list[float]

    def token(self, client: tuple[str, str] = ACME) -> str:
        form = {"grant_type": "client_credentials", "client_id": client[0], "client_secret": client[1]}
        response = self.http.post(f"{self.url}/oauth/v2/accessToken", data=form)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def call(self, method: str, path: str, token: str | None = None, restli: str | None = None,
             body: Any = None, header: str = "x-restli-method") -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.token()}"}
        if restli:
            headers[header] = restli
        if body is not None:
            headers["Content-Type"] = "application/json"
        content = None if body is None else json.dumps(body)
        return self.http.request(method, f"{self.url}{path}", headers=headers, content=content)


@pytest.fixture
def sim(switchboard: tuple[Switchboard, RunningServer]) -> Iterator[Sim]:
    now = [1_767_225_600.0]  # 2026-01-01T00:00:00Z
    state = seed_sandbox(LinkedInState(seed=7, clock=lambda: now[0], time_scale=0.0))
    board, server = switchboard
    board.app = create_app(state)
    with httpx.Client(timeout=10) as http:
        yield Sim(server.url, state, http, now)


def candidate(first: str = "Ada", created: int = 1_700_000_000_000, **extra: Any) -> dict[str, Any]:
    return {"atsCreatedAt": created, "atsLastModifiedAt": created + 1, "firstName": first,
            "addresses": [], "phoneNumbers": [], **extra}


def v1_key(candidate_id: str, org: str = ORG) -> str:
    return f"atsCandidateId={candidate_id}&dataProvider=ATS&integrationContext={org}"


def v1_ids(*candidate_ids: str, org: str = ORG) -> str:
    return "&".join(f"ids[{i}].atsCandidateId={c}&ids[{i}].dataProvider=ATS&ids[{i}].integrationContext={org}"
                    for i, c in enumerate(candidate_ids))


def v2_key(candidate_id: str) -> str:
    return f"(atsCandidateId:{candidate_id},dataProvider:ATS,integrationContext:urn%3Ali%3Aorganization%3A1001)"


def test_token_is_issued_for_known_credentials_only(sim: Sim) -> None:
    good = sim.http.post(f"{sim.url}/oauth/v2/accessToken", data={
        "grant_type": "client_credentials", "client_id": ACME[0], "client_secret": ACME[1]})
    bad = sim.http.post(f"{sim.url}/oauth/v2/accessToken", data={
        "grant_type": "client_credentials", "client_id": ACME[0], "client_secret": "wrong"})
    assert good.status_code == 200 and good.json()["expires_in"] == 1800
    assert good.json()["access_token"]
    assert bad.status_code == 401
    sim.state.faults.reject_credentials = True
    refused = sim.http.post(f"{sim.url}/oauth/v2/accessToken", data={
        "grant_type": "client_credentials", "client_id": ACME[0], "client_secret": ACME[1]})
    assert refused.status_code == 401


def test_token_expiry_and_bad_bearer_answer_401(sim: Sim) -> None:
    token = sim.token()
    seats = "/v2/seatsV2?q=attributes&contracts=urn:li:contract:5001&start=0"
    assert sim.call("GET", seats, token).status_code == 200
    sim.now[0] += 1800
    expired = sim.call("GET", seats, token)
    assert expired.status_code == 401
    assert expired.json() == {"message": "Invalid access token", "serviceErrorCode": 65600, "status": 401}
    missing = sim.http.get(f"{sim.url}{seats}")
    assert missing.status_code == 401 and missing.json()["message"] == "Empty oauth2_access_token"


def test_token_ttl_fault_shortens_new_tokens(sim: Sim) -> None:
    sim.state.faults.token_ttl_seconds = 5
    token = sim.token()
    sim.now[0] += 6
    assert sim.call("GET", "/v2/seatsV2?q=attributes&start=0", token).status_code == 401


def test_candidates_accept_protocol_1_keys_with_lowercase_method_header(sim: Sim) -> None:
    body = {"entities": {v1_key("C1"): candidate("Ada"), v1_key("C2"): candidate("Bo")}}
    response = sim.call("PUT", f"/v2/atsCandidates?{v1_ids('C1', 'C2')}", restli="batch_update", body=body)
    assert response.status_code == 200, response.text
    assert response.json() == {"results": {v1_key("C1"): {"status": 204}, v1_key("C2"): {"status": 204}},
                               "errors": {}}
    assert sim.state.candidates[(ORG, "C2")]["firstName"] == "Bo"


def test_candidates_accept_protocol_2_keys_with_uppercase_method_header(sim: Sim) -> None:
    body = {"entities": {v2_key("C9"): candidate("Cy")}}
    response = sim.call("PUT", f"/v2/atsCandidates?ids=List({v2_key('C9')})", restli="BATCH_UPDATE",
                        body=body, header="X-RestLi-Method")
    assert response.json() == {"results": {v2_key("C9"): {"status": 204}}, "errors": {}}
    assert sim.state.candidates[(ORG, "C9")]["firstName"] == "Cy"


def test_candidates_batch_get_answers_keys_in_the_callers_protocol(sim: Sim) -> None:
    sim.call("PUT", f"/v2/atsCandidates?{v1_ids('C1')}", restli="batch_update",
             body={"entities": {v1_key("C1"): candidate()}})
    v1 = sim.call("GET", f"/v2/atsCandidates?{v1_ids('C1', 'NOPE')}").json()
    v2 = sim.call("GET", f"/v2/atsCandidates?ids=List({v2_key('C1')})").json()
    assert v1["results"][v1_key("C1")]["firstName"] == "Ada"
    assert v1["statuses"] == {v1_key("C1"): 200}
    assert v1["errors"][v1_key("NOPE")]["status"] == 404
    assert v2["results"][v2_key("C1")]["matchedMembers"] == []


def test_candidates_refuse_bad_records_one_by_one_inside_a_200(sim: Sim) -> None:
    records = {
        "OK": candidate(),
        "BACKWARDS": {**candidate(), "atsLastModifiedAt": 1_600_000_000_000},
        "NONAME": {**candidate(), "firstName": ""},
        "BADMAIL": candidate(emailAddresses=["not-an-email"]),
        "NOADDR": {k: v for k, v in candidate().items() if k != "addresses"},
    }
    other = "urn:li:organization:1002"
    entities = {v1_key(k): v for k, v in records.items()} | {v1_key("FOREIGN", other): candidate()}
    ids = v1_ids(*records) + "&" + v1_ids("FOREIGN", org=other).replace("[0]", "[5]")
    response = sim.call("PUT", f"/v2/atsCandidates?{ids}", restli="batch_update", body={"entities": entities})
    assert response.status_code == 200
    answer = response.json()
    assert list(answer["results"]) == [v1_key("OK")]
    statuses = {parse_id(k): v["status"] for k, v in answer["errors"].items()}
    assert statuses == {"BACKWARDS": 400, "NONAME": 400, "BADMAIL": 400, "NOADDR": 400, "FOREIGN": 403}
    assert (ORG, "BACKWARDS") not in sim.state.candidates


def parse_id(key: str) -> str:
    return key.split("&")[0].removeprefix("atsCandidateId=")


def test_candidates_refuse_a_batch_over_100_records(sim: Sim) -> None:
    ids = [f"C{i}" for i in range(101)]
    response = sim.call("PUT", f"/v2/atsCandidates?{v1_ids(*ids)}", restli="batch_update",
                        body={"entities": {v1_key(i): candidate() for i in ids}})
    assert response.status_code == 400
    assert "100" in response.json()["message"]
    assert not sim.state.candidates


def test_batches_need_the_method_header_and_matching_ids(sim: Sim) -> None:
    body = {"entities": {v1_key("C1"): candidate()}}
    no_header = sim.call("PUT", f"/v2/atsCandidates?{v1_ids('C1')}", body=body)
    mismatch = sim.call("PUT", f"/v2/atsCandidates?{v1_ids('C2')}", restli="batch_update", body=body)
    assert (no_header.status_code, mismatch.status_code) == (400, 400)
    assert not sim.state.candidates


def test_candidates_partial_update_links_a_member_that_survives_upserts(sim: Sim) -> None:
    sim.call("PUT", f"/v2/atsCandidates?{v1_ids('C1')}", restli="batch_update",
             body={"entities": {v1_key("C1"): candidate()}})
    patch = {"patch": {"$set": {"manualMatchedMember": "urn:li:person:abc"}}}
    answer = sim.call("POST", f"/v2/atsCandidates?{v1_ids('C1', 'C404')}", restli="batch_partial_update",
                      body={"entities": {v1_key("C1"): patch, v1_key("C404"): patch}}).json()
    sim.call("PUT", f"/v2/atsCandidates?{v1_ids('C1')}", restli="batch_update",
             body={"entities": {v1_key("C1"): candidate("Renamed")}})
    assert answer["results"] == {v1_key("C1"): {"status": 204}}
    assert answer["errors"][v1_key("C404")]["status"] == 404
    assert sim.state.candidates[(ORG, "C1")]["manualMatchedMember"] == "urn:li:person:abc"


def app_key(app_id: str = "APP-77") -> str:
    return f"atsJobApplicationId={app_id}&dataProvider=ATS&integrationContext={ORG}"


def put_application(sim: Sim, entity: dict[str, Any]) -> httpx.Response:
    ids = f"ids[0].atsJobApplicationId=APP-77&ids[0].dataProvider=ATS&ids[0].integrationContext={ORG}"
    return sim.call("PUT", f"/v2/atsApplications?{ids}", restli="batch_update",
                    body={"entities": {app_key(): entity}})


def test_applications_are_fully_replaced_so_omitted_fields_become_null(sim: Sim) -> None:
    recorded = json.loads((PAYLOADS / "linkedin_applications_batch_update.json").read_text())
    full = next(iter(recorded["entities"].values()))
    assert put_application(sim, full).json()["results"] == {app_key(): {"status": 204}}
    partial_update = {k: v for k, v in full.items() if k not in ("source", "candidateEmail")}
    put_application(sim, partial_update)
    stored = sim.state.applications[(ORG, "APP-77")]
    assert stored["source"] is None and stored["candidateEmail"] is None
    assert stored["atsJobPostingName"] == "Senior Software Engineer"


def test_applications_need_a_job_posting_id_and_name(sim: Sim) -> None:
    entity = {"atsCreatedAt": 1, "atsLastModifiedAt": 2, "atsJobPostingId": "J1", "atsJobPostingName": ""}
    answer = put_application(sim, entity).json()
    assert answer["errors"][app_key()]["status"] == 400
    assert "atsJobPostingName" in answer["errors"][app_key()]["message"]


def test_stages_refuse_empty_and_not_available_text(sim: Sim) -> None:
    put_application(sim, {"atsCreatedAt": 1, "atsLastModifiedAt": 2, "atsJobPostingId": "J1",
                          "atsJobPostingName": "Engineer"})
    entities = {"S1": {"atsCreatedAt": 5, "stage": "Phone Interview"}, "S2": {"atsCreatedAt": 5, "stage": ""},
                "S3": {"atsCreatedAt": 5, "stage": "Not Available"}}
    answer = sim.call("PUT", f"/v2/atsApplications/{app_key()}/stages?ids=S1&ids=S2&ids=S3",
                      restli="batch_update", body={"entities": entities}).json()
    orphan = sim.call("PUT", f"/v2/atsApplications/{app_key('GONE')}/stages?ids=List(S1)",
                      restli="batch_update", body={"entities": {"S1": entities["S1"]}}).json()
    assert answer["results"] == {"S1": {"status": 204}}
    assert {k: v["status"] for k, v in answer["errors"].items()} == {"S2": 400, "S3": 400}
    assert orphan["errors"]["S1"]["status"] == 404
    assert sim.state.stages[(ORG, "APP-77")] == {"S1": entities["S1"]}


def test_candidate_notes_are_stored_under_their_candidate(sim: Sim) -> None:
    sim.call("PUT", f"/v2/atsCandidates?{v1_ids('C1')}", restli="batch_update",
             body={"entities": {v1_key("C1"): candidate()}})
    note = {"atsCreatedAt": 9, "note": "Strong Python", "author": {"firstName": "Rae", "lastName": "R"}}
    answer = sim.call("PUT", f"/v2/atsCandidates/{v1_key('C1')}/notes?ids=N1", restli="batch_update",
                      body={"entities": {"N1": note}}).json()
    assert answer == {"results": {"N1": {"status": 204}}, "errors": {}}
    assert sim.state.notes[(ORG, "C1")]["N1"]["note"] == "Strong Python"


def integration_key(org: str = ORG) -> str:
    return f"integrationContext={org}&integrationType=ONE_CLICK_EXPORT&tenantType=RECRUITER&dataProvider=ATS"


def register_callback(sim: Sim, url: str, client: tuple[str, str] = ACME, org: str = ORG) -> httpx.Response:
    return sim.call("PUT", f"/v2/atsIntegrations/{integration_key(org)}/configurations?ids=CALLBACK_URL",
                    sim.token(client), restli="batch_update",
                    body={"entities": {"CALLBACK_URL": {"configurationValue": {"string": url}}}})


def test_callback_url_is_registered_read_back_and_unique_per_customer(sim: Sim) -> None:
    assert register_callback(sim, "https://ats.example/li/acme").json()["results"] == {
        "CALLBACK_URL": {"status": 204}}
    read = sim.call("GET", f"/v2/atsIntegrations/{integration_key()}/configurations?ids=CALLBACK_URL").json()
    northwind = ("northwind-rsc", "sandbox-northwind-rsc-secret")
    taken = register_callback(sim, "https://ats.example/li/acme", northwind, "urn:li:organization:1002").json()
    assert read["results"] == {"CALLBACK_URL": {"configurationValue": {"string": "https://ats.example/li/acme"}}}
    assert taken["errors"]["CALLBACK_URL"]["status"] == 400


def receiver_app(secret: str, fail_first: int = 0) -> tuple[Starlette, list[tuple[bytes, str | None]]]:
    """A partner callback that fails `fail_first` times, then checks signatures as the client would."""
    received: list[tuple[bytes, str | None]] = []

    async def push(request: Request) -> Response:
        raw = await request.body()
        received.append((raw, request.headers.get("x-li-signature")))
        if len(received) <= fail_first:
            return PlainTextResponse("down", status_code=500)
        ok = verify_push_signature(secret, raw, request.headers.get("x-li-signature"))
        return JSONResponse({}, status_code=200 if ok else 401)

    async def challenge(request: Request) -> Response:
        code = request.query_params["challengeCode"]
        return JSONResponse({"challengeCode": code, "challengeResponse": challenge_response(code, secret)})

    routes = [Route("/li/acme", push, methods=["POST"]), Route("/li/acme", challenge, methods=["GET"])]
    return Starlette(routes=routes), received


def export(sim: Sim, **extra: Any) -> dict[str, Any]:
    body = {"client_id": ACME[0], "candidates": [{"firstName": "Jane", "lastName": "Doe",
                                                   "emailAddresses": ["jane@example.com"]}], **extra}
    response = sim.http.post(f"{sim.url}/_sandbox/exports", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_export_push_is_delivered_signed_and_retrievable(sim: Sim, serve: Callable[..., RunningServer]) -> None:
    app, received = receiver_app(ACME[1])
    register_callback(sim, f"{serve(app, 'receiver').url}/li/acme")
    outcome = export(sim, externalJobPostingId="4401")
    assert outcome["delivered"] is True and outcome["attempts"] == 1
    push = json.loads(received[0][0])
    assert push == {"id": outcome["requestId"], "type": "EXPORT_CANDIDATE_PROFILE", "expiresAt": push["expiresAt"]}
    fetched = sim.call("GET", f"/v2/exportedCandidates?q=request&requestId={push['id']}").json()["elements"]
    assert fetched[0]["candidate"]["emailAddresses"] == ["jane@example.com"]
    assert fetched[0]["integrationContext"] == ORG and fetched[0]["externalJobPostingId"] == "4401"
    foreign = sim.token(("globex-rsc", "sandbox-globex-rsc-secret"))
    assert sim.call("GET", f"/v2/exportedCandidates?q=request&requestId={push['id']}", foreign).status_code == 403


def test_export_push_is_retried_until_the_receiver_recovers(sim: Sim, serve: Callable[..., RunningServer]) -> None:
    app, received = receiver_app(ACME[1], fail_first=2)
    register_callback(sim, f"{serve(app, 'receiver').url}/li/acme")
    outcome = export(sim)
    assert (outcome["delivered"], outcome["attempts"], outcome["outcomes"]) == (True, 3, ["500", "500", "200"])
    assert len({raw for raw, _ in received}) == 1  # every retry carries the same signed body


def test_export_push_gives_up_after_six_retries(sim: Sim, serve: Callable[..., RunningServer]) -> None:
    app, _ = receiver_app(ACME[1], fail_first=100)
    register_callback(sim, f"{serve(app, 'receiver').url}/li/acme")
    outcome = export(sim)
    assert (outcome["delivered"], outcome["attempts"]) == (False, 7)
    assert sim.state.inspect()["deliveries"][-1]["attempts"] == 7


def test_callback_challenge_checks_the_hmac_answer(sim: Sim, serve: Callable[..., RunningServer]) -> None:
    app, _ = receiver_app(ACME[1])
    register_callback(sim, f"{serve(app, 'receiver').url}/li/acme")
    assert sim.http.post(f"{sim.url}/_sandbox/challenge", json={"client_id": ACME[0]}).json()["validated"] is True
    sim.state.customers[ACME[0]].signing_secret = "rotated"
    assert sim.http.post(f"{sim.url}/_sandbox/challenge", json={"client_id": ACME[0]}).json()["validated"] is False


def add_inmails(sim: Sim, *created: int) -> None:
    events = [{"subject": f"Hello {i}", "text": "Hi", "recipients": ["urn:li:person:p1"], "createdAt": at}
              for i, at in enumerate(created)]
    assert sim.http.post(f"{sim.url}/_sandbox/conversations", json={"seat": SEAT, "events": events}).is_success


def test_conversation_events_refuse_windows_over_12_hours(sim: Sim) -> None:
    base = "/v2/conversationEvents?q=criteria&viewer=urn:li:seat:6001&timeRange.start=0"
    assert sim.call("GET", f"{base}&timeRange.end={12 * HOUR_MS}").status_code == 200
    too_long = sim.call("GET", f"{base}&timeRange.end={12 * HOUR_MS + 1}")
    assert too_long.status_code == 400 and too_long.json()["status"] == 400


def test_conversation_events_page_with_start_inclusive_and_end_exclusive(sim: Sim) -> None:
    add_inmails(sim, 1000, 2000, 3000, 4000, 5000)
    query = "/v2/conversationEvents?q=criteria&viewer=urn:li:seat:6001&timeRange.start=1000&timeRange.end=5000"
    first = sim.call("GET", f"{query}&start=0&count=3").json()
    second = sim.call("GET", f"{query}&start=3&count=3").json()
    assert [e["createdAt"] for e in first["elements"] + second["elements"]] == [1000, 2000, 3000, 4000]
    assert first["paging"]["total"] == 4 and first["paging"]["links"][0]["rel"] == "next"
    assert second["paging"]["links"] == []
    mail = first["elements"][0]["content"]["com.linkedin.messaging.events.MailContent"]
    assert mail == {"body": {"text": "Hi"}, "subject": "Hello 0"}
    assert sim.call("GET", query.replace("6001", "6002")).status_code == 403


def test_mail_stubs_filter_by_owner_and_created_date(sim: Sim) -> None:
    stubs = [{"firstName": "P", "lastName": str(i), "emailAddress": f"p{i}@example.com", "createdAt": at}
             for i, at in enumerate((100, 200, 300))]
    sim.http.post(f"{sim.url}/_sandbox/mail_stubs", json={"seat": SEAT, "stubs": stubs})
    answer = sim.call("GET", "/v2/mailStubs?q=contract&contract=urn:li:contract:5001&owners=urn:li:seat:6001"
                             "&createdDateStart=100&createdDateEnd=300&start=0&count=10").json()
    assert [s["createdAt"] for s in answer["elements"]] == [100, 200]
    assert answer["elements"][0]["owner"] == SEAT and answer["elements"][0]["emailAddress"] == "p0@example.com"
    assert sim.call("GET", "/v2/mailStubs?q=contract&contract=urn:li:contract:5002").status_code == 403


def test_seats_need_start(sim: Sim) -> None:
    query = "/v2/seatsV2?q=attributes&contracts=urn:li:contract:5001&states=ACTIVE"
    assert sim.call("GET", f"{query}&count=10").status_code == 400
    seats = sim.call("GET", f"{query}&start=0&count=10").json()["elements"]
    assert [(s["id"], s["state"], s["contract"]) for s in seats] == [(SEAT, "ACTIVE", "urn:li:contract:5001")]


def test_daily_budget_answers_429_with_the_throttle_body(sim: Sim) -> None:
    sim.state.daily_budget = 3
    token = sim.token()
    statuses = [sim.call("GET", "/v2/seatsV2?q=attributes&start=0", token).status_code for _ in range(4)]
    throttled = sim.call("GET", "/v2/seatsV2?q=attributes&start=0", token)
    assert statuses == [200, 200, 200, 429]
    assert throttled.json() == json.loads((PAYLOADS / "linkedin_throttle_error.json").read_text())
    assert "retry-after" not in throttled.headers  # LinkedIn documents none
    assert sim.state.inspect()["customers"][0]["requests_today"] == 3
    sim.now[0] += 86_400  # the next UTC day starts a fresh budget
    assert sim.call("GET", "/v2/seatsV2?q=attributes&start=0").status_code == 200


def test_rate_limit_fault_overrides_the_daily_budget(sim: Sim) -> None:
    sim.state.faults.rate_limit = 1
    token = sim.token()
    assert [sim.call("GET", "/v2/seatsV2?q=attributes&start=0", token).status_code for _ in range(2)] == [200, 429]


def test_records_per_minute_throttle_refuses_the_whole_batch(sim: Sim) -> None:
    sim.state.records_per_minute = 3
    body = {"entities": {v1_key(c): candidate() for c in ("A", "B")}}
    first = sim.call("PUT", f"/v2/atsCandidates?{v1_ids('A', 'B')}", restli="batch_update", body=body)
    second = sim.call("PUT", f"/v2/atsCandidates?{v1_ids('A', 'B')}", restli="batch_update", body=body)
    assert (first.status_code, second.status_code) == (200, 429)
    assert second.json()["serviceErrorCode"] == 101


def test_outage_fault_answers_503_and_requests_are_recorded(sim: Sim) -> None:
    token = sim.token()
    sim.http.post(f"{sim.url}/_sandbox/faults", json={"outage": True})
    assert sim.call("GET", "/v2/seatsV2?q=attributes&start=0", token).status_code == 503
    recorded = sim.http.get(f"{sim.url}/_sandbox/requests", params={"path": "/v2/seatsV2"}).json()
    assert [r["status"] for r in recorded["requests"]] == [503]


def test_inspection_reports_customers_usage_and_data(sim: Sim) -> None:
    sim.call("PUT", f"/v2/atsCandidates?{v1_ids('C1')}", restli="batch_update",
             body={"entities": {v1_key("C1"): candidate()}})
    state = sim.http.get(f"{sim.url}/_sandbox/state").json()
    acme = next(c for c in state["customers"] if c["client_id"] == ACME[0])
    assert state["name"] == "linkedin" and state["candidates"] == 1
    assert (acme["requests_today"], acme["records_this_minute"], acme["organization"]) == (1, 1, ORG)
