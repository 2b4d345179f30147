"""Socket Mode in the Slack simulator: apps.connections.open tickets, the WebSocket, envelopes and their acks."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from integrations.sandbox.slack_messages import SlackError

if TYPE_CHECKING:  # the state module imports this one
    from integrations.sandbox.slack import SlackState

APP_ID = "A0HIREBRIDGE"
HOST = "hirebridge-sandbox-applink"
ENVELOPE_TYPES = ("slash_commands", "interactive", "events_api")
ACK_SECONDS = 3.0  # Slack's ack deadline for commands, actions and events
MAX_WAIT_SECONDS = 30.0
# reference: unconfirmed which interactive payloads accept a response payload; these two answer with one.
_INTERACTIVE_WITH_RESPONSE = ("view_submission", "block_suggestion")


@dataclass
class SocketClient:
    """One connected WebSocket; `pending` holds the envelopes sent to it that wait for their ack."""

    id: str
    websocket: WebSocket
    connected_at: float
    envelopes: int = 0
    acks: int = 0
    pending: dict[str, asyncio.Future[Any]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "connected_at": self.connected_at, "envelopes": self.envelopes, "acks": self.acks,
                "waiting": len(self.pending)}


class SocketHub:
    """Tickets issued by apps.connections.open (each good for one connection) and the clients holding one."""

    def __init__(self) -> None:
        self._tickets: set[str] = set()
        self._clients: dict[str, SocketClient] = {}
        self._lock = threading.Lock()
        self.opened = 0
        self.stray_acks = 0

    def issue(self, ticket: str) -> None:
        with self._lock:
            self._tickets.add(ticket)
            self.opened += 1

    def redeem(self, ticket: str) -> bool:
        """Use a ticket up; False if it was never issued or is spent (reference: unconfirmed, no expiry here)."""
        with self._lock:
            if ticket not in self._tickets:
                return False
            self._tickets.discard(ticket)
            return True

    def join(self, client: SocketClient) -> int:
        """Register a connected client; the number of connections the app now has (for `hello`)."""
        with self._lock:
            self._clients[client.id] = client
            return len(self._clients)

    def leave(self, client: SocketClient) -> None:
        with self._lock:
            self._clients.pop(client.id, None)
        for future in client.pending.values():
            if not future.done():
                future.set_exception(ConnectionError("the client disconnected before acking"))

    def clients(self) -> list[SocketClient]:
        with self._lock:
            return list(self._clients.values())

    def pick(self, wanted: str | None) -> SocketClient | None:
        """The named client, else the newest (Slack picks one connection at random; tests want determinism)."""
        clients = self.clients()
        if wanted is not None:
            return next((c for c in clients if c.id == wanted), None)
        return max(clients, key=lambda c: c.connected_at, default=None)

    def acknowledge(self, client: SocketClient, raw: str) -> None:
        """Match an ack `{"envelope_id": ..., "payload": ...}` to the envelope waiting for it."""
        try:
            ack = json.loads(raw)
        except ValueError:
            ack = None
        future = client.pending.get(ack.get("envelope_id", "")) if isinstance(ack, dict) else None
        if future is None or future.done():
            self.stray_acks += 1
            return
        client.acks += 1
        future.set_result(ack.get("payload"))  # type: ignore[union-attr]

    def inspect(self) -> dict[str, Any]:
        with self._lock:
            tickets = len(self._tickets)
        return {"clients": [c.summary() for c in self.clients()], "unused_tickets": tickets,
                "opened": self.opened, "stray_acks": self.stray_acks}


# --- the Web API method and the WebSocket ----------------------------------------------------------------

def _socket_base(request: Request) -> str:
    """This server's own base URL as a WebSocket URL (the simulator speaks plain `ws://`, no TLS)."""
    base = str(request.base_url).rstrip("/")
    return "wss" + base[len("https"):] if base.startswith("https") else "ws" + base[len("http"):]


def open_connection(state: SlackState, request: Request) -> dict[str, Any]:
    """`apps.connections.open`: a one-use WebSocket URL (Slack's is `wss://…/link/?ticket=…`)."""
    ticket = f"{state.random.getrandbits(64):016x}"
    state.sockets.issue(ticket)
    return {"url": f"{_socket_base(request)}/_socket/{ticket}"}


def authenticate_app(state: SlackState, request: Request, args: dict[str, Any]) -> None:
    """App-level methods take the `xapp-` token only."""
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    token = bearer if scheme.lower() == "bearer" else args.get("token")
    if not token:
        raise SlackError("not_authed")
    if token == state.bot_token:  # reference: unconfirmed error name for a bot token on an app-level method
        raise SlackError("not_allowed_token_type")
    if token != state.app_token or state.faults.reject_credentials:
        raise SlackError("invalid_auth")


def hello(connections: int) -> dict[str, Any]:
    """Slack's first message on a new connection."""
    return {"type": "hello", "num_connections": connections,
            "debug_info": {"host": HOST, "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": APP_ID}}


def envelope(kind: str, payload: dict[str, Any], retry_attempt: int | None, retry_reason: str) -> dict[str, Any]:
    """Wrap a payload the way Socket Mode delivers it."""
    accepts = kind == "slash_commands" or (kind == "interactive"
                                           and payload.get("type") in _INTERACTIVE_WITH_RESPONSE)
    wrapped: dict[str, Any] = {"envelope_id": str(uuid.uuid4()), "type": kind, "payload": payload,
                               "accepts_response_payload": accepts}
    # Slack documents retry_attempt/retry_reason on events_api envelopes; others carry them only when a test
    # asks for a retry (reference: unconfirmed whether Slack ever retries commands or actions).
    if kind == "events_api" or retry_attempt:
        wrapped["retry_attempt"] = retry_attempt or 0
        wrapped["retry_reason"] = retry_reason
    return wrapped


