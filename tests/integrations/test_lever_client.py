"""LeverClient: throttling, 429 backoff, error translation, pagination, create/dedupe, webhook signatures."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from integrations.errors import AuthFailed, IntegrationError, RateLimited, Rejected, Unavailable
from integrations.lever import LeverClient, verify_webhook_signature
from integrations.sandbox import world
from integrations.sandbox.lever import LeverState, create_app, seed_sandbox
from integrations.sandbox.server import RunningServer

NW = world.NORTHWIND_LEVER
PERFORM_AS = NW.users[0].id
PAYLOADS = Path(__file__).parent.parent / "payloads"
API_URL = "https://api.lever.test/v1"


def _payload(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((PAYLOADS / name).read_text())
    return loaded


class FakeClock:
    """Time that only moves when the code under test sleeps (or the test advances it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Script:
    """A MockTransport handler answering from a list of responses (the last one repeats); keeps requests."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def _mock_client(script: Script, clock: FakeClock | None = None, **kwargs: Any) -> LeverClient:
    clock = clock or FakeClock()
    http = httpx.Client(transport=httpx.MockTransport(script))
    return LeverClient(http, api_url=API_URL, api_key="key", perform_as=PERFORM_AS, clock=clock,
                       sleep=clock.sleep, jitter=lambda: 0.5, **kwargs)


@pytest.fixture
def sim(serve: Callable[..., RunningServer]) -> tuple[RunningServer, LeverState]:
    state = seed_sandbox(LeverState(seed=3))
    return serve(create_app(state), "lever"), state


@pytest.fixture
def client(sim: tuple[RunningServer, LeverState]) -> Iterator[LeverClient]:
    with httpx.Client(timeout=5.0) as http:
        yield LeverClient(http, api_url=f"{sim[0].url}/v1", api_key=NW.api_key, perform_as=PERFORM_AS,
                          page_size=3)


def test_lever_client_throttles_to_its_rate_with_injected_clock() -> None:
    clock = FakeClock()
    client = _mock_client(Script(httpx.Response(200, json={"data": [], "hasNext": False})), clock, rate=10.0)
    for _ in range(12):
        client.ping()
    assert clock.sleeps == [pytest.approx(0.1), pytest.approx(0.1)]
    clock.now += 1.0  # a quiet second refills the bucket
    for _ in range(10):
        client.ping()
    assert len(clock.sleeps) == 2


def test_lever_client_backs_off_on_429_then_raises_rate_limited() -> None:
    clock, script = FakeClock(), Script(httpx.Response(429, json={"code": "TooManyRequests", "message": "slow"}))
    client = _mock_client(script, clock, max_retries=3, backoff=0.5)
    with pytest.raises(RateLimited) as raised:
        client.list_stages()
    assert raised.value.retry_after is None
    assert len(script.requests) == 4
    assert clock.sleeps == [pytest.approx(0.375), pytest.approx(0.75), pytest.approx(1.5)]


def test_lever_client_resends_a_write_after_429() -> None:
    created = {"data": _payload("lever_opportunity.json")["data"], "deduped": False}
    script = Script(httpx.Response(429, json={}), httpx.Response(201, json=created))
    result = _mock_client(script).create_opportunity(name="Shane Example", emails=["shane@example.com"])
    assert result.contact_id == "contact-7f23e772"
    assert [r.method for r in script.requests] == ["POST", "POST"]


def test_lever_client_does_not_resend_a_write_after_5xx() -> None:
    script = Script(httpx.Response(503, json={"code": "ServiceUnavailable", "message": "down"}))
    with pytest.raises(Unavailable):
        _mock_client(script).add_note("opp-1", "hello")
    assert len(script.requests) == 1


@pytest.mark.parametrize(("status", "error"), [
    (500, Unavailable), (503, Unavailable), (401, AuthFailed), (400, Rejected), (403, Rejected), (404, Rejected),
])
def test_lever_client_translates_statuses(status: int, error: type[IntegrationError]) -> None:
    script = Script(httpx.Response(status, json=_payload("lever_error_not_found.json")))
    with pytest.raises(error) as raised:
        _mock_client(script).change_stage("opp-1", "stage-x")
    assert raised.value.status == status
    assert type(raised.value) is error
    assert "was not found" in str(raised.value)


@pytest.mark.parametrize("failure", [httpx.ReadTimeout("slow"), httpx.ConnectError("refused"),
                                     httpx.RemoteProtocolError("reset")])
def test_lever_client_translates_transport_failures(failure: Exception) -> None:
    with pytest.raises(Unavailable) as raised:
        _mock_client(Script(failure)).list_users()
    assert not isinstance(raised.value, httpx.HTTPError)


def test_lever_client_treats_unreadable_body_as_unavailable() -> None:
    with pytest.raises(Unavailable):
        _mock_client(Script(httpx.Response(200, text="<html>maintenance</html>"))).list_users()
    with pytest.raises(Unavailable):
        _mock_client(Script(httpx.Response(200, json={"data": {"no": "id"}}))).get_opportunity("opp-1")


def test_lever_client_sends_basic_auth_and_perform_as() -> None:
    script = Script(httpx.Response(201, json=_payload("lever_note_created.json")))
    note_id = _mock_client(script).add_note("opp-1", "Synced")
    (request,) = script.requests
    assert note_id == "915a6cef-2c55-4b9a-9c3f-2e5ed6f0c1aa"
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"key:").decode()
    assert request.url.params["perform_as"] == PERFORM_AS
    assert json.loads(request.content) == {"value": "Synced"}


def test_lever_client_parses_documented_opportunity() -> None:
    opp = _mock_client(Script(httpx.Response(200, json=_payload("lever_opportunity.json")))).get_opportunity("x")
    assert (opp.id, opp.contact, opp.stage) == ("opp-250d8f03", "contact-7f23e772", "stage-00922a60")
    assert opp.phones[0].value == "(123) 456-7891"
    assert opp.stage_changes[0].to_stage_id == "stage-00922a60"
    assert opp.archived is None


def test_lever_client_reads_top_level_archive_fields() -> None:
    body = _payload("lever_opportunity_archived_top_level.json")
    opp = _mock_client(Script(httpx.Response(200, json=body))).get_opportunity("x")
    assert opp.archived is not None
    assert (opp.archived.reason, opp.archived.archived_at) == ("reason-63dd55a9", 1417588008760)


def test_lever_client_verifies_recorded_webhook_signatures() -> None:
    for name in ("lever_webhook_candidate_stage_change.json", "lever_webhook_test_ping.json"):
        body = _payload(name)
        assert verify_webhook_signature(NW.webhook_signature_token, body), name
        assert not verify_webhook_signature("another-token", body)
        assert not verify_webhook_signature(NW.webhook_signature_token, {**body, "triggeredAt": 1})
        assert not verify_webhook_signature(NW.webhook_signature_token, {**body, "signature": None})


def test_lever_client_refuses_a_repeated_offset() -> None:
    looping = Script(httpx.Response(200, json={"data": [], "hasNext": True, "next": "same"}))
    with pytest.raises(Unavailable, match="repeated"):
        _mock_client(looping).list_users()
    assert len(looping.requests) == 2


def test_lever_client_paginates_over_three_pages(client: LeverClient,
                                                 sim: tuple[RunningServer, LeverState]) -> None:
    made = [client.create_opportunity(name="Lou", emails=["lou@example.com"]) for _ in range(8)]
    found = client.find_opportunities_by_email("lou@example.com")
    assert [o.id for o in found] == [m.opportunity.id for m in made]
    assert sim[1].recorder.count("GET", "/v1/opportunities") == 3  # pages of 3, 3, 2


def test_lever_client_create_returns_contact_and_dedupe(client: LeverClient) -> None:
    first = client.create_opportunity(name="Max", emails=["max@example.com"], posting_id="post-nw-sre",
                                      links=["https://linkedin.com/in/max"], phones=["+1 555 0100"])
    second = client.create_opportunity(name="Max", emails=["MAX@example.com"])
    assert (first.deduped, second.deduped) == (False, True)
    assert second.contact_id == first.contact_id
    assert {o.id for o in client.find_opportunities_by_contact(first.contact_id)} == {
        first.opportunity.id, second.opportunity.id}
    assert first.opportunity.links == ["https://linkedin.com/in/max"]


def test_lever_client_changes_stage_adds_note_and_lists(client: LeverClient) -> None:
    opp = client.create_opportunity(name="Nat", emails=["nat@example.com"]).opportunity
    assert client.change_stage(opp.id, "stage-nw-offer").stage == "stage-nw-offer"
    assert client.add_note(opp.id, "Moved by HireBridge")
    with pytest.raises(Rejected, match="stages stage-bogus was not found"):
        client.change_stage(opp.id, "stage-bogus")
    assert [s.id for s in client.list_stages()] == [s.id for s in NW.stages]
    assert [p.id for p in client.list_postings()] == [p.id for p in NW.postings]
    assert [u.email for u in client.list_users()] == [u.email for u in NW.users]


def test_lever_client_against_sim_auth_and_outage(client: LeverClient,
                                                  sim: tuple[RunningServer, LeverState]) -> None:
    with httpx.Client() as http:
        wrong = LeverClient(http, api_url=f"{sim[0].url}/v1", api_key="wrong", perform_as=PERFORM_AS)
        with pytest.raises(AuthFailed):
            wrong.ping()
    sim[1].faults.outage = True
    with pytest.raises(Unavailable):
        client.ping()
