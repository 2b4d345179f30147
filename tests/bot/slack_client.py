"""Talking to the bot as Slack does: signed slash commands through the real server, and what came back."""

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


@pytest.fixture
def server(world: World) -> Iterator[RunningServer]:
    slack = world.rt.slack_app()
    assert slack is not None
    running = serve_in_thread(create_web_app(world.rt.engine, exports=world.rt.exports(), slack=slack), "bot")
    yield running
    running.stop()


def slash(world: World, text: str, user: str = "U0RAE", channel: str = "C0ACMEENG") -> dict[str, str]:
    """A `/candidate` payload as Slack sends it, with a fresh response_url and trigger id."""
    response_url = httpx.post(f"{world.sims.url('slack')}/_sandbox/response_urls",
                              json={"channel": channel if channel in SLACK.channels else "C0ACMEOPS",
                                    "user": user}).json()["response_url"]
    trigger = f"{time.time_ns()}.{abs(hash(text)) % 10**6}.sandbox"
    return {"token": "x", "team_id": SLACK.team_id, "channel_id": channel, "user_id": user,
            "command": "/candidate", "text": text, "response_url": response_url, "trigger_id": trigger}


def signed_headers(body: str, *, secret: str = SLACK.signing_secret, timestamp: int | None = None,
                   retry: int | None = None) -> dict[str, str]:
    """The headers Slack sends with `body`: a v0 HMAC signature of the timestamp and the body."""
    ts = str(timestamp if timestamp is not None else int(time.time()))
    signature = str(SignatureVerifier(secret).generate_signature(timestamp=ts, body=body))
    headers = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature,
               "Content-Type": "application/x-www-form-urlencoded"}
    if retry is not None:
        headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
    return headers


def post(server: RunningServer, form: dict[str, str], *, secret: str = SLACK.signing_secret,
         timestamp: int | None = None, retry: int | None = None) -> httpx.Response:
    body = urlencode(form)
    headers = signed_headers(body, secret=secret, timestamp=timestamp, retry=retry)
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
