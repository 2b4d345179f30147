"""`/candidate forget` through signed Slack requests: admins only, what was found, Confirm erases once."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlmodel import Session, select

from bot.erasure import ERASED as ERASED_ACTION
from bot.erasure import subject_of
from bot.forget_requests import FORGET, ForgetRequests
from bot.slack.forget_blocks import CANCEL, CONFIRM
from integrations.sandbox.server import RunningServer
from integrations.sandbox.world import SLACK
from storage.models import AuditEntry, Candidate, OutboxMessage, WorkItem
from tests.bot.erasure_seed import ERASED, KEPT, in_ats
from tests.bot.slack_client import post, responses, signed_headers, slash, wait_for_response
from tests.bot.slack_client import server as server
from tests.bot.world import World, wait_until

pytestmark = pytest.mark.slow
ADMIN, OPS, OPS_CHANNEL = "U0ADA", "U0OLU", "C0ACMEOPS"


@pytest.fixture
def stored(world: World) -> World:
    in_ats(world, ERASED, "4401")
    in_ats(world, KEPT, "4402")
    return world


def ask(world: World, server: RunningServer, text: str, user: str = ADMIN) -> dict[str, Any]:
    """Send `/candidate forget <text>` and return the answer that replaced the "working" ack."""
    before = len(responses(world))
    assert post(server, slash(world, f"forget {text}", user=user, channel=OPS_CHANNEL)).status_code == 200
    return dict(wait_for_response(world, before + 1)[-1])


def buttons(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (actions,) = [b for b in answer["blocks"] if b["type"] == "actions"]
    return {e["action_id"]: e for e in actions["elements"]}


def press(world: World, server: RunningServer, action_id: str, value: str, user: str = ADMIN) -> httpx.Response:
    """A signed block_actions delivery, as Slack sends it once the confirm dialog (if any) said yes."""
    url = httpx.post(f"{world.sims.url('slack')}/_sandbox/response_urls",
                     json={"channel": OPS_CHANNEL, "user": user}).json()["response_url"]
    payload = {
        "type": "block_actions", "team": {"id": SLACK.team_id, "domain": "sandbox"},
        "user": {"id": user, "username": user.lower(), "team_id": SLACK.team_id}, "api_app_id": "A0HIREBRIDGE",
        "token": "legacy", "container": {"type": "message", "message_ts": "1.1", "channel_id": OPS_CHANNEL,
                                         "is_ephemeral": True},
        "trigger_id": f"{time.time_ns()}.sandbox", "channel": {"id": OPS_CHANNEL, "name": "ops"},
        "response_url": url, "actions": [{"type": "button", "action_id": action_id, "block_id": "forget",
                                          "value": value, "action_ts": f"{time.time():.6f}"}],
    }
    body = urlencode({"payload": json.dumps(payload)})
    return httpx.post(f"{server.url}/slack/events", content=body, headers=signed_headers(body), timeout=10)


def erasures(world: World) -> list[AuditEntry]:
    with Session(world.rt.engine) as s:
        return list(s.execute(select(AuditEntry).where(AuditEntry.action == ERASED_ACTION)).scalars())


def texts(world: World) -> list[str]:
    return [str(r["text"]) for r in responses(world)]



def stored_people(world: World) -> set[str]:
    with Session(world.rt.engine) as s:
        return {str(c.ats_candidate_id) for c in s.execute(select(Candidate)).scalars()}


def test_forget_shows_what_was_found_and_a_double_click_erases_once(stored: World, server: RunningServer) -> None:
    world = stored
    answer = ask(world, server, f"<mailto:{ERASED.email}|{ERASED.email}>")
    shown = json.dumps(answer)
    assert "1 candidate record(s)" in shown and "Acme" in shown and "candidateidentity" in shown
    assert ERASED.phone not in shown and ERASED.key not in shown, "nothing more than the admin typed"
    confirm, cancel = buttons(answer)[CONFIRM], buttons(answer)[CANCEL]
    assert confirm["style"] == "danger" and confirm["confirm"]["style"] == "danger"
    assert confirm["value"] == cancel["value"], "one request"
    assert ERASED.email not in confirm["value"], "a request id, not the email"

    with ThreadPoolExecutor(2) as pool:  # a double click, or Slack delivering it twice
        assert list(pool.map(lambda _: press(world, server, CONFIRM, confirm["value"]).status_code, range(2))) == [
            200, 200]
    wait_until(lambda: any("Erased" in t for t in texts(world)) and any("already decided" in t
                                                                       for t in texts(world)), "both answered")
    (entry,) = erasures(world)
    assert entry.actor == f"slack:{ADMIN}"
    assert len(stored_people(world)) == 1
    with Session(world.rt.engine) as s:  # the request kept nothing of the person once decided
        (request,) = s.execute(select(WorkItem).where(WorkItem.kind == FORGET)).scalars()
    assert request.payload == {"decision": "confirmed", "decided_by": ADMIN}


def test_only_admins_ask_and_only_admins_confirm(stored: World, server: RunningServer) -> None:
    world = stored
    refused = post(server, slash(world, f"forget {ERASED.email}", user=OPS, channel=OPS_CHANNEL))
    assert "is for admin and above" in refused.text
    answer = ask(world, server, ERASED.url)
    value = buttons(answer)[CONFIRM]["value"]
    assert press(world, server, CONFIRM, value, user=OPS).status_code == 200
    wait_until(lambda: any("for admins" in t for t in texts(world)), "the ops user is refused")
    assert erasures(world) == [] and len(stored_people(world)) == 2
    press(world, server, CONFIRM, value)  # the request still waits for an admin
    wait_until(lambda: any("Erased" in t for t in texts(world)), "an admin's click erases")
    assert len(erasures(world)) == 1


def test_cancel_erases_nothing_and_the_buttons_are_spent(stored: World, server: RunningServer) -> None:
    world = stored
    value = buttons(ask(world, server, ERASED.email))[CANCEL]["value"]
    press(world, server, CANCEL, value)
    wait_until(lambda: any("Cancelled by" in t for t in texts(world)), "cancelled")
    press(world, server, CONFIRM, value)
    wait_until(lambda: any("already decided" in t for t in texts(world)), "a late confirm changes nothing")
    assert erasures(world) == [] and len(stored_people(world)) == 2


def test_nobody_stored_and_a_bad_value_get_plain_answers(world: World, server: RunningServer) -> None:
    assert "stores nothing about nobody@example.org" in ask(world, server, "nobody@example.org")["text"]
    assert "forget needs an email or a LinkedIn profile URL" in ask(world, server, "https://example.com/x")["text"]
    with Session(world.rt.engine) as s:
        assert s.execute(select(WorkItem).where(WorkItem.kind == FORGET)).first() is None


def test_an_unconfirmed_request_expires_and_keeps_nothing(stored: World) -> None:
    world = stored
    requests = ForgetRequests(world.rt.engine, ttl=timedelta(0))
    request_id = requests.open(subject_of(email=ERASED.email), ADMIN, "https://hooks.example/response/1")
    world.drain()
    assert requests.take(request_id, ADMIN, "confirmed") is None
    with Session(world.rt.engine) as s:
        (item,) = s.execute(select(WorkItem).where(WorkItem.kind == FORGET)).scalars()
        (message,) = s.execute(select(OutboxMessage)).scalars()
    assert item.payload == {"decision": "expired"} and "expired" in message.payload["text"]
    assert len(stored_people(world)) == 2
