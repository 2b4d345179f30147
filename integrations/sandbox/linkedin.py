"""LinkedIn RSC simulator: customer child apps, tokens, budgets, and the finders partners read from."""

from __future__ import annotations

import hmac
import threading
import time
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations.sandbox import world
from integrations.sandbox.base import Clock, Handler, SimulatorState, TokenIssuer, control_routes, recorded
from integrations.sandbox.linkedin_push import Delivery, ExportRequest, push_routes
from integrations.sandbox.linkedin_restli import (
    CustomerHandler,
    batch_routes,
    make_error,
    query_values,
    restli_error,
)

TOKEN_TTL_SECONDS = 1800.0  # 30 min [vendor docs, client-credentials flow]
DAILY_BUDGET = 100_000  # requests per app per UTC day [vendor docs V4, V11]
RECORDS_PER_MINUTE = 10_000  # candidate and application sync [vendor docs V11]
MAX_WINDOW_MS = 12 * 3600 * 1000  # conversationEvents: the simulator refuses longer windows (reference Decision)
MAIL_STUB_CAP = 20_000  # hosted search stops here and errors [vendor docs V4]


@dataclass
class Customer:
    """One customer's child app: its credentials, organization, Recruiter contract and seats."""

    tenant: str
    client_id: str
    client_secret: str
    organization: str
    contract: str
    seats: tuple[str, ...]
    # reference: child vs parent secret for RSC push signatures is unconfirmed; default the child's
    signing_secret: str = ""

    def __post_init__(self) -> None:
        self.signing_secret = self.signing_secret or self.client_secret


