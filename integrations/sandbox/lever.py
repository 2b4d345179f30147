"""Lever Data API simulator: accounts and rate limits by API key, the `/v1` endpoints, the Starlette app."""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations.sandbox import world
from integrations.sandbox.base import Clock, SimulatorState, TokenBucket, control_routes, recorded
from integrations.sandbox.lever_records import (
    Book,
    LeverError,
    create_opportunity,
    error,
    opportunity_filter,
    paginate,
    parse_archived,
)
from integrations.sandbox.lever_webhooks import WebhookHub, build_envelope, webhook_routes


class LeverState(SimulatorState):
    """Lever accounts keyed by API key, a per-key token bucket, and the webhook hub."""

    name = "lever"

    def __init__(self, seed: int | None = None, *, rate: float = 10.0, burst: float = 20.0,
                 time_scale: float = 1.0, clock: Clock = time.time) -> None:
        super().__init__(seed)
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.books: dict[str, Book] = {}
        self.webhooks = WebhookHub(time_scale)

    def add_account(self, account: world.LeverAccount) -> Book:
        book = Book(account, TokenBucket(self.rate, self.burst))
        self.books[account.api_key] = book
        return book

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def new_id(self) -> str:
        return str(uuid.UUID(int=self.random.getrandbits(128), version=4))

    def emit(self, book: Book, event: str, data: dict[str, Any], *, event_id: str | None = None,
             urls: list[str] | None = None) -> dict[str, Any]:
        """Sign an event with the account's webhook token and send it to its subscribers (or `urls`)."""
        envelope = build_envelope(event, data, book.account.webhook_signature_token, rng=self.random,
                                  now_ms=self.now_ms(), event_id=event_id or self.new_id())
        self.webhooks.send(self.webhooks.urls_for(book.account.api_key) if urls is None else urls, envelope)
        return envelope

    def inspect(self) -> dict[str, Any]:
        accounts = {b.account.tenant: {
            "contacts": len(b.contacts), "opportunities": [o.wire() for o in b.opportunities.values()],
            "notes": {k: len(v) for k, v in b.notes.items()},
            "webhooks": self.webhooks.urls_for(b.account.api_key)} for b in self.books.values()}
        return {**super().inspect(), "accounts": accounts, "deliveries": self.webhooks.summary()}


def seed_sandbox(state: LeverState) -> LeverState:
    """Load both Lever accounts of the sandbox world."""
    for account in (world.NORTHWIND_LEVER, world.GLOBEX_LEVER):
        state.add_account(account)
    return state


# --- request helpers -------------------------------------------------------------------------------------

def _api_key(request: Request) -> str | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        username, _, _password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return username


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise LeverError(400, "Request body must be a JSON object")
    return body


def _links_body(body: dict[str, Any]) -> list[str]:
    links = body.get("links")
    if not isinstance(links, list) or not all(isinstance(u, str) for u in links):
        raise LeverError(400, "links must be an array of strings")
    return links


def _user_wire(user: world.User) -> dict[str, Any]:
    return {"id": user.id, "name": user.name, "username": user.email.split("@")[0], "email": user.email,
            "accessRole": "admin", "photo": None, "createdAt": 1_700_000_000_000, "deactivatedAt": None}


def _posting_wire(job: world.Job) -> dict[str, Any]:
    return {"id": job.id, "text": job.name, "state": "published", "confidentiality": "non-confidential",
            "categories": {"department": job.department, "team": job.department, "location": None,
                           "commitment": None, "level": None},
            "tags": [], "urls": {"show": f"https://jobs.lever.co/sandbox/{job.id}"}}


# --- endpoints -------------------------------------------------------------------------------------------

AccountHandler = Callable[[Request, Book], Awaitable[Response]]


