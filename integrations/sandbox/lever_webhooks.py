"""Lever webhooks as the simulator sends them: signed envelopes, delivery with retries, subscriptions."""

from __future__ import annotations

import hashlib
import hmac
import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations.sandbox.base import Background

if TYPE_CHECKING:  # the state module imports this one
    from integrations.sandbox.lever import LeverState

#: Lever's documented event names (reference 3.4); the simulator emits the first five.
EVENTS = ("candidateStageChange", "candidateHired", "candidateArchiveChange", "candidateDeleted",
          "applicationCreated", "interviewCreated", "interviewUpdated", "interviewDeleted",
          "contactCreated", "contactUpdated")

#: Waits (seconds) before each of the 5 retries, before `time_scale`. Lever documents only "five times,
#: waiting longer and longer in between" — reference: unconfirmed schedule; we double from one minute.
RETRY_WAITS = (60.0, 120.0, 240.0, 480.0, 960.0)

USER_AGENT = "Lever-Webhooks"


def sign(signature_token: str, token: str, triggered_at: int) -> str:
    """Lever's signature: hex HMAC-SHA256 keyed by the webhook's token over `token + str(triggeredAt)`."""
    message = f"{token}{triggered_at}".encode()
    return hmac.new(signature_token.encode(), message, hashlib.sha256).hexdigest()


def build_envelope(event: str, data: dict[str, Any], signature_token: str, *, rng: random.Random,
                   now_ms: int, event_id: str | None = None) -> dict[str, Any]:
    """A delivery body: id (optional: Lever's own sample omits it), event, triggeredAt, token, signature, data."""
    token = f"{rng.getrandbits(192):048x}"  # "random 48 chars"
    envelope: dict[str, Any] = {"event": event, "triggeredAt": now_ms, "data": data}
    if event_id is not None:
        envelope["id"] = event_id
    envelope["token"] = token
    envelope["signature"] = sign(signature_token, token, now_ms)
    return envelope


@dataclass
class Delivery:
    """One envelope sent to one URL: every attempt's outcome, and whether it was acked."""

    url: str
    envelope: dict[str, Any]
    attempts: list[int | str] = field(default_factory=list)  # HTTP status, or the transport error's name
    delivered: bool = False
    done: bool = False


def deliver(delivery: Delivery, *, time_scale: float = 1.0, timeout: float = 10.0,
            sleep: Callable[[float], None] = time.sleep) -> Delivery:
    """POST the envelope; any 2xx acks, anything else (3xx included) retries up to 5 more times."""
    with httpx.Client(timeout=timeout, follow_redirects=False) as http:
        for wait in (0.0, *RETRY_WAITS):
            if wait:
                sleep(wait * time_scale)
            outcome = _attempt(http, delivery)
            delivery.attempts.append(outcome)
            if isinstance(outcome, int) and 200 <= outcome < 300:
                delivery.delivered = True
                break
    delivery.done = True
    return delivery


def _attempt(http: httpx.Client, delivery: Delivery) -> int | str:
    headers = {"User-Agent": USER_AGENT, "Content-Type": "application/json"}
    try:
        return http.post(delivery.url, json=delivery.envelope, headers=headers).status_code
    except httpx.HTTPError as exc:
        return type(exc).__name__


class WebhookHub:
    """Subscriptions per API key and deliveries in background threads, kept for inspection."""

    def __init__(self, time_scale: float = 1.0, timeout: float = 10.0) -> None:
        self.time_scale = time_scale
        self.timeout = timeout
        self.subscriptions: dict[str, list[str]] = {}
        self.deliveries: list[Delivery] = []
        self._background = Background()
        self._lock = threading.Lock()

    def register(self, api_key: str, url: str) -> None:
        with self._lock:
            urls = self.subscriptions.setdefault(api_key, [])
            if url not in urls:
                urls.append(url)

    def urls_for(self, api_key: str) -> list[str]:
        with self._lock:
            return list(self.subscriptions.get(api_key, ()))

    def send(self, urls: list[str], envelope: dict[str, Any]) -> list[Delivery]:
        """Start one background delivery per URL; returns the (still running) deliveries."""
        started = []
        for url in urls:
            delivery = Delivery(url, envelope)
            with self._lock:
                self.deliveries.append(delivery)
            self._background.start("lever-webhook", deliver, delivery, time_scale=self.time_scale,
                                   timeout=self.timeout)
            started.append(delivery)
        return started

    def join(self, timeout: float = 10.0) -> bool:
        """Wait for every delivery started so far to finish (acked or out of retries); False on timeout."""
        return self._background.join(timeout)

    def summary(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(d) for d in self.deliveries]


def webhook_routes(state: LeverState) -> list[Route]:
    """`POST /_sandbox/webhooks {url, api_key}` subscribes; `POST /_sandbox/emit {...}` fires one event now."""

    async def read(request: Request) -> tuple[dict[str, Any], str]:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or str(body.get("api_key")) not in state.books:
            raise ValueError("body must be a JSON object naming a known api_key")
        return body, str(body["api_key"])

    async def register(request: Request) -> Response:
        try:
            body, api_key = await read(request)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        if not isinstance(body.get("url"), str):
            return JSONResponse({"error": "url is required"}, status_code=400)
        state.webhooks.register(api_key, body["url"])
        return JSONResponse({"ok": True, "webhooks": state.webhooks.urls_for(api_key)})

    async def emit(request: Request) -> Response:
        try:
            body, api_key = await read(request)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        if body.get("event") not in EVENTS or not isinstance(body.get("data", {}), dict):
            return JSONResponse({"error": f"event must be one of {', '.join(EVENTS)}; data an object"}, 400)
        urls = [body["url"]] if isinstance(body.get("url"), str) else None
        envelope = state.emit(state.books[api_key], body["event"], body.get("data", {}),
                              event_id=body.get("id"), urls=urls)
        return JSONResponse({"ok": True, "envelope": envelope})

    async def listing(request: Request) -> Response:
        subscriptions = {b.account.tenant: state.webhooks.urls_for(k) for k, b in state.books.items()}
        return JSONResponse({"subscriptions": subscriptions, "deliveries": state.webhooks.summary()})

    return [Route("/_sandbox/webhooks", register, methods=["POST"]),
            Route("/_sandbox/webhooks", listing, methods=["GET"]),
            Route("/_sandbox/emit", emit, methods=["POST"])]
