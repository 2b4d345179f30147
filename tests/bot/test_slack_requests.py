"""/slack/events through the real server: signed slash commands, refusals, and answers via response_url."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest
from slack_sdk.signature import SignatureVerifier
from sqlmodel import Session, select

from bot.web import create_web_app
from integrations.sandbox.server import RunningServer, serve_in_thread
from integrations.sandbox.world import SLACK
from storage.models import AuditEntry
from tests.bot.world import World

pytestmark = pytest.mark.slow
JANE = {"firstName": "Jane", "lastName": "Doe", "profileUrl": "https://www.linkedin.com/in/jane-doe-42"}


@pytest.fixture
def server(world: World) -> Iterator[RunningServer]:
    slack = world.rt.slack_app()
    assert slack is not None
    running = serve_in_thread(create_web_app(world.rt.engine, exports=world.rt.exports(), slack=slack), "bot")
    yield running
    running.stop()


def slash(world: World, text: str, user: str = "U0RAE") -> dict[str, str]:
    response_url = httpx.post(f"{world.sims.url('slack')}/_sandbox/response_urls",
                              json={"channel": "C0ACMEENG", "user": user}).json()["response_url"]
    return {"token": "x", "team_id": SLACK.team_id, "channel_id": "C0ACMEENG", "user_id": user,
            "command": "/candidate", "text": text, "response_url": response_url, "trigger_id": "1.2.abc"}


def post(server: RunningServer, form: dict[str, str], *, secret: str = SLACK.signing_secret,
         timestamp: int | None = None) -> httpx.Response:
    body = urlencode(form)
    ts = str(timestamp if timestamp is not None else int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    headers = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature,
               "Content-Type": "application/x-www-form-urlencoded"}
    return httpx.post(f"{server.url}/slack/events", content=body, headers=headers, timeout=10)


def responses(world: World) -> list[dict[str, object]]:
    return list(httpx.get(f"{world.sims.url('slack')}/_sandbox/messages").json()["responses"])


def audit(world: World, expect: int = 0) -> list[str]:
    """The audit actions; written right after the ack (never before it), so wait for `expect` of them."""
    deadline = time.monotonic() + 5
    while True:
        with Session(world.rt.engine) as s:
            actions = [a.action for a in s.exec(select(AuditEntry).order_by(AuditEntry.id)).all()]
        if len(actions) >= expect or time.monotonic() > deadline:
            return actions
        time.sleep(0.05)


def wait_for_response(world: World, count: int = 1) -> list[dict[str, object]]:
    deadline = time.monotonic() + 10
    while len(responses(world)) < count:
        assert time.monotonic() < deadline, "no response_url post"
        time.sleep(0.05)
    return responses(world)


def test_help_is_answered_in_the_ack(world: World, server: RunningServer) -> None:
    answer = post(server, slash(world, "help"))
    assert answer.status_code == 200
    assert "/candidate check &lt;linkedin url | email | name&gt;" in answer.text
    assert audit(world, 1) == ["command.help"]


@pytest.mark.parametrize("text", ["frobnicate", "check", "status now"])
def test_bad_commands_get_usage_help(world: World, server: RunningServer, text: str) -> None:
    answer = post(server, slash(world, text))
    assert answer.status_code == 200 and "usage" in answer.text.lower()
    assert answer.json()["response_type"] == "ephemeral"


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"secret": "not-the-secret"}, "bad-signature"),
    ({"timestamp": int(time.time()) - 3600}, "stale-timestamp"),
], ids=["bad-signature", "stale-timestamp"])
def test_unsigned_or_stale_requests_are_401_and_write_nothing(world: World, server: RunningServer,
                                                              kwargs: dict[str, object], name: str) -> None:
    answer = post(server, slash(world, "help"), **kwargs)  # type: ignore[arg-type]
    assert answer.status_code == 401
    assert audit(world) == []


def test_ops_subcommands_refuse_recruiters(world: World, server: RunningServer) -> None:
    answer = post(server, slash(world, "status", user="U0RAE"))
    assert answer.status_code == 200 and "is for ops and above" in answer.text
    assert audit(world, 1) == ["command.status.refused"]


def test_people_without_a_role_cannot_check(world: World, server: RunningServer) -> None:
    answer = post(server, slash(world, "check jane@example.com", user="U0STRANGER"))
    assert "is for recruiter and above" in answer.text


def test_check_acks_at_once_and_answers_through_response_url(world: World, server: RunningServer) -> None:
    world.export("acme", [JANE], job="4401")
    world.drain()
    answer = post(server, slash(world, "check linkedin.com/in/Jane-Doe-42/?trk=x"))
    assert answer.status_code == 200 and "Working on" in answer.text
    (reply,) = wait_for_response(world)
    assert "Jane Doe" in str(reply) and "Senior Backend Engineer" in str(reply)
    assert audit(world, 2) == ["command.check", "check.answered"]
