"""Webhooks the Greenhouse simulator sends: v1-shaped payloads, Greenhouse signing, delivery with retries."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations.sandbox.base import Background
from integrations.sandbox.greenhouse_records import Account, Invalid, Json, NotFound

if TYPE_CHECKING:
    from integrations.sandbox.greenhouse import GreenhouseState

RETRY_DELAYS_MINUTES = (1, 15, 60, 120, 240, 480)  # vendor retry policy: 6 retries, 7 attempts in all
MAX_ATTEMPTS = 1 + len(RETRY_DELAYS_MINUTES)
APP_URL = "https://app.greenhouse.io"
USER_AGENT = "Greenhouse-Webhooks (HireBridge sandbox)"  # the vendor's User-Agent value is undocumented
APPLICATION_ACTIONS = ("new_candidate_application", "candidate_stage_change", "hire_candidate", "reject_candidate")
PERSON_ACTIONS = ("merge_candidate", "delete_candidate")
_JSON_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"))


# --- payloads (webhooks keep the v1 shapes: reference 4, api-contracts 2.1/2.2) -------------------------

def _user_ref(account: Account, user_id: int | None) -> Json | None:
    user = account.users.get(user_id) if user_id is not None else None
    if user is None:
        return None
    return {"id": user["id"], "email": user["primary_email"], "name": user["name"],
            "employee_id": user["employee_id"]}


def _job_ref(account: Account, job_id: int) -> Json:
    job = account.jobs[job_id]
    department = {"id": job["department_id"], "name": account.departments[job["department_id"]],
                  "external_id": None}
    return {"id": job["id"], "name": job["name"], "requisition_id": job["requisition_id"], "notes": None,
            "confidential": job["confidential"], "job_post_id": None, "status": job["status"],
            "created_by_id": None, "created_at": job["created_at"], "opened_at": job["opened_at"],
            "closed_at": job["closed_at"], "url": f"{APP_URL}/sdash/{job['id']}", "departments": [department],
            "offices": [], "hiring_team": {"hiring_managers": [], "sourcers": [], "recruiters": [],
                                           "coordinators": []},
            "custom_fields": job["custom_fields"]}


def _candidate_ref(account: Account, candidate: Json, application: Json) -> Json:
    contacts = ("phone_numbers", "email_addresses", "addresses", "website_addresses", "social_media_addresses")
    return {**{k: candidate[k] for k in ("id", "first_name", "last_name", "title", "company", "created_at")},
            "external_id": None, "photo_url": None, "url": f"{APP_URL}/people/{candidate['id']}",
            "is_private": candidate["private"], "can_email": candidate["can_email"],
            **{k: candidate[k] for k in contacts}, "educations": [], "employments": [],
            "recruiter": _user_ref(account, application["recruiter_id"]),
            "coordinator": _user_ref(account, application["coordinator_id"]), "attachments": [],
            "tags": candidate["tags"], "custom_fields": candidate["custom_fields"]}


def _extras(account: Account, action: str, application: Json) -> Json:
    """The keys one action adds to the common application payload."""
    if action == "new_candidate_application":
        return {"prospect_detail": {"prospect_pool": None, "prospect_stage": None, "prospect_owner": None}}
    if action != "hire_candidate":
        return {}
    job = _job_ref(account, application["job_id"])
    offer = {"id": application["id"], "version": 1, "created_at": application["updated_at"], "sent_at": None,
             "resolved_at": application["updated_at"], "starts_at": None, "custom_fields": {}}
    legacy_job = {"id": job["id"], "name": job["name"], "open_date": job["opened_at"],  # deprecated by the vendor
                  "close_date": job["closed_at"], "requisition_id": None, "departments": job["departments"],
                  "offices": [], "custom_fields": {}}
    return {"opening": {"opening_id": None, "custom_fields": []}, "offer": offer, "job": legacy_job}


def application_event(account: Account, action: str, application: Json) -> Json:
    """`{"action", "payload": {"application": {…, "candidate", "jobs"}}}` for an application action."""
    candidate = account.candidate(application["candidate_id"])
    source_id, status = application["source_id"], application["status"]
    source_key = "public_name" if action in ("hire_candidate", "reject_candidate") else "name"  # as documented
    body = {
        "id": application["id"], "rejected_at": application["rejected_at"], "prospect": application["prospect"],
        "status": "active" if status == "in_process" else status,  # webhooks still say `active` (reference 4)
        "applied_at": application["created_at"], "last_activity_at": application["last_activity_at"],
        "url": f"{APP_URL}/people/{candidate['id']}?application_id={application['id']}",
        "source": None if source_id is None else {"id": source_id, source_key: f"Source {source_id}"},
        "credited_to": _user_ref(account, application["referrer_id"]), "rejection_reason": None,
        "rejection_details": None,
        # reference 4 [NF]: whether `current_stage.id` is v3's job_interview_stage_id; the sandbox assumes so
        "current_stage": {"id": application["job_interview_stage_id"], "name": application["stage_name"],
                          "interviews": []},
        "custom_fields": application["custom_fields"],
        "candidate": _candidate_ref(account, candidate, application),
        "jobs": [_job_ref(account, application["job_id"])] if application["job_id"] else [],
    }
    return {"action": action, "payload": {"application": {**body, **_extras(account, action, application)}}}


def person_event(account: Account, action: str, candidate: Json, **extra: Any) -> Json:
    """`merge_candidate` / `delete_candidate`: `{"payload": {"person": {…}}}`, `person.id` the one going away."""
    first = next((a for a in account.applications.values() if a["candidate_id"] == candidate["id"]), {})
    person = {k: candidate[k] for k in ("id", "first_name", "last_name", "company", "title", "created_at")}
    person.update(headline=None, is_private=candidate["private"], recruiter_user_id=first.get("recruiter_id"),
                  coordinator_user_id=first.get("coordinator_id"), can_email=candidate["can_email"], **extra)
    return {"action": action, "payload": {"person": person}}


def ping_event(url: str) -> Json:
    """What a saved webhook is pinged with; reference: the vendor's ping payload is undocumented."""
    return {"action": "ping", "payload": {"web_hook": {"url": url}}}


