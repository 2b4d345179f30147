"""Greenhouse Harvest v3 simulator: OAuth tokens, rate limits, cursor-paged lists, the v3 endpoints."""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations.sandbox import greenhouse_webhooks as hooks
from integrations.sandbox import world
from integrations.sandbox.base import Clock, FixedWindow, SimulatorState, TokenIssuer, control_routes, recorded
from integrations.sandbox.greenhouse_lists import list_page
from integrations.sandbox.greenhouse_records import Account, Invalid, Json, NotFound, iso

TOKEN_TTL_SECONDS = 3600.0  # reference 1.2: one hour ([V] for partners only)
WINDOW_SECONDS = 30.0  # reference 2.2: v3 uses a fixed 30-second window (third-party)
DEFAULT_RATE_LIMIT = 50  # reference 2.2/5: Airbyte budgets 50 per 30 s; the real value is read from headers
UNAUTHORIZED = ["Token could not be decoded. Please ensure your token is from a trusted source."]


# --- the simulator ---------------------------------------------------------------------------------------

V3Handler = Callable[[Request, "Caller"], Awaitable[Response]]


@dataclass
class Caller:
    """Who a bearer token speaks for: the account and the acting user (`sub`; None = service account)."""

    state: GreenhouseState
    account: Account
    user_id: int | None


class GreenhouseState(SimulatorState):
    """Accounts keyed by client_id, the token issuer and the webhook hub."""

    name = "greenhouse"

    def __init__(self, seed: int | None = None, *, rate_limit: int = DEFAULT_RATE_LIMIT,
                 time_scale: float = 1.0, clock: Clock = time.time) -> None:
        super().__init__(seed)
        self.clock = clock
        self.rate_limit = rate_limit
        self.time_scale = time_scale  # webhook retry delays × this, unless a registration says otherwise
        self.accounts: dict[str, Account] = {}
        self.tokens = TokenIssuer(TOKEN_TTL_SECONDS, clock, prefix="gh")
        self.webhooks = hooks.WebhookHub(self.random)

    def add_account(self, spec: world.GreenhouseAccount) -> Account:
        """Load one organisation (users, jobs, stages) from the sandbox world."""
        account = Account.from_world(spec, FixedWindow(self.rate_limit, WINDOW_SECONDS, self.clock), self.clock)
        self.accounts[spec.client_id] = account
        return account

    def account(self, client_id: str | None = None) -> Account:
        """The named account, or the only one when none is named; KeyError when unknown."""
        if client_id is None and len(self.accounts) == 1:
            return next(iter(self.accounts.values()))
        return self.accounts[client_id or ""]

    def caller(self, request: Request) -> Caller | None:
        """The live bearer token's account and user, or None."""
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        token = self.tokens.check(value.strip()) if scheme.lower() == "bearer" else None
        if token is None:
            return None
        client_id, _, sub = token.subject.rpartition("|")
        account = self.accounts.get(client_id)
        return Caller(self, account, int(sub) if sub else None) if account else None

    def emit(self, account: Account, payload: Json) -> None:
        """Send a webhook for a state change if the account has one registered."""
        self.webhooks.send(account.client_id, account.webhook_secret, payload)

    def inspect(self) -> dict[str, Any]:
        base = super().inspect()
        base["accounts"] = {cid: a.snapshot() for cid, a in self.accounts.items()}
        base["tokens_issued"] = self.tokens.issued
        base["requests"] = len(self.recorder.items())
        base["webhooks"] = self.webhooks.snapshot()
        return base


def seed_sandbox(state: GreenhouseState) -> GreenhouseState:
    """Load the sandbox world's Greenhouse account."""
    state.add_account(world.ACME_GREENHOUSE)
    return state


# --- responses -------------------------------------------------------------------------------------------

def vendor_error(status: int, message: str | None = None, errors: list[Any] | None = None,
                 headers: dict[str, str] | None = None) -> JSONResponse:
    """The v3 error envelope `{"message", "errors"}` (reference 2.3)."""
    body: Json = {"message": message or HTTPStatus(status).phrase}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers)


def fault_error(status: int) -> Response:
    """Errors injected by the fault knobs; injected 429s are transient, so they ask for a short wait."""
    headers = {"Retry-After": "1"} if status == 429 else None
    return vendor_error(status, errors=[], headers=headers)


