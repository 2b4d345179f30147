"""The simulator's Rest.li batch resources: keys in queries and bodies, per-record verdicts, record rules."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, unquote_plus

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations.linkedin_restli import Key, canonical_key, encode_key_v1, encode_key_v2, parse_key
from integrations.sandbox.base import Handler

if TYPE_CHECKING:
    from integrations.sandbox.linkedin import Customer, LinkedInState

CustomerHandler = Callable[[Request, "Customer"], Awaitable[Response]]
Api = Callable[[CustomerHandler], Handler]
Verdict = tuple[int, str] | None

MAX_BATCH = 100
APPLICATION_FIELDS = ("atsCandidateId", "atsCreatedAt", "atsLastModifiedAt", "atsJobPostingId",
                      "atsJobPostingName", "candidateEmail", "firstName", "lastName", "source",
                      "dispositionReason")
_INDEXED_ID = re.compile(r"ids\[(\d+)\]\.(\w+)")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_MESSAGES = {400: "Bad request", 401: "Invalid access token", 403: "Not enough permissions", 404: "Not found",
             429: "Resource level throttle limit for calls to this resource is reached.",
             500: "Internal server error", 503: "Service unavailable", 504: "Gateway timeout"}
_SERVICE_CODES = {401: 65600, 429: 101}  # 429 body as observed in production [third-party T4]


def restli_error(status: int, message: str | None = None) -> JSONResponse:
    """LinkedIn's error body: `{"message", "serviceErrorCode"?, "status"}` (429s carry no Retry-After)."""
    body: dict[str, Any] = {"message": message or _MESSAGES.get(status, "Error"), "status": status}
    if status in _SERVICE_CODES and message is None:
        body["serviceErrorCode"] = _SERVICE_CODES[status]
    return JSONResponse(body, status_code=status)


def make_error(status: int) -> Response:
    return restli_error(status)


def split_list(value: str) -> list[str]:
    """The items of a 2.0 `List(a,(b:c,d:e))`, split on top-level commas."""
    items, depth, current = [], 0, ""
    for char in value.removeprefix("List(").removesuffix(")"):
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += char
    return [*items, current] if current else items


def query_values(raw_query: str, name: str) -> list[str]:
    """A multi-valued parameter: repeated (`a=1&a=2`, protocol 1.0) or `a=List(1,2)` (2.0)."""
    values: list[str] = []
    for raw_name, _, raw_value in (pair.partition("=") for pair in raw_query.split("&") if pair):
        if unquote_plus(raw_name) != name:
            continue
        value = raw_value if raw_value.startswith("List(") else unquote_plus(raw_value)
        if value.startswith("List("):
            # compound items keep their escapes for parse_key; simple items are decoded here
            values.extend(item if item.startswith("(") else unquote(item) for item in split_list(value))
        else:
            values.append(value)
    return values


def query_keys(raw_query: str) -> list[Key]:
    """Batch keys from the query in any style: `ids[0].a=x`, `ids=S1&ids=S2`, `ids=List((a:x),…)`."""
    indexed: dict[int, dict[str, str]] = {}
    for raw_name, _, raw_value in (pair.partition("=") for pair in raw_query.split("&") if pair):
        match = _INDEXED_ID.fullmatch(unquote_plus(raw_name))
        if match:
            indexed.setdefault(int(match[1]), {})[match[2]] = unquote_plus(raw_value)
    simple = [parse_key(i) if i.startswith("(") else i for i in query_values(raw_query, "ids")]
    return [indexed[i] for i in sorted(indexed)] + simple


@dataclass
class Entry:
    """One record of a batch: the key as the caller wrote it (echoed back), decoded, and its entity."""

    text: str
    key: Key
    entity: Any


