"""The Greenhouse v3 simulator over real HTTP: tokens, auth, paging, records, limits, faults, webhooks."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations.greenhouse import verify_webhook_signature
from integrations.sandbox import greenhouse_webhooks as hooks
from integrations.sandbox import world
from integrations.sandbox.greenhouse import GreenhouseState, create_app, seed_sandbox
from integrations.sandbox.server import RunningServer, serve_in_thread
from tests.conftest import Switchboard

GH = world.ACME_GREENHOUSE
JOB = int(GH.jobs[0].id)
STAGES = [int(s.id) for s in GH.jobs[0].stages]
PAYLOADS = Path(__file__).parent.parent / "payloads"
FIXED_NOW = 1_790_000_000.0  # a frozen clock keeps the 30-second window from turning over mid-test

Receive = Callable[["Receiver"], str]


class Receiver:
    """A webhook endpoint answering `statuses` in turn (then 200), keeping raw bodies and headers."""

    def __init__(self, statuses: tuple[int, ...] = ()) -> None:
        self.statuses = list(statuses)
        self.raw: list[bytes] = []
        self.headers: list[dict[str, str]] = []

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            self.raw.append(await request.body())
            self.headers.append(dict(request.headers))
            return JSONResponse({}, status_code=self.statuses.pop(0) if self.statuses else 200)

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])

    def actions(self) -> list[str]:
        return [json.loads(raw)["action"] for raw in self.raw]


def loopback_client(base_url: str) -> httpx.Client:
    return httpx.Client(base_url=base_url)


def get_token(client: httpx.Client, sub: str = GH.users[0].id, secret: str = GH.client_secret) -> httpx.Response:
    form = {"grant_type": "client_credentials", "sub": sub}
    return client.post("/token", auth=(GH.client_id, secret), data=form)


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, tuple[Switchboard, RunningServer]]]:
    slots = {"greenhouse": Switchboard(), "receiver": Switchboard()}
    running = {name: serve_in_thread(slot, name) for name, slot in slots.items()}
    yield {name: (slots[name], running[name]) for name in slots}
    for server in running.values():
        server.stop()


@pytest.fixture
def serve_gh(servers: dict[str, tuple[Switchboard, RunningServer]]) -> Callable[[GreenhouseState], str]:
    """Serve a simulator state on the module's server; its URL."""

    def start(state: GreenhouseState) -> str:
        slot, server = servers["greenhouse"]
        slot.app = create_app(state)
        return server.url

    return start


@pytest.fixture
def serve_receiver(servers: dict[str, tuple[Switchboard, RunningServer]]) -> Callable[[Receiver], str]:
    """Serve a webhook receiver on the module's second server; its hook URL."""

    def start(receiver: Receiver) -> str:
        slot, server = servers["receiver"]
        slot.app = receiver.app()
        return f"{server.url}/hook"

    return start


@pytest.fixture
def state() -> GreenhouseState:
    return seed_sandbox(GreenhouseState(seed=7))


@pytest.fixture
def gh(serve_gh: Callable[[GreenhouseState], str], state: GreenhouseState) -> str:
    return serve_gh(state)


@pytest.fixture
def api(gh: str, state: GreenhouseState) -> Iterator[httpx.Client]:
    with loopback_client(gh) as client:
        client.headers["Authorization"] = f"Bearer {get_token(client).json()['access_token']}"
        yield client
    state.webhooks.join(5)  # no delivery of this test outlives it


