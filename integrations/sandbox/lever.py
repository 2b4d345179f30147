"""Lever Data API simulator: accounts by API key, opportunities deduped by email, notes, stages, webhooks."""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations.sandbox import world
from integrations.sandbox.base import Clock, SimulatorState, TokenBucket, control_routes, recorded
from integrations.sandbox.lever_webhooks import WebhookHub, build_envelope, webhook_routes

ORIGINS = ("agency", "applied", "internal", "referred", "sourced", "university")
# reference: only ResourceNotFound (and Unauthorized, per the brief) are confirmed codes; the rest are ours.
_CODES = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "ResourceNotFound",
          429: "TooManyRequests", 500: "InternalServerError", 503: "ServiceUnavailable", 504: "GatewayTimeout"}


class LeverError(Exception):
    """Raised by a handler; answered as Lever's `{"code", "message"}` body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status

    def response(self) -> JSONResponse:
        return error(self.status, str(self))


def error(status: int, message: str) -> JSONResponse:
    # No Retry-After or rate-limit headers on 429: Lever documents none.
    return JSONResponse({"code": _CODES.get(status, "Error"), "message": message}, status_code=status)


@dataclass
class Contact:
    """A person (Lever's `contact`), shared by all their opportunities."""

    id: str
    name: str
    headline: str = ""
    location: str = ""
    emails: list[str] = field(default_factory=list)
    phones: list[dict[str, str]] = field(default_factory=list)
    links: list[str] = field(default_factory=list)

    def absorb(self, emails: list[str], phones: list[dict[str, str]], links: list[str]) -> None:
        """Add what a deduped create brought; the existing contact's data wins."""
        self.emails += [e for e in emails if e.lower() not in {x.lower() for x in self.emails}]
        self.phones += [p for p in phones if p not in self.phones]
        self.links += [u for u in links if u not in self.links]


@dataclass
class Opportunity:
    """One candidacy; `seq` orders it for pagination."""

    seq: int
    id: str
    contact: Contact
    stage: str
    owner: str
    origin: str
    created_at: int
    posting: str | None = None
    application: str | None = None
    sources: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    archived: dict[str, Any] | None = None
    stage_changes: list[dict[str, Any]] = field(default_factory=list)
    updated_at: int = 0

    def wire(self) -> dict[str, Any]:
        """The opportunity object as `GET /opportunities/:id` returns it (reference 3.2)."""
        c = self.contact
        return {
            "id": self.id, "name": c.name, "headline": c.headline, "contact": c.id,
            "emails": list(c.emails), "phones": [dict(p) for p in c.phones],
            "confidentiality": "non-confidential", "location": c.location, "links": list(c.links),
            "createdAt": self.created_at, "updatedAt": self.updated_at, "lastInteractionAt": self.updated_at,
            "lastAdvancedAt": self.stage_changes[-1]["updatedAt"], "snoozedUntil": None,
            "archived": dict(self.archived) if self.archived else None, "stage": self.stage,
            "stageChanges": [dict(s) for s in self.stage_changes], "owner": self.owner,
            "tags": list(self.tags), "sources": list(self.sources), "origin": self.origin, "sourcedBy": self.owner,
            "applications": [self.application] if self.application else [], "followers": [self.owner],
            "urls": {"list": "https://hire.lever.co/candidates",
                     "show": f"https://hire.lever.co/candidates/{self.id}"},
            "dataProtection": None, "isAnonymized": False,
        }

    def webhook_ids(self) -> dict[str, str]:
        # candidateId is the deprecated name of the opportunity id (reference 3.2).
        return {"opportunityId": self.id, "candidateId": self.id, "contactId": self.contact.id}


@dataclass
class Book:
    """Everything one Lever account (one API key) holds."""

    account: world.LeverAccount
    bucket: TokenBucket
    contacts: dict[str, Contact] = field(default_factory=dict)
    opportunities: dict[str, Opportunity] = field(default_factory=dict)
    notes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def stage_index(self, stage_id: str) -> int:
        ids = [s.id for s in self.account.stages]
        if stage_id not in ids:
            raise LeverError(404, f"stages {stage_id} was not found")
        return ids.index(stage_id)

    def opportunity(self, opportunity_id: str) -> Opportunity:
        if opportunity_id not in self.opportunities:
            raise LeverError(404, f"opportunities {opportunity_id} was not found")
        return self.opportunities[opportunity_id]

    def contact_by_email(self, emails: list[str]) -> Contact | None:
        wanted = {e.strip().lower() for e in emails}
        return next((c for c in self.contacts.values() if wanted & {e.lower() for e in c.emails}), None)


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


def _strings(body: dict[str, Any], key: str) -> list[str]:
    value = body.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise LeverError(400, f"{key} must be an array of strings")
    return value


def _int_param(query: QueryParams, name: str) -> int | None:
    raw = query.get(name)
    if raw is None:
        return None
    if not raw.lstrip("-").isdigit():
        raise LeverError(400, f"{name} must be a timestamp in milliseconds")
    return int(raw)


def _page(request: Request, items: list[tuple[int, dict[str, Any]]]) -> JSONResponse:
    """Lever's list envelope; `next` is an opaque token naming the last item's sequence number."""
    raw_limit = request.query_params.get("limit", "100")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
        raise LeverError(400, "limit must be between 1 and 100")
    after = -1
    if (offset := request.query_params.get("offset")) is not None:
        try:
            after = int(base64.urlsafe_b64decode(offset.encode()).decode().removeprefix("seq:"))
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise LeverError(400, "offset must be a value from a previous response's next") from None
    rest = [(seq, item) for seq, item in items if seq > after]
    chunk = rest[: int(raw_limit)]
    body: dict[str, Any] = {"data": [item for _, item in chunk], "hasNext": len(rest) > len(chunk)}
    if body["hasNext"]:
        body["next"] = base64.urlsafe_b64encode(f"seq:{chunk[-1][0]}".encode()).decode()
    return JSONResponse(body)


def _opportunity_filter(query: QueryParams) -> Callable[[Opportunity], bool]:
    """The documented `GET /opportunities` filters; repeated values are a union, filters intersect."""
    emails = {e.strip().lower() for e in query.getlist("email")}
    sets = {key: set(query.getlist(key)) for key in ("contact_id", "posting_id", "stage_id", "tag")}
    archived = {"true": True, "false": False}.get(query.get("archived", "").lower())
    bounds = {name: _int_param(query, name) for name in
              ("created_at_start", "created_at_end", "updated_at_start", "updated_at_end")}

    def within(value: int, start: int | None, end: int | None) -> bool:
        return (start is None or value >= start) and (end is None or value <= end)

    def keep(o: Opportunity) -> bool:
        return all((
            not emails or bool(emails & {e.lower() for e in o.contact.emails}),
            not sets["contact_id"] or o.contact.id in sets["contact_id"],
            not sets["posting_id"] or o.posting in sets["posting_id"],
            not sets["stage_id"] or o.stage in sets["stage_id"],
            not sets["tag"] or bool(sets["tag"] & set(o.tags)),
            archived is None or (o.archived is not None) == archived,
            within(o.created_at, bounds["created_at_start"], bounds["created_at_end"]),
            within(o.updated_at, bounds["updated_at_start"], bounds["updated_at_end"]),
        ))

    return keep


def _phones(body: dict[str, Any]) -> list[dict[str, str]]:
    value = body.get("phones") or []
    if not isinstance(value, list) or not all(isinstance(p, dict) and isinstance(p.get("value"), str)
                                              for p in value):
        raise LeverError(400, "phones must be an array of {type, value}")
    return [{k: str(v) for k, v in p.items() if k in ("type", "value")} for p in value]


def _archived(value: Any, now: int) -> dict[str, Any] | None:
    # Lever ignores an `archived` without a reason (only archivedAt): so do we.
    if not isinstance(value, dict) or not isinstance(value.get("reason"), str):
        return None
    return {"archivedAt": int(value.get("archivedAt") or now), "reason": value["reason"]}


def _contact_for(state: LeverState, book: Book, body: dict[str, Any]) -> tuple[Contact, bool]:
    """Lever's dedupe: `contact` links directly, else a matching email reuses that contact."""
    emails, links, phones = _strings(body, "emails"), _strings(body, "links"), _phones(body)
    contact = book.contacts.get(str(body["contact"])) if "contact" in body else book.contact_by_email(emails)
    if "contact" in body and contact is None:
        raise LeverError(404, f"contacts {body['contact']} was not found")
    if contact is not None:
        contact.absorb(emails, phones, links)
        return contact, True
    contact = Contact(state.new_id(), str(body.get("name") or ""), str(body.get("headline") or ""),
                      str(body.get("location") or ""), emails, phones, links)
    book.contacts[contact.id] = contact
    return contact, False


def _create(state: LeverState, book: Book, body: dict[str, Any], perform_as: str) -> tuple[Opportunity, bool]:
    """Validate a create body and store the opportunity; returns it and whether the contact was deduped."""
    postings = _strings(body, "postings")
    if len(postings) > 1:
        raise LeverError(400, "postings may hold at most one posting")
    if postings and postings[0] not in {p.id for p in book.account.postings}:
        raise LeverError(404, f"postings {postings[0]} was not found")
    stage = str(body.get("stage") or book.account.stages[0].id)
    index = book.stage_index(stage)
    owner = str(body.get("owner") or perform_as)
    if owner not in {u.id for u in book.account.users}:
        raise LeverError(404, f"users {owner} was not found")
    origin = body.get("origin", "sourced")  # reference: unconfirmed default origin for API creates
    if origin not in ORIGINS:
        raise LeverError(400, f"origin must be one of {', '.join(ORIGINS)}")
    now = state.now_ms()
    created = body.get("createdAt", now)
    if not isinstance(created, int) or created > now:
        raise LeverError(400, "createdAt must be a past timestamp in milliseconds")
    contact, deduped = _contact_for(state, book, body)
    opp = Opportunity(
        len(book.opportunities), state.new_id(), contact, stage, owner, origin, created,
        posting=postings[0] if postings else None, application=state.new_id(),
        sources=_strings(body, "sources"), tags=_strings(body, "tags"),
        archived=_archived(body.get("archived"), now),
        stage_changes=[{"toStageId": stage, "toStageIndex": index, "userId": perform_as, "updatedAt": created}],
        updated_at=now)
    book.opportunities[opp.id] = opp
    return opp, deduped


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
            route("/opportunities/{id}/archived", "PUT", self.change_archived),
            route("/opportunities/{id}/notes", "GET", self.list_notes),
            route("/opportunities/{id}/notes", "POST", self.add_note),
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
        keep = _opportunity_filter(request.query_params)
        with self.state.lock:
            items = [(o.seq, o.wire()) for o in book.opportunities.values() if keep(o)]
        return _page(request, items)

    async def get_opportunity(self, request: Request, book: Book) -> Response:
        with self.state.lock:
            return JSONResponse({"data": book.opportunity(request.path_params["id"]).wire()})

    async def create_opportunity(self, request: Request, book: Book) -> Response:
        perform_as = self._perform_as(request, book, required=True)
        body = await _json_object(request)
        with self.state.lock:
            opp, deduped = _create(self.state, book, body, str(perform_as))
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
            opp.archived = _archived({"reason": body["reason"]}, now)
            opp.updated_at = now
            wire = opp.wire()
        # reference: unconfirmed candidateArchiveChange data shape (fromArchived/toArchived).
        self.state.emit(book, "candidateArchiveChange",
                        {**opp.webhook_ids(), "fromArchived": before, "toArchived": opp.archived})
        return JSONResponse({"data": wire})

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
        return _page(request, notes)

    async def list_stages(self, request: Request, book: Book) -> Response:
        return _page(request, list(enumerate({"id": s.id, "text": s.name} for s in book.account.stages)))

    async def list_postings(self, request: Request, book: Book) -> Response:
        return _page(request, list(enumerate(_posting_wire(p) for p in book.account.postings)))

    async def list_users(self, request: Request, book: Book) -> Response:
        return _page(request, list(enumerate(_user_wire(u) for u in book.account.users)))


def create_app(state: LeverState | None = None) -> Starlette:
    """The Lever simulator; its state is on `app.state.sim`."""
    state = state if state is not None else seed_sandbox(LeverState())
    app = Starlette(routes=[*_Api(state).routes(), *webhook_routes(state), *control_routes(state)])
    app.state.sim = state
    return app