class _Api:
    """The vendor endpoints of one simulator state."""

    def __init__(self, state: LeverState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        api = recorded(self.state, lambda status: error(status, "Simulated fault"))

        def route(path: str, method: str, handler: AccountHandler) -> Route:
            return Route(f"/v1{path}", api(self._authorized(handler)), methods=[method])

        return [
            route("/opportunities", "GET", self.list_opportunities),
            route("/opportunities", "POST", self.create_opportunity),
            route("/opportunities/{id}", "GET", self.get_opportunity),
            route("/opportunities/{id}/stage", "PUT", self.change_stage),
            route("/opportunities/{id}/addLinks", "POST", self.add_links),
            route("/opportunities/{id}/removeLinks", "POST", self.remove_links),
            route("/opportunities/{id}/archived", "PUT", self.change_archived),
            route("/opportunities/{id}/notes", "GET", self.list_notes),
            route("/opportunities/{id}/notes", "POST", self.add_note),
            # not in the reference's table; the Go client it names calls them (contacts.go)
            route("/contacts/{id}", "GET", self.get_contact),
            route("/contacts/{id}", "PUT", self.update_contact),
            route("/stages", "GET", self.list_stages),
            route("/postings", "GET", self.list_postings),
            route("/users", "GET", self.list_users),
        ]

    def _authorized(self, handler: AccountHandler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request, self._book(request))
            except LeverError as exc:
                return exc.response()

        return endpoint

    def _book(self, request: Request) -> Book:
        """Basic auth (API key as username, blank password), then the key's token bucket."""
        book = self.state.books.get(_api_key(request) or "")
        if book is None or self.state.faults.reject_credentials:
            raise LeverError(401, "Invalid API key")
        rate = self.state.faults.rate_limit
        if not book.bucket.take(None if rate is None else float(rate)):
            raise LeverError(429, "Rate limit exceeded")
        return book

    @staticmethod
    def _perform_as(request: Request, book: Book, *, required: bool) -> str | None:
        user = request.query_params.get("perform_as")
        if user is None and required:
            raise LeverError(400, "perform_as is required")
        if user is not None and user not in {u.id for u in book.account.users}:
            raise LeverError(400, f"perform_as user {user} was not found")
        return user

    async def list_opportunities(self, request: Request, book: Book) -> Response:
        keep = opportunity_filter(request.query_params)
        expand = request.query_params.getlist("expand")
        with self.state.lock:
            items = [(o.seq, o.wire(expand)) for o in book.opportunities.values() if keep(o)]
        return paginate(request, items)

    async def get_opportunity(self, request: Request, book: Book) -> Response:
        expand = request.query_params.getlist("expand")
        with self.state.lock:
            return JSONResponse({"data": book.opportunity(request.path_params["id"]).wire(expand)})

    async def create_opportunity(self, request: Request, book: Book) -> Response:
        perform_as = self._perform_as(request, book, required=True)
        body = await _json_object(request)
        with self.state.lock:
            opp, deduped = create_opportunity(self.state, book, body, str(perform_as))
            wire = opp.wire()
        # reference: unconfirmed applicationCreated data beyond the ids; status 201 is our choice too.
        self.state.emit(book, "applicationCreated", {**opp.webhook_ids(), "applicationId": opp.application})
        return JSONResponse({"data": wire, "deduped": deduped}, status_code=201)

    async def change_stage(self, request: Request, book: Book) -> Response:
        user = self._perform_as(request, book, required=False)
        stage = (await _json_object(request)).get("stage")
        if not isinstance(stage, str) or not stage:
            raise LeverError(400, "stage is required")
        with self.state.lock:
            opp = book.opportunity(request.path_params["id"])
            index, previous, now = book.stage_index(stage), opp.stage, self.state.now_ms()
            if stage != previous:
                opp.stage, opp.updated_at = stage, now
                opp.stage_changes.append({"toStageId": stage, "toStageIndex": index, "userId": user,
                                          "updatedAt": now})
            wire = opp.wire()
        if stage != previous:
            self.state.emit(book, "candidateStageChange",
                            {**opp.webhook_ids(), "toStageId": stage, "fromStageId": previous})
        return JSONResponse({"data": wire})

    async def change_archived(self, request: Request, book: Book) -> Response:
        body = await _json_object(request)
        if "reason" not in body or not isinstance(body["reason"], str | None):
            raise LeverError(400, "reason is required (an archive reason id, or null to unarchive)")
        with self.state.lock:
            opp = book.opportunity(request.path_params["id"])
            before, now = opp.archived, self.state.now_ms()
            opp.archived = parse_archived({"reason": body["reason"]}, now)
            opp.updated_at = now
            wire = opp.wire()
        # reference: unconfirmed candidateArchiveChange data shape (fromArchived/toArchived).
        self.state.emit(book, "candidateArchiveChange",
                        {**opp.webhook_ids(), "fromArchived": before, "toArchived": opp.archived})
        return JSONResponse({"data": wire})

    async def add_links(self, request: Request, book: Book) -> Response:
        return await self._links(request, book, add=True)

    async def remove_links(self, request: Request, book: Book) -> Response:
        return await self._links(request, book, add=False)

    async def _links(self, request: Request, book: Book, *, add: bool) -> Response:
        """`addLinks`/`removeLinks` (reference 3.3): body `{"links": [...]}`, changing the opportunity's contact.

        reference: the response body is unconfirmed; the sandbox answers 200 with the opportunity. The
        contactUpdated webhook this may cause has no documented data, so none is sent.
        """
        self._perform_as(request, book, required=False)
        links = _links_body(await _json_object(request))
        with self.state.lock:
            opp = book.opportunity(request.path_params["id"])
            contact = opp.contact
            contact.links = [*contact.links, *(u for u in links if u not in contact.links)] if add else [
                u for u in contact.links if u not in links]
            book.touch(contact, self.state.now_ms())
            wire = opp.wire()
        return JSONResponse({"data": wire})

    async def get_contact(self, request: Request, book: Book) -> Response:
        with self.state.lock:
            return JSONResponse({"data": book.contact(request.path_params["id"]).wire()})

    async def update_contact(self, request: Request, book: Book) -> Response:
        body = await _json_object(request)
        with self.state.lock:
            contact = book.contact(request.path_params["id"])
            contact.replace(body)
            book.touch(contact, self.state.now_ms())
            return JSONResponse({"data": contact.wire()})

    async def add_note(self, request: Request, book: Book) -> Response:
        user = self._perform_as(request, book, required=False)
        body = await _json_object(request)
        value, score = body.get("value"), body.get("score")
        if not isinstance(value, str) or not value:
            raise LeverError(400, "value is required")
        if score is not None and score not in (1, 2, 3, 4):
            raise LeverError(400, "score must be 1-4 or null")
        with self.state.lock:
            opp = book.opportunity(request.path_params["id"])
            now, note_id = int(body.get("createdAt") or self.state.now_ms()), self.state.new_id()
            field_ = {"type": "note", "text": "Comment", "value": value, "createdAt": now, "user": user,
                      "score": score, "stage": opp.stage}
            book.notes.setdefault(opp.id, []).append(
                {"id": note_id, "text": value, "fields": [field_], "user": user,
                 "secret": bool(body.get("secret")), "completedAt": now, "createdAt": now, "deletedAt": None})
        return JSONResponse({"data": {"noteId": note_id}}, status_code=201)

    async def list_notes(self, request: Request, book: Book) -> Response:
        with self.state.lock:
            opp = book.opportunity(request.path_params["id"])
            notes = list(enumerate(dict(n) for n in book.notes.get(opp.id, [])))
        return paginate(request, notes)

    async def list_stages(self, request: Request, book: Book) -> Response:
        return paginate(request, list(enumerate({"id": s.id, "text": s.name} for s in book.account.stages)))

    async def list_postings(self, request: Request, book: Book) -> Response:
        return paginate(request, list(enumerate(_posting_wire(p) for p in book.account.postings)))

    async def list_users(self, request: Request, book: Book) -> Response:
        return paginate(request, list(enumerate(_user_wire(u) for u in book.account.users)))


def create_app(state: LeverState | None = None) -> Starlette:
    """The Lever simulator; its state is on `app.state.sim`."""
    state = state if state is not None else seed_sandbox(LeverState())
    app = Starlette(routes=[*_Api(state).routes(), *webhook_routes(state), *control_routes(state)])
    app.state.sim = state
    return app
