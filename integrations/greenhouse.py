"""Greenhouse Harvest v3 client: per-user OAuth tokens, cursor paging, error translation, webhook signatures."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError

from integrations.errors import AuthFailed, IntegrationError, RateLimited, Rejected, Unavailable

INTEGRATION = "greenhouse"
REFRESH_EARLY_SECONDS = 60.0
DEFAULT_TOKEN_TTL_SECONDS = 3600.0  # reference 1.2: fall back to one hour when no expiry is given
PER_PAGE = 500  # the v3 maximum; sent on the first page only (reference 2.1)
IDS_MAX = 50  # `ids` and each `*_ids` filter take at most 50 values (reference 2.1)

Id = Annotated[int, Strict()]  # v3 ids are integers on the wire; a string id means another API version
Visibility = Literal["public", "private", "admin_only"]  # write spelling; reads say `privately_visible` etc.


class UnexpectedResponse(IntegrationError):
    """Greenhouse answered in a shape this client does not understand; retrying will not change it."""

    retryable = False


class WireModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class ContactValue(WireModel):
    value: str
    type: str | None = None  # social media entries carry `value` only


class User(WireModel):
    id: Id
    name: str
    primary_email: str | None = None
    site_admin: bool = False
    deactivated: bool = False


class Job(WireModel):
    id: Id
    name: str
    status: str
    department_id: Id | None = None


class JobStage(WireModel):
    id: Id
    job_id: Id
    name: str
    sort_order: int
    active: bool = True


class Candidate(WireModel):
    id: Id
    first_name: str
    last_name: str
    company: str | None = None
    title: str | None = None
    private: bool = False
    email_addresses: list[ContactValue] = []
    phone_numbers: list[ContactValue] = []
    social_media_addresses: list[ContactValue] = []
    website_addresses: list[ContactValue] = []
    tags: list[str] = []
    created_at: datetime
    updated_at: datetime


class Application(WireModel):
    id: Id
    candidate_id: Id
    job_id: Id | None = None
    job_interview_stage_id: Id | None = None  # the stage definition id that `move` takes
    stage_name: str | None = None
    status: str  # reads say in_process|rejected|hired|converted; the filter says `active`
    prospect: bool = False
    source_id: Id | None = None


class Note(WireModel):
    id: Id
    candidate_id: Id
    application_id: Id | None = None
    user_id: Id | None = None
    body: str
    visibility: str
    note_type: str = Field(alias="type")  # written as `note_type`, read back as `type`
    created_at: datetime


@dataclass(frozen=True)
class CreatedCandidate:
    candidate: Candidate
    application: Application | None


@dataclass(frozen=True)
class RateLimit:
    """The last `X-RateLimit-*` headers seen; `reset` is epoch seconds."""

    limit: int | None = None
    remaining: int | None = None
    reset: float | None = None


M = TypeVar("M", bound=WireModel)


class GreenhouseClient:
    """Harvest v3 over a caller's httpx.Client; raises only IntegrationError subclasses."""

    def __init__(self, http: httpx.Client, *, api_url: str, auth_url: str, client_id: str, client_secret: str,
                 user_id: int, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep, max_wait: float = 5.0) -> None:
        self._http = http
        self._api = api_url.rstrip("/")
        base = auth_url.rstrip("/")  # `https://auth.greenhouse.io` or the token URL itself
        self._token_url = base if base.endswith("/token") else f"{base}/token"
        self._credentials = (client_id, client_secret)
        self.user_id = user_id
        self._clock = clock
        self._tokens: dict[int, tuple[str, float]] = {}
        self._token_locks: dict[int, threading.Lock] = {}
        self._guard = threading.Lock()
        self.rate_limit = RateLimit()
        self.requests = 0  # HTTP requests sent, token requests included
        self._sleep = sleep
        self._max_wait = max_wait

    # --- reads ---

    def ping(self) -> None:
        """Check credentials and reachability: a token and a one-record users list."""
        self._call("GET", f"{self._api}/v3/users", params={"per_page": 1})

    def list_users(self) -> list[User]:
        return self._list("/v3/users", User)

    def list_jobs(self) -> list[Job]:
        return self._list("/v3/jobs", Job)

    def list_job_stages(self, job_id: int) -> list[JobStage]:
        stages = self._list("/v3/job_interview_stages", JobStage, {"job_ids": job_id})
        return sorted(stages, key=lambda s: s.sort_order)

    def find_candidates_by_email(self, email: str) -> list[Candidate]:
        """Candidates with this email address (exact, case-insensitive on the server)."""
        return self._list("/v3/candidates", Candidate, {"email": email})

    def get_candidate(self, candidate_id: int) -> Candidate | None:
        """One candidate via `?ids=` (v3 has no single-record GET), or None."""
        found = self._list("/v3/candidates", Candidate, {"ids": candidate_id})
        return next((c for c in found if c.id == candidate_id), None)

    def list_applications(self, candidate_id: int) -> list[Application]:
        return self._list("/v3/applications", Application, {"candidate_ids": candidate_id})

    def get_candidates(self, candidate_ids: Sequence[int]) -> list[Candidate]:
        """Candidates by id, one request per 50 ids (v3 has no single-record GET)."""
        return [c for batch in _batches(candidate_ids)
                for c in self._list("/v3/candidates", Candidate, {"ids": _csv(batch)})]

    def applications_for(self, candidate_ids: Sequence[int]) -> list[Application]:
        """The applications of many candidates, one request per 50 ids."""
        return [a for batch in _batches(candidate_ids)
                for a in self._list("/v3/applications", Application, {"candidate_ids": _csv(batch)})]

    def get_application(self, application_id: int) -> Application | None:
        found = self._list("/v3/applications", Application, {"ids": application_id})
        return next((a for a in found if a.id == application_id), None)

    def iter_candidates(self, filters: Mapping[str, Any] | None = None) -> Iterator[Candidate]:
        """Candidates page by page, e.g. `{"updated_at": "gte|2026-08-01T00:00:00Z"}` (reference 2.1)."""
        return (_parse(Candidate, row) for row in self._rows("/v3/candidates", filters or {}))

    def iter_applications(self, filters: Mapping[str, Any] | None = None) -> Iterator[Application]:
        return (_parse(Application, row) for row in self._rows("/v3/applications", filters or {}))

    def list_notes(self, candidate_id: int) -> list[Note]:
        # reference 1.3 lists a `notes:list` scope; `GET /v3/notes?candidate_ids=` follows the v3 list
        # convention (parent id filters, reference 2.1) but no source shows the call itself
        return self._list("/v3/notes", Note, {"candidate_ids": candidate_id})

    # --- writes: never retried automatically, v3 has no idempotency key (reference 2.3) ---

    def create_candidate(self, *, first_name: str, last_name: str, job_id: int, emails: Sequence[str] = (),
                         phones: Sequence[str] = (), social_urls: Sequence[str] = (), company: str | None = None,
                         title: str | None = None, tags: Sequence[str] = (), source_id: int | None = None,
                         recruiter_id: int | None = None, initial_stage_id: int | None = None,
                         as_user: int | None = None) -> CreatedCandidate:
        """A candidate and their first application in one call.

        reference 3.2: the nested application "starts the candidate at the job's first stage"; whether it
        also takes `initial_stage_id` (as `POST /v3/applications` does) is unconfirmed: check the result.
        """
        application = {k: v for k, v in (("job_id", job_id), ("source_id", source_id),
                                          ("recruiter_id", recruiter_id), ("initial_stage_id", initial_stage_id))
                       if v is not None}
        body = {"first_name": first_name, "last_name": last_name,
                **{k: v for k, v in (("company", company), ("title", title)) if v is not None},
                "email_addresses": [{"value": e, "type": "personal"} for e in emails],
                "phone_numbers": [{"value": p, "type": "mobile"} for p in phones],
                "social_media_addresses": [{"value": u} for u in social_urls], "tags": list(tags),
                "application": application}
        data = _object(self._call("POST", f"{self._api}/v3/candidates", json=body, sub=as_user))
        return self._created(data, job_id)

    def _created(self, data: dict[str, Any], job_id: int) -> CreatedCandidate:
        # reference 3.2: the response is unconfirmed, `{candidate, application}` or a flat candidate; both parse
        candidate = _parse(Candidate, data["candidate"] if isinstance(data.get("candidate"), dict) else data)
        if isinstance(data.get("application"), dict):
            return CreatedCandidate(candidate, _parse(Application, data["application"]))
        found = [a for a in self.list_applications(candidate.id) if a.job_id == job_id]  # a read: safe to add
        return CreatedCandidate(candidate, found[0] if found else None)

    def update_candidate(self, candidate_id: int, fields: Mapping[str, Any], *,
                         as_user: int | None = None) -> Candidate:
        """PATCH the keys given; a list field replaces the whole list (reference 3.2), so send it complete."""
        response = self._call("PATCH", f"{self._api}/v3/candidates/{candidate_id}", json=dict(fields), sub=as_user)
        return _parse(Candidate, _object(response))

    def create_application(self, candidate_id: int, job_id: int, *, initial_stage_id: int | None = None,
                           source_id: int | None = None, as_user: int | None = None) -> Application:
        """Put an existing candidate on a job (reference 3.3: the candidate-application body)."""
        fields = (("candidate_id", candidate_id), ("job_id", job_id), ("initial_stage_id", initial_stage_id),
                  ("source_id", source_id))
        body = {k: v for k, v in fields if v is not None}
        response = self._call("POST", f"{self._api}/v3/applications", json=body, sub=as_user)
        return _parse(Application, _object(response))

    def add_note(self, candidate_id: int, body: str, *, application_id: int | None = None,
                 visibility: Visibility = "private", as_user: int | None = None) -> Note:
        """A note on the candidate; the author is the acting user (`as_user`, else the client's user)."""
        payload: dict[str, Any] = {"candidate_id": candidate_id, "body": body, "visibility": visibility,
                                   "note_type": "NOTE"}
        if application_id is not None:
            payload["application_id"] = application_id
        return _parse(Note, _object(self._call("POST", f"{self._api}/v3/notes", json=payload, sub=as_user)))

    def move_application(self, application_id: int, from_stage_id: int, to_stage_id: int, *,
                         as_user: int | None = None) -> None:
        """Move to another stage of the same job; a stale `from_stage_id` is Rejected (422)."""
        body = {"from_stage_id": from_stage_id, "to_stage_id": to_stage_id}
        self._call("POST", f"{self._api}/v3/applications/{application_id}/move", json=body, sub=as_user)

    # --- transport: tokens, the error edge, pages ---

    def _token(self, sub: int) -> str:
        with self._guard:
            lock = self._token_locks.setdefault(sub, threading.Lock())
        with lock:
            cached = self._tokens.get(sub)
            if cached is None or self._clock() >= cached[1] - REFRESH_EARLY_SECONDS:
                cached = self._fetch_token(sub)
                self._tokens[sub] = cached
            return cached[0]

    def _drop_token(self, sub: int, token: str) -> None:
        with self._guard:
            if self._tokens.get(sub, ("", 0.0))[0] == token:
                del self._tokens[sub]

    def _fetch_token(self, sub: int) -> tuple[str, float]:
        form = {"grant_type": "client_credentials", "sub": str(sub)}
        response = self._send("POST", self._token_url, auth=self._credentials, data=form)
        if response.status_code in (400, 401, 403):
            # the vendor may echo the client id back (reference 2.3): keep it out of messages and logs
            message = _vendor_message(response).replace(self._credentials[0], "<client_id>")
            raise AuthFailed(f"token refused: {message}", integration=INTEGRATION, status=response.status_code)
        _raise_for(response)
        data = _object(response)
        if not isinstance(data.get("access_token"), str):
            raise UnexpectedResponse("token response has no access_token", integration=INTEGRATION)
        return data["access_token"], token_expiry(data, self._clock())

    def _call(self, method: str, url: str, *, params: Mapping[str, Any] | None = None,
              json: Any = None, sub: int | None = None) -> httpx.Response:
        """One API request as `sub`; a 401 drops the token and repeats once (a 401 was never processed)."""
        sub = self.user_id if sub is None else sub
        for _ in range(2):
            token = self._token(sub)
            response = self._send(method, url, params=params, json=json,
                                  headers={"Authorization": f"Bearer {token}"})
            if response.status_code != 401:
                _raise_for(response)
                return response
            self._drop_token(sub, token)
        raise AuthFailed(f"401 after a token refresh: {_vendor_message(response)}", integration=INTEGRATION,
                         status=401)

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """The one place httpx is called: its exceptions become Unavailable."""
        self._respect_window()
        self.requests += 1
        try:
            response = self._http.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise Unavailable(f"{method} {urlsplit(url).path} timed out", integration=INTEGRATION) from exc
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise Unavailable(f"{method} {urlsplit(url).path} failed: {type(exc).__name__}",
                              integration=INTEGRATION) from exc
        if "X-RateLimit-Limit" in response.headers:
            self.rate_limit = _rate_limit(response.headers)
        return response

    def _respect_window(self) -> None:
        """With the window's budget spent, wait for its reset (briefly) instead of earning a 429.

        A longer wait is handed to the queue as RateLimited, so a worker thread is never parked for long.
        """
        limit = self.rate_limit
        if limit.remaining is None or limit.remaining > 0 or limit.reset is None:
            return
        wait = limit.reset - self._clock()
        if wait > self._max_wait:
            raise RateLimited(f"rate-limit window spent; resets in {wait:.0f} s", integration=INTEGRATION,
                              retry_after=wait)
        if wait > 0:
            self._sleep(wait)
        self.rate_limit = RateLimit(limit.limit, None, None)

    def _list(self, path: str, model: type[M], filters: Mapping[str, Any] | None = None) -> list[M]:
        return [_parse(model, row) for row in self._rows(path, filters or {})]

    def _rows(self, path: str, filters: Mapping[str, Any]) -> Iterator[Any]:
        """Every row: filters and per_page on the first request, then `rel="next"` verbatim."""
        url: str | None = f"{self._api}{path}"
        params: Mapping[str, Any] | None = {**filters, "per_page": PER_PAGE}
        seen: set[str] = set()
        while url is not None:
            response = self._call("GET", url, params=params)
            rows = _json(response)
            if not isinstance(rows, list):
                raise UnexpectedResponse(f"GET {path} did not return a JSON array", integration=INTEGRATION)
            yield from rows
            url, params = self._next_url(response, seen), None  # never add params to a cursor URL

    def _next_url(self, response: httpx.Response, seen: set[str]) -> str | None:
        url = response.links.get("next", {}).get("url")
        if not url or url in seen:  # no Link (or an empty one) is the last page; a repeated cursor ends it too
            return None
        if urlsplit(url)[:2] != urlsplit(self._api)[:2]:  # the bearer token goes only to the API host
            raise UnexpectedResponse("pagination link points at another host", integration=INTEGRATION)
        seen.add(url)
        return url


