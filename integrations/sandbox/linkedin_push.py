"""LinkedIn-side happenings in the simulator: callback registration, signed export pushes, InMails, stubs."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations.linkedin_restli import parse_key
from integrations.sandbox.linkedin_restli import (
    Api,
    Entry,
    Verdict,
    key_field,
    key_verdict,
    query_keys,
    restli_error,
    write_batch,
)

if TYPE_CHECKING:
    from integrations.sandbox.linkedin import Customer, LinkedInState

PUSH_RETRIES = 6  # reference: RSC retries unconfirmed; Apply Connect re-sends 6 times after a non-200
BACKOFF_SECONDS = 1.0  # doubled per retry, then multiplied by the state's `time_scale`
DELIVERY_TIMEOUT = 5.0
CHALLENGE_TIMEOUT = 3.0  # webhook validation must answer within 3 s [third-party T3]
EXPORT_TTL_MS = 24 * 3600 * 1000  # reference: how long an export request lives is unconfirmed
MAIL_CONTENT = "com.linkedin.messaging.events.MailContent"
CONFIGURATION_KEYS = {"CALLBACK_URL": "ONE_CLICK_EXPORT", "JOB_POSTING_VIEWERS": "ONE_CLICK_EXPORT",
                      "APPLICATION_VIEWERS": "IN_ATS_INDICATOR"}


@dataclass
class ExportRequest:
    """A One-Click Export a recruiter made: what `exportedCandidates?q=request` returns until it expires."""

    id: str
    client_id: str
    elements: list[dict[str, Any]]
    expires_at: int  # epoch ms


@dataclass
class Delivery:
    """How pushing one event to a customer's callback went: every attempt's status or transport error."""

    request_id: str
    client_id: str
    url: str | None
    delivered: bool = False
    attempts: int = 0
    outcomes: list[str] = field(default_factory=list)


def push_signature(secret: str, raw_body: bytes) -> str:
    """`X-LI-Signature`: lowercase hex HMAC-SHA256 of `hmacsha256=` + the exact body bytes."""
    return hmac.new(secret.encode(), b"hmacsha256=" + raw_body, hashlib.sha256).hexdigest()


def stub_profile(state: LinkedInState, candidate: dict[str, Any]) -> dict[str, Any]:
    """A StubProfile from a partial description, its required fields filled in."""
    first, last = candidate.get("firstName", "Sandbox"), candidate.get("lastName", "Member")
    slug = f"{first}-{last}".lower().replace(" ", "-")
    return {"member": f"urn:li:person:{state.random.getrandbits(40):010x}", "firstName": first, "lastName": last,
            "currentEmployerNames": [], "emailAddresses": [], "profileUrl": f"https://www.linkedin.com/in/{slug}",
            **candidate}


def create_export(state: LinkedInState, client_id: str, candidates: list[dict[str, Any]],
                  external_job_posting_id: str | None = None) -> ExportRequest:
    """Record an export as Recruiter would; `externalJobPostingId` is the ATS job picked, if any."""
    organization = state.customers[client_id].organization
    job = {} if external_job_posting_id is None else {"externalJobPostingId": external_job_posting_id}
    elements = [{"candidate": stub_profile(state, c), "integrationContext": organization, **job}
                for c in candidates]
    export = ExportRequest(str(state.random.randrange(10**18, 10**19)), client_id, elements,
                           state.now_ms() + EXPORT_TTL_MS)
    with state.lock:
        state.exports[export.id] = export
    return export


async def deliver(state: LinkedInState, export: ExportRequest) -> Delivery:
    """POST the signed push to the customer's callback; retry non-2xx up to 6 times with doubling backoff."""
    delivery = Delivery(export.id, export.client_id, state.callback_url(export.client_id))
    with state.lock:
        state.deliveries.append(delivery)
    if delivery.url is None:
        delivery.outcomes.append("no CALLBACK_URL registered")
        return delivery
    # json.dumps escapes non-ASCII as \uXXXX: LinkedIn signs "the escaped Unicode version" of the payload
    body = {"id": export.id, "type": "EXPORT_CANDIDATE_PROFILE", "expiresAt": export.expires_at}
    raw = json.dumps(body).encode()
    secret = state.customers[export.client_id].signing_secret
    headers = {"Content-Type": "application/json", "X-LI-Signature": push_signature(secret, raw)}
    async with httpx.AsyncClient(timeout=DELIVERY_TIMEOUT) as client:
        for attempt in range(1 + PUSH_RETRIES):
            if attempt:
                await asyncio.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1) * state.time_scale)
            delivery.attempts += 1
            delivery.delivered, outcome = await _post(client, delivery.url, raw, headers)
            delivery.outcomes.append(outcome)
            if delivery.delivered:
                break
    return delivery