async def read_batch(request: Request, method: str) -> list[Entry] | Response:
    """The records of a batch write, or the 400 for the whole request."""
    if request.headers.get("x-restli-method", "").strip().lower() != method:
        # reference: unconfirmed whether LinkedIn refuses a missing header; strict keeps the client honest
        return restli_error(400, f"X-RestLi-Method must be {method}")
    try:
        entities = json.loads(await request.body()).get("entities")
    except (ValueError, AttributeError):
        entities = None
    if not isinstance(entities, dict):
        return restli_error(400, "The body must be a JSON object with an `entities` object")
    if len(entities) > MAX_BATCH:
        return restli_error(400, f"A batch holds at most {MAX_BATCH} records; got {len(entities)}")
    entries = [Entry(text, parse_key(text), entity) for text, entity in entities.items()]
    named = {canonical_key(k) for k in query_keys(request.url.query)}
    if named != {canonical_key(e.key) for e in entries}:
        return restli_error(400, "The ids in the query must name exactly the entities in the body")
    return entries


def key_verdict(key: Key, customer: Customer, id_field: str) -> Verdict:
    """Whether a compound key is well formed and inside the caller's organization."""
    if isinstance(key, str) or not key.get(id_field) or not key.get("integrationContext"):
        return 400, f"The key needs {id_field}, dataProvider and integrationContext"
    if key.get("dataProvider") != "ATS":
        return 400, "dataProvider must be ATS"
    if key["integrationContext"] != customer.organization:
        return 403, f"{key['integrationContext']} is not this application's organization"
    return None


def _timestamps(entity: dict[str, Any], *names: str) -> str | None:
    values: list[int] = []
    for name in names:
        value = entity.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            return f"{name} must be epoch milliseconds > 0"
        values.append(value)
    if len(values) == 2 and values[1] < values[0]:
        return f"{names[1]} must not be before {names[0]}"
    return None


def _text(entity: dict[str, Any], name: str) -> str | None:
    value = entity.get(name)
    return None if isinstance(value, str) and value.strip() else f"{name} is required (at least 1 character)"


def candidate_rules(entity: dict[str, Any]) -> str | None:
    """Candidate rules from the sync docs: timestamps, firstName, addresses/phoneNumbers present, emails."""
    missing = [name for name in ("addresses", "phoneNumbers") if not isinstance(entity.get(name), list)]
    emails = entity.get("emailAddresses", [])
    return (_timestamps(entity, "atsCreatedAt", "atsLastModifiedAt") or _text(entity, "firstName")
            or (f"{missing[0]} is required (may be [])" if missing else None)
            or next((f"not an email (X@X.X): {e}" for e in _as_list(emails) if not _is_email(e)), None))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _is_email(value: Any) -> bool:
    return isinstance(value, str) and _EMAIL.fullmatch(value) is not None


def application_rules(entity: dict[str, Any]) -> str | None:
    email = entity.get("candidateEmail")
    return (_timestamps(entity, "atsCreatedAt", "atsLastModifiedAt") or _text(entity, "atsJobPostingId")
            or _text(entity, "atsJobPostingName")
            or (None if email is None or _is_email(email) else f"not an email (X@X.X): {email}"))


def stage_rules(entity: dict[str, Any]) -> str | None:
    if entity.get("stage") == "Not Available":
        return "stage must not be 'Not Available'"
    return _timestamps(entity, "atsCreatedAt") or _text(entity, "stage")


def note_rules(entity: dict[str, Any]) -> str | None:
    return _timestamps(entity, "atsCreatedAt") or _text(entity, "note")


def batch_routes(state: LinkedInState, api: Api) -> list[Route]:
    """The Rest.li batch resources of candidate and application sync."""
    return [
        Route("/v2/atsCandidates", api(partial(put_candidates, state)), methods=["PUT"]),
        Route("/v2/atsCandidates", api(partial(patch_candidates, state)), methods=["POST"]),
        Route("/v2/atsCandidates", api(partial(get_candidates, state)), methods=["GET"]),
        Route("/v2/atsCandidates", api(partial(delete_candidates, state)), methods=["DELETE"]),
        Route("/v2/atsApplications", api(partial(put_applications, state)), methods=["PUT"]),
        Route("/v2/atsApplications", api(partial(delete_applications, state)), methods=["DELETE"]),
        Route("/v2/atsApplications/{key}/stages", api(partial(put_children, state, "stages")), methods=["PUT"]),
        Route("/v2/atsCandidates/{key}/notes", api(partial(put_children, state, "notes")), methods=["PUT"]),
    ]