def token_expiry(data: Mapping[str, Any], now: float) -> float:
    """Epoch seconds a token expires: `expires_in`, or `expires_at`/`expires` (ISO or epoch), else one hour."""
    if isinstance(data.get("expires_in"), int | float):
        return now + float(data["expires_in"])
    for key in ("expires_at", "expires"):
        value = data.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value) if value > 1e9 else now + float(value)  # an epoch, else seconds from now
        if isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    return now + DEFAULT_TOKEN_TTL_SECONDS


def verify_webhook_signature(secret: str, raw_body: bytes, header: str | None) -> bool:
    """Whether `Signature: sha256 <hex>` is the HMAC-SHA256 of the exact raw body (constant-time)."""
    algorithm, _, given = (header or "").strip().partition(" ")
    if algorithm.lower() != "sha256" or not given:
        return False
    expected = hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode())


def _raise_for(response: httpx.Response) -> None:
    status = response.status_code
    if status < 400:
        return
    message = f"HTTP {status}: {_vendor_message(response)}"
    if status == 429:
        retry_after = _number(response.headers.get("Retry-After"))
        raise RateLimited(message, integration=INTEGRATION, retry_after=retry_after)
    if status >= 500:
        raise Unavailable(message, integration=INTEGRATION, status=status)
    if status == 403:  # a missing scope or a `sub` without permission, not bad credentials (reference 1.3)
        message += " (missing scope or the acting user lacks permission)"
    raise Rejected(message, integration=INTEGRATION, status=status)


