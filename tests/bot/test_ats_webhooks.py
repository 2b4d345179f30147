"""POST /webhooks/{greenhouse|lever}/{tenant}: verified, recorded once, queued as `ats.event`; bad input touches
nothing. Bodies are the vendors' documented examples (tests/payloads), signed as each vendor signs."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from sqlmodel import Session, select

from bot.ats_webhooks import ATS_EVENT, DEFAULT_MAX_AGE, AtsWebhooks
from bot.web import MAX_WEBHOOK_BYTES, create_web_app
from integrations.ats_events import AtsEvent
from integrations.sandbox.greenhouse import GreenhouseState
from integrations.sandbox.lever import LeverState
from integrations.sandbox.server import RunningServer
from integrations.sandbox.world import ACME_GREENHOUSE, NORTHWIND_LEVER, SANDBOX_ENV
from storage.models import Application, InboxEvent, WorkItem
from storage.queue import Priority
from tests.bot.world import World, now_ms

pytestmark = pytest.mark.slow
PAYLOADS = Path(__file__).resolve().parents[1] / "payloads"
GH_SECRET = SANDBOX_ENV["ACME_GREENHOUSE_WEBHOOK_SECRET"]
LEVER_SECRET = SANDBOX_ENV["NORTHWIND_LEVER_SIGNATURE_TOKEN"]
Serve = Callable[..., RunningServer]


def serve_ats(serve: Serve, webhooks: AtsWebhooks) -> str:
    return serve(create_web_app(webhooks.engine, ats_webhooks=webhooks), "ats-web").url


@pytest.fixture
def web(world: World, serve: Serve) -> str:
    """The web app with the ATS routes, on the world's runtime and database."""
    return serve_ats(serve, world.rt.ats_webhooks())


def rows(world: World) -> tuple[list[InboxEvent], list[WorkItem]]:
    with Session(world.rt.engine) as s:
        return list(s.exec(select(InboxEvent)).all()), list(s.exec(select(WorkItem)).all())


# --- Greenhouse: `Signature: sha256 <hex>` over the raw body, `Greenhouse-Event-ID` header ---------------------

def gh_body(name: str) -> bytes:
    return (PAYLOADS / f"greenhouse_webhook_{name}.json").read_bytes()


def gh_signed(body: bytes, event_id: str | None = None, secret: str = GH_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "Signature": f"sha256 {digest}",
            "Greenhouse-Event-ID": event_id or str(uuid.uuid4())}


def gh_post(web: str, body: bytes, headers: dict[str, str], tenant: str = "acme") -> httpx.Response:
    return httpx.post(f"{web}/webhooks/greenhouse/{tenant}", content=body, headers=headers)


def test_greenhouse_stage_change_is_recorded_and_queued_once_however_often_it_arrives(world: World,
                                                                                      web: str) -> None:
    body, headers = gh_body("candidate_stage_change"), gh_signed(gh_body("candidate_stage_change"), "3ce5180d")
    answers = [gh_post(web, body, headers) for _ in range(3)]
    assert [(a.status_code, a.json()) for a in answers] == [
        (200, {"ok": True, "duplicate": False}), (200, {"ok": True, "duplicate": True}),
        (200, {"ok": True, "duplicate": True})]
    inbox, items = rows(world)
    assert [(e.provider, e.tenant_id, e.event_id, e.action, e.status) for e in inbox] == [
        ("greenhouse", "acme", "3ce5180d", "candidate_stage_change", "accepted")]
    assert inbox[0].body == body.decode()
    (item,) = items
    assert (item.kind, item.dedupe_key, item.priority, item.tenant_id) == (
        ATS_EVENT, "ats-event:greenhouse:acme:3ce5180d", Priority.PUSH, "acme")
    event = AtsEvent.from_json(item.payload["event"])
    assert item.payload["tenant"] == "acme"
    assert (event.kind, event.application_id, event.person_id, event.job_id, event.to_stage_id,
            event.to_stage_name) == ("stage_change", "265277", "265772", "3485", "71416", "Assessment")


