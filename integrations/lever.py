"""Lever Data API client: throttled, paginated, validated with pydantic, errors translated at one edge."""

from __future__ import annotations

import hashlib
import hmac
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from integrations.calls import Observer
from integrations.errors import AuthFailed, RateLimited, Rejected, Unavailable, WriteRefused
from integrations.lever_models import (
    CreatedNote,
    CreatedOpportunity,
    LeverApplication,
    LeverArchived,
    LeverContact,
    LeverLocation,
    LeverModel,
    LeverNote,
    LeverNoteField,
    LeverOpportunity,
    LeverPage,
    LeverPhone,
    LeverPosting,
    LeverStage,
    LeverStageChange,
    LeverUser,
)

INTEGRATION = "lever"
Query = Mapping[str, str | int | Sequence[str]]
M = TypeVar("M", bound=BaseModel)

__all__ = [
    "INTEGRATION", "CreatedOpportunity", "LeverApplication", "LeverArchived", "LeverClient", "LeverContact",
    "LeverLocation", "LeverModel", "LeverNote", "LeverNoteField", "LeverOpportunity", "LeverPhone", "LeverPosting",
    "LeverStage", "LeverStageChange", "LeverUser", "Query", "Throttle", "verify_webhook_signature",
]


class Throttle:
    """A client-side token bucket: sleeps rather than send faster than `rate` per second."""

    def __init__(self, rate: float, burst: float | None = None, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate = rate
        self.burst = rate if burst is None else burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping first if none is left; returns the seconds slept."""
        with self._lock:  # held while sleeping so concurrent callers queue up in order
            self._refill()
            wait = 0.0
            if self._tokens < 1.0:
                wait = (1.0 - self._tokens) / self.rate
                self._sleep(wait)
                self._refill()
            self._tokens -= 1.0
            return wait

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now


class LeverClient:
    """One Lever account (one API key); writes are performed as the `perform_as` user."""

    def __init__(self, http: httpx.Client, *, api_url: str, api_key: str, perform_as: str, rate: float = 10.0,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 page_size: int = 100, max_retries: int = 3, backoff: float = 0.5,
                 jitter: Callable[[], float] = random.random,
                 observe: Observer | None = None) -> None:
        self._http = http
        self._observe = observe
        self._api_url = api_url.rstrip("/")
        self._auth = httpx.BasicAuth(api_key, "")  # Lever: the key is the username, the password blank
        self.perform_as = perform_as
        # Lever's bucket is 10/s steady with bursts "when possible": a one-second burst stays under it.
        self._throttle = Throttle(rate, clock=clock, sleep=sleep)
        self._sleep = sleep
        self._page_size = page_size
        self._max_retries = max_retries
        self._backoff = backoff
        self._jitter = jitter
        self.requests = 0  # HTTP requests sent, 429 retries included

    # --- reads ---

    def ping(self) -> None:
        """One cheap authenticated call, for health checks; raises IntegrationError when Lever is not usable."""
        self._request("GET", "/users", params={"limit": 1})

    def list_users(self) -> list[LeverUser]:
        return [_validate(LeverUser, item) for item in self._paginate("/users")]

    def list_stages(self) -> list[LeverStage]:
        return [_validate(LeverStage, item) for item in self._paginate("/stages")]

    def list_postings(self) -> list[LeverPosting]:
        return [_validate(LeverPosting, item) for item in self._paginate("/postings")]

    def iter_opportunities(self, filters: Query | None = None) -> Iterator[LeverOpportunity]:
        """Every opportunity matching Lever's list filters (email, contact_id, stage_id, ...), page by page."""
        for item in self._paginate("/opportunities", filters):
            yield _validate(LeverOpportunity, item)

    def find_opportunities_by_email(self, email: str) -> list[LeverOpportunity]:
        return list(self.iter_opportunities({"email": email}))

    def find_opportunities_by_contact(self, contact_id: str) -> list[LeverOpportunity]:
        return list(self.iter_opportunities({"contact_id": contact_id}))

    def get_opportunity(self, opportunity_id: str) -> LeverOpportunity:
        body = self._request("GET", f"/opportunities/{opportunity_id}")
        return _validate(LeverOpportunity, _data(body))

    # --- writes (never retried except on 429, which Lever did not process) ---

    def create_opportunity(self, *, name: str, emails: Sequence[str] = (), phones: Sequence[str] = (),
                           links: Sequence[str] = (), headline: str | None = None, posting_id: str | None = None,
                           stage_id: str | None = None, sources: Sequence[str] = (), tags: Sequence[str] = (),
                           origin: str | None = None, contact_id: str | None = None,
                           location: str | None = None, owner: str | None = None) -> CreatedOpportunity:
        """Create an opportunity; Lever dedupes by email onto an existing contact (see `deduped`)."""
        body: dict[str, Any] = {"emails": list(emails), "phones": [{"value": p} for p in phones],
                                "links": list(links), "sources": list(sources), "tags": list(tags)}
        # every field is optional (the Go client quotes Lever); no blank name for an existing `contact`
        optional = {"name": name or None, "headline": headline, "stage": stage_id, "origin": origin,
                    "contact": contact_id, "location": location, "owner": owner,
                    "postings": [posting_id] if posting_id else None}
        body.update({k: v for k, v in optional.items() if v is not None})
        try:
            created = self._request("POST", "/opportunities", params={"perform_as": self.perform_as}, json=body)
        except RateLimited as exc:  # 429 after every retry: Lever processed none of them, nobody created
            raise WriteRefused(str(exc), integration=INTEGRATION, retry_after=exc.retry_after) from exc
        return _validate(CreatedOpportunity, created)

    def add_note(self, opportunity_id: str, text: str) -> str:
        """Add a note as the `perform_as` user; returns Lever's note id."""
        body = self._request("POST", f"/opportunities/{opportunity_id}/notes",
                             params={"perform_as": self.perform_as}, json={"value": text})
        return _validate(CreatedNote, _data(body)).note_id

    def list_notes(self, opportunity_id: str) -> list[LeverNote]:
        return [_validate(LeverNote, item) for item in self._paginate(f"/opportunities/{opportunity_id}/notes")]

    def add_links(self, opportunity_id: str, links: Sequence[str]) -> None:
        """Add links to the opportunity's contact (reference 3.3: `addLinks`); the body of the answer is unused."""
        self._request("POST", f"/opportunities/{opportunity_id}/addLinks", params={"perform_as": self.perform_as},
                      json={"links": list(links)})

    def get_contact(self, contact_id: str) -> LeverContact:
        """`GET /contacts/:contact`: not in the reference's table; from the Go client it names (contacts.go)."""
        return _validate(LeverContact, _data(self._request("GET", f"/contacts/{contact_id}")))

    def update_contact(self, contact: LeverContact) -> LeverContact:
        """`PUT /contacts/:contact` with the whole contact, as the Go client sends it.

        Whether Lever replaces or merges the arrays is not documented in our sources: send them complete.
        """
        body = contact.model_dump(by_alias=True, exclude={"id"}, exclude_none=True)
        return _validate(LeverContact, _data(self._request("PUT", f"/contacts/{contact.id}", json=body)))

    def archive_opportunity(self, opportunity_id: str, reason: str | None) -> LeverOpportunity:
        """`PUT /opportunities/:id/archived` with `{"reason": <archive reason id>}`; a None reason unarchives.

        reference 3.3 lists no `perform_as` on this route; it is sent as on the stage change, for attribution
        (unconfirmed whether Lever honours it here). `cleanInterviews` and `requisitionId` are left out:
        scheduled interviews stay, and no requisition is closed.
        """
        body = self._request("PUT", f"/opportunities/{opportunity_id}/archived",
                             params={"perform_as": self.perform_as}, json={"reason": reason})
        return _validate(LeverOpportunity, _data(body))

    def change_stage(self, opportunity_id: str, stage_id: str) -> LeverOpportunity:
        body = self._request("PUT", f"/opportunities/{opportunity_id}/stage",
                             params={"perform_as": self.perform_as}, json={"stage": stage_id})
        return _validate(LeverOpportunity, _data(body))

    # --- the edge ---

    def _paginate(self, path: str, filters: Query | None = None) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {**(filters or {}), "limit": self._page_size}
        while True:
            page = _validate(LeverPage, self._request("GET", path, params=params))
            yield from page.data
            if not page.has_next or not page.next:
                return
            if page.next == params.get("offset"):  # a repeated offset would loop for ever
                raise Unavailable(f"Lever repeated the page offset for {path}", integration=INTEGRATION)
            params["offset"] = page.next

    def _request(self, method: str, path: str, *, params: Query | None = None,
                 json: dict[str, Any] | None = None) -> Any:
        """One call: throttle, send, back off and resend only on 429, translate every failure."""
        for attempt in range(self._max_retries + 1):
            self._throttle.acquire()
            response = self._send(method, path, params, json)
            if response.status_code != 429:
                return _parse(response)
            if attempt < self._max_retries:
                self._sleep(self._delay(attempt))
        raise RateLimited(f"Lever still answered 429 after {self._max_retries + 1} attempts: {method} {path}",
                          integration=INTEGRATION, retry_after=None)  # Lever sends no Retry-After

    def _delay(self, attempt: int) -> float:
        """Exponential backoff with equal jitter: half fixed, half random."""
        base: float = self._backoff * 2**attempt
        return base / 2 + base / 2 * self._jitter()

    def _send(self, method: str, path: str, params: Query | None, json: dict[str, Any] | None) -> httpx.Response:
        self.requests += 1
        what = f"{method} {path}"
        try:
            response = self._http.request(method, self._api_url + path, params=params, json=json, auth=self._auth)
        except httpx.TimeoutException as exc:
            self._report(None, what)
            raise Unavailable(f"Lever timed out: {what}", integration=INTEGRATION) from exc
        except httpx.HTTPError as exc:
            self._report(None, what)
            raise Unavailable(f"Lever unreachable ({type(exc).__name__}): {what}",
                              integration=INTEGRATION) from exc
        self._report(response.status_code, what)
        return response

    def _report(self, status: int | None, what: str) -> None:
        if self._observe is not None:
            self._observe(status, what)


def _parse(response: httpx.Response) -> Any:
    status = response.status_code
    if status == 401:
        raise AuthFailed(f"Lever refused the API key: {_message(response)}", integration=INTEGRATION,
                         status=status)
    if 400 <= status < 500:
        raise Rejected(f"Lever rejected the request: {_message(response)}", integration=INTEGRATION, status=status)
    if not response.is_success:
        raise Unavailable(f"Lever answered {status}: {_message(response)}", integration=INTEGRATION, status=status)
    try:
        return response.json()
    except ValueError as exc:
        raise Unavailable("Lever answered with a body that is not JSON", integration=INTEGRATION,
                          status=status) from exc


def _message(response: httpx.Response) -> str:
    """Lever's error `message` (errors are `{"code", "message"}`), else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict) and body.get("message"):
        return f"{body.get('code', 'Error')}: {body['message']}"
    return str(body)[:200]


def _data(body: Any) -> Any:
    return body.get("data") if isinstance(body, dict) else None


def _validate(model: type[M], value: Any) -> M:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        # A shape we cannot read is Lever's change, not our request's fault; keep it retryable.
        raise Unavailable(f"Lever answered an unexpected {model.__name__}: {exc.error_count()} error(s)",
                          integration=INTEGRATION) from exc


def verify_webhook_signature(signature_token: str, body: Mapping[str, Any]) -> bool:
    """Lever's check: hex HMAC-SHA256(signature token, token + str(triggeredAt)) equals `signature`."""
    signature, token, triggered_at = body.get("signature"), body.get("token"), body.get("triggeredAt")
    if not isinstance(signature, str) or not isinstance(token, str):
        return False
    if isinstance(triggered_at, bool) or not isinstance(triggered_at, int | str):
        return False
    expected = hmac.new(signature_token.encode(), f"{token}{triggered_at}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode())