def _vendor_message(response: httpx.Response) -> str:
    """`message` (or OAuth `error`) and the flattened `errors` of the vendor envelope."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    if not isinstance(body, dict):
        return response.reason_phrase
    parts = [str(body.get("message") or body.get("error") or response.reason_phrase)]
    for error in body.get("errors") or []:
        parts.append(", ".join(f"{k}: {v}" for k, v in error.items()) if isinstance(error, dict) else str(error))
    return "; ".join(parts)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise UnexpectedResponse(f"HTTP {response.status_code} body is not JSON", integration=INTEGRATION) from exc


def _object(response: httpx.Response) -> dict[str, Any]:
    data = _json(response)
    if not isinstance(data, dict):
        raise UnexpectedResponse("expected a JSON object", integration=INTEGRATION)
    return data


def _parse(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise UnexpectedResponse(f"{model.__name__} did not validate: {exc.error_count()} error(s)",
                                 integration=INTEGRATION) from exc


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _batches(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    return (ids[i:i + IDS_MAX] for i in range(0, len(ids), IDS_MAX))


def _csv(ids: Sequence[int]) -> str:
    return ",".join(str(i) for i in ids)


def _rate_limit(headers: httpx.Headers) -> RateLimit:
    limit, remaining = _number(headers.get("X-RateLimit-Limit")), _number(headers.get("X-RateLimit-Remaining"))
    return RateLimit(None if limit is None else int(limit), None if remaining is None else int(remaining),
                     _number(headers.get("X-RateLimit-Reset")))