class UsageWindow:
    """Usage per app in fixed windows aligned to the epoch, so a day window resets at UTC midnight."""

    def __init__(self, seconds: float, clock: Clock) -> None:
        self._seconds = seconds
        self._clock = clock
        self._window = -1
        self._used: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, key: str, amount: int, limit: int) -> bool:
        """Count `amount` if it fits under `limit` in the current window."""
        with self._lock:
            self._roll()
            if self._used.get(key, 0) + amount > limit:
                return False
            self._used[key] = self._used.get(key, 0) + amount
            return True

    def used(self, key: str) -> int:
        with self._lock:
            self._roll()
            return self._used.get(key, 0)

    def clear(self) -> None:
        with self._lock:
            self._used.clear()

    def _roll(self) -> None:
        window = int(self._clock() // self._seconds)
        if window != self._window:
            self._window, self._used = window, {}


class LinkedInState(SimulatorState):
    """Everything the LinkedIn simulator holds; `time_scale` multiplies push retry backoff."""

    name = "linkedin"

    def __init__(self, seed: int | None = None, *, clock: Clock = time.time, daily_budget: int = DAILY_BUDGET,
                 records_per_minute: int = RECORDS_PER_MINUTE, time_scale: float = 1.0) -> None:
        super().__init__(seed)
        self.clock = clock
        self.daily_budget = daily_budget
        self.records_per_minute = records_per_minute
        self.time_scale = time_scale
        self.tokens = TokenIssuer(TOKEN_TTL_SECONDS, clock, prefix="AQV")
        self.customers: dict[str, Customer] = {}
        self.candidates: dict[tuple[str, str], dict[str, Any]] = {}  # (organization, atsCandidateId)
        self.applications: dict[tuple[str, str], dict[str, Any]] = {}  # (organization, atsJobApplicationId)
        self.stages: dict[tuple[str, str], dict[str, Any]] = {}  # application -> stage id -> entity
        self.notes: dict[tuple[str, str], dict[str, Any]] = {}  # candidate -> note id -> entity
        self.configurations: dict[tuple[str, str], dict[str, Any]] = {}  # (client_id, integrationType)
        self.exports: dict[str, ExportRequest] = {}
        self.conversations: dict[str, list[dict[str, Any]]] = {}  # seat -> InMail events
        self.mail_stubs: list[dict[str, Any]] = []
        self.deliveries: list[Delivery] = []
        self._requests = UsageWindow(86_400, clock)
        self._records = UsageWindow(60, clock)

    def add_customer(self, customer: Customer) -> None:
        with self.lock:
            self.customers[customer.client_id] = customer

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def customer_for_seat(self, seat: str) -> Customer | None:
        return next((c for c in self.customers.values() if seat in c.seats), None)

    def callback_url(self, client_id: str) -> str | None:
        entity = self.configurations.get((client_id, "ONE_CLICK_EXPORT"), {}).get("CALLBACK_URL")
        return entity["configurationValue"]["string"] if entity else None

    def customer_for_callback(self, url: str) -> Customer | None:
        return next((c for c in self.customers.values() if self.callback_url(c.client_id) == url), None)

    def take_request(self, client_id: str) -> bool:
        """Count one API call against the app's daily budget (`faults.rate_limit` overrides it).

        One budget covers every resource; LinkedIn keeps one per resource family (5,000/day for
        integration configuration), which the simulator does not model.
        """
        limit = self.faults.rate_limit if self.faults.rate_limit is not None else self.daily_budget
        return self._requests.take(client_id, 1, limit)

    def take_records(self, client_id: str, count: int) -> bool:
        return self._records.take(client_id, count, self.records_per_minute)

    def reset(self) -> None:
        super().reset()
        self._requests.clear()
        self._records.clear()

    def inspect(self) -> dict[str, Any]:
        with self.lock:
            return {**super().inspect(), "daily_budget": self.daily_budget,
                    "customers": [self._describe(c) for c in self.customers.values()],
                    "candidates": len(self.candidates), "applications": len(self.applications),
                    "stages": sum(map(len, self.stages.values())), "notes": sum(map(len, self.notes.values())),
                    "exports": len(self.exports), "mail_stubs": len(self.mail_stubs),
                    "conversation_events": sum(map(len, self.conversations.values())),
                    "deliveries": [asdict(d) for d in self.deliveries[-50:]]}

    def _describe(self, customer: Customer) -> dict[str, Any]:
        return {"tenant": customer.tenant, "client_id": customer.client_id,
                "organization": customer.organization, "contract": customer.contract,
                "seats": list(customer.seats), "callback_url": self.callback_url(customer.client_id),
                "requests_today": self._requests.used(customer.client_id),
                "records_this_minute": self._records.used(customer.client_id)}


def seed_sandbox(state: LinkedInState) -> LinkedInState:
    """Load the sandbox world's customers (credentials, organizations, contracts, seats)."""
    for c in world.LINKEDIN_CUSTOMERS:
        state.add_customer(Customer(c.tenant, c.client_id, c.client_secret, c.organization, c.contract, c.seats))
    return state


def create_app(state: LinkedInState | None = None) -> Starlette:
    """The simulator app; with no state given, a fresh one seeded with the sandbox world."""
    state = state if state is not None else seed_sandbox(LinkedInState())
    api = partial(customer_endpoint, state)
    routes = [
        Route("/oauth/v2/accessToken", recorded(state, make_error)(partial(issue_token, state)), methods=["POST"]),
        *batch_routes(state, api),
        Route("/v2/conversationEvents", api(partial(conversation_events, state)), methods=["GET"]),
        Route("/v2/mailStubs", api(partial(mail_stubs, state)), methods=["GET"]),
        Route("/v2/seatsV2", api(partial(seats, state)), methods=["GET"]),
        *control_routes(state),
        *push_routes(state, api),
    ]
    app = Starlette(routes=routes)
    app.state.sim = state
    return app


def customer_endpoint(state: LinkedInState, handler: CustomerHandler) -> Handler:
    """An API endpoint: recorded, faults applied, bearer token checked, daily budget counted."""

    @recorded(state, make_error)
    async def endpoint(request: Request) -> Response:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not value:
            return JSONResponse({"message": "Empty oauth2_access_token", "serviceErrorCode": 401, "status": 401},
                                status_code=401)
        token = state.tokens.check(value.strip())
        customer = state.customers.get(token.subject) if token else None
        if customer is None:
            return make_error(401)
        if not state.take_request(customer.client_id):
            return make_error(429)
        return await handler(request, customer)

    return endpoint


async def issue_token(state: LinkedInState, request: Request) -> Response:
    """2-legged client credentials: `{"access_token", "expires_in"}` for a customer's child app."""
    form = await request.form()
    if form.get("grant_type") != "client_credentials":
        return JSONResponse({"error": "unsupported_grant_type", "error_description": "Use client_credentials"},
                            status_code=400)
    customer = state.customers.get(str(form.get("client_id", "")))
    secret = str(form.get("client_secret", ""))
    if state.faults.reject_credentials or customer is None or not hmac.compare_digest(
            customer.client_secret.encode(), secret.encode()):
        return JSONResponse({"error": "invalid_client", "error_description": "Client authentication failed"},
                            status_code=401)
    ttl = state.faults.token_ttl_seconds
    ttl = TOKEN_TTL_SECONDS if ttl is None else ttl
    token = state.tokens.issue(customer.client_id, ttl)
    return JSONResponse({"access_token": token.value, "expires_in": int(ttl)})


async def conversation_events(state: LinkedInState, request: Request, customer: Customer) -> Response:
    """`q=criteria`: a seat's InMails with `timeRange.start` inclusive and `timeRange.end` exclusive."""
    viewer = request.query_params.get("viewer", "")
    bounds = _ints(request, "timeRange.start", "timeRange.end", "start", "count")
    if isinstance(bounds, Response):
        return bounds
    low, high, start, count = bounds
    if request.query_params.get("q") != "criteria" or not viewer:
        return restli_error(400, "q=criteria and viewer are required")
    if viewer not in customer.seats:
        return restli_error(403, f"{viewer} is not a seat of this application's contract")
    if low is not None and high is not None and not 0 <= high - low <= MAX_WINDOW_MS:
        return restli_error(400, "timeRange must be ordered and span at most 12 hours")
    events = [e for e in state.conversations.get(viewer, [])
              if (low is None or e["createdAt"] >= low) and (high is None or e["createdAt"] < high)]
    return page(request, sorted(events, key=lambda e: e["createdAt"]), start or 0, count or 10)


async def mail_stubs(state: LinkedInState, request: Request, customer: Customer) -> Response:
    """`q=contract`: stubs of members who shared contact details; created-date start in, end out."""
    contract = request.query_params.get("contract", "")
    bounds = _ints(request, "createdDateStart", "createdDateEnd", "start", "count")
    if isinstance(bounds, Response):
        return bounds
    low, high, start, count = bounds
    if request.query_params.get("q") != "contract" or not contract:
        return restli_error(400, "q=contract and contract are required")
    if contract != customer.contract:
        return restli_error(403, f"{contract} is not this application's contract")
    owners = set(query_values(request.url.query, "owners")) or set(customer.seats)
    stubs = [s for s in state.mail_stubs if s["contract"] == contract and s["owner"] in owners
             and (low is None or s["createdAt"] >= low) and (high is None or s["createdAt"] < high)]
    if len(stubs) > MAIL_STUB_CAP:
        return restli_error(400, f"More than {MAIL_STUB_CAP} results; narrow the date range")
    return page(request, sorted(stubs, key=lambda s: s["createdAt"]), start or 0, count or 10)


async def seats(state: LinkedInState, request: Request, customer: Customer) -> Response:
    """`q=attributes`: the contract's seats; `start` is mandatory (the status code is a reference Decision)."""
    bounds = _ints(request, "start", "count")
    if isinstance(bounds, Response):
        return bounds
    start, count = bounds
    if start is None:
        return restli_error(400, "start is required")
    contracts = query_values(request.url.query, "contracts")
    if any(c != customer.contract for c in contracts):
        return restli_error(403, "Not this application's contract")
    states = set(query_values(request.url.query, "states")) or {"ACTIVE"}
    # sandbox seats are all active; person ids derive from the seat id so tests can predict them
    elements = [{"id": seat, "member": f"urn:li:person:member{seat.rsplit(':', 1)[-1]}", "firstName": "Seat",
                 "lastName": seat.rsplit(":", 1)[-1], "contract": customer.contract, "state": "ACTIVE",
                 "seatRoles": ["ADMIN_SEAT", "SOURCER_ADD_PROSPECT"]} for seat in customer.seats]
    return page(request, [e for e in elements if e["state"] in states], start, count or 10)


def _ints(request: Request, *names: str) -> list[int | None] | Response:
    """Optional integer query parameters, or the 400 naming the first bad one."""
    values: list[int | None] = []
    for name in names:
        raw = request.query_params.get(name)
        if raw is not None and not raw.lstrip("-").isdigit():
            return restli_error(400, f"{name} must be an integer")
        values.append(None if raw is None else int(raw))
    return values


def page(request: Request, items: list[dict[str, Any]], start: int, count: int) -> Response:
    """A finder answer: `elements` plus `paging` with a `next` link while more remain."""
    links = []
    if start + count < len(items):
        query = [(k, v) for k, v in request.query_params.multi_items() if k not in ("start", "count")]
        query += [("start", str(start + count)), ("count", str(count))]
        links.append({"href": f"{request.url.path}?{urlencode(query)}", "rel": "next", "type": "application/json"})
    paging = {"start": start, "count": count, "total": len(items), "links": links}
    return JSONResponse({"elements": items[start : start + count], "paging": paging})
