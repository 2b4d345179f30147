"""`/candidate dedupe`: a duplicate scan of one tenant's ATS, run from the queue, answered in Slack.

This version finds the certain duplicates: ATS records sharing a LinkedIn profile, an email or a phone. The
scan reads the ATS through its paged list (no per-record calls) and reports each group with links to the
records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from sqlalchemy import Engine
from sqlmodel import Session

from bot.config_model import AppConfig
from bot.domain.duplicates import exact_groups
from bot.slack import blocks
from bot.sync import person_keys
from integrations.ats import AtsClient
from storage.db import transaction
from storage.outbox import add_message
from storage.queue import Claimed, Priority, enqueue

SCAN = "dedupe.scan"


@dataclass(frozen=True)
class ScanRequest:
    tenant_id: str
    user: str
    channel: str
    response_url: str
    request_key: str


@dataclass
class DuplicateScans:
    engine: Engine
    config: AppConfig
    ats_for: Callable[[str], AtsClient]

    def request(self, scan: ScanRequest) -> int | None:
        """Queue the scan; None when this Slack invocation was queued already (a retry)."""
        with transaction(self.engine) as session:
            return enqueue(session, SCAN, asdict(scan), tenant_id=scan.tenant_id,
                           dedupe_key=f"dedupe-scan:{scan.request_key}", priority=Priority.NORMAL)

    def __call__(self, session: Session, item: Claimed) -> None:
        scan = ScanRequest(**item.payload)
        tenant = self.config.tenant(scan.tenant_id)
        region = self.config.phone_region(tenant.id)
        people = {p.person_id: p for p in self.ats_for(tenant.id).changed_since(None, applications=False)}
        groups = exact_groups((p.person_id, person_keys(p, region)) for p in people.values())
        found = [blocks.DuplicateGroup(
            tuple((f"{people[i].first_name} {people[i].last_name}".strip(), people[i].url) for i in g.record_ids),
            g.shared) for g in groups]
        message = blocks.dedupe_answer(tenant.name, tenant.ats, len(people), found)
        add_message(session, dedupe_key=f"reply:{item.dedupe_key or item.id}", channel=scan.channel,
                    tenant_id=tenant.id, payload={**message, "response_url": scan.response_url,
                                                  "replace_original": True, "response_type": "ephemeral"})