# --- signing and delivery --------------------------------------------------------------------------------

def encode(payload: Json) -> bytes:
    """The body as Greenhouse writes it: compact JSON with unicode and `<`, `>`, `&` escaped (`\\u003c`)."""
    text = json.dumps(payload, ensure_ascii=True, separators=(",", ":"))
    for char, escaped in _JSON_ESCAPES:  # these occur only inside strings, so the JSON stays valid
        text = text.replace(char, escaped)
    return text.encode("ascii")


def sign(secret: str, body: bytes) -> str:
    """`Signature` header value: `sha256 <hex HMAC-SHA256 of the raw body>` (a space, not `=`)."""
    return "sha256 " + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def event_headers(secret: str, body: bytes, event_id: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "Signature": sign(secret, body),
            "Greenhouse-Event-ID": event_id, "User-Agent": USER_AGENT}


@dataclass
class Delivery:
    """One event sent to one URL: each attempt's outcome (status code, `timeout` or `error`)."""

    event_id: str
    action: str
    url: str
    outcomes: list[str] = field(default_factory=list)
    delivered: bool = False


def retry_delay(retry: int, time_scale: float, rng: random.Random) -> float:
    """Seconds before retry `retry` (1-based): the vendor's minutes plus `rand(30) * retry` s, scaled."""
    return (RETRY_DELAYS_MINUTES[retry - 1] * 60 + rng.randrange(30) * retry) * time_scale


def post_once(url: str, body: bytes, headers: dict[str, str], timeout: float) -> str:
    """POST once; the outcome as text. Redirects are not followed, as with Greenhouse."""
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as http:
            return str(http.post(url, content=body, headers=headers).status_code)
    except httpx.TimeoutException:
        return "timeout"
    except httpx.HTTPError:
        return "error"


def deliver(url: str, secret: str, payload: Json, *, time_scale: float = 1.0, timeout: float = 10.0,
            event_id: str | None = None, sleep: Callable[[float], None] = time.sleep,
            rng: random.Random | None = None) -> Delivery:
    """Sign and POST; on non-200, timeout or network error retry on the vendor schedule × `time_scale`."""
    body, rng = encode(payload), rng or random.Random()
    # retries keep the event id so receivers can dedupe on it (reference 4: "unique per delivery")
    delivery = Delivery(event_id or str(uuid.uuid4()), str(payload["action"]), url)
    headers = event_headers(secret, body, delivery.event_id)
    for attempt in range(MAX_ATTEMPTS):
        if attempt:
            sleep(retry_delay(attempt, time_scale, rng))
        delivery.outcomes.append(post_once(url, body, headers, timeout))
        if delivery.outcomes[-1] == "200":
            delivery.delivered = True
            break
    return delivery


@dataclass
class Registration:
    """A webhook endpoint for one account; a failed ping leaves it disabled, as Greenhouse does."""

    url: str
    time_scale: float = 1.0
    enabled: bool = True