async def _post(client: httpx.AsyncClient, url: str, raw: bytes, headers: dict[str, str]) -> tuple[bool, str]:
    try:
        response = await client.post(url, content=raw, headers=headers)
    except httpx.HTTPError as exc:
        return False, type(exc).__name__
    return 200 <= response.status_code < 300, str(response.status_code)


async def validate_callback(state: LinkedInState, client_id: str) -> dict[str, Any]:
    """The webhook challenge: GET `?challengeCode=`, expect hex(HMAC-SHA256(secret, code)) back."""
    url = state.callback_url(client_id)
    if url is None:
        return {"validated": False, "url": None, "outcome": "no CALLBACK_URL registered"}
    code = str(uuid.UUID(int=state.random.getrandbits(128), version=4))
    secret = state.customers[client_id].signing_secret.encode()
    expected = hmac.new(secret, code.encode(), hashlib.sha256).hexdigest()
    try:
        async with httpx.AsyncClient(timeout=CHALLENGE_TIMEOUT) as client:
            response = await client.get(url, params={"challengeCode": code})
        body = response.json() if response.status_code == 200 else {}
    except (httpx.HTTPError, ValueError) as exc:
        return {"validated": False, "url": url, "outcome": type(exc).__name__}
    ok = isinstance(body, dict) and body.get("challengeCode") == code and body.get("challengeResponse") == expected
    return {"validated": ok, "url": url, "outcome": str(response.status_code)}


def add_conversation_event(state: LinkedInState, seat: str, event: dict[str, Any]) -> dict[str, Any]:
    """Add an InMail to a seat's history in the wire shape (content is the MailContent union)."""
    author = event.get("author", seat)
    thread = event.get("threadUrn") or f"urn:li:messagingThread:{state.random.randrange(10**18, 10**19)}"
    mail = {"body": {"text": event.get("text", "")}, "subject": event.get("subject", "")}
    wire = {"author": author, "content": {MAIL_CONTENT: mail},
            "createdAt": int(event.get("createdAt", state.now_ms())),
            "id": event.get("id") or f"S{state.random.randrange(10**18, 10**19)}_1000",
            "recipients": event.get("recipients", [] if author == seat else [seat]), "threadUrn": thread}
    with state.lock:
        state.conversations.setdefault(seat, []).append(wire)
    return wire


def add_mail_stub(state: LinkedInState, seat: str, stub: dict[str, Any]) -> dict[str, Any]:
    """Add a stub a prospect shared with a seat (element shape: the reference's provisional Decision)."""
    customer = state.customer_for_seat(seat)
    if customer is None:
        raise ValueError(f"{seat} is no customer's seat")
    wire = {"owner": seat, "contract": customer.contract, "createdAt": state.now_ms(),
            "member": f"urn:li:person:{state.random.getrandbits(40):010x}", **stub}
    with state.lock:
        state.mail_stubs.append(wire)
    return wire


def push_routes(state: LinkedInState, api: Api) -> list[Route]:
    """Callback registration and export retrieval (API), and `/_sandbox/*` routes that make things happen."""
    return [
        Route("/v2/atsIntegrations/{key}/configurations", api(partial(put_configurations, state)),
              methods=["PUT"]),
        Route("/v2/atsIntegrations/{key}/configurations", api(partial(get_configurations, state)),
              methods=["GET"]),
        Route("/v2/exportedCandidates", api(partial(exported_candidates, state)), methods=["GET"]),
        Route("/_sandbox/exports", partial(post_export, state), methods=["POST"]),
        Route("/_sandbox/challenge", partial(post_challenge, state), methods=["POST"]),
        Route("/_sandbox/conversations", partial(post_items, state, "events", add_conversation_event),
              methods=["POST"]),
        Route("/_sandbox/mail_stubs", partial(post_items, state, "stubs", add_mail_stub), methods=["POST"]),
    ]


