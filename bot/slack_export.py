"""`/candidate export`: one-click export from Slack.

The listener acks at once and queues a `slack.export` item ahead of bulk work (one per Slack invocation, so
Slack's retries of the same command queue nothing more). The worker syncs the person through the same path as
every other source — local identity index first, so a known person is linked, never created twice — and
writes the answer to the outbox in the same transaction; the relay posts it to the command's `response_url`.

A bare profile URL carries no name and LinkedIn has no look-up by URL, so a person is exported from:
the local record (known already), a LinkedIn export held for a job choice, or the name the recruiter typed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from bot.config_model import AppConfig, Tenant
from bot.domain.identity import ProfileUrlError, normalize_linkedin_url
from bot.domain.prospect import NeedsAttention, Prospect
from bot.lookup import find_people
from bot.slack import blocks
from bot.sync import SyncService
from storage.candidates import first_owner, open_attention, resolve_attention
from storage.db import transaction
from storage.models import AttentionItem, Candidate, IdentityKind, utcnow
from storage.outbox import add_message
from storage.queue import Claimed, Priority, enqueue

SLACK_EXPORT = "slack.export"


@dataclass(frozen=True)
class ExportRequest:
    """One `/candidate export` as typed, with where to answer; `request_key` is Slack's trigger id."""

    tenant_id: str
    url: str
    job_id: str | None
    name: str | None
    user: str
    channel: str
    response_url: str
    request_key: str

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Found:
    """Who the URL is, as far as HireBridge knows without asking anyone."""

    prospect: Prospect
    known: bool  # a local record exists (linked or being linked)
    held: AttentionItem | None = None  # a LinkedIn export waiting for a job choice


def split_name(name: str) -> tuple[str, str]:
    """"Jane van der Berg" -> ("Jane", "van der Berg"): the first word is the first name, the rest the last."""
    first, _, last = " ".join(name.split()).partition(" ")
    return first, last


@dataclass
class SlackExports:
    """Queue an export (request path) and run it (worker); also the item's dead-letter notice."""

    engine: Engine
    config: AppConfig
    sync: SyncService
    clock: Callable[[], datetime] = utcnow

    def request(self, export: ExportRequest) -> int | None:
        """Queue the export at interactive priority; None when this invocation was queued already."""
        with transaction(self.engine) as session:
            return enqueue(session, SLACK_EXPORT, export.to_payload(), tenant_id=export.tenant_id,
                           dedupe_key=f"slack-export:{export.request_key}", priority=Priority.INTERACTIVE)

    def __call__(self, session: Session, item: Claimed) -> None:
        export = ExportRequest(**item.payload)
        tenant = self.config.tenant(export.tenant_id)
        found = self._find(tenant, export, item.dedupe_key or f"item:{item.id}")  # own, short read
        if isinstance(found, str):
            self._reply(session, item, export, blocks.export_problem(found))
            return
        result = self.sync.sync(session, tenant, found.prospect, owner=item.dedupe_key)
        if isinstance(result, NeedsAttention):
            self._reply(session, item, export, blocks.export_problem(result.reason))
            return
        if found.held is not None:
            resolve_attention(session, found.held.id or 0, self.clock())
        lookup = find_people(session, self.config, export.url, [tenant.id], now=self.clock())
        job = tenant.job(found.prospect.job_id) if found.prospect.job_id else None
        created = result.how in ("created", "recovered")  # recovered: an earlier attempt's create, found
        answer = blocks.export_answer(lookup, created=created, matched_by=None if created else result.matched_by,
                                      job=job.name if job and result.applications_added else None)
        self._reply(session, item, export, answer)

    def on_dead(self, item: Claimed, error: str) -> None:
        """The export gave up: say so where it was asked, instead of leaving "Exporting…" forever."""
        export = ExportRequest(**item.payload)
        with transaction(self.engine) as session:
            self._reply(session, item, export, blocks.export_failed(error))

    def _find(self, tenant: Tenant, export: ExportRequest, source_id: str) -> Found | str:
        try:
            key = normalize_linkedin_url(export.url)
        except ProfileUrlError as exc:  # the listener checked it; kept for items queued by older versions
            return f"that is not a LinkedIn profile URL: {exc}"
        base = Prospect(source="slack", source_id=source_id, profile_url=key.url, job_id=export.job_id)
        with Session(self.engine) as s:
            owner = first_owner(s, tenant.id, [(IdentityKind.LINKEDIN.value, key.value)])
            row = s.get(Candidate, owner) if owner is not None else None
            held = None if row is not None else _held(s, tenant.id, key.value)
        if row is not None:
            return Found(replace(base, first_name=row.first_name, last_name=row.last_name), known=True)
        if held is not None:
            was = Prospect.from_payload(held.detail)
            prospect = replace(was, source="slack", source_id=source_id, job_id=export.job_id or was.job_id)
            return Found(prospect, known=False, held=held) if prospect.job_id else "which job? " + _ask_job(tenant)
        if not export.name:
            return ("HireBridge has not seen this person yet, and a LinkedIn URL carries no name. Export them "
                    "from LinkedIn Recruiter (they sync on their own), or type the name: `/candidate export "
                    f"<url> <job> First Last`. {_ask_job(tenant)}")
        if not export.job_id:
            return "which job? " + _ask_job(tenant)
        first, last = split_name(export.name)
        return Found(replace(base, first_name=first, last_name=last), known=False)

    def _reply(self, session: Session, item: Claimed, export: ExportRequest, message: blocks.Message) -> None:
        payload = {**message, "response_url": export.response_url, "replace_original": True,
                   "response_type": "ephemeral"}
        add_message(session, dedupe_key=f"reply:{item.dedupe_key or item.id}", channel=export.channel,
                    payload=payload, tenant_id=export.tenant_id, now=self.clock())


def _held(session: Session, tenant_id: str, key: str) -> AttentionItem | None:
    """An open attention item (e.g. an export with no job) for the same LinkedIn profile."""
    for row in open_attention(session, tenant_id):
        url = (row.detail or {}).get("profile_url")
        if not url:
            continue
        try:
            if normalize_linkedin_url(str(url)).value == key:
                return row
        except ProfileUrlError:
            continue
    return None


def _ask_job(tenant: Tenant) -> str:
    return f"Jobs in {tenant.name}: " + ", ".join(f"{job.name} (`{job.id}`)" for job in tenant.jobs) + "."