def new_candidate(api: httpx.Client, first: str = "Sam", email: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"first_name": first, "last_name": "Sample", **extra}
    if email:
        body["email_addresses"] = [{"value": email, "type": "personal"}]
    response = api.post("/v3/candidates", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def hired_receiver(serve_receiver: Callable[[Receiver], str], api: httpx.Client,
                   statuses: tuple[int, ...] = ()) -> Receiver:
    receiver = Receiver(statuses)
    url = serve_receiver(receiver)
    body = {"url": url, "account": GH.client_id, "time_scale": 0.0001, "ping": False}
    assert api.post("/_sandbox/webhooks", json=body).status_code == 201
    return receiver


# --- tokens and auth ---

def test_token_issues_bearer_with_expires_at(gh: str) -> None:
    with loopback_client(gh) as client:
        body = get_token(client).json()
    assert body["token_type"] == "Bearer" and body["access_token"]
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert 3000 < expires.timestamp() - datetime.now().timestamp() <= 3600


@pytest.mark.parametrize(("client_id", "secret"), [("nobody", GH.client_secret), (GH.client_id, "wrong")])
def test_token_unknown_client_is_401_invalid_client(gh: str, client_id: str, secret: str) -> None:
    form = {"grant_type": "client_credentials"}
    response = httpx.post(f"{gh}/token", auth=(client_id, secret), data=form)
    assert (response.status_code, response.json()) == (401, {"error": "invalid_client"})


def test_token_without_grant_type_is_400(gh: str) -> None:
    response = httpx.post(f"{gh}/token", auth=(GH.client_id, GH.client_secret), data={"sub": "91"})
    assert response.status_code == 400 and "grant_type" in response.json()["message"]


def test_token_sub_must_be_a_user_of_the_account(gh: str) -> None:
    with loopback_client(gh) as client:
        assert get_token(client, sub="12345").status_code == 400
        assert get_token(client, sub=GH.users[1].id).status_code == 200


def test_token_reject_credentials_fault_is_401(gh: str, state: GreenhouseState) -> None:
    state.faults.reject_credentials = True
    with loopback_client(gh) as client:
        assert get_token(client).status_code == 401


def test_token_ttl_fault_makes_new_tokens_expire(gh: str, state: GreenhouseState) -> None:
    state.faults.token_ttl_seconds = 0
    with loopback_client(gh) as client:
        token = get_token(client).json()["access_token"]
        response = client.get("/v3/users", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["message"] == "Unauthorized"


def test_expire_all_turns_live_tokens_into_401(api: httpx.Client, state: GreenhouseState) -> None:
    assert api.get("/v3/users").status_code == 200
    state.tokens.expire_all()
    response = api.get("/v3/users")
    assert response.status_code == 401
    assert response.json()["errors"][0].startswith("Token could not be decoded.")


def test_v3_without_bearer_is_401_and_unknown_path_is_404(gh: str) -> None:
    assert httpx.get(f"{gh}/v3/candidates").status_code == 401
    missing = httpx.get(f"{gh}/v3/no_such_thing")
    assert (missing.status_code, missing.json()) == (404, {"message": "Resource not found"})


# --- lists and pagination ---

def test_candidates_paginate_with_cursor_only_links(api: httpx.Client) -> None:
    created = [new_candidate(api, f"N{i}")["candidate"]["id"] for i in range(5)]
    response, seen, pages = api.get("/v3/candidates", params={"per_page": 2}), [], 0
    while True:
        pages += 1
        seen += [c["id"] for c in response.json()]
        if "next" not in response.links:
            break
        next_url = httpx.URL(response.links["next"]["url"])
        assert list(next_url.params.keys()) == ["cursor"]
        response = api.get(str(next_url))
    assert (pages, seen) == (3, created)


def test_list_cursor_with_other_params_is_422(api: httpx.Client) -> None:
    for i in range(3):
        new_candidate(api, f"C{i}")
    next_url = api.get("/v3/candidates", params={"per_page": 1}).links["next"]["url"]
    response = api.get(f"{next_url}&per_page=1")
    assert response.status_code == 422
    assert response.json() == {"message": "Unprocessable Content",
                               "errors": ["When passing a cursor, do not include other query params."]}


@pytest.mark.parametrize("per_page", ["501", "0", "many"])
def test_list_per_page_outside_1_to_500_is_422(api: httpx.Client, per_page: str) -> None:
    response = api.get("/v3/jobs", params={"per_page": per_page})
    assert response.status_code == 422 and "per_page" in response.json()["errors"][0]


def test_list_ids_filter_takes_at_most_50(api: httpx.Client) -> None:
    assert api.get("/v3/candidates", params={"ids": ",".join(map(str, range(1, 52)))}).status_code == 422


def test_candidates_email_lookup_is_exact_and_case_insensitive(api: httpx.Client) -> None:
    wanted = new_candidate(api, "Ann", "ann@example.com")["candidate"]["id"]
    new_candidate(api, "Other", "joann@example.com")
    found = api.get("/v3/candidates", params={"email": "ANN@Example.com"}).json()
    assert [c["id"] for c in found] == [wanted]


def test_candidates_updated_at_filter_uses_the_pipe_syntax(api: httpx.Client) -> None:
    new_candidate(api)
    assert len(api.get("/v3/candidates", params={"updated_at": "gte|2000-01-01T00:00:00Z"}).json()) == 1
    assert api.get("/v3/candidates", params={"updated_at": "gte|2999-01-01T00:00:00Z"}).json() == []
    assert api.get("/v3/candidates", params={"updated_at": "after|2000-01-01"}).status_code == 422


# --- records ---

def test_candidate_create_names_missing_required_fields(api: httpx.Client) -> None:
    response = api.post("/v3/candidates", json={"company": "Acme"})
    assert response.status_code == 422
    assert response.json()["errors"] == [{"first_name": "is required"}, {"last_name": "is required"}]


def test_candidate_create_with_application_starts_at_first_stage(api: httpx.Client) -> None:
    created = new_candidate(api, application={"job_id": JOB, "recruiter_id": 91})
    application = created["application"]
    assert application["job_interview_stage_id"] == STAGES[0] and application["status"] == "in_process"
    listed = api.get("/v3/applications", params={"candidate_ids": created["candidate"]["id"]}).json()
    assert [a["id"] for a in listed] == [application["id"]]


def test_candidate_create_with_unknown_job_creates_nothing(api: httpx.Client, state: GreenhouseState) -> None:
    response = api.post("/v3/candidates", json={"first_name": "A", "last_name": "B", "application": {"job_id": 1}})
    assert response.status_code == 422
    assert state.account().candidates == {}


def test_candidate_patch_replaces_list_fields_whole(api: httpx.Client) -> None:
    candidate = new_candidate(api, email="old@example.com", tags=["a"])["candidate"]
    body = {"email_addresses": [{"value": "new@example.com", "type": "work"}], "is_private": True}
    patched = api.patch(f"/v3/candidates/{candidate['id']}", json=body).json()
    assert patched["email_addresses"] == body["email_addresses"]
    assert (patched["tags"], patched["private"]) == (["a"], True)


def test_applications_status_filter_takes_active_not_in_process(api: httpx.Client) -> None:
    new_candidate(api, application={"job_id": JOB})
    active = api.get("/v3/applications", params={"status": "active"}).json()
    assert [a["status"] for a in active] == ["in_process"]
    assert api.get("/v3/applications", params={"status": "in_process"}).status_code == 422


def test_applications_updated_at_filter_uses_the_pipe_syntax(api: httpx.Client) -> None:
    new_candidate(api, application={"job_id": JOB})
    assert len(api.get("/v3/applications", params={"updated_at": "gte|2000-01-01T00:00:00Z"}).json()) == 1
    assert api.get("/v3/applications", params={"updated_at": "gte|2999-01-01T00:00:00Z"}).json() == []
    assert api.get("/v3/applications", params={"updated_at": "since|2000"}).status_code == 422


def test_application_move_with_stale_from_stage_is_422(api: httpx.Client) -> None:
    application = new_candidate(api, application={"job_id": JOB})["application"]
    path = f"/v3/applications/{application['id']}/move"
    assert api.post(path, json={"from_stage_id": STAGES[0], "to_stage_id": STAGES[2]}).status_code == 204
    stale = api.post(path, json={"from_stage_id": STAGES[0], "to_stage_id": STAGES[3]})
    assert stale.status_code == 422 and "from_stage_id" in stale.json()["errors"][0]
    assert api.post(path, json={"to_stage_id": STAGES[3]}).status_code == 422
    current = api.get("/v3/applications", params={"ids": application["id"]}).json()[0]
    assert (current["job_interview_stage_id"], current["stage_name"]) == (STAGES[2], "Phone Screen")


def test_application_move_without_target_advances_one_stage(api: httpx.Client) -> None:
    application = new_candidate(api, application={"job_id": JOB})["application"]
    response = api.post(f"/v3/applications/{application['id']}/move", json={"from_stage_id": STAGES[0]})
    assert response.status_code == 204
    current = api.get("/v3/applications", params={"ids": application["id"]}).json()[0]
    assert current["job_interview_stage_id"] == STAGES[1]


def test_application_move_to_another_jobs_stage_is_422(api: httpx.Client) -> None:
    application = new_candidate(api, application={"job_id": JOB})["application"]
    other_job_stage = int(GH.jobs[1].stages[1].id)
    body = {"from_stage_id": STAGES[0], "to_stage_id": other_job_stage}
    assert api.post(f"/v3/applications/{application['id']}/move", json=body).status_code == 422


def test_notes_written_private_are_read_privately_visible_with_type(api: httpx.Client) -> None:
    candidate_id = new_candidate(api)["candidate"]["id"]
    note = {"candidate_id": candidate_id, "body": "Screened", "visibility": "private"}
    assert api.post("/v3/notes", json=note).status_code == 201
    listed = api.get("/v3/notes", params={"candidate_ids": candidate_id}).json()
    assert [(n["visibility"], n["type"], n["user_id"]) for n in listed] == [("privately_visible", "NOTE", 91)]


def test_notes_need_candidate_and_body_and_a_known_visibility(api: httpx.Client) -> None:
    response = api.post("/v3/notes", json={"visibility": "privately_visible"})
    assert response.status_code == 422
    fields = {key for error in response.json()["errors"] for key in error}
    assert fields == {"candidate_id", "body", "visibility"}


def test_merge_keeps_the_path_candidate_and_moves_applications(api: httpx.Client) -> None:
    primary = new_candidate(api, "Keep", "keep@example.com")["candidate"]["id"]
    duplicate = new_candidate(api, "Drop", "drop@example.com", application={"job_id": JOB})["candidate"]["id"]
    merged = api.post(f"/v3/candidates/{primary}/merge", json={"duplicate_candidate_id": duplicate})
    assert merged.status_code == 200
    assert {e["value"] for e in merged.json()["email_addresses"]} == {"keep@example.com", "drop@example.com"}
    assert api.get("/v3/candidates", params={"ids": duplicate}).json() == []
    assert len(api.get("/v3/applications", params={"candidate_ids": primary}).json()) == 1


# --- rate limits and faults ---

def test_rate_limit_headers_on_every_response_errors_included(api: httpx.Client) -> None:
    ok, bad = api.get("/v3/users"), api.get("/v3/users", params={"per_page": 0})
    assert int(ok.headers["X-RateLimit-Limit"]) == 50
    assert int(bad.headers["X-RateLimit-Remaining"]) == int(ok.headers["X-RateLimit-Remaining"]) - 1
    assert "X-RateLimit-Reset" in bad.headers


def test_rate_limit_small_limit_answers_429_with_retry_after(serve_gh: Callable[[GreenhouseState], str]) -> None:
    state = seed_sandbox(GreenhouseState(rate_limit=2, clock=lambda: FIXED_NOW))
    with loopback_client(serve_gh(state)) as client:
        client.headers["Authorization"] = f"Bearer {get_token(client).json()['access_token']}"
        statuses = [client.get("/v3/jobs").status_code for _ in range(2)]
        limited = client.get("/v3/jobs")
    assert statuses == [200, 200] and limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1 and limited.headers["X-RateLimit-Remaining"] == "0"


def test_faults_rate_limit_knob_overrides_the_limit(api: httpx.Client, state: GreenhouseState) -> None:
    state.faults.rate_limit = 1000
    assert api.get("/v3/users").headers["X-RateLimit-Limit"] == "1000"


def test_outage_answers_503_in_the_vendor_envelope(api: httpx.Client, state: GreenhouseState) -> None:
    state.faults.outage = True
    response = api.get("/v3/candidates")
    assert response.status_code == 503 and response.json()["message"] == "Service Unavailable"


def test_error_rate_fault_injects_the_configured_status(api: httpx.Client, state: GreenhouseState) -> None:
    state.faults.update({"error_rate": 1.0, "error_status": 500})
    assert api.get("/v3/jobs").status_code == 500
    state.faults.update({"error_rate": 0.0, "rate_limited_rate": 1.0})
    limited = api.get("/v3/jobs")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"


# --- webhooks ---

def test_webhook_is_signed_escaped_and_verifiable(serve_receiver: Receive, api: httpx.Client,
                                                  state: GreenhouseState) -> None:
    receiver = hired_receiver(serve_receiver, api)
    new_candidate(api, title="<b>Lead</b> & co", application={"job_id": JOB})
    assert state.webhooks.join(5)
    raw, headers = receiver.raw[0], receiver.headers[0]
    assert b"\\u003cb\\u003eLead\\u003c/b\\u003e \\u0026 co" in raw
    assert verify_webhook_signature(GH.webhook_secret, raw, headers["signature"])
    assert not verify_webhook_signature("other-secret", raw, headers["signature"])
    assert headers["greenhouse-event-id"] and json.loads(raw)["action"] == "new_candidate_application"


def test_webhook_move_emits_stage_change_with_the_new_stage(serve_receiver: Receive, api: httpx.Client,
                                                            state: GreenhouseState) -> None:
    receiver = hired_receiver(serve_receiver, api)
    application = new_candidate(api, application={"job_id": JOB})["application"]
    api.post(f"/v3/applications/{application['id']}/move", json={"from_stage_id": STAGES[0]})
    assert state.webhooks.join(5)
    stage_changes = [json.loads(r) for r in receiver.raw if json.loads(r)["action"] == "candidate_stage_change"]
    current = stage_changes[0]["payload"]["application"]
    assert (current["status"], current["current_stage"]["id"]) == ("active", STAGES[1])


def test_webhook_retries_until_the_receiver_accepts(serve_receiver: Receive, api: httpx.Client,
                                                    state: GreenhouseState) -> None:
    receiver = hired_receiver(serve_receiver, api, statuses=(500, 503))
    new_candidate(api, application={"job_id": JOB})
    assert state.webhooks.join(5)
    assert len(receiver.raw) == 3 and len({h["greenhouse-event-id"] for h in receiver.headers}) == 1
    assert [(d.outcomes, d.delivered) for d in state.webhooks.deliveries] == [(["500", "503", "200"], True)]


def test_deliver_gives_up_after_seven_attempts_on_the_vendor_schedule(serve_receiver: Receive) -> None:
    receiver, delays = Receiver(statuses=(500,) * 10), []
    url = serve_receiver(receiver)
    delivery = hooks.deliver(url, "s", hooks.ping_event(url), sleep=delays.append, rng=random.Random(1))
    assert (len(receiver.raw), delivery.delivered) == (7, False)
    for retry, (minutes, delay) in enumerate(zip(hooks.RETRY_DELAYS_MINUTES, delays, strict=True), start=1):
        assert minutes * 60 <= delay < minutes * 60 + 30 * retry


def test_deliver_counts_a_refused_connection_as_a_failed_attempt() -> None:
    delivery = hooks.deliver("http://127.0.0.1:9/hook", "s", hooks.ping_event("x"), sleep=lambda s: None)
    assert delivery.outcomes == ["error"] * hooks.MAX_ATTEMPTS


@pytest.mark.parametrize("action", hooks.APPLICATION_ACTIONS)
def test_webhook_application_payloads_carry_the_documented_keys(api: httpx.Client, state: GreenhouseState,
                                                                action: str) -> None:
    application = new_candidate(api, application={"job_id": JOB, "source_id": 31})["application"]
    ours = hooks.application_event(state.account(), action, application)["payload"]["application"]
    documented = json.loads((PAYLOADS / f"greenhouse_webhook_{action}.json").read_text())["payload"]["application"]
    assert set(documented) <= set(ours)
    assert set(documented["candidate"]) <= set(ours["candidate"])
    assert set(documented["jobs"][0]) <= set(ours["jobs"][0])


@pytest.mark.parametrize(("action", "extra"), [("merge_candidate", {"new_candidate_id": 1}),
                                               ("delete_candidate", {"deleted_application_ids": []})])
def test_webhook_person_payloads_carry_the_documented_keys(api: httpx.Client, state: GreenhouseState,
                                                           action: str, extra: dict[str, Any]) -> None:
    candidate = new_candidate(api)["candidate"]
    ours = hooks.person_event(state.account(), action, candidate, **extra)["payload"]["person"]
    documented = json.loads((PAYLOADS / f"greenhouse_webhook_{action}.json").read_text())["payload"]["person"]
    assert list(ours) == list(documented)


def test_webhook_registration_with_failing_ping_is_disabled(serve_receiver: Receive, api: httpx.Client) -> None:
    receiver = Receiver(statuses=(500,))
    url = serve_receiver(receiver)
    registered = api.post("/_sandbox/webhooks", json={"url": url, "account": GH.client_id}).json()
    assert registered["enabled"] is False and receiver.actions() == ["ping"]
    assert api.post("/_sandbox/emit", json={"action": "ping"}).status_code == 409


def test_emit_hire_marks_the_application_hired_and_fires(serve_receiver: Receive, api: httpx.Client,
                                                         state: GreenhouseState) -> None:
    receiver = hired_receiver(serve_receiver, api)
    application = new_candidate(api, application={"job_id": JOB})["application"]
    fired = api.post("/_sandbox/emit", json={"action": "hire_candidate", "application_id": application["id"]})
    assert fired.status_code == 202 and fired.json()["event_id"]
    assert state.webhooks.join(5)
    # deliveries run concurrently, as Greenhouse's may: their order is not part of the contract
    assert sorted(receiver.actions()) == ["hire_candidate", "new_candidate_application"]
    assert api.get("/v3/applications", params={"status": "hired"}).json()[0]["id"] == application["id"]


def test_emit_rejects_unknown_actions(serve_receiver: Receive, api: httpx.Client) -> None:
    hired_receiver(serve_receiver, api)
    assert api.post("/_sandbox/emit", json={"action": "job_created"}).status_code == 422


# --- inspection ---

def test_inspection_reports_counts_records_and_requests(api: httpx.Client) -> None:
    candidate_id = new_candidate(api, application={"job_id": JOB})["candidate"]["id"]
    account = api.get("/_sandbox/state").json()["accounts"][GH.client_id]
    assert account["counts"]["candidates"] == 1 and account["counts"]["applications"] == 1
    assert account["candidates"][0]["id"] == candidate_id
    recorded = api.get("/_sandbox/requests", params={"path": "/v3/candidates"}).json()["requests"]
    assert [(r["method"], r["status"]) for r in recorded] == [("POST", 201)]
    tokens = api.get("/_sandbox/requests", params={"path": "/token"}).json()["requests"]
    assert tokens[0]["body"]["grant_type"] == "client_credentials"
