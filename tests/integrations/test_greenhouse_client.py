"""GreenhouseClient against the simulator over loopback, and against httpx.MockTransport for edge cases."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from integrations.errors import AuthFailed, RateLimited, Rejected, Unavailable
from integrations.greenhouse import (
    Application,
    Candidate,
    GreenhouseClient,
    UnexpectedResponse,
    token_expiry,
    verify_webhook_signature,
)
from integrations.sandbox import world
from integrations.sandbox.greenhouse import GreenhouseState, create_app, seed_sandbox
from integrations.sandbox.greenhouse_webhooks import encode, sign
from integrations.sandbox.server import RunningServer, serve_in_thread
from tests.conftest import Switchboard

GH = world.ACME_GREENHOUSE
USER = int(GH.users[0].id)
JOB = int(GH.jobs[0].id)
STAGES = [int(s.id) for s in GH.jobs[0].stages]
PAYLOADS = Path(__file__).parent.parent / "payloads"
FIXED_NOW = 1_790_000_000.0

Handler = Callable[[httpx.Request], httpx.Response]


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Switchboard, RunningServer]]:
    slot = Switchboard()
    running = serve_in_thread(slot, "greenhouse")
    yield slot, running
    running.stop()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


@pytest.fixture
def serve_state(server: tuple[Switchboard, RunningServer]) -> Callable[[GreenhouseState], str]:
    def start(state: GreenhouseState) -> str:
        server[0].app = create_app(state)
        return server[1].url

    return start


@pytest.fixture
def state() -> GreenhouseState:
    return seed_sandbox(GreenhouseState(seed=3))


@pytest.fixture
def url(serve_state: Callable[[GreenhouseState], str], state: GreenhouseState) -> str:
    return serve_state(state)


def connect(http: httpx.Client, url: str, *, secret: str = GH.client_secret,
            clock: Callable[[], float] = time.time) -> GreenhouseClient:
    return GreenhouseClient(http, api_url=url, auth_url=url, client_id=GH.client_id, client_secret=secret,
                            user_id=USER, clock=clock)


@pytest.fixture
def client(http: httpx.Client, url: str) -> GreenhouseClient:
    return connect(http, url)


@pytest.fixture
def mocked() -> Iterator[Callable[[Handler], GreenhouseClient]]:
    """A client over httpx.MockTransport: the token endpoint answers; `handler` answers the API."""
    opened: list[httpx.Client] = []

    def make(handler: Handler) -> GreenhouseClient:
        def route(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/token":
                return httpx.Response(200, json={"access_token": "t", "token_type": "Bearer", "expires_in": 3600})
            return handler(request)

        opened.append(httpx.Client(transport=httpx.MockTransport(route)))
        return GreenhouseClient(opened[-1], api_url="https://harvest.test", auth_url="https://auth.test",
                                client_id="cid", client_secret="secret", user_id=USER)

    yield make
    for http in opened:
        http.close()


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())


# --- reads and writes against the simulator ---

def test_client_reads_users_jobs_and_ordered_stages(client: GreenhouseClient) -> None:
    assert {u.id for u in client.list_users()} == {int(u.id) for u in GH.users}
    assert [j.id for j in client.list_jobs()] == [int(j.id) for j in GH.jobs]
    assert [s.id for s in client.list_job_stages(JOB)] == STAGES


def test_client_creates_a_candidate_with_application_and_finds_it(client: GreenhouseClient) -> None:
    created = client.create_candidate(first_name="Sam", last_name="Sample", job_id=JOB, emails=["Sam@Example.com"])
    assert created.application is not None and created.application.job_interview_stage_id == STAGES[0]
    assert [c.id for c in client.find_candidates_by_email("sam@example.com")] == [created.candidate.id]
    assert client.get_candidate(created.candidate.id) == created.candidate
    assert client.get_candidate(1) is None


def test_client_adds_a_private_note_and_moves_the_application(client: GreenhouseClient) -> None:
    created = client.create_candidate(first_name="Sam", last_name="Sample", job_id=JOB)
    assert created.application is not None
    note = client.add_note(created.candidate.id, "Screened", application_id=created.application.id)
    assert (note.visibility, note.note_type, note.user_id) == ("privately_visible", "NOTE", USER)
    client.move_application(created.application.id, STAGES[0], STAGES[2])
    assert client.list_applications(created.candidate.id)[0].job_interview_stage_id == STAGES[2]


def test_client_stale_move_is_rejected_with_the_vendor_message(client: GreenhouseClient) -> None:
    created = client.create_candidate(first_name="Sam", last_name="Sample", job_id=JOB)
    assert created.application is not None
    with pytest.raises(Rejected) as caught:
        client.move_application(created.application.id, STAGES[1], STAGES[2])
    assert caught.value.status == 422 and "from_stage_id" in str(caught.value)


def test_client_paginates_over_three_pages_following_cursors_verbatim(client: GreenhouseClient,
                                                                      state: GreenhouseState) -> None:
    account = state.account()
    for i in range(1001):
        account.create_candidate({"first_name": f"N{i}", "last_name": "Same",
                                  "email_addresses": [{"value": "same@example.com", "type": "work"}]})
    assert len(client.find_candidates_by_email("same@example.com")) == 1001
    queries = [r.query for r in state.recorder.items() if r.path == "/v3/candidates"]
    assert len(queries) == 3 and "per_page=500" in queries[0]
    assert all(q.startswith("cursor=") and "&" not in q for q in queries[1:])


# --- tokens ---

def test_client_refreshes_the_token_60_seconds_before_expiry(http: httpx.Client, url: str,
                                                             state: GreenhouseState) -> None:
    clock = Clock(time.time())
    client = connect(http, url, clock=clock)
    client.ping()
    clock.now += 3500
    client.ping()
    assert state.tokens.issued == 1
    clock.now += 45  # within the last minute of the hour
    client.ping()
    assert state.tokens.issued == 2


@pytest.mark.parametrize(("body", "expected"), [
    ({"expires_in": 100}, 1100.0),
    ({"expires_at": "1970-01-01T00:30:00Z"}, 1800.0),
    ({"expires_at": "1970-01-01T00:30:00"}, 1800.0),
    ({"expires": 1_900_000_000}, 1_900_000_000.0),
    ({"expires": 120}, 1120.0),
    ({"expires_at": "soon"}, 4600.0),
    ({}, 4600.0),
])
def test_token_expiry_accepts_each_field_and_falls_back_to_an_hour(body: dict[str, Any], expected: float) -> None:
    assert token_expiry(body, now=1000.0) == expected


def test_client_401_drops_the_token_and_retries_once(client: GreenhouseClient, state: GreenhouseState) -> None:
    client.ping()
    state.tokens.expire_all()
    assert client.list_jobs()
    assert state.tokens.issued == 2


def test_client_persistent_401_raises_auth_failed(mocked: Callable[[Handler], GreenhouseClient]) -> None:
    calls: list[str] = []

    def unauthorized(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(401, json={"message": "Unauthorized", "errors": ["Token could not be decoded."]})

    with pytest.raises(AuthFailed):
        mocked(unauthorized).list_users()
    assert calls == ["/v3/users", "/v3/users"]


def test_client_bad_credentials_raise_auth_failed(http: httpx.Client, url: str) -> None:
    with pytest.raises(AuthFailed) as caught:
        connect(http, url, secret="wrong").ping()
    assert not caught.value.retryable and GH.client_id not in str(caught.value)


# --- errors and limits ---

def test_client_429_raises_rate_limited_with_retry_after(http: httpx.Client,
                                                         serve_state: Callable[[GreenhouseState], str]) -> None:
    clock = Clock(FIXED_NOW)  # frozen, so the 30-second window cannot turn over mid-test
    client = connect(http, serve_state(seed_sandbox(GreenhouseState(rate_limit=1, clock=clock))), clock=clock)
    client.ping()
    with pytest.raises(RateLimited) as caught:
        client.list_jobs()
    assert caught.value.retry_after is not None and caught.value.retry_after >= 1
    assert (client.rate_limit.limit, client.rate_limit.remaining) == (1, 0)


def test_client_keeps_the_last_rate_limit_headers(client: GreenhouseClient) -> None:
    client.ping()
    assert (client.rate_limit.limit, client.rate_limit.remaining) == (50, 49)
    assert client.rate_limit.reset is not None


def test_client_outage_raises_unavailable(client: GreenhouseClient, state: GreenhouseState) -> None:
    state.faults.outage = True
    with pytest.raises(Unavailable):
        client.ping()


def test_client_refused_connection_raises_unavailable(http: httpx.Client) -> None:
    with pytest.raises(Unavailable):
        connect(http, "http://127.0.0.1:9").list_jobs()


def test_client_timeout_raises_unavailable(mocked: Callable[[Handler], GreenhouseClient]) -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(Unavailable, match="timed out"):
        mocked(hang).list_jobs()


@pytest.mark.parametrize(("status", "error"), [(400, Rejected), (403, Rejected), (404, Rejected),
                                               (422, Rejected), (429, RateLimited), (500, Unavailable),
                                               (503, Unavailable)])
def test_client_translates_statuses_at_one_edge(mocked: Callable[[Handler], GreenhouseClient], status: int,
                                                error: type[Exception]) -> None:
    body = {"message": "Vendor says no", "errors": [{"field": "why"}]}
    client = mocked(lambda request: httpx.Response(status, json=body, headers={"Retry-After": "7"}))
    with pytest.raises(error) as caught:
        client.list_jobs()
    assert "Vendor says no; field: why" in str(caught.value)
    assert getattr(caught.value, "retry_after", 7.0) == 7.0


def test_client_never_retries_a_write_that_failed(mocked: Callable[[Handler], GreenhouseClient]) -> None:
    posts: list[httpx.Request] = []

    def down(request: httpx.Request) -> httpx.Response:
        posts.append(request)
        return httpx.Response(503, json={"message": "Service Unavailable"})

    with pytest.raises(Unavailable):
        mocked(down).add_note(1, "hello")
    assert len(posts) == 1


# --- paging edge cases and wire shapes ---

def test_client_stops_when_a_cursor_repeats(mocked: Callable[[Handler], GreenhouseClient]) -> None:
    link = {"Link": '<https://harvest.test/v3/users?cursor=abc>; rel="next"'}
    user = {"id": 91, "name": "Sandbox User"}
    assert len(mocked(lambda request: httpx.Response(200, json=[user], headers=link)).list_users()) == 2


def test_client_never_follows_a_next_link_to_another_host(mocked: Callable[[Handler], GreenhouseClient]) -> None:
    link = {"Link": '<https://elsewhere.test/v3/users?cursor=abc>; rel="next"'}
    with pytest.raises(UnexpectedResponse):
        mocked(lambda request: httpx.Response(200, json=[], headers=link)).list_users()


def test_client_parses_a_flat_create_response(mocked: Callable[[Handler], GreenhouseClient]) -> None:
    candidate, application = payload("greenhouse_v3_candidate.json"), payload("greenhouse_v3_application.json")

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(201, json=candidate)
        return httpx.Response(200, json=[application])

    created = mocked(answer).create_candidate(first_name="Sample", last_name="Candidate", job_id=4401234)
    assert created.candidate.id == candidate["id"]
    assert created.application is not None and created.application.id == application["id"]


def test_wire_models_parse_recorded_payloads_and_refuse_string_ids() -> None:
    candidate = Candidate.model_validate(payload("greenhouse_v3_candidate.json"))
    assert candidate.email_addresses[0].value == "sample.candidate@example.com"
    assert Application.model_validate(payload("greenhouse_v3_application.json")).status == "in_process"
    with pytest.raises(ValidationError):
        Candidate.model_validate({**payload("greenhouse_v3_candidate.json"), "id": "53883394"})


@pytest.mark.parametrize(("header", "valid"), [
    ("signed", True), (None, False), ("", False), ("sha256", False), ("sha1 {hex}", False),
    ("sha256={hex}", False), ("sha256 {wrong}", False),
])
def test_verify_webhook_signature(header: str | None, valid: bool) -> None:
    body = encode(payload("greenhouse_webhook_candidate_stage_change.json"))
    signed = sign("secret", body)
    hexdigest = signed.split(" ")[1]
    if header is not None:
        header = signed if header == "signed" else header.format(hex=hexdigest, wrong="0" * 64)
    assert verify_webhook_signature("secret", body, header) is valid


def _limited_client(reset_in: float, sleeps: list[float]) -> tuple[GreenhouseClient, list[str]]:
    sent: list[str] = []
    now = 1_000_000.0

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        if request.url.path == "/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        headers = {"X-RateLimit-Limit": "50", "X-RateLimit-Remaining": "0",
                   "X-RateLimit-Reset": str(int(now + reset_in))}
        return httpx.Response(200, json=[], headers=headers)

    http = httpx.Client(transport=httpx.MockTransport(handler))
    client = GreenhouseClient(http, api_url="https://gh.test", auth_url="https://gh.test", client_id="c",
                              client_secret="s", user_id=1, clock=lambda: now, sleep=sleeps.append)
    return client, sent


def test_client_waits_for_a_spent_window_to_reset_instead_of_earning_a_429() -> None:
    sleeps: list[float] = []
    client, sent = _limited_client(reset_in=2, sleeps=sleeps)
    client.list_users()
    client.list_users()
    assert sleeps == [2.0]
    assert sent.count("/v3/users") == 2


def test_client_hands_a_long_wait_to_the_queue() -> None:
    client, sent = _limited_client(reset_in=25, sleeps=[])
    client.list_users()
    with pytest.raises(RateLimited) as caught:
        client.list_users()
    assert caught.value.retry_after == 25
    assert sent.count("/v3/users") == 1, "nothing sent into a spent window"