def _stamp_rate_limit(response: Response, limit: int, remaining: int, reset: float) -> None:
    response.headers["X-RateLimit-Limit"] = str(limit)
    response.headers["X-RateLimit-Remaining"] = str(remaining)
    response.headers["X-RateLimit-Reset"] = str(math.ceil(reset))


def v3(state: GreenhouseState, handler: V3Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a /v3 endpoint: count it against the caller's window, record it, fault it, authorise it."""

    async def guarded(request: Request) -> Response:
        caller, allowed, reset = request.state.caller, request.state.allowed, request.state.reset
        if caller is None:
            return vendor_error(401, "Unauthorized", UNAUTHORIZED)
        if not allowed:
            wait = max(1, math.ceil(reset - state.clock()))
            return vendor_error(429, errors=["Rate limit exceeded"], headers={"Retry-After": str(wait)})
        try:
            return await handler(request, caller)
        except Invalid as exc:
            return vendor_error(422, "Unprocessable Content", exc.errors)
        except NotFound:
            return vendor_error(404, "Resource not found")

    inner = recorded(state, fault_error)(guarded)

    async def endpoint(request: Request) -> Response:
        caller = state.caller(request)
        limit = state.faults.rate_limit if state.faults.rate_limit is not None else state.rate_limit
        allowed, remaining, reset = caller.account.limiter.hit(limit) if caller else (True, 0, 0.0)
        request.state.caller, request.state.allowed, request.state.reset = caller, allowed, reset
        response = await inner(request)
        if caller is not None:  # headers on every response, errors included (reference 2.2)
            _stamp_rate_limit(response, limit, remaining, reset)
        return response

    return endpoint


# --- the token endpoint ----------------------------------------------------------------------------------

def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, sep, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (client_id, secret) if sep else None


async def _form_fields(request: Request) -> dict[str, str]:
    """An urlencoded body's fields; any other body has none (so `grant_type` is reported missing)."""
    if "x-www-form-urlencoded" not in request.headers.get("content-type", ""):
        return {}
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))


def token_endpoint(state: GreenhouseState) -> Callable[[Request], Awaitable[Response]]:
    """`POST /token`: client credentials with Basic auth and a form body (reference 1.1)."""

    async def issue(request: Request) -> Response:
        invalid_client = JSONResponse({"error": "invalid_client"}, status_code=401)
        creds = _basic_credentials(request.headers.get("authorization", ""))
        account = state.accounts.get(creds[0]) if creds else None
        if state.faults.reject_credentials or creds is None or account is None:
            return invalid_client
        if not hmac.compare_digest(account.client_secret.encode(), creds[1].encode()):
            return invalid_client
        form = await _form_fields(request)
        grant, sub = form.get("grant_type", ""), form.get("sub", "")
        if not grant:
            return JSONResponse({"message": "Must include `grant_type` in the request body"}, status_code=400)
        if grant != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if sub and not (sub.isdigit() and int(sub) in account.users):
            # reference: unconfirmed how an unknown `sub` fails; a 400 naming it is the sandbox's choice
            return JSONResponse({"message": f"sub={sub} is not a user of this organization"}, status_code=400)
        token = state.tokens.issue(f"{account.client_id}|{sub}", state.faults.token_ttl_seconds)
        # reference 1.2: sources disagree (`expires_at` vs `expires_in`); `expires_at` is what the live-tenant
        # probes and most connectors parse, so the sandbox sends it, rounded down so clients refresh in time.
        return JSONResponse({"access_token": token.value, "token_type": "Bearer",
                             "expires_at": iso(math.floor(token.expires_at), millis=False)})

    return recorded(state, fault_error)(issue)


# --- /v3 endpoints ---------------------------------------------------------------------------------------

async def _json_body(request: Request) -> Json:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise Invalid("Request body must be a JSON object")
    return body


def _list(resource: str) -> V3Handler:
    async def handler(request: Request, caller: Caller) -> Response:
        return list_page(request, caller.account, resource)

    return handler


async def create_candidate(request: Request, caller: Caller) -> Response:
    account = caller.account
    candidate, application = account.create_candidate(await _json_body(request))
    if application is not None:
        caller.state.emit(account, hooks.application_event(account, "new_candidate_application", application))
    # reference 3.2: the create response is unconfirmed (flat candidate vs `{candidate, application}`); the
    # wrapped shape is the sandbox's choice because it is the only one that returns the application's id.
    return JSONResponse({"candidate": candidate, "application": application}, status_code=201)


