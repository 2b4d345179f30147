"""Socket Mode for real: the bot's WebSocket to the Slack simulator, /candidate over it, serve --socket-mode."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient
from sqlmodel import Session, select
from typer.testing import CliRunner

from bot.cli import app
from bot.config import load_config
from bot.demo.script import EXAMPLE_CONFIG
from bot.demo.world import Simulators, sandbox_config, start_simulators, write_config
from bot.slack.socket_mode import SocketModeConnection
from integrations.sandbox.server import free_port
from integrations.sandbox.world import SANDBOX_ENV, SLACK
from storage.db import build_engine
from storage.migrate import upgrade
from storage.models import AuditEntry
from tests.bot.slack_client import audit, slash, wait_for_response
from tests.bot.test_processes import hirebridge, stop, wait_for
from tests.bot.world import World

pytestmark = pytest.mark.slow
JANE = {"firstName": "Jane", "lastName": "Doe", "profileUrl": "https://www.linkedin.com/in/jane-doe-42"}
Connect = Callable[..., SocketModeConnection]


def sockets(slack_url: str) -> dict[str, Any]:
    listing: dict[str, Any] = httpx.get(f"{slack_url}/_sandbox/socket").json()
    return listing


def deliver(slack_url: str, payload: dict[str, Any], kind: str = "slash_commands", **extra: Any) -> dict[str, Any]:
    """Send one envelope through the simulator and return its answer (the ack, or why there was none)."""
    answer: dict[str, Any] = httpx.post(f"{slack_url}/_sandbox/socket/send", timeout=15,
                                        json={"type": kind, "payload": payload, **extra}).json()
    return answer


def connections_opened(world: World) -> list[int]:
    """The statuses of every apps.connections.open call the simulator answered."""
    recorded = world.sims.states["slack"].recorder.items()
    return [r.status for r in recorded if r.path == "/api/apps.connections.open"]


@pytest.fixture
def connect(world: World) -> Iterator[Connect]:
    """Start the bot's Socket Mode connection (the class `serve --socket-mode` runs) with short backoffs."""
    started: list[SocketModeConnection] = []

    def start(token: str = SLACK.app_token) -> SocketModeConnection:
        slack = world.rt.slack_app()
        assert slack is not None
        connection = SocketModeConnection(slack, token, client=world.rt.slack(), first_delay=0.05,
                                          max_delay=0.2, check_every=0.05)
        connection.start()
        started.append(connection)
        return connection

    yield start
    for connection in started:
        connection.stop()


@pytest.fixture
def connected(world: World, connect: Connect) -> SocketModeConnection:
    connection = connect()
    wait_for(lambda: connection.is_connected() and len(sockets(world.sims.url("slack"))["clients"]) == 1)
    return connection


# --- /candidate over the socket ------------------------------------------------------------------------------

def test_help_is_answered_in_the_socket_mode_ack(world: World, connected: SocketModeConnection) -> None:
    answer = deliver(world.sims.url("slack"), slash(world, "help"))
    assert answer["ok"] is True, answer
    assert "/candidate check &lt;linkedin url | email | name&gt;" in json.dumps(answer["ack"])
    assert audit(world, 1) == ["command.help"]


def test_unknown_subcommand_gets_usage_in_the_ack(world: World, connected: SocketModeConnection) -> None:
    answer = deliver(world.sims.url("slack"), slash(world, "frobnicate"))
    assert answer["ok"] is True and answer["ack"]["response_type"] == "ephemeral"
    assert "usage" in json.dumps(answer["ack"]).lower()
    assert audit(world, 1) == ["command.invalid"]


def test_check_acks_over_the_socket_and_answers_through_response_url(world: World,
                                                                     connected: SocketModeConnection) -> None:
    world.export("acme", [JANE], job="4401")
    world.drain()
    answer = deliver(world.sims.url("slack"), slash(world, "check linkedin.com/in/Jane-Doe-42/?trk=x"))
    assert answer["ok"] is True and answer["ack"]["response_type"] == "ephemeral"
    (reply,) = wait_for_response(world)
    assert "Jane Doe" in str(reply) and "Senior Backend Engineer" in str(reply)
    assert audit(world, 2) == ["command.check", "check.answered"]


def test_retry_attempt_reaches_the_listener_as_the_retry_header(world: World,
                                                                connected: SocketModeConnection) -> None:
    answer = deliver(world.sims.url("slack"), slash(world, "check jane@example.com"), retry_attempt=1,
                     retry_reason="timeout")
    assert answer["ok"] is True
    audit(world, 1)
    with Session(world.rt.engine) as s:
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "command.check")).one()
    assert entry.detail == {"slack_retry": 1}


# --- the connection's life -----------------------------------------------------------------------------------

@pytest.mark.parametrize("drop", [{}, {"reason": "refresh_requested"}], ids=["closed", "disconnect-message"])
def test_reconnects_when_slack_drops_or_refreshes_the_connection(world: World, connected: SocketModeConnection,
                                                                 drop: dict[str, str]) -> None:
    url = world.sims.url("slack")
    (first,) = sockets(url)["clients"]
    httpx.post(f"{url}/_sandbox/socket/drop", json=drop).raise_for_status()
    wait_for(lambda: [c["id"] for c in sockets(url)["clients"]] not in ([], [first["id"]]))
    wait_for(lambda: len(sockets(url)["clients"]) == 1)
    assert deliver(url, slash(world, "help"))["ok"] is True


def test_keeps_retrying_while_slack_is_down_then_connects(world: World, connect: Connect) -> None:
    slack = world.sims.states["slack"]
    slack.faults.outage = True
    connection = connect()
    wait_for(lambda: connections_opened(world).count(503) >= 3)
    assert not connection.is_connected()
    slack.faults.outage = False
    wait_for(connection.is_connected)
    assert deliver(world.sims.url("slack"), slash(world, "help"))["ok"] is True