def test_greenhouse_merge_is_queued_with_the_winning_record(world: World, web: str) -> None:
    body = gh_body("merge_candidate")
    assert gh_post(web, body, gh_signed(body)).json() == {"ok": True, "duplicate": False}
    (item,) = rows(world)[1]
    event = item.payload["event"]
    assert (event["kind"], event["person_id"], event["merged_into"]) == ("merged", "37031511", "457456")


@pytest.mark.parametrize("headers", [
    {"Greenhouse-Event-ID": "e-1"},
    {"Greenhouse-Event-ID": "e-1", "Signature": "sha256 " + "0" * 64},
    gh_signed(b"another body", "e-1"),
    gh_signed(gh_body("candidate_stage_change"), "e-1", secret="not-the-tenant-secret"),
    {"Greenhouse-Event-ID": "e-1", "Signature": gh_signed(gh_body("candidate_stage_change"))["Signature"]
     .replace("sha256 ", "sha256=")},
], ids=["missing", "wrong", "for-another-body", "other-secret", "equals-not-space"])
def test_greenhouse_bad_signature_is_401_and_writes_nothing(world: World, web: str,
                                                            headers: dict[str, str]) -> None:
    assert gh_post(web, gh_body("candidate_stage_change"), headers).status_code == 401
    assert rows(world) == ([], [])


def test_greenhouse_missing_event_id_is_400_and_writes_nothing(world: World, web: str) -> None:
    body = gh_body("candidate_stage_change")
    headers = gh_signed(body)
    del headers["Greenhouse-Event-ID"]
    response = gh_post(web, body, headers)
    assert response.status_code == 400 and "Greenhouse-Event-ID" in response.json()["error"]
    assert rows(world) == ([], [])


def test_greenhouse_signed_but_unreadable_body_is_400_and_kept_once_for_ops(world: World, web: str) -> None:
    body = b'{"action": "candidate_stage_change", "payload": {"application": {"status": "active"}}}'
    answers = [gh_post(web, body, gh_signed(body)) for _ in range(2)]  # a vendor retry: a new event id
    assert [a.status_code for a in answers] == [400, 400]
    inbox, items = rows(world)
    assert [(e.status, e.body) for e in inbox] == [("invalid", body.decode())] and items == []


def test_greenhouse_unknown_action_is_acknowledged_and_recorded_as_ignored(world: World, web: str) -> None:
    body = json.dumps({"action": "job_created", "payload": {"job": {"id": 3485, "name": "Designer"}}}).encode()
    assert gh_post(web, body, gh_signed(body)).status_code == 200
    inbox, items = rows(world)
    assert [(e.action, e.status) for e in inbox] == [("job_created", "ignored")] and items == []


def test_greenhouse_ping_is_acknowledged_without_work(world: World, web: str) -> None:
    body = json.dumps({"action": "ping", "payload": {"web_hook": {"url": f"{web}/webhooks/greenhouse/acme"}}})
    assert gh_post(web, body.encode(), gh_signed(body.encode())).status_code == 200
    inbox, items = rows(world)
    assert [(e.action, e.status) for e in inbox] == [("ping", "ignored")] and items == []


# --- Lever: `signature` = HMAC(token + triggeredAt) inside the body -------------------------------------------

def lever_delivery(triggered_at: int | None = None, secret: str = LEVER_SECRET, **changes: Any) -> dict[str, Any]:
    """The documented candidateStageChange, fresh: a new token, `triggeredAt` now, signed as Lever signs."""
    body: dict[str, Any] = json.loads((PAYLOADS / "lever_webhook_candidate_stage_change.json").read_text())
    body.update(triggeredAt=now_ms() if triggered_at is None else triggered_at, token=secrets.token_hex(24))
    body.update(changes)
    return signed(body, secret)