async def patch_candidate(request: Request, caller: Caller) -> Response:
    candidate_id = int(request.path_params["id"])
    return JSONResponse(caller.account.update_candidate(candidate_id, await _json_body(request)))


async def merge_candidates(request: Request, caller: Caller) -> Response:
    # reference 6.3: the v3 merge body is undocumented; the sandbox takes v1's `{"duplicate_candidate_id"}`
    # with the path id as the primary, which survives (as v1's `primary_candidate_id` did).
    account, body = caller.account, await _json_body(request)
    primary_id, duplicate_id = int(request.path_params["id"]), body.get("duplicate_candidate_id")
    if not isinstance(duplicate_id, int) or duplicate_id not in account.candidates:
        raise Invalid({"duplicate_candidate_id": "must be the id of an existing candidate"})
    event = hooks.person_event(account, "merge_candidate", account.candidate(duplicate_id),
                               new_candidate_id=primary_id)
    merged = account.merge(primary_id, duplicate_id)
    caller.state.emit(account, event)
    return JSONResponse(merged)


async def delete_candidate(request: Request, caller: Caller) -> Response:
    """`DELETE /v3/candidates/{id}` (reference 3.1, candidates:destroy): the candidate goes with their
    applications and notes, and a `delete_candidate` webhook says so. reference: the v3 answer is undocumented;
    the sandbox answers as v1 did (`{"message": "Person … has been deleted."}`). Unknown id: 404."""
    account = caller.account
    candidate = account.candidate(int(request.path_params["id"]))
    gone = sorted(a["id"] for a in account.applications.values() if a["candidate_id"] == candidate["id"])
    event = hooks.person_event(account, "delete_candidate", candidate, deleted_application_ids=gone)
    account.delete_candidate(candidate["id"])
    caller.state.emit(account, event)
    return JSONResponse({"message": f"Person {candidate['id']} has been deleted."})


async def create_application(request: Request, caller: Caller) -> Response:
    account = caller.account
    application = account.create_application(await _json_body(request))
    caller.state.emit(account, hooks.application_event(account, "new_candidate_application", application))
    return JSONResponse(application, status_code=201)


async def move_application(request: Request, caller: Caller) -> Response:
    account = caller.account
    application = account.move(int(request.path_params["id"]), await _json_body(request))
    caller.state.emit(account, hooks.application_event(account, "candidate_stage_change", application))
    return Response(status_code=204)


async def create_note(request: Request, caller: Caller) -> Response:
    note = caller.account.add_note(await _json_body(request), caller.user_id)
    return JSONResponse(note, status_code=201)


def v3_routes(state: GreenhouseState) -> list[Route]:
    """The Harvest v3 endpoints the bridge uses, read top to bottom."""
    api = partial(v3, state)
    return [
        Route("/v3/candidates", api(_list("candidates")), methods=["GET"]),
        Route("/v3/candidates", api(create_candidate), methods=["POST"]),
        Route("/v3/candidates/{id:int}", api(patch_candidate), methods=["PATCH"]),
        Route("/v3/candidates/{id:int}", api(delete_candidate), methods=["DELETE"]),
        Route("/v3/candidates/{id:int}/merge", api(merge_candidates), methods=["POST"]),
        Route("/v3/applications", api(_list("applications")), methods=["GET"]),
        Route("/v3/applications", api(create_application), methods=["POST"]),
        Route("/v3/applications/{id:int}/move", api(move_application), methods=["POST"]),
        Route("/v3/notes", api(_list("notes")), methods=["GET"]),
        Route("/v3/notes", api(create_note), methods=["POST"]),
        Route("/v3/jobs", api(_list("jobs")), methods=["GET"]),
        Route("/v3/job_interview_stages", api(_list("job_interview_stages")), methods=["GET"]),
        Route("/v3/users", api(_list("users")), methods=["GET"]),
    ]


async def _not_found(request: Request, exc: Exception) -> Response:
    return vendor_error(404, "Resource not found")  # routing runs before auth (reference 2.3)


def create_app(state: GreenhouseState | None = None) -> Starlette:
    """The simulator app; without a state it serves the seeded sandbox account."""
    state = state if state is not None else seed_sandbox(GreenhouseState())
    routes = [Route("/token", token_endpoint(state), methods=["POST"]), *v3_routes(state),
              *hooks.webhook_routes(state), *control_routes(state)]
    app = Starlette(routes=routes, exception_handlers={404: _not_found})
    app.state.sim = state
    return app
