"""LinkedIn RSC client: tokens, candidate and application sync, export retrieval, InMail history, push checks."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel

from integrations.calls import Observer
from integrations.errors import AuthFailed, Rejected, Unavailable
from integrations.linkedin_models import (
    Address,
    AtsApplication,
    AtsCandidate,
    AtsStage,
    ConversationEvent,
    ExportedCandidate,
    MailStub,
    PhoneNumber,
    PushEvent,
    Seat,
    StubProfile,
    TokenResponse,
)
from integrations.linkedin_restli import (
    BatchResult,
    Key,
    RecordFailure,
    batch_ids_v1,
    encode_key_v1,
    iter_pages,
    json_or_raise,
    parse_elements,
    parse_model,
    read_batch_result,
    time_windows,
)

INTEGRATION = "linkedin"
EXPORT_CANDIDATE_PROFILE = "EXPORT_CANDIDATE_PROFILE"
BATCH_LIMIT = 100  # records per batch call [vendor docs V11]
WINDOW_MS = 12 * 3600 * 1000  # conversationEvents windows of at most 12 h [vendor docs V4]
TOKEN_MARGIN = 300.0  # refresh 5 min early so no call races the token's end
PAGE_SIZE = 50

M = TypeVar("M", bound=BaseModel)

__all__ = [
    "EXPORT_CANDIDATE_PROFILE", "Address", "AtsApplication", "AtsCandidate", "AtsStage", "BatchResult",
    "ConversationEvent", "ExportedCandidate", "LinkedInClient", "MailStub", "PhoneNumber", "PushEvent",
    "RecordFailure", "Seat", "StubProfile", "challenge_response", "parse_push_event", "push_signature",
    "verify_push_signature",
]


def parse_push_event(raw_body: bytes) -> PushEvent:
    """Read a push body (raises ValueError when it is not one)."""
    return PushEvent.model_validate_json(raw_body)


def push_signature(secret: str, raw_body: bytes) -> str:
    """hex(HMAC-SHA256(secret, "hmacsha256=" + body)): the `hmacsha256=` literal is part of the message."""
    return hmac.new(secret.encode(), b"hmacsha256=" + raw_body, hashlib.sha256).hexdigest()


def verify_push_signature(secret: str, raw_body: bytes, header: str | None) -> bool:
    """Whether `X-LI-Signature` signs these exact bytes; compared in constant time."""
    if not header:
        return False
    given = header.strip().lower().removeprefix("hmacsha256=")
    # as bytes: compare_digest refuses (TypeError) a str with non-ASCII characters, which a header may carry
    return hmac.compare_digest(push_signature(secret, raw_body).encode(), given.encode())


def challenge_response(challenge_code: str, secret: str) -> str:
    """The `challengeResponse` for a webhook validation GET: hex(HMAC-SHA256(secret, challengeCode))."""
    return hmac.new(secret.encode(), challenge_code.encode(), hashlib.sha256).hexdigest()


class LinkedInClient:
    """One customer's RSC connection (its child app) over an injected httpx.Client.

    Every failure surfaces as an `IntegrationError`; `requests_made` counts API calls (not token
    calls), which is what LinkedIn's daily budget counts.
    """

    def __init__(self, http: httpx.Client, *, api_url: str, token_url: str, client_id: str,
                 client_secret: str, organization: str, contract: str | None = None,
                 clock: Callable[[], float] = time.time, observe: Observer | None = None) -> None:
        self._http = http
        self._observe = observe
        self._api_url = api_url.rstrip("/")
        self._token_url = token_url
        self._credentials = {"grant_type": "client_credentials", "client_id": client_id,
                             "client_secret": client_secret}
        self.organization = organization
        self.contract = contract
        self._clock = clock
        self._token: str | None = None
        self._refresh_at = 0.0
        self.requests_made = 0

    def ping(self) -> None:
        """Prove the credentials and the API work: a token and one seats call (needs `contract`)."""
        self._get("/v2/seatsV2", {**self._seat_query("ACTIVE"), "start": 0, "count": 1})

    def seats(self, states: str = "ACTIVE") -> list[Seat]:
        """The contract's seats in `states` (paged; `start` is mandatory on this finder)."""
        return self._finder("/v2/seatsV2", self._seat_query(states), Seat, count=10)

    def upsert_candidates(self, records: Sequence[AtsCandidate]) -> BatchResult:
        """Upsert in batches of ≤100 sent one after another; each record gets its own verdict.

        An error for a whole batch raises, leaving earlier batches written: upserts are idempotent,
        so the caller retries everything.
        """
        ids = [r.ats_candidate_id for r in records]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate atsCandidateId in one upsert")
        result = BatchResult()
        for start in range(0, len(records), BATCH_LIMIT):
            chunk = records[start : start + BATCH_LIMIT]
            entries = [(r.ats_candidate_id, self._key("atsCandidateId", r.ats_candidate_id),
                        r.model_dump(by_alias=True, exclude_none=True)) for r in chunk]
            result.extend(self._batch("PUT", "/v2/atsCandidates", "BATCH_UPDATE", entries))
        return result

    def delete_ats_candidates(self, ats_candidate_ids: Sequence[str]) -> BatchResult:
        """Delete In-ATS candidate records (e.g. one merged away in the ATS), ≤100 per BATCH_DELETE call.

        Rest.li's BATCH_DELETE: `DELETE /v2/atsCandidates` with the keys in the query and no body, a verdict
        per key as for BATCH_UPDATE (reference 5.1, 5.3). A 404 for a key means it is gone already, which is
        what was asked: counted as done, so a repeat after a crash is harmless. Ids repeated are sent once.
        reference: RSC lists batch_delete for (versioned) candidates but shows no example; whether deleting a
        candidate also removes applications naming it is not said (deleting an application takes its notes,
        feedback and stages), so re-point or delete those separately.
        """
        return self._batch_delete("/v2/atsCandidates", "atsCandidateId", ats_candidate_ids)

    def delete_ats_applications(self, ats_application_ids: Sequence[str]) -> BatchResult:
        """Delete In-ATS application records (an erasure request), ≤100 per BATCH_DELETE call; a 404 is done.

        reference (api-contracts 4.2): delete is `DELETE` on the same keyed URLs, and deleting an application
        also deletes its notes, feedback and stages. Same verdicts as `delete_ats_candidates`; separate because
        applications are their own resource, keyed by `atsJobApplicationId`.
        """
        return self._batch_delete("/v2/atsApplications", "atsJobApplicationId", ats_application_ids)

    def _batch_delete(self, path: str, key_name: str, ids: Sequence[str]) -> BatchResult:
        """BATCH_DELETE `ids` (repeats sent once) ≤100 per call; a 404 verdict means gone already: done."""
        unique = list(dict.fromkeys(ids))
        result = BatchResult()
        for start in range(0, len(unique), BATCH_LIMIT):
            chunk = unique[start : start + BATCH_LIMIT]
            keys = [self._key(key_name, one) for one in chunk]
            answer = self._call("DELETE", path, params=batch_ids_v1(keys), restli_method="BATCH_DELETE")
            sent = {encode_key_v1(key): one for key, one in zip(keys, chunk, strict=True)}
            refused = {f.id: f for f in read_batch_result(answer, sent).failed if f.status != 404}
            result.ok.extend(one for one in chunk if one not in refused)
            result.failed.extend(refused.values())
        return result

    def link_member(self, ats_candidate_id: str, member: str) -> None:
        """Tie an exported LinkedIn member (`urn:li:person:…`) to the ATS candidate."""
        patch = {"patch": {"$set": {"manualMatchedMember": member}}}
        entry = (ats_candidate_id, self._key("atsCandidateId", ats_candidate_id), patch)
        _require_ok(self._batch("POST", "/v2/atsCandidates", "BATCH_PARTIAL_UPDATE", [entry]))

    def push_application(self, application: AtsApplication) -> None:
        """Write one application with EVERY field: LinkedIn replaces the record, an omitted field becomes null."""
        entity = application.model_dump(by_alias=True)  # None kept as null on purpose: full replace
        entry = (application.ats_job_application_id,
                 self._key("atsJobApplicationId", application.ats_job_application_id), entity)
        _require_ok(self._batch("PUT", "/v2/atsApplications", "BATCH_UPDATE", [entry]))

    def push_applications(self, applications: Sequence[AtsApplication]) -> BatchResult:
        """Write applications in batches of ≤100, every field of each (full replace), verdicts per record."""
        result = BatchResult()
        for start in range(0, len(applications), BATCH_LIMIT):
            entries = [(a.ats_job_application_id, self._key("atsJobApplicationId", a.ats_job_application_id),
                        a.model_dump(by_alias=True)) for a in applications[start : start + BATCH_LIMIT]]
            result.extend(self._batch("PUT", "/v2/atsApplications", "BATCH_UPDATE", entries))
        return result

    def link_members(self, links: Sequence[tuple[str, str]]) -> BatchResult:
        """Tie exported members to ATS candidates, (ats candidate id, `urn:li:person:…`), ≤100 per call."""
        result = BatchResult()
        for start in range(0, len(links), BATCH_LIMIT):
            entries = [(cid, self._key("atsCandidateId", cid), {"patch": {"$set": {"manualMatchedMember": m}}})
                       for cid, m in links[start : start + BATCH_LIMIT]]
            result.extend(self._batch("POST", "/v2/atsCandidates", "BATCH_PARTIAL_UPDATE", entries))
        return result

    def push_application_stages(self, ats_job_application_id: str, stages: Sequence[AtsStage]) -> BatchResult:
        """Write an application's stage history entries (≤100 per call, keyed by stage id)."""
        parent = encode_key_v1(self._key("atsJobApplicationId", ats_job_application_id))
        result = BatchResult()
        for start in range(0, len(stages), BATCH_LIMIT):
            entries = [(s.stage_id, s.stage_id, s.model_dump(by_alias=True))
                       for s in stages[start : start + BATCH_LIMIT]]
            result.extend(self._batch("PUT", f"/v2/atsApplications/{parent}/stages", "BATCH_UPDATE", entries))
        return result

    def register_callback_url(self, url: str) -> None:
        """Register the customer's One-Click Export callback (`CALLBACK_URL`, unique per customer)."""
        key = encode_key_v1({"integrationContext": self.organization, "integrationType": "ONE_CLICK_EXPORT",
                             "tenantType": "RECRUITER", "dataProvider": "ATS"})
        entity = {"configurationValue": {"string": url}}
        path = f"/v2/atsIntegrations/{key}/configurations"
        _require_ok(self._batch("PUT", path, "BATCH_UPDATE", [("CALLBACK_URL", "CALLBACK_URL", entity)]))

    def get_exported_candidates(self, request_id: str) -> list[ExportedCandidate]:
        """The candidates of one export push; refuses any that belong to another organization."""
        body = self._get("/v2/exportedCandidates", {"q": "request", "requestId": request_id})
        exported = parse_elements(body, ExportedCandidate)
        foreign = [e.integration_context for e in exported if e.integration_context != self.organization]
        if foreign:
            # reference: LinkedIn asks partners to check the context matches the callback's customer
            raise Rejected(f"export {request_id} is for {foreign[0]}, not {self.organization}",
                           integration=INTEGRATION)
        return exported

    def conversation_events(self, seat: str, start_ms: int, end_ms: int) -> list[ConversationEvent]:
        """InMails of a seat in `[start_ms, end_ms)`, asked for in windows of at most 12 h, every page."""
        events: list[ConversationEvent] = []
        for low, high in time_windows(start_ms, end_ms, WINDOW_MS):
            params: dict[str, Any] = {"q": "criteria", "viewer": seat, "timeRange.start": low,
                                      "timeRange.end": high}
            events.extend(self._finder("/v2/conversationEvents", params, ConversationEvent))
        return events

    def mail_stubs(self, contract: str, seat: str, start_ms: int, end_ms: int) -> list[MailStub]:
        """Stub profiles shared with a seat, created in `[start_ms, end_ms)`, every page."""
        params: dict[str, Any] = {"q": "contract", "contract": contract, "owners": seat,
                                  "createdDateStart": start_ms, "createdDateEnd": end_ms}
        return self._finder("/v2/mailStubs", params, MailStub)

    # -- plumbing -------------------------------------------------------------------------------

    def _seat_query(self, states: str) -> dict[str, Any]:
        if self.contract is None:
            raise ValueError("seat calls need the customer's contract URN (`contract=`)")
        return {"q": "attributes", "contracts": self.contract, "states": states}

    def _key(self, id_field: str, value: str) -> dict[str, str]:
        return {id_field: value, "dataProvider": "ATS", "integrationContext": self.organization}

    def _batch(self, method: str, path: str, restli_method: str,
               entries: Sequence[tuple[str, Key, dict[str, Any]]]) -> BatchResult:
        """One batch call: ids in the query (1.0 keys), entities in the body, verdicts per record."""
        keys = [key for _, key, _ in entries]
        texts = [key if isinstance(key, str) else encode_key_v1(key) for key in keys]
        body = {"entities": {text: entity for text, (_, _, entity) in zip(texts, entries, strict=True)}}
        answer = self._call(method, path, params=batch_ids_v1(keys), json=body, restli_method=restli_method)
        return read_batch_result(answer, {text: rid for text, (rid, _, _) in zip(texts, entries, strict=True)})

    def _finder(self, path: str, params: Mapping[str, Any], model: type[M], count: int = PAGE_SIZE) -> list[M]:
        def page(start: int, size: int) -> list[M]:
            return parse_elements(self._get(path, {**params, "start": start, "count": size}), model)

        return list(iter_pages(page, count))

    def _get(self, path: str, params: Mapping[str, Any]) -> Any:
        return self._call("GET", path, params=list(params.items()))

    def _call(self, method: str, path: str, *, params: list[tuple[str, Any]], json: Any = None,
              restli_method: str | None = None) -> Any:
        """An API call with a fresh-enough token; a 401 refreshes the token once, then AuthFailed."""
        for _ in range(2):
            headers = {"Authorization": f"Bearer {self._access_token()}"}
            if restli_method:
                headers["X-RestLi-Method"] = restli_method
            self.requests_made += 1
            response = self._send(method, self._api_url + path, params=params, json=json, headers=headers)
            if response.status_code != 401:
                return json_or_raise(response)
            self._token = None  # revoked or expired early: fetch a new one and try once more
        raise AuthFailed("LinkedIn refused a freshly issued token", integration=INTEGRATION, status=401)

    def refresh_token(self, within: float) -> bool:
        """Fetch a new token now if the one held ends (less the usual margin) within `within` seconds, or none
        is held; True when one was fetched, AuthFailed when the credentials are refused."""
        if self._token is not None and self._clock() + within < self._refresh_at:
            return False
        self._token = None
        self._access_token()
        return True

    def _access_token(self) -> str:
        if self._token is None or self._clock() >= self._refresh_at:
            response = self._send("POST", self._token_url, data=self._credentials)
            if response.status_code in (400, 401):
                raise AuthFailed("LinkedIn refused the client credentials", integration=INTEGRATION,
                                 status=response.status_code)
            token = parse_model(TokenResponse, json_or_raise(response))
            # short-lived tokens (sandbox faults) would otherwise be refreshed on every call
            self._refresh_at = self._clock() + token.expires_in - min(TOKEN_MARGIN, token.expires_in / 2)
            self._token = token.access_token
        return self._token

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """The one place httpx is called: transport failures become `Unavailable`."""
        what = f"{method} {urlsplit(url).path}"
        try:
            response = self._http.request(method, url, **kwargs)
        except httpx.RequestError as exc:
            if self._observe is not None:
                self._observe(None, what)
            raise Unavailable(f"LinkedIn unreachable: {type(exc).__name__}", integration=INTEGRATION) from exc
        if self._observe is not None:
            self._observe(response.status_code, what)
        return response


def _require_ok(result: BatchResult) -> None:
    """Raise `Rejected` for the first refused record of a single-record write."""
    failure: RecordFailure | None = next(iter(result.failed), None)
    if failure is not None:
        raise Rejected(f"LinkedIn refused {failure.id}: {failure.message}", integration=INTEGRATION,
                       status=failure.status)