def signed(body: dict[str, Any], secret: str = LEVER_SECRET) -> dict[str, Any]:
    message = f"{body['token']}{body['triggeredAt']}".encode()
    return body | {"signature": hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()}


def lever_post(web: str, body: dict[str, Any] | bytes, tenant: str = "northwind") -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(f"{web}/webhooks/lever/{tenant}", content=content,
                      headers={"Content-Type": "application/json", "User-Agent": "Lever-Webhooks"})


def test_lever_stage_change_is_recorded_and_queued_once(world: World, web: str) -> None:
    body = lever_delivery()
    answers = [lever_post(web, body) for _ in range(2)]
    assert [a.json()["duplicate"] for a in answers] == [False, True]
    inbox, items = rows(world)
    accepted = [(e.provider, e.event_id, e.status) for e in inbox if e.status != "replay-guard"]
    assert accepted == [("lever", body["id"], "accepted")]
    (item,) = items
    assert (item.kind, item.dedupe_key, item.priority) == (
        ATS_EVENT, f"ats-event:lever:northwind:{body['id']}", Priority.PUSH)
    event = item.payload["event"]
    assert (event["kind"], event["application_id"], event["person_id"], event["from_stage_id"],
            event["to_stage_id"], event["job_id"]) == (
        "stage_change", body["data"]["opportunityId"], body["data"]["contactId"], body["data"]["fromStageId"],
        body["data"]["toStageId"], None)


def test_lever_replayed_token_is_a_no_op_even_with_another_id_and_data(world: World, web: str) -> None:
    original = lever_delivery()
    assert lever_post(web, original).json()["duplicate"] is False
    before = rows(world)
    # Lever signs only token + triggeredAt: a captured delivery can be resent with other data under that signature
    forged = original | {"id": str(uuid.uuid4()), "data": original["data"] | {"toStageId": "stage-offer"}}
    assert lever_post(web, forged).json() == {"ok": True, "duplicate": True}
    after = rows(world)
    assert [e.id for e in after[0]] == [e.id for e in before[0]] and len(after[1]) == 1


def test_lever_same_event_id_under_a_new_token_is_a_duplicate(world: World, web: str) -> None:
    first = lever_delivery()
    retry = lever_delivery(id=first["id"])  # should Lever re-sign its retries, the event id still matches
    assert [lever_post(web, b).json()["duplicate"] for b in (first, retry)] == [False, True]
    assert len(rows(world)[1]) == 1


def test_lever_delivery_without_id_is_keyed_by_its_token(world: World, web: str) -> None:
    body = lever_delivery()
    del body["id"]
    assert lever_post(web, body).status_code == 200
    inbox, items = rows(world)
    assert [(e.event_id, e.status) for e in inbox] == [(body["token"], "accepted")]
    assert [i.dedupe_key for i in items] == [f"ats-event:lever:northwind:{body['token']}"]


def test_lever_stale_delivery_is_401_and_writes_nothing(world: World, serve: Serve) -> None:
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    web = serve_ats(serve, replace(world.rt.ats_webhooks(), clock=lambda: now))
    window_start = int((now - DEFAULT_MAX_AGE).timestamp() * 1000)
    stale = lever_post(web, lever_delivery(triggered_at=window_start - 1))
    assert stale.status_code == 401 and "stale" in stale.json()["error"]
    assert rows(world) == ([], [])
    assert lever_post(web, lever_delivery(triggered_at=window_start)).status_code == 200


def test_lever_window_is_a_parameter(world: World, serve: Serve) -> None:
    web = serve_ats(serve, replace(world.rt.ats_webhooks(), max_age=timedelta(seconds=1)))
    assert lever_post(web, lever_delivery(triggered_at=now_ms() - 60_000)).status_code == 401


def test_lever_test_ping_is_acknowledged_without_work(world: World, web: str) -> None:
    ping = signed(json.loads((PAYLOADS / "lever_webhook_test_ping.json").read_text()) | {"triggeredAt": now_ms()})
    assert lever_post(web, ping).status_code == 200
    inbox, items = rows(world)
    assert [(e.action, e.status) for e in inbox] == [("candidateHired", "ignored")] and items == []


