"""What every simulator shares: fault knobs, request recording, tokens, rate limits, control routes."""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

Clock = Callable[[], float]
Handler = Callable[[Request], Awaitable[Response]]


@dataclass
class Faults:
    """Knobs a test or the demo turns to make a simulator misbehave; all off by default."""

    error_rate: float = 0.0  # fraction of API requests answered with `error_status`
    error_status: int = 503
    rate_limited_rate: float = 0.0  # fraction answered 429 regardless of the real limiter
    timeout_rate: float = 0.0  # fraction that hang for `timeout_seconds` then answer 504
    timeout_seconds: float = 5.0
    latency_ms: float = 0.0  # added to every API request
    outage: bool = False  # every API request answers 503
    token_ttl_seconds: float | None = None  # overrides the vendor's token lifetime for new tokens
    rate_limit: int | None = None  # overrides the simulator's own request limit per window
    reject_credentials: bool = False  # auth endpoints and Basic auth answer 401

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update; unknown knobs raise ValueError naming them."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown fault knob(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        for name, value in changes.items():
            setattr(self, name, value)


@dataclass
class RecordedRequest:
    """One request a simulator received, kept for inspection."""

    at: float
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any
    status: int = 0


@dataclass
class Recorder:
    """Keeps what a simulator was sent (bounded), thread-safe."""

    limit: int = 20_000
    _items: deque[RecordedRequest] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, item: RecordedRequest) -> None:
        with self._lock:
            self._items.append(item)
            while len(self._items) > self.limit:
                self._items.popleft()

    def items(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def count(self, method: str | None = None, path_prefix: str = "") -> int:
        return sum(
            1
            for r in self.items()
            if (method is None or r.method == method) and r.path.startswith(path_prefix)
        )


_RECORDED_HEADERS = ("authorization", "content-type", "x-restli-method", "x-restli-protocol-version",
                     "linkedin-version", "user-agent")


@dataclass
class IssuedToken:
    value: str
    subject: str
    expires_at: float


class TokenIssuer:
    """Client-credentials tokens that expire; `expire_all` simulates a revoked or lapsed token."""

    def __init__(self, ttl_seconds: float, clock: Clock = time.time, prefix: str = "tok") -> None:
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._prefix = prefix
        self._tokens: dict[str, IssuedToken] = {}
        self._lock = threading.Lock()
        self.issued = 0

    def issue(self, subject: str, ttl_seconds: float | None = None) -> IssuedToken:
        ttl = self.ttl_seconds if ttl_seconds is None else ttl_seconds
        token = IssuedToken(f"{self._prefix}-{secrets.token_urlsafe(24)}", subject, self._clock() + ttl)
        with self._lock:
            self._tokens[token.value] = token
            self.issued += 1
        return token

    def check(self, value: str) -> IssuedToken | None:
        """The live token with this value, or None if unknown or expired."""
        with self._lock:
            token = self._tokens.get(value)
        if token is None or token.expires_at <= self._clock():
            return None
        return token

    def values(self) -> list[str]:
        """Every token issued so far (tests check that none of them reaches a log)."""
        with self._lock:
            return list(self._tokens)

    def expire_all(self) -> None:
        with self._lock:
            for token in self._tokens.values():
                token.expires_at = 0.0


class FixedWindow:
    """A fixed-window request limiter (Greenhouse style): `limit` requests per `window` seconds."""

    def __init__(self, limit: int, window: float, clock: Clock = time.time) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._start = 0.0
        self._used = 0
        self._lock = threading.Lock()

    def hit(self, limit: int | None = None) -> tuple[bool, int, float]:
        """Count one request: (allowed, remaining, window reset epoch seconds)."""
        limit = self.limit if limit is None else limit
        with self._lock:
            now = self._clock()
            if now >= self._start + self.window:
                self._start = now - (now % self.window)
                self._used = 0
            reset = self._start + self.window
            if self._used >= limit:
                return False, 0, reset
            self._used += 1
            return True, limit - self._used, reset


class TokenBucket:
    """A token bucket (Lever style): `rate` per second steady, bursts up to `burst`."""

    def __init__(self, rate: float, burst: float, clock: Clock = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = burst
        self._last = clock()
        self._lock = threading.Lock()

    def take(self, rate: float | None = None) -> bool:
        rate = self.rate if rate is None else rate
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * rate)
            self._last = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


class SimulatorState:
    """Base of each simulator's state: faults, recorder, randomness; subclasses add their data."""

    name = "sandbox"

    def __init__(self, seed: int | None = None) -> None:
        self.faults = Faults()
        self.recorder = Recorder()
        self.random = random.Random(seed)
        self.lock = threading.RLock()

    def reset(self) -> None:
        """Clear recorded requests and faults (data is kept)."""
        self.faults = Faults()
        self.recorder.clear()

    def inspect(self) -> dict[str, Any]:
        """What the simulator holds, for `GET /_sandbox/state`; subclasses extend it."""
        return {"name": self.name, "faults": asdict(self.faults)}


def error_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


async def apply_faults(state: SimulatorState, request: Request,
                       make_error: Callable[[int], Response]) -> Response | None:
    """Latency, outage, injected errors, 429s and timeouts; None means carry on normally."""
    f = state.faults
    if f.latency_ms:
        await asyncio.sleep(f.latency_ms / 1000)
    if f.outage:
        return make_error(503)
    roll = state.random.random()
    if roll < f.error_rate:
        return make_error(f.error_status)
    roll -= f.error_rate
    if roll < f.rate_limited_rate:
        return make_error(429)
    roll -= f.rate_limited_rate
    if roll < f.timeout_rate:
        await asyncio.sleep(f.timeout_seconds)
        return make_error(504)
    return None


async def read_body(request: Request) -> Any:
    """The body as JSON when it is JSON, form fields when a form, else text (for recording)."""
    raw = await request.body()
    if not raw:
        return None
    ctype = request.headers.get("content-type", "")
    if "json" in ctype:
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode("utf-8", "replace")
    if "form" in ctype:
        form = await request.form()
        return {k: v for k, v in form.items() if isinstance(v, str)}
    return raw.decode("utf-8", "replace")


def recorded(state: SimulatorState, make_error: Callable[[int], Response],
             faults: bool = True) -> Callable[[Handler], Handler]:
    """Decorate an API endpoint: record the request, apply the fault knobs, record the status."""

    def wrap(handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            body = await read_body(request)
            item = RecordedRequest(
                at=time.time(), method=request.method, path=request.url.path,
                query=request.url.query,
                headers={k: v for k, v in request.headers.items() if k.lower() in _RECORDED_HEADERS},
                body=body,
            )
            response = await apply_faults(state, request, make_error) if faults else None
            if response is None:
                response = await handler(request)
            item.status = response.status_code
            state.recorder.add(item)
            return response

        return endpoint

    return wrap


def control_routes(state: SimulatorState) -> list[Route]:
    """`/_sandbox/*`: read and set faults, list requests, inspect state, reset."""

    async def get_faults(request: Request) -> Response:
        return JSONResponse(asdict(state.faults))

    async def set_faults(request: Request) -> Response:
        try:
            changes = await request.json()
            if not isinstance(changes, dict):
                raise ValueError("body must be a JSON object of knob: value")
            state.faults.update(changes)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(asdict(state.faults))

    async def requests(request: Request) -> Response:
        prefix = request.query_params.get("path", "")
        items = [asdict(r) for r in state.recorder.items() if r.path.startswith(prefix)]
        return JSONResponse({"requests": items, "count": len(items)})

    async def inspect(request: Request) -> Response:
        return JSONResponse(state.inspect())

    async def reset(request: Request) -> Response:
        state.reset()
        return JSONResponse({"ok": True})

    return [
        Route("/_sandbox/faults", get_faults, methods=["GET"]),
        Route("/_sandbox/faults", set_faults, methods=["POST"]),
        Route("/_sandbox/requests", requests, methods=["GET"]),
        Route("/_sandbox/state", inspect, methods=["GET"]),
        Route("/_sandbox/reset", reset, methods=["POST"]),
    ]


class Background:
    """Threads a simulator starts on its own (webhook deliveries), so tests and the demo can wait for them."""

    def __init__(self) -> None:
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(self, name: str, target: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        thread = threading.Thread(target=target, args=args, kwargs=kwargs, name=name, daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def join(self, timeout: float = 10.0) -> bool:
        """Wait for every thread started so far; False if some still run at the deadline."""
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            return not self._threads

    def in_flight(self) -> int:
        with self._lock:
            return sum(t.is_alive() for t in self._threads)