async def serve_socket(state: SlackState, websocket: WebSocket) -> None:
    """One Socket Mode connection: `hello`, then acks until the client (or the simulator) closes it."""
    ticket = websocket.path_params["ticket"]
    if not state.sockets.redeem(ticket):
        await websocket.close(code=1008)  # before accept: the handshake is refused with HTTP 403
        return
    await websocket.accept()
    client = SocketClient(ticket, websocket, state.clock())
    connections = state.sockets.join(client)
    try:
        await websocket.send_json(hello(connections))
        async for raw in websocket.iter_text():
            state.sockets.acknowledge(client, raw)
    except WebSocketDisconnect:
        pass
    finally:
        state.sockets.leave(client)


# --- control routes --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Delivery:
    """A validated `POST /_sandbox/socket/send` body."""

    kind: str
    payload: dict[str, Any]
    retry_attempt: int | None
    retry_reason: str
    timeout: float
    client: str | None

    @classmethod
    def parse(cls, body: Any) -> Delivery:
        if not isinstance(body, dict):
            raise ValueError("body must be a JSON object")
        if body.get("type") not in ENVELOPE_TYPES:
            raise ValueError(f"type must be one of {', '.join(ENVELOPE_TYPES)}")
        if not isinstance(body.get("payload"), dict):
            raise ValueError("payload must be a JSON object")
        timeout, retry = body.get("timeout", ACK_SECONDS), body.get("retry_attempt")
        if not isinstance(timeout, int | float) or not 0 < timeout <= MAX_WAIT_SECONDS:
            raise ValueError(f"timeout must be a number of seconds in (0, {MAX_WAIT_SECONDS:g}]")
        if retry is not None and (not isinstance(retry, int) or retry < 0):
            raise ValueError("retry_attempt must be a non-negative integer")
        client = body.get("client")
        return cls(body["type"], body["payload"], retry, str(body.get("retry_reason") or ""), float(timeout),
                   str(client) if client else None)


def _refused(status: int, error: str, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"ok": False, "error": error, "detail": detail, **extra}, status_code=status)


async def _deliver(state: SlackState, delivery: Delivery) -> Response:
    client = state.sockets.pick(delivery.client)
    if client is None:
        return _refused(409, "no_socket_client", "no Socket Mode client is connected "
                        "(start `hirebridge serve --socket-mode` against this simulator)")
    wrapped = envelope(delivery.kind, delivery.payload, delivery.retry_attempt, delivery.retry_reason)
    envelope_id = wrapped["envelope_id"]
    waiting: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    client.pending[envelope_id] = waiting
    started = time.perf_counter()
    try:
        await client.websocket.send_json(wrapped)
        client.envelopes += 1
        ack = await asyncio.wait_for(waiting, delivery.timeout)
    except TimeoutError:
        return _refused(504, "no_ack", f"no ack within {delivery.timeout:g}s", envelope_id=envelope_id)
    except (OSError, WebSocketDisconnect, RuntimeError) as exc:  # closed while sending or waiting
        return _refused(409, "socket_closed", f"the client went away: {exc}", envelope_id=envelope_id)
    finally:
        client.pending.pop(envelope_id, None)
    ms = round((time.perf_counter() - started) * 1000, 1)
    return JSONResponse({"ok": True, "ack": ack, "ms": ms, "envelope_id": envelope_id})


def socket_routes(state: SlackState) -> list[Route | WebSocketRoute]:
    """The WebSocket itself, and `/_sandbox/socket*` to list clients, deliver envelopes and drop connections."""

    async def websocket(ws: WebSocket) -> None:
        await serve_socket(state, ws)

    async def listing(request: Request) -> Response:
        return JSONResponse(state.sockets.inspect())

    async def send(request: Request) -> Response:
        try:
            delivery = Delivery.parse(await request.json())
        except ValueError as exc:
            return _refused(400, "invalid_request", str(exc))
        return await _deliver(state, delivery)

    async def drop(request: Request) -> Response:
        """Close every connection abruptly, or with `{"reason": ...}` send Slack's `disconnect` message first."""
        try:
            body = await request.json() if await request.body() else {}
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _refused(400, "invalid_request", 'body must be empty or {"reason": "..."}')
        reason = body.get("reason")
        clients = state.sockets.clients()
        for client in clients:
            if reason:
                await client.websocket.send_json({"type": "disconnect", "reason": str(reason),
                                                  "debug_info": {"host": HOST}})
            else:
                await client.websocket.close(code=1011)
        return JSONResponse({"ok": True, "dropped": [c.id for c in clients]})

    return [WebSocketRoute("/_socket/{ticket}", websocket),
            Route("/_sandbox/socket", listing, methods=["GET"]),
            Route("/_sandbox/socket/send", send, methods=["POST"]),
            Route("/_sandbox/socket/drop", drop, methods=["POST"])]


#: the app-level Web API methods: authenticated with the app token, given the request (for the base URL)
APP_METHODS: dict[str, Callable[[SlackState, Request], dict[str, Any]]] = {
    "apps.connections.open": open_connection,
}