def test_lever_unknown_event_is_acknowledged_and_recorded_as_ignored(world: World, web: str) -> None:
    assert lever_post(web, lever_delivery(event="interviewCreated")).status_code == 200
    inbox, items = rows(world)
    assert [(e.action, e.status) for e in inbox if e.status != "replay-guard"] == [
        ("interviewCreated", "ignored")] and items == []


@pytest.mark.parametrize("change", [
    {"signature": "0" * 64}, {"triggeredAt": 1}, {"token": "another-token"}, {"signature": None},
], ids=["wrong", "other-time", "other-token", "missing"])
def test_lever_bad_signature_is_401_and_writes_nothing(world: World, web: str, change: dict[str, Any]) -> None:
    assert lever_post(web, lever_delivery() | change).status_code == 401
    assert rows(world) == ([], [])


def test_lever_signed_with_another_tenants_token_is_401(world: World, web: str) -> None:
    body = lever_delivery(secret=SANDBOX_ENV["GLOBEX_LEVER_SIGNATURE_TOKEN"])
    assert lever_post(web, body).status_code == 401 and rows(world) == ([], [])


@pytest.mark.parametrize("body", [b"{not json", b"[]", signed({"token": "t", "triggeredAt": now_ms()})],
                         ids=["not-json", "not-object", "signed-without-event"])
def test_lever_unreadable_body_is_400_and_writes_nothing(world: World, web: str, body: Any) -> None:
    assert lever_post(web, body).status_code == 400
    assert rows(world) == ([], [])


# --- both -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("vendor", "tenant"), [("greenhouse", "nobody"), ("lever", "nobody"),
                                                ("greenhouse", "northwind"), ("lever", "acme")])
def test_unknown_tenant_or_one_without_the_connection_is_404(world: World, web: str, vendor: str,
                                                             tenant: str) -> None:
    body = gh_body("candidate_stage_change")
    response = httpx.post(f"{web}/webhooks/{vendor}/{tenant}", content=body, headers=gh_signed(body))
    assert response.status_code == 404 and tenant in response.json()["error"]
    assert rows(world) == ([], [])


def test_tenant_whose_secret_is_unset_is_404(world: World, serve: Serve) -> None:
    unset = ("_WEBHOOK_SECRET", "_SIGNATURE_TOKEN")
    environ = {k: v for k, v in world.rt.environ.items() if not k.endswith(unset)}
    web = serve_ats(serve, replace(world.rt.ats_webhooks(), environ=environ))
    body = gh_body("candidate_stage_change")
    assert gh_post(web, body, gh_signed(body)).status_code == 404
    assert lever_post(web, lever_delivery()).status_code == 404
    assert rows(world) == ([], [])


@pytest.mark.parametrize("vendor", ["greenhouse", "lever"])
def test_oversized_body_is_413(world: World, web: str, vendor: str) -> None:
    body = b"{" + b" " * MAX_WEBHOOK_BYTES + b"}"
    tenant = "acme" if vendor == "greenhouse" else "northwind"
    response = httpx.post(f"{web}/webhooks/{vendor}/{tenant}", content=body, headers=gh_signed(body))
    assert response.status_code == 413
    assert rows(world) == ([], [])


# --- the simulators send real webhooks to the bot ---------------------------------------------------------------