Check = Callable[[Entry], Verdict]
Store = Callable[[Entry], None]


async def write_batch(state: LinkedInState, request: Request, customer: Customer, method: str,
                      check: Check, store: Store, *, counts_records: bool = True) -> Response:
    """A batch write: whole-request checks, the records-per-minute throttle, then a verdict per record."""
    entries = await read_batch(request, method)
    if isinstance(entries, Response):
        return entries
    if counts_records and not state.take_records(customer.client_id, len(entries)):
        return make_error(429)
    results: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    for entry in entries:
        verdict = check(entry)
        if verdict is None:
            with state.lock:
                store(entry)
            results[entry.text] = {"status": 204}
        else:
            errors[entry.text] = {"status": verdict[0], "message": verdict[1]}
    return JSONResponse({"results": results, "errors": errors})


def _entity_rules(rules: Callable[[dict[str, Any]], str | None], entity: Any) -> Verdict:
    if not isinstance(entity, dict):
        return 400, "The entity must be a JSON object"
    problem = rules(entity)
    return None if problem is None else (400, problem)


async def put_candidates(state: LinkedInState, request: Request, customer: Customer) -> Response:
    """BATCH_UPDATE upsert; LinkedIn's own match fields survive a partner's update."""
    def check(e: Entry) -> Verdict:
        return key_verdict(e.key, customer, "atsCandidateId") or _entity_rules(candidate_rules, e.entity)

    def store(e: Entry) -> None:
        ident = (customer.organization, key_field(e.key, "atsCandidateId"))
        # reference: unconfirmed whether an upsert clears a member link; the simulator keeps it
        kept = {k: v for k, v in state.candidates.get(ident, {}).items() if k == "manualMatchedMember"}
        state.candidates[ident] = {**e.entity, **kept}

    return await write_batch(state, request, customer, "batch_update", check, store)


async def patch_candidates(state: LinkedInState, request: Request, customer: Customer) -> Response:
    """BATCH_PARTIAL_UPDATE with `{"patch": {"$set": {...}}}`, e.g. `manualMatchedMember` after an export."""
    def check(e: Entry) -> Verdict:
        known = (customer.organization, key_field(e.key, "atsCandidateId")) in state.candidates
        return (key_verdict(e.key, customer, "atsCandidateId") or _patch_verdict(e.entity)
                or (None if known else (404, "No such candidate")))

    def store(e: Entry) -> None:
        ident = (customer.organization, key_field(e.key, "atsCandidateId"))
        state.candidates[ident].update(e.entity["patch"]["$set"])

    return await write_batch(state, request, customer, "batch_partial_update", check, store)


def _patch_verdict(entity: Any) -> Verdict:
    patch = entity.get("patch") if isinstance(entity, dict) else None
    changes = patch.get("$set") if isinstance(patch, dict) else None
    if not isinstance(changes, dict):
        return 400, 'The entity must be {"patch": {"$set": {...}}}'
    member = changes.get("manualMatchedMember")
    if member is not None and not str(member).startswith("urn:li:person:"):
        return 400, "manualMatchedMember must be a urn:li:person URN"
    return None


async def get_candidates(state: LinkedInState, request: Request, customer: Customer) -> Response:
    """BATCH_GET, answered with keys in the protocol the caller used."""
    raw = request.url.query
    encode = encode_key_v2 if "List(" in raw else encode_key_v1
    answer: dict[str, dict[str, Any]] = {"results": {}, "statuses": {}, "errors": {}}
    for key in query_keys(raw):
        text = key if isinstance(key, str) else encode(key)
        found = state.candidates.get((customer.organization, key_field(key, "atsCandidateId")))
        verdict = key_verdict(key, customer, "atsCandidateId") or (None if found else (404, "No such candidate"))
        if verdict is None and found is not None:
            answer["results"][text] = {"matchedMembers": [], **found}
            answer["statuses"][text] = 200
        elif verdict is not None:
            answer["errors"][text] = {"status": verdict[0], "message": verdict[1]}
    return JSONResponse(answer)