async def put_configurations(state: LinkedInState, request: Request, customer: Customer) -> Response:
    """Integration configuration, e.g. the customer's unique One-Click Export `CALLBACK_URL`."""
    parent = parse_key(request.path_params["key"])
    integration_type = "" if isinstance(parent, str) else parent.get("integrationType", "")

    def check(e: Entry) -> Verdict:
        return key_verdict(parent, customer, "integrationType") or _configuration_verdict(
            state, customer, integration_type, str(e.key), e.entity)

    def store(e: Entry) -> None:
        state.configurations.setdefault((customer.client_id, integration_type), {})[str(e.key)] = e.entity

    return await write_batch(state, request, customer, "batch_update", check, store, counts_records=False)


def _configuration_verdict(state: LinkedInState, customer: Customer, integration_type: str, name: str,
                           entity: Any) -> Verdict:
    value = entity.get("configurationValue", {}).get("string") if isinstance(entity, dict) else None
    if CONFIGURATION_KEYS.get(name) != integration_type:
        return 400, f"{name} is not a configuration of {integration_type or 'this integration'}"
    if not isinstance(value, str) or not value:
        return 400, "configurationValue must be {\"string\": ...}"
    if name != "CALLBACK_URL":
        return None if value == "ALL_PRODUCT_USERS" else (400, "The only valid value is ALL_PRODUCT_USERS")
    # the vendor wants HTTPS on 80/443; the sandbox also accepts plain HTTP so loopback receivers work
    if not value.startswith(("https://", "http://")):
        return 400, "CALLBACK_URL must be an HTTPS URL"
    owner = state.customer_for_callback(value)
    return None if owner in (None, customer) else (400, "This callback URL already serves another customer")


async def get_configurations(state: LinkedInState, request: Request, customer: Customer) -> Response:
    parent = parse_key(request.path_params["key"])
    verdict = key_verdict(parent, customer, "integrationType")
    if verdict is not None:
        return restli_error(*verdict)
    stored = state.configurations.get((customer.client_id, str(key_field(parent, "integrationType"))), {})
    names = [str(k) for k in query_keys(request.url.query)]
    missing = {"status": 404, "message": "Not configured"}
    return JSONResponse({"results": {n: stored[n] for n in names if n in stored},
                         "statuses": {n: 200 for n in names if n in stored},
                         "errors": {n: missing for n in names if n not in stored}})


async def exported_candidates(state: LinkedInState, request: Request, customer: Customer) -> Response:
    """`q=request`: the candidates of one export request, only for the customer it was made for."""
    request_id = request.query_params.get("requestId", "")
    if request.query_params.get("q") != "request" or not request_id:
        return restli_error(400, "q=request and requestId are required")
    export = state.exports.get(request_id)
    if export is None or export.expires_at <= state.now_ms():
        return restli_error(404, f"No export request {request_id}")
    if export.client_id != customer.client_id:
        # reference: unconfirmed whether LinkedIn answers 403 or 404 here; 403 lets tests tell the cases apart
        return restli_error(403, "This export request belongs to another application")
    paging = {"start": 0, "count": len(export.elements), "total": len(export.elements), "links": []}
    return JSONResponse({"elements": export.elements, "paging": paging})


async def post_export(state: LinkedInState, request: Request) -> Response:
    """`{"client_id", "candidates", "externalJobPostingId"?}`: store an export, push it, say how it went."""
    body = await _json_object(request)
    if not body or body.get("client_id") not in state.customers or not isinstance(body.get("candidates"), list):
        return JSONResponse({"error": "need a known client_id and a candidates list"}, status_code=400)
    export = create_export(state, body["client_id"], body["candidates"], body.get("externalJobPostingId"))
    delivery = await deliver(state, export)
    return JSONResponse({"requestId": export.id, **asdict(delivery)})


async def post_challenge(state: LinkedInState, request: Request) -> Response:
    body = await _json_object(request)
    if body is None or body.get("client_id") not in state.customers:
        return JSONResponse({"error": "need a known client_id"}, status_code=400)
    return JSONResponse(await validate_callback(state, body["client_id"]))


ItemAdder = Callable[["LinkedInState", str, dict[str, Any]], dict[str, Any]]


async def post_items(state: LinkedInState, name: str, add: ItemAdder, request: Request) -> Response:
    """`{"seat", "<name>": [...]}`: add InMail events or mail stubs for a seat."""
    body = await _json_object(request)
    if not body or state.customer_for_seat(str(body.get("seat"))) is None or not isinstance(body.get(name), list):
        return JSONResponse({"error": f"need a known seat and a {name} list"}, status_code=400)
    return JSONResponse({name: [add(state, body["seat"], item) for item in body[name]]})


async def _json_object(request: Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