def test_greenhouse_simulator_webhook_is_accepted_and_queued(world: World, web: str) -> None:
    sim = world.sims.url("greenhouse")
    state = cast(GreenhouseState, world.sims.states["greenhouse"])
    _, application = state.account(ACME_GREENHOUSE.client_id).create_candidate(
        {"first_name": "Ana", "last_name": "Example", "application": {"job_id": 4401}})
    assert application is not None
    registration = {"url": f"{web}/webhooks/greenhouse/acme", "account": ACME_GREENHOUSE.client_id,
                    "time_scale": 0.0001}
    registered = httpx.post(f"{sim}/_sandbox/webhooks", json=registration)
    assert registered.json()["enabled"] is True, "the save-time ping must be answered 200"
    moved = {"account": ACME_GREENHOUSE.client_id, "action": "candidate_stage_change",
             "application_id": application["id"], "to_stage_id": 7002}
    assert httpx.post(f"{sim}/_sandbox/emit", json=moved).status_code == 202
    assert state.webhooks.join(10)
    assert [d.outcomes for d in state.webhooks.deliveries] == [["200"]]
    inbox, items = rows(world)
    assert sorted((e.action, e.status) for e in inbox) == [("candidate_stage_change", "accepted"),
                                                           ("ping", "ignored")]
    (item,) = items
    event = item.payload["event"]
    assert (event["kind"], event["application_id"], event["job_id"], event["to_stage_id"]) == (
        "stage_change", str(application["id"]), "4401", "7002")


def test_lever_simulator_webhook_is_accepted_and_queued(world: World, web: str) -> None:
    sim = world.sims.url("lever")
    state = cast(LeverState, world.sims.states["lever"])
    subscription = {"url": f"{web}/webhooks/lever/northwind", "api_key": NORTHWIND_LEVER.api_key}
    assert httpx.post(f"{sim}/_sandbox/webhooks", json=subscription).status_code == 200
    data = {"opportunityId": "opp-1", "candidateId": "opp-1", "contactId": "contact-1",
            "toStageId": "stage-nw-phone", "fromStageId": "stage-nw-new"}
    emitted = httpx.post(f"{sim}/_sandbox/emit", json={"api_key": NORTHWIND_LEVER.api_key,
                                                       "event": "candidateStageChange", "data": data})
    envelope = emitted.json()["envelope"]
    assert state.webhooks.join(10)
    assert [d["attempts"] for d in state.webhooks.summary()] == [[200]]
    (item,) = rows(world)[1]
    event = item.payload["event"]
    assert (event["event_id"], event["kind"], event["application_id"], event["from_stage_id"]) == (
        envelope["id"], "stage_change", "opp-1", "stage-nw-new")


def test_a_greenhouse_move_reaches_the_hiring_channel_and_linkedin_end_to_end(world: World, web: str) -> None:
    world.export("acme", [{"firstName": "Jane", "lastName": "Doe",
                           "profileUrl": "https://www.linkedin.com/in/jane-doe-42"}], job="4401")
    world.drain()
    with Session(world.rt.engine) as s:
        (app,) = s.exec(select(Application)).all()
    sim, state = world.sims.url("greenhouse"), cast(GreenhouseState, world.sims.states["greenhouse"])
    httpx.post(f"{sim}/_sandbox/webhooks", json={"url": f"{web}/webhooks/greenhouse/acme",
                                                  "account": ACME_GREENHOUSE.client_id, "time_scale": 0.0001})
    moved = {"account": ACME_GREENHOUSE.client_id, "action": "candidate_stage_change",
             "application_id": int(app.ats_application_id), "to_stage_id": 7003}
    assert httpx.post(f"{sim}/_sandbox/emit", json=moved).status_code == 202
    assert state.webhooks.join(10)
    world.drain()
    world.relay()
    alerts = httpx.get(f"{world.sims.url('slack')}/_sandbox/messages", params={"channel": "C0ACMEENG"}).json()
    (alert,) = alerts["messages"]
    assert "Jane Doe* — Senior Backend Engineer: Application Review → *Phone Screen*" in str(alert["blocks"])
    linkedin: Any = world.sims.states["linkedin"]
    pushed = [e["stage"] for (_, a), entities in linkedin.stages.items() if a == app.ats_application_id
              for e in entities.values()]
    assert sorted(pushed) == ["Application Review", "Phone Screen"]
