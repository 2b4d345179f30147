"""Socket Mode in the Slack simulator, driven by a plain WebSocket client: tickets, hello, envelopes, acks."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from integrations.sandbox import world
from integrations.sandbox.server import RunningServer
from integrations.sandbox.slack import SlackState, create_app, seed_sandbox
from integrations.sandbox.slack_socket import APP_ID

Serve = Callable[..., RunningServer]
COMMAND = {"team_id": world.SLACK.team_id, "channel_id": "C0ACMEENG", "user_id": "U0RAE",
           "command": "/candidate", "text": "help", "response_url": "http://127.0.0.1:9/x", "trigger_id": "1.2.a"}


@pytest.fixture
def slack(serve: Serve) -> RunningServer:
    return serve(create_app(seed_sandbox(SlackState(seed=3))), "slack")


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2) as executor:
        yield executor


def open_url(slack: RunningServer, token: str = world.SLACK.app_token) -> str:
    return str(WebClient(base_url=f"{slack.url}/api/").apps_connections_open(app_token=token)["url"])


@contextmanager
def client(slack: RunningServer) -> Iterator[ClientConnection]:
    """A connected Socket Mode client that has had its `hello`."""
    with connect(open_url(slack), open_timeout=5) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "hello"
        yield ws


def send(slack: RunningServer, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{slack.url}/_sandbox/socket/send", json=body, timeout=10)


def test_connections_open_hands_out_a_plain_websocket_url_on_this_server(slack: RunningServer) -> None:
    url = open_url(slack)
    assert url.startswith(f"ws://127.0.0.1:{slack.port}/_socket/")
    with connect(url, open_timeout=5) as ws:
        hello = json.loads(ws.recv(timeout=5))
        assert hello["type"] == "hello" and hello["num_connections"] == 1
        assert hello["connection_info"] == {"app_id": APP_ID}
        (listed,) = httpx.get(f"{slack.url}/_sandbox/socket").json()["clients"]
        assert listed["id"] == url.rsplit("/", 1)[1]


@pytest.mark.parametrize(("token", "error"), [
    (world.SLACK.bot_token, "not_allowed_token_type"), ("xapp-wrong", "invalid_auth"), ("", "not_authed")])
def test_connections_open_takes_the_app_token_only(slack: RunningServer, token: str, error: str) -> None:
    with pytest.raises(SlackApiError) as raised:
        open_url(slack, token)
    assert raised.value.response["error"] == error
    assert httpx.get(f"{slack.url}/_sandbox/socket").json()["opened"] == 0


def test_a_ticket_opens_one_connection_only(slack: RunningServer) -> None:
    url = open_url(slack)
    with connect(url, open_timeout=5), pytest.raises(InvalidStatus) as refused:
        connect(url, open_timeout=5)
    assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus):
        connect(f"ws://127.0.0.1:{slack.port}/_socket/never-issued", open_timeout=5)


def test_send_wraps_the_payload_and_returns_the_ack(slack: RunningServer, pool: ThreadPoolExecutor) -> None:
    with client(slack) as ws:
        answer: Future[httpx.Response] = pool.submit(send, slack, {"type": "slash_commands", "payload": COMMAND})
        envelope = json.loads(ws.recv(timeout=5))
        assert envelope["type"] == "slash_commands" and envelope["payload"] == COMMAND
        assert envelope["accepts_response_payload"] is True and "retry_attempt" not in envelope
        ws.send(json.dumps({"envelope_id": envelope["envelope_id"], "payload": {"text": "usage: …"}}))
        result = answer.result(timeout=10)
    assert result.status_code == 200
    body = result.json()
    assert body["ok"] is True and body["ack"] == {"text": "usage: …"} and body["ms"] >= 0
    assert body["envelope_id"] == envelope["envelope_id"]


def test_events_carry_their_retry_attempt_and_accept_no_payload(slack: RunningServer,
                                                               pool: ThreadPoolExecutor) -> None:
    event = {"type": "event_callback", "event_id": "Ev1", "event": {"type": "app_mention", "text": "hi"}}
    with client(slack) as ws:
        answer = pool.submit(send, slack, {"type": "events_api", "payload": event, "retry_attempt": 2,
                                           "retry_reason": "timeout"})
        envelope = json.loads(ws.recv(timeout=5))
        ws.send(json.dumps({"envelope_id": envelope["envelope_id"]}))
        assert answer.result(timeout=10).json()["ack"] is None
    assert (envelope["retry_attempt"], envelope["retry_reason"]) == (2, "timeout")
    assert envelope["accepts_response_payload"] is False


def test_send_without_a_client_is_409_and_without_an_ack_504(slack: RunningServer) -> None:
    nobody = send(slack, {"type": "slash_commands", "payload": COMMAND})
    assert nobody.status_code == 409 and "no Socket Mode client is connected" in nobody.json()["detail"]
    with client(slack):
        silent = send(slack, {"type": "slash_commands", "payload": COMMAND, "timeout": 0.2})
    assert silent.status_code == 504 and silent.json()["error"] == "no_ack"


@pytest.mark.parametrize("body", [{"type": "rtm", "payload": {}}, {"type": "interactive", "payload": "x"},
                                  {"type": "interactive", "payload": {}, "timeout": 0}])
def test_send_rejects_malformed_requests(slack: RunningServer, body: dict[str, Any]) -> None:
    answer = send(slack, body)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"


def test_drop_closes_connections_or_asks_the_client_to_reconnect(slack: RunningServer) -> None:
    with client(slack) as polite:
        httpx.post(f"{slack.url}/_sandbox/socket/drop", json={"reason": "refresh_requested"}).raise_for_status()
        message = json.loads(polite.recv(timeout=5))
        assert (message["type"], message["reason"]) == ("disconnect", "refresh_requested")
    with client(slack) as dropped:
        assert httpx.post(f"{slack.url}/_sandbox/socket/drop").json()["dropped"]
        with pytest.raises(ConnectionClosed):
            dropped.recv(timeout=5)
