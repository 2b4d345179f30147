"""The Lever simulator's records: contacts, opportunities, account books, deduping creates, list paging."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse

from integrations.sandbox import world
from integrations.sandbox.base import TokenBucket

if TYPE_CHECKING:  # the state module imports this one
    from integrations.sandbox.lever import LeverState

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

    def wire(self) -> dict[str, Any]:
        """`GET /contacts/:contact` (not in the reference's table; shaped as the Go client it names reads it:
        model/contact.go, with `location` an object)."""
        return {"id": self.id, "name": self.name, "headline": self.headline, "isAnonymized": False,
                "location": {"name": self.location}, "emails": list(self.emails),
                "phones": [dict(p) for p in self.phones]}

    def replace(self, body: dict[str, Any]) -> None:
        """`PUT /contacts/:contact`: each field sent replaces the stored one (the stricter reading; sources do
        not say whether arrays merge)."""
        for key in ("name", "headline"):
            if key in body and not isinstance(body[key], str):
                raise LeverError(400, f"{key} must be a string")
        location = body.get("location", {"name": self.location})
        if not isinstance(location, dict) or not isinstance(location.get("name") or "", str):
            raise LeverError(400, "location must be an object {name}")
        self.emails = _strings(body, "emails") if "emails" in body else self.emails
        self.phones = _phones(body) if "phones" in body else self.phones
        self.name, self.headline = body.get("name", self.name), body.get("headline", self.headline)
        self.location = location.get("name") or ""


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

    def wire(self, expand: Collection[str] = ()) -> dict[str, Any]:
        """The opportunity object as `GET /opportunities/:id` returns it (reference 3.2); `expand` as 3.1."""
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
            "applications": self._applications(expand), "followers": [self.owner],
            "urls": {"list": "https://hire.lever.co/candidates",
                     "show": f"https://hire.lever.co/candidates/{self.id}"},
            "dataProtection": None, "isAnonymized": False,
        }

    def _applications(self, expand: Collection[str]) -> list[Any]:
        if not self.application:
            return []
        if "applications" not in expand:
            return [self.application]
        # the application object as the Go client the reference names reads it (model/application.go);
        # `type` "user" is what an application added by a Lever user (here: through the API) is called
        return [{"id": self.application, "opportunityId": self.id, "candidateId": self.id,
                 "createdAt": self.created_at, "type": "user", "posting": self.posting,
                 "user": self.owner, "name": self.contact.name, "archived": self.archived}]

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

    def contact(self, contact_id: str) -> Contact:
        if contact_id not in self.contacts:
            raise LeverError(404, f"contacts {contact_id} was not found")
        return self.contacts[contact_id]

    def touch(self, contact: Contact, now: int) -> None:
        """Contact data shows on every opportunity of the contact, so each one's `updatedAt` moves (the
        Go client's field notes: updatedAt changes with emails, links, phones, name, ...)."""
        for opp in self.opportunities.values():
            if opp.contact is contact:
                opp.updated_at = now

    def contact_by_email(self, emails: list[str]) -> Contact | None:
        wanted = {e.strip().lower() for e in emails}
        return next((c for c in self.contacts.values() if wanted & {e.lower() for e in c.emails}), None)


# --- lists: offset tokens and filters --------------------------------------------------------------------

def _int_param(query: QueryParams, name: str) -> int | None:
    raw = query.get(name)
    if raw is None:
        return None
    if not raw.lstrip("-").isdigit():
        raise LeverError(400, f"{name} must be a timestamp in milliseconds")
    return int(raw)


def paginate(request: Request, items: list[tuple[int, dict[str, Any]]]) -> JSONResponse:
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


def opportunity_filter(query: QueryParams) -> Callable[[Opportunity], bool]:
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


# --- creates: body checks and dedupe by email ------------------------------------------------------------

def _strings(body: dict[str, Any], key: str) -> list[str]:
    value = body.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise LeverError(400, f"{key} must be an array of strings")
    return value


def _phones(body: dict[str, Any]) -> list[dict[str, str]]:
    value = body.get("phones") or []
    if not isinstance(value, list) or not all(isinstance(p, dict) and isinstance(p.get("value"), str)
                                              for p in value):
        raise LeverError(400, "phones must be an array of {type, value}")
    return [{k: str(v) for k, v in p.items() if k in ("type", "value")} for p in value]


def parse_archived(value: Any, now: int) -> dict[str, Any] | None:
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


def create_opportunity(state: LeverState, book: Book, body: dict[str, Any],
                       perform_as: str) -> tuple[Opportunity, bool]:
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
        archived=parse_archived(body.get("archived"), now),
        stage_changes=[{"toStageId": stage, "toStageIndex": index, "userId": perform_as, "updatedAt": created}],
        updated_at=now)
    book.opportunities[opp.id] = opp
    return opp, deduped