def test_a_wrong_app_token_is_logged_clearly_and_retried(world: World, connect: Connect,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="bot.slack.socket_mode")
    connection = connect(token="xapp-not-the-app-token")
    wait_for(lambda: len(connections_opened(world)) >= 2)
    assert not connection.is_connected() and sockets(world.sims.url("slack"))["clients"] == []
    refusals = [r for r in caplog.records if r.name == "bot.slack.socket_mode" and r.levelno == logging.ERROR]
    assert refusals and "SLACK_APP_TOKEN" in refusals[0].getMessage()
    assert "invalid_auth" in refusals[0].getMessage()
    assert "xapp-not-the-app-token" not in caplog.text


class CuttableLink:
    """A TCP relay in front of the Slack simulator; `cut()` ends the bot's side with a bare FIN, no close frame,
    as a load balancer or a dropped network does."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.bot_sides: list[socket.socket] = []
        self.sockets: list[socket.socket] = [self.listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                bot_side, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self.bot_sides.append(bot_side)
            self.sockets += [bot_side, upstream]
            for source, sink in ((bot_side, upstream), (upstream, bot_side)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        for bot_side in self.bot_sides:
            with contextlib.suppress(OSError):
                bot_side.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def test_a_connection_cut_without_a_close_frame_is_replaced(world: World,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="bot.slack.socket_mode")
    link = CuttableLink(world.sims.servers["slack"].port)
    slack = world.rt.slack_app()
    assert slack is not None
    connection = SocketModeConnection(slack, SLACK.app_token, first_delay=0.05, max_delay=0.2, check_every=0.05,
                                      ping_interval=1.0, client=WebClient(base_url=f"http://127.0.0.1:{link.port}/api/"))
    url = world.sims.url("slack")
    try:
        connection.start()
        wait_for(lambda: len(sockets(url)["clients"]) == 1)
        (first,) = sockets(url)["clients"]
        link.cut()
        wait_for(lambda: [c["id"] for c in sockets(url)["clients"]] not in ([], [first["id"]]), timeout=15)
        assert deliver(url, slash(world, "help"))["ok"] is True
    finally:
        connection.stop()
        link.close()
    assert "no pong from Slack" in caplog.text


# --- `hirebridge serve --socket-mode` --------------------------------------------------------------------------

def test_serve_socket_mode_without_the_app_token_exits_2_naming_it(tmp_path: Path) -> None:
    env = {"HIREBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}", "SLACK_APP_TOKEN": ""}
    result = CliRunner().invoke(app, ["serve", "--socket-mode"], env=env)
    assert result.exit_code == 2
    assert "SLACK_APP_TOKEN" in result.output


@pytest.fixture
def sims() -> Iterator[Simulators]:
    running = start_simulators()
    yield running
    running.stop()


def serve_env(tmp_path: Path, sims: Simulators, slack_api_url: str) -> dict[str, str]:
    config_path = tmp_path / "sandbox.toml"
    write_config(sandbox_config(load_config(EXAMPLE_CONFIG), sims), config_path)
    db_url = f"sqlite:///{tmp_path / 'serve.db'}"
    upgrade(build_engine(db_url))
    return {**SANDBOX_ENV, "SLACK_APP_TOKEN": SLACK.app_token, "HIREBRIDGE_DATABASE_URL": db_url,
            "HIREBRIDGE_CONFIG": str(config_path), "HIREBRIDGE_SLACK_API_URL": slack_api_url}


def healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
    except httpx.TransportError:
        return False


@pytest.mark.parametrize("signing_secret", [True, False], ids=["with-signing-secret", "app-token-only"])
def test_serve_socket_mode_answers_commands_and_closes_the_socket_on_sigterm(tmp_path: Path, sims: Simulators,
                                                                            signing_secret: bool) -> None:
    port, slack_url = free_port(), sims.url("slack")
    env = serve_env(tmp_path, sims, f"{slack_url}/api/")
    if not signing_secret:  # Socket Mode needs no signature; /slack/events then stays closed
        env["SLACK_SIGNING_SECRET"] = ""
    proc = hirebridge(["serve", "--socket-mode", "--port", str(port)], env)
    wait_for(lambda: healthy(port) and len(sockets(slack_url)["clients"]) == 1, proc=proc)
    unsigned = httpx.post(f"http://127.0.0.1:{port}/slack/events", content="command=/candidate&text=help")
    assert unsigned.status_code == (401 if signing_secret else 503)
    answer = deliver(slack_url, {"team_id": SLACK.team_id, "channel_id": "C0ACMEENG", "user_id": "U0RAE",
                                 "command": "/candidate", "text": "help", "trigger_id": "1.2.a",
                                 "response_url": f"{slack_url}/response/none"})
    assert answer["ok"] is True and "/candidate check" in json.dumps(answer["ack"])
    stop(proc)
    assert sockets(slack_url)["clients"] == []


def test_serve_socket_mode_answers_healthz_while_slack_is_unreachable(tmp_path: Path, sims: Simulators) -> None:
    port = free_port()
    proc = hirebridge(["serve", "--socket-mode", "--port", str(port)],
                      serve_env(tmp_path, sims, "http://127.0.0.1:9/api/"))
    wait_for(lambda: healthy(port), proc=proc)
    time.sleep(1.5)  # long enough for a failed attempt and its log line
    assert healthy(port) and proc.poll() is None
    out = stop(proc)
    assert "Socket Mode: Slack is unreachable at http://127.0.0.1:9/api/" in out
    assert "Traceback" not in out