async def delete_candidates(state: LinkedInState, request: Request, customer: Customer) -> Response:
    """BATCH_DELETE: the keys in the query, no body (reference 5.3); a verdict per key, keys echoed in the
    caller's protocol. A candidate goes with its notes (a sub-resource keyed by it) and its member link.

    reference: unconfirmed whether LinkedIn also deletes applications naming the candidate; they are their
    own resource keyed by their own ids, so the simulator keeps them. An unknown key is a per-key 404, the
    Rest.li convention for a missing entity.
    """
    return await batch_delete(state, request, customer, "atsCandidateId", state.candidates, state.notes)


async def delete_applications(state: LinkedInState, request: Request, customer: Customer) -> Response:
    """BATCH_DELETE of applications, as for candidates: api-contracts 4.2 says delete is `DELETE` on the same
    keyed URLs, and that deleting an application also deletes its notes, feedback and stages."""
    return await batch_delete(state, request, customer, "atsJobApplicationId", state.applications, state.stages)


async def batch_delete(state: LinkedInState, request: Request, customer: Customer, id_field: str,
                       records: dict[Any, Any], children: dict[Any, Any]) -> Response:
    """Delete the records the query names (and their sub-resources in `children`), a verdict per key."""
    if request.headers.get("x-restli-method", "").strip().lower() != "batch_delete":
        return restli_error(400, "X-RestLi-Method must be batch_delete")
    if await request.body():
        return restli_error(400, "BATCH_DELETE takes no body; the ids go in the query")
    raw = request.url.query
    keys = query_keys(raw)
    if not keys:
        return restli_error(400, "Name at least one id in the query")
    if len(keys) > MAX_BATCH:
        return restli_error(400, f"A batch holds at most {MAX_BATCH} records; got {len(keys)}")
    if not state.take_records(customer.client_id, len(keys)):
        return make_error(429)
    encode = encode_key_v2 if "List(" in raw else encode_key_v1
    results: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    for key in keys:
        text = key if isinstance(key, str) else encode(key)
        ident = (customer.organization, key_field(key, id_field))
        with state.lock:
            verdict = key_verdict(key, customer, id_field) or (None if ident in records else (404, "Not found"))
            if verdict is None:
                del records[ident]
                children.pop(ident, None)
        if verdict is None:
            results[text] = {"status": 204}
        else:
            errors[text] = {"status": verdict[0], "message": verdict[1]}
    return JSONResponse({"results": results, "errors": errors})


async def put_applications(state: LinkedInState, request: Request, customer: Customer) -> Response:
    """BATCH_UPDATE as a full replace: every documented field an update omits becomes null."""
    def check(e: Entry) -> Verdict:
        return key_verdict(e.key, customer, "atsJobApplicationId") or _entity_rules(application_rules, e.entity)

    def store(e: Entry) -> None:
        ident = (customer.organization, key_field(e.key, "atsJobApplicationId"))
        state.applications[ident] = {**dict.fromkeys(APPLICATION_FIELDS), **e.entity}

    return await write_batch(state, request, customer, "batch_update", check, store)


async def put_children(state: LinkedInState, kind: str, request: Request, customer: Customer) -> Response:
    """Stage history of an application or notes of a candidate, keyed by the partner's own ids."""
    parent_field, parents, rules, children = (
        ("atsJobApplicationId", state.applications, stage_rules, state.stages) if kind == "stages"
        else ("atsCandidateId", state.candidates, note_rules, state.notes))
    parent = parse_key(request.path_params["key"])
    ident = (customer.organization, key_field(parent, parent_field))
    parent_verdict = key_verdict(parent, customer, parent_field) or (
        None if ident in parents else (404, f"No such parent record for {kind}"))

    def check(e: Entry) -> Verdict:
        return parent_verdict or _entity_rules(rules, e.entity)

    def store(e: Entry) -> None:
        children.setdefault(ident, {})[str(e.key)] = e.entity

    return await write_batch(state, request, customer, "batch_update", check, store)


def key_field(key: Key, name: str) -> str:
    return "" if isinstance(key, str) else key.get(name, "")
