"""LinkedIn One-Click Export: accept the signed push fast and durably, then fetch the exported people."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from bot.budget import DailyBudget
from bot.config_model import AppConfig
from bot.domain.prospect import Prospect
from bot.sync import SyncService
from integrations.linkedin import (
    EXPORT_CANDIDATE_PROFILE,
    LinkedInClient,
    challenge_response,
    parse_push_event,
    verify_push_signature,
)
from integrations.linkedin_models import ExportedCandidate
from storage.db import transaction
from storage.inbox import MAX_EVENT_ID, record_event, record_invalid, storable_id
from storage.queue import Claimed, Priority, enqueue

EXPORT = "linkedin.export"

Answer = tuple[int, dict[str, Any]]


def to_prospect(exported: ExportedCandidate, request_id: str) -> Prospect:
    """A stub profile as a prospect; the ATS job the recruiter picked in the export, when LinkedIn says."""
    c = exported.candidate
    return Prospect(
        source="export", source_id=f"{request_id}:{c.member}", first_name=c.first_name, last_name=c.last_name,
        headline=c.headline, location=c.location, company=c.current_employer_names[0] if c.current_employer_names
        else None, profile_url=c.profile_url, member_urn=c.member, emails=tuple(c.email_addresses),
        job_id=exported.external_job_posting_id)


@dataclass
class Exports:
    """The push route's logic and the `linkedin.export` work item's handler."""

    engine: Engine
    config: AppConfig
    environ: Mapping[str, str]
    linkedin_for: Callable[[str], LinkedInClient]
    sync: SyncService
    budget: DailyBudget

    def _secret(self, tenant_id: str) -> str | None:
        try:
            conn = self.config.tenant(tenant_id).linkedin
        except KeyError:
            return None
        return self.environ.get(conn.client_secret_env) if conn else None

    def challenge(self, tenant_id: str, code: str) -> Answer:
        """Answer LinkedIn's validation GET (`challengeCode`) for this tenant's callback URL."""
        secret = self._secret(tenant_id)
        if secret is None:
            return 404, {"error": f"no LinkedIn connection for tenant {tenant_id!r}"}
        return 200, {"challengeCode": code, "challengeResponse": challenge_response(code, secret)}

    def accept(self, tenant_id: str, raw_body: bytes, signature: str | None) -> Answer:
        """Verify, record in the inbox (once per event id), queue the retrieval; milliseconds, no HTTP."""
        secret = self._secret(tenant_id)
        if secret is None:
            return 404, {"error": f"no LinkedIn connection for tenant {tenant_id!r}"}
        if not verify_push_signature(secret, raw_body, signature):
            return 401, {"error": "bad or missing X-LI-Signature"}
        try:
            event = parse_push_event(raw_body)
        except ValueError as exc:
            self._record_invalid(tenant_id, raw_body, str(exc))
            return 400, {"error": f"not a push event: {exc.__class__.__name__}"}
        if not storable_id(event.id):  # it keys the inbox row and the retrieval's work item
            self._record_invalid(tenant_id, raw_body, "unusable event id")
            return 400, {"error": f"not a push event: the id must be 1 to {MAX_EVENT_ID} characters, without NUL"}
        with transaction(self.engine) as s:
            new = record_event(s, provider="linkedin", tenant_id=tenant_id, event_id=event.id,
                               body=raw_body.decode("utf-8", "replace"), action=event.type,
                               status="accepted" if event.type == EXPORT_CANDIDATE_PROFILE else "ignored")
            if new is not None and event.type == EXPORT_CANDIDATE_PROFILE:
                enqueue(s, EXPORT, {"tenant": tenant_id, "request_id": event.id}, tenant_id=tenant_id,
                        dedupe_key=f"li-export:{tenant_id}:{event.id}", priority=Priority.PUSH)
        return 200, {"ok": True, "duplicate": new is None}

    def _record_invalid(self, tenant_id: str, raw_body: bytes, error: str) -> None:
        with transaction(self.engine) as s:
            record_invalid(s, provider="linkedin", tenant_id=tenant_id, raw_body=raw_body, error=error)

    def handle(self, session: Session, item: Claimed) -> None:
        """Fetch the export's candidates (one LinkedIn call) and queue each for sync in this transaction."""
        tenant_id, request_id = item.payload["tenant"], item.payload["request_id"]
        client = self.linkedin_for(tenant_id)
        with self.budget.spending(tenant_id, lambda: client.requests_made):
            exported = client.get_exported_candidates(request_id)
        for candidate in exported:
            self.sync.enqueue(session, tenant_id, to_prospect(candidate, request_id))