class WebhookHub:
    """Per-account webhook endpoints and the deliveries made to them, each in a background thread."""

    def __init__(self, rng: random.Random) -> None:
        self.registrations: dict[str, Registration] = {}
        self.deliveries: list[Delivery] = []
        self._rng = rng
        self._background = Background()
        self._lock = threading.Lock()

    def is_enabled(self, account_id: str) -> bool:
        registration = self.registrations.get(account_id)
        return registration is not None and registration.enabled

    def send(self, account_id: str, secret: str, payload: Json) -> str | None:
        """Start delivering `payload` to the account's endpoint; the event id, or None if none is enabled."""
        registration = self.registrations.get(account_id)
        if registration is None or not registration.enabled:
            return None
        event_id = str(uuid.uuid4())
        self._background.start(f"greenhouse-webhook-{payload['action']}", self._run, registration, secret,
                               payload, event_id)
        return event_id

    def _run(self, registration: Registration, secret: str, payload: Json, event_id: str) -> None:
        delivery = deliver(registration.url, secret, payload, time_scale=registration.time_scale,
                           event_id=event_id, rng=self._rng)
        with self._lock:
            self.deliveries.append(delivery)

    def join(self, timeout: float = 10.0) -> bool:
        """Wait for deliveries in flight; False if some still run at the deadline."""
        return self._background.join(timeout)

    def snapshot(self) -> Json:
        with self._lock:
            return {"registrations": {k: asdict(r) for k, r in self.registrations.items()},
                    "deliveries": [asdict(d) for d in self.deliveries], "in_flight": self._background.in_flight()}


# --- UI actions and control routes -----------------------------------------------------------------------

def _int(body: Json, key: str) -> int:
    value = body.get(key)
    if not isinstance(value, int):
        raise Invalid({key: "must be an integer id"})
    return value


def ui_event(account: Account, body: Json) -> Json:
    """Do what a recruiter did in the Greenhouse UI (hire, reject, move, merge, delete) and build its webhook."""
    action = body.get("action")
    if action in APPLICATION_ACTIONS:
        application = account.application(_int(body, "application_id"))
        if action in ("hire_candidate", "reject_candidate"):
            account.decide(application["id"], "hired" if action == "hire_candidate" else "rejected")
        elif action == "candidate_stage_change" and "to_stage_id" in body:
            account.move(application["id"], {"from_stage_id": application["job_interview_stage_id"],
                                              "to_stage_id": body["to_stage_id"]})
        return application_event(account, str(action), application)
    if action in PERSON_ACTIONS:
        candidate = account.candidate(_int(body, "candidate_id"))
        if action == "merge_candidate":
            event = person_event(account, action, candidate, new_candidate_id=_int(body, "new_candidate_id"))
            account.merge(_int(body, "new_candidate_id"), candidate["id"])
            return event
        gone = sorted(a["id"] for a in account.applications.values() if a["candidate_id"] == candidate["id"])
        event = person_event(account, "delete_candidate", candidate, deleted_application_ids=gone)
        account.delete_candidate(candidate["id"])
        return event
    raise Invalid({"action": f"must be one of: ping, {', '.join(APPLICATION_ACTIONS + PERSON_ACTIONS)}"})


async def _object(request: Request) -> Json:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise Invalid("body must be a JSON object")
    return body


def webhook_routes(state: GreenhouseState) -> list[Route]:
    """`/_sandbox/webhooks` (register, list) and `/_sandbox/emit` (fire one on demand)."""

    async def register(request: Request) -> Response:
        try:
            body = await _object(request)
            account = state.account(body.get("account"))
            registration = Registration(str(body["url"]), float(body.get("time_scale", state.time_scale)))
        except (Invalid, KeyError, TypeError, ValueError) as exc:
            return JSONResponse({"error": f"bad registration ({exc!r}): send url and account"}, status_code=400)
        if body.get("ping", True):  # saving a webhook pings it (vendor); skip with "ping": false
            ping = encode(ping_event(registration.url))
            headers = event_headers(account.webhook_secret, ping, str(uuid.uuid4()))
            outcome = await asyncio.to_thread(post_once, registration.url, ping, headers, 10.0)
            registration.enabled = outcome == "200"
        state.webhooks.registrations[account.client_id] = registration
        return JSONResponse({"account": account.client_id, **asdict(registration)}, status_code=201)

    async def listing(request: Request) -> Response:
        return JSONResponse(state.webhooks.snapshot())

    async def emit(request: Request) -> Response:
        try:
            body = await _object(request)
            account = state.account(body.get("account"))
            if not state.webhooks.is_enabled(account.client_id):
                return JSONResponse({"error": "no enabled webhook for this account"}, status_code=409)
            payload = ping_event(state.webhooks.registrations[account.client_id].url) \
                if body.get("action") == "ping" else ui_event(account, body)
        except KeyError:
            return JSONResponse({"error": "unknown account"}, status_code=404)
        except Invalid as exc:
            return JSONResponse({"errors": exc.errors}, status_code=422)
        except NotFound as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        event_id = state.webhooks.send(account.client_id, account.webhook_secret, payload)
        return JSONResponse({"action": payload["action"], "event_id": event_id}, status_code=202)

    return [Route("/_sandbox/webhooks", register, methods=["POST"]),
            Route("/_sandbox/webhooks", listing, methods=["GET"]),
            Route("/_sandbox/emit", emit, methods=["POST"])]
