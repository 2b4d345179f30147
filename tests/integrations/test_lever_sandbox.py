"""The Lever simulator over real HTTP: auth, pagination, filters, dedupe, stages, notes, limits, webhooks."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations.lever import verify_webhook_signature
from integrations.sandbox import world
from integrations.sandbox.lever import LeverState, create_app, seed_sandbox
from integrations.sandbox.server import RunningServer

NW = world.NORTHWIND_LEVER
GX = world.GLOBEX_LEVER
PERFORM_AS = NW.users[0].id
PAYLOADS = Path(__file__).parent.parent / "payloads"

Serve = Callable[..., RunningServer]


class Receiver:
    """A webhook endpoint that answers `statuses` in turn (then 200) and keeps what it was sent."""

    def __init__(self, statuses: tuple[int, ...] = ()) -> None:
        self.statuses = list(statuses)
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            self.bodies.append(await request.json())
            self.headers.append(dict(request.headers))
            return JSONResponse({}, status_code=self.statuses.pop(0) if self.statuses else 200)

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


@pytest.fixture
def state() -> LeverState:
    return seed_sandbox(LeverState(seed=7, time_scale=0.0001))


@pytest.fixture
def lever(serve: Serve, state: LeverState) -> RunningServer:
    return serve(create_app(state), "lever")


@pytest.fixture
def api(lever: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{lever.url}/v1", auth=(NW.api_key, "")) as client:
        yield client


def _create(api: httpx.Client, **body: Any) -> dict[str, Any]:
    response = api.post("/opportunities", params={"perform_as": PERFORM_AS}, json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def test_lever_sim_rejects_missing_bad_and_refused_credentials(lever: RunningServer, state: LeverState) -> None:
    assert httpx.get(f"{lever.url}/v1/users").status_code == 401
    bad = httpx.get(f"{lever.url}/v1/users", auth=("not-a-key", ""))
    assert bad.status_code == 401
    assert bad.json()["code"] == "Unauthorized"
    state.faults.reject_credentials = True
    assert httpx.get(f"{lever.url}/v1/users", auth=(NW.api_key, "")).status_code == 401


def test_lever_sim_paginates_with_opaque_next(api: httpx.Client) -> None:
    created = [_create(api, name=f"Person {i}", emails=[f"p{i}@example.com"])["data"]["id"] for i in range(5)]
    seen, params, pages = [], {"limit": 2}, 0
    while True:
        page = api.get("/opportunities", params=params).json()
        pages += 1
        seen += [o["id"] for o in page["data"]]
        if not page["hasNext"]:
            assert "next" not in page
            break
        params = {"limit": 2, "offset": page["next"]}
    assert (seen, pages) == (created, 3)


def test_lever_sim_rejects_bad_limit_and_offset(api: httpx.Client) -> None:
    for params in ({"limit": 0}, {"limit": 101}, {"offset": "not-from-next"}):
        response = api.get("/opportunities", params=params)
        assert response.status_code == 400, params


def test_lever_sim_filters_opportunities(api: httpx.Client) -> None:
    first = _create(api, name="Ana", emails=["ana@example.com"], postings=["post-nw-sre"])["data"]
    second = _create(api, name="Ben", emails=["ben@example.com"], stage="stage-nw-phone")["data"]
    api.put(f"/opportunities/{second['id']}/archived", json={"reason": "reason-withdrew"})

    def ids(**params: Any) -> list[str]:
        return [o["id"] for o in api.get("/opportunities", params=params).json()["data"]]

    assert ids(email="ANA@example.com") == [first["id"]]
    assert ids(contact_id=second["contact"]) == [second["id"]]
    assert ids(posting_id="post-nw-sre") == [first["id"]]
    assert ids(stage_id="stage-nw-phone") == [second["id"]]
    assert ids(archived="true") == [second["id"]]
    assert ids(archived="false") == [first["id"]]
    assert ids(created_at_start=second["createdAt"] + 10_000_000) == []


def test_lever_sim_create_requires_perform_as(api: httpx.Client) -> None:
    missing = api.post("/opportunities", json={"name": "No Actor"})
    assert missing.status_code == 400
    assert set(missing.json()) == {"code", "message"}
    assert api.post("/opportunities", params={"perform_as": "user-unknown"}, json={"name": "X"}).status_code == 400


def test_lever_sim_opportunity_has_the_documented_shape(api: httpx.Client) -> None:
    created = _create(api, name="Cy", emails=["cy@example.com"], phones=[{"type": "mobile", "value": "+1 555"}])
    fetched = api.get(f"/opportunities/{created['data']['id']}").json()
    documented = json.loads((PAYLOADS / "lever_opportunity.json").read_text())
    assert set(documented["data"]) <= set(fetched["data"])
    assert set(documented["data"]["stageChanges"][0]) <= set(fetched["data"]["stageChanges"][0])
    assert fetched["data"]["phones"] == [{"type": "mobile", "value": "+1 555"}]


def test_lever_sim_create_dedupes_email_onto_existing_contact(api: httpx.Client, state: LeverState) -> None:
    first = _create(api, name="Dee Original", emails=["dee@example.com"])
    again = _create(api, name="Dee Renamed", emails=["DEE@example.com", "dee@work.example"],
                    postings=["post-nw-sre"])
    assert (first["deduped"], again["deduped"]) == (False, True)
    assert again["data"]["contact"] == first["data"]["contact"]
    assert again["data"]["id"] != first["data"]["id"]
    assert again["data"]["name"] == "Dee Original"  # the existing contact's data wins
    assert again["data"]["emails"] == ["dee@example.com", "dee@work.example"]
    assert state.inspect()["accounts"]["northwind"]["contacts"] == 1


def test_lever_sim_create_links_a_given_contact(api: httpx.Client) -> None:
    first = _create(api, name="Eve", emails=["eve@example.com"])
    linked = _create(api, name="Eve", contact=first["data"]["contact"])
    assert (linked["deduped"], linked["data"]["contact"]) == (True, first["data"]["contact"])
    unknown = api.post("/opportunities", params={"perform_as": PERFORM_AS}, json={"contact": "nope"})
    assert unknown.status_code == 404


def test_lever_sim_create_allows_at_most_one_posting(api: httpx.Client) -> None:
    body = {"name": "Fay", "postings": ["post-nw-sre", "post-nw-platform"]}
    assert api.post("/opportunities", params={"perform_as": PERFORM_AS}, json=body).status_code == 400


def test_lever_sim_changes_stage_and_rejects_unknown_stage(api: httpx.Client) -> None:
    opp = _create(api, name="Gil", emails=["gil@example.com"])["data"]
    moved = api.put(f"/opportunities/{opp['id']}/stage", json={"stage": "stage-nw-onsite"})
    assert moved.status_code == 200
    assert moved.json()["data"]["stage"] == "stage-nw-onsite"
    assert [c["toStageId"] for c in moved.json()["data"]["stageChanges"]] == ["stage-nw-new", "stage-nw-onsite"]
    unknown = api.put(f"/opportunities/{opp['id']}/stage", json={"stage": "stage-gx-panel"})
    assert unknown.status_code == 404
    assert unknown.json() == {"code": "ResourceNotFound", "message": "stages stage-gx-panel was not found"}
    assert api.put("/opportunities/missing/stage", json={"stage": "stage-nw-offer"}).status_code == 404


def test_lever_sim_adds_note_with_201(api: httpx.Client) -> None:
    opp = _create(api, name="Hal", emails=["hal@example.com"])["data"]
    added = api.post(f"/opportunities/{opp['id']}/notes", params={"perform_as": PERFORM_AS},
                     json={"value": "Synced from LinkedIn"})
    assert added.status_code == 201
    note_id = added.json()["data"]["noteId"]
    notes = api.get(f"/opportunities/{opp['id']}/notes").json()["data"]
    assert [(n["id"], n["fields"][0]["value"], n["user"]) for n in notes] == [
        (note_id, "Synced from LinkedIn", PERFORM_AS)]
    assert api.post(f"/opportunities/{opp['id']}/notes", json={"secret": True}).status_code == 400


def test_lever_sim_add_and_remove_links_change_the_contact_everywhere(api: httpx.Client,
                                                                       state: LeverState) -> None:
    first = _create(api, name="Jo", emails=["jo@example.com"], links=["https://jo.example"])["data"]
    second = _create(api, name="Jo", emails=["jo@example.com"], postings=["post-nw-sre"])["data"]
    state.clock = lambda: 4_000_000_000.0
    added = api.post(f"/opportunities/{second['id']}/addLinks", params={"perform_as": PERFORM_AS},
                     json={"links": ["linkedin.com/in/jo", "https://jo.example"]})
    assert added.status_code == 200
    fetched = api.get(f"/opportunities/{first['id']}").json()["data"]
    assert fetched["links"] == ["https://jo.example", "linkedin.com/in/jo"]
    assert fetched["updatedAt"] == 4_000_000_000_000  # contact data changed: every opportunity is updated
    api.post(f"/opportunities/{first['id']}/removeLinks", json={"links": ["https://jo.example"]})
    assert api.get(f"/opportunities/{second['id']}").json()["data"]["links"] == ["linkedin.com/in/jo"]
    assert api.post(f"/opportunities/{first['id']}/addLinks", json={"links": "x"}).status_code == 400
    assert api.post("/opportunities/missing/addLinks", json={"links": []}).status_code == 404


def test_lever_sim_reads_and_replaces_a_contact(api: httpx.Client) -> None:
    opp = _create(api, name="Kit", emails=["kit@example.com"], phones=[{"type": "mobile", "value": "+1 555"}],
                  location="Oakland")["data"]
    contact = api.get(f"/contacts/{opp['contact']}").json()["data"]
    assert (contact["id"], contact["name"], contact["location"]) == (opp["contact"], "Kit", {"name": "Oakland"})
    body = {**contact, "emails": ["kit@example.com", "kit@work.example"]}
    del body["id"]
    assert api.put(f"/contacts/{opp['contact']}", json=body).json()["data"]["emails"] == body["emails"]
    fetched = api.get(f"/opportunities/{opp['id']}").json()["data"]
    assert (fetched["emails"], fetched["phones"]) == (body["emails"], [{"type": "mobile", "value": "+1 555"}])
    assert api.put(f"/contacts/{opp['contact']}", json={"emails": "x"}).status_code == 400
    assert api.get("/contacts/missing").status_code == 404


def test_lever_sim_expands_applications_with_their_posting(api: httpx.Client) -> None:
    opp = _create(api, name="Lu", emails=["lu@example.com"], postings=["post-nw-sre"])["data"]
    plain = api.get(f"/opportunities/{opp['id']}").json()["data"]["applications"]
    expanded = api.get("/opportunities", params={"expand": "applications"}).json()["data"][0]["applications"]
    assert plain == [expanded[0]["id"]]
    assert (expanded[0]["posting"], expanded[0]["opportunityId"]) == ("post-nw-sre", opp["id"])


def test_lever_sim_lists_stages_postings_users(api: httpx.Client) -> None:
    stages = api.get("/stages").json()
    documented = json.loads((PAYLOADS / "lever_stages.json").read_text())
    assert set(stages) == set(documented)
    assert [s["id"] for s in stages["data"]] == [s.id for s in NW.stages]
    assert [p["id"] for p in api.get("/postings").json()["data"]] == [p.id for p in NW.postings]
    assert [u["id"] for u in api.get("/users").json()["data"]] == [PERFORM_AS]


def test_lever_sim_keeps_accounts_apart(api: httpx.Client, lever: RunningServer) -> None:
    opp = _create(api, name="Ida", emails=["ida@example.com"])["data"]
    other = httpx.get(f"{lever.url}/v1/opportunities/{opp['id']}", auth=(GX.api_key, ""))
    assert other.status_code == 404


def test_lever_sim_answers_429_without_retry_after(serve: Serve) -> None:
    state = seed_sandbox(LeverState(burst=2))
    state.faults.rate_limit = 0  # no refill: the third request in a row is over the limit
    server = serve(create_app(state), "lever")
    statuses = [httpx.get(f"{server.url}/v1/stages", auth=(NW.api_key, "")) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    limited = statuses[-1]
    assert "retry-after" not in limited.headers
    assert not [h for h in limited.headers if "ratelimit" in h.lower()]
    assert limited.json()["code"] == "TooManyRequests"
    assert httpx.get(f"{server.url}/v1/stages", auth=(GX.api_key, "")).status_code == 200  # per key


def test_lever_sim_outage_fault_answers_503(api: httpx.Client, lever: RunningServer) -> None:
    assert httpx.post(f"{lever.url}/_sandbox/faults", json={"outage": True}).status_code == 200
    down = api.get("/users")
    assert down.status_code == 503
    assert set(down.json()) == {"code", "message"}


def test_lever_sim_webhook_signature_verifies_with_client(serve: Serve, lever: RunningServer,
                                                         state: LeverState, api: httpx.Client) -> None:
    receiver = Receiver()
    hook = serve(receiver.app(), "receiver")
    httpx.post(f"{lever.url}/_sandbox/webhooks", json={"url": f"{hook.url}/hook", "api_key": NW.api_key})
    opp = _create(api, name="Jo", emails=["jo@example.com"])["data"]
    api.put(f"/opportunities/{opp['id']}/stage", json={"stage": "stage-nw-phone"})
    assert state.webhooks.join(5.0)
    created, moved = sorted(receiver.bodies, key=lambda b: b["event"])
    assert (created["event"], moved["event"]) == ("applicationCreated", "candidateStageChange")
    assert moved["data"] == {"opportunityId": opp["id"], "candidateId": opp["id"], "contactId": opp["contact"],
                             "toStageId": "stage-nw-phone", "fromStageId": "stage-nw-new"}
    assert len(moved["token"]) == 48
    assert verify_webhook_signature(NW.webhook_signature_token, moved)
    assert not verify_webhook_signature(GX.webhook_signature_token, moved)
    assert {h["user-agent"] for h in receiver.headers} == {"Lever-Webhooks"}


def test_lever_sim_webhook_retries_until_acked(serve: Serve, lever: RunningServer, state: LeverState) -> None:
    receiver = Receiver(statuses=(500, 302))  # 3xx counts as a failure too
    hook = serve(receiver.app(), "receiver")
    ping = {"api_key": NW.api_key, "event": "candidateHired", "data": {}, "url": f"{hook.url}/hook"}
    sent = httpx.post(f"{lever.url}/_sandbox/emit", json=ping).json()["envelope"]
    assert state.webhooks.join(5.0)
    assert [d["attempts"] for d in state.webhooks.summary()] == [[500, 302, 200]]
    assert receiver.bodies == [sent, sent, sent]


def test_lever_sim_webhook_gives_up_after_five_retries(serve: Serve, lever: RunningServer,
                                                       state: LeverState) -> None:
    receiver = Receiver(statuses=(503,) * 10)
    hook = serve(receiver.app(), "receiver")
    ping = {"api_key": NW.api_key, "event": "candidateDeleted", "data": {}, "url": f"{hook.url}/hook"}
    httpx.post(f"{lever.url}/_sandbox/emit", json=ping)
    assert state.webhooks.join(5.0)
    (delivery,) = state.webhooks.summary()
    assert (delivery["attempts"], delivery["delivered"]) == ([503] * 6, False)


def test_lever_sim_emit_rejects_unknown_event_and_key(lever: RunningServer) -> None:
    unknown_event = {"api_key": NW.api_key, "event": "x"}
    assert httpx.post(f"{lever.url}/_sandbox/emit", json=unknown_event).status_code == 400
    unknown_key = {"api_key": "nope", "url": "http://x"}
    assert httpx.post(f"{lever.url}/_sandbox/webhooks", json=unknown_key).status_code == 400


def test_lever_sim_inspection_shows_accounts_and_requests(api: httpx.Client, lever: RunningServer) -> None:
    opp = _create(api, name="Kim", emails=["kim@example.com"])["data"]
    api.get("/opportunities/missing")
    inspected = httpx.get(f"{lever.url}/_sandbox/state").json()
    assert set(inspected["accounts"]) == {"northwind", "globex"}
    assert [o["id"] for o in inspected["accounts"]["northwind"]["opportunities"]] == [opp["id"]]
    recorded = httpx.get(f"{lever.url}/_sandbox/requests", params={"path": "/v1/opportunities"}).json()
    assert [(r["method"], r["status"]) for r in recorded["requests"]] == [("POST", 201), ("GET", 404)]
    assert recorded["requests"][0]["query"] == f"perform_as={PERFORM_AS}"
