"""Duplicate scans: read a tenant's ATS, find the pairs that may be one person, propose each pair once.

A scan (queued by `/candidate dedupe`, or on a schedule) reads the ATS through its paged list (no per-record
calls), matches the records (`bot.domain.matching`: identity keys, names, employers), and stores each pair of
confidence likely or above as a proposal, unless the pair was proposed before (a dismissed pair is never
proposed again). New proposals are posted to the tenant's ops channel with their merge buttons, a few per
scan so a first scan never floods the channel; the one who asked gets the summary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session

from bot.config_model import AppConfig, Tenant
from bot.domain.matching import Confidence, Match, PersonRecord, find_matches
from bot.slack import blocks
from bot.slack import proposal_blocks as cards
from integrations.ats import AtsClient, AtsPerson
from storage.db import transaction
from storage.models import utcnow
from storage.outbox import add_message
from storage.proposals import add_proposal, known_pairs, pair_key, unposted
from storage.queue import Claimed, Priority, enqueue

SCAN = "dedupe.scan"
#: the confidences that become merge proposals ("possible" pairs are only counted in the summary)
PROPOSED = frozenset({Confidence.CERTAIN, Confidence.LIKELY})
#: proposals posted to the ops channel per scan; the rest wait for the next scan
POST_PER_SCAN = 10


@dataclass(frozen=True)
class ScanRequest:
    tenant_id: str
    request_key: str
    # who asked in Slack, and where to answer; a scheduled scan has none (its proposals go to ops all the same)
    user: str | None = None
    channel: str | None = None
    response_url: str | None = None


def person_record(person: AtsPerson) -> PersonRecord:
    """An ATS person as the matcher reads one (the ATS person id is the record id)."""
    linkedin = tuple(link for link in person.links if "linkedin." in link.lower())
    return PersonRecord(record_id=person.person_id, first_name=person.first_name, last_name=person.last_name,
                        emails=person.emails, phones=person.phones, employer=person.company, title=person.title,
                        linkedin_urls=linkedin, source=person.source)


def person_details(person: AtsPerson, tenant: Tenant) -> dict[str, object]:
    """What a proposal shows of one record (kept with the proposal, as the scan saw it)."""
    jobs = [job.name if (job := tenant.job(a.job_id)) else a.job_id for a in person.applications]
    linkedin = next((lk for lk in person.links if "linkedin." in lk.lower()), None)
    return {"name": f"{person.first_name} {person.last_name}".strip(), "url": person.url,
            "emails": list(person.emails), "phones": list(person.phones), "employer": person.company,
            "title": person.title, "linkedin": linkedin, "jobs": jobs}


@dataclass
class DuplicateScans:
    engine: Engine
    config: AppConfig
    ats_for: Callable[[str], AtsClient]
    clock: Callable[[], datetime] = utcnow

    def request(self, scan: ScanRequest) -> int | None:
        """Queue the scan; None when this request (a Slack invocation, a scheduled run) was queued already."""
        with transaction(self.engine) as session:
            return enqueue(session, SCAN, asdict(scan), tenant_id=scan.tenant_id,
                           dedupe_key=f"dedupe-scan:{scan.request_key}", priority=Priority.NORMAL)

    def __call__(self, session: Session, item: Claimed) -> None:
        scan = ScanRequest(**item.payload)
        tenant = self.config.tenant(scan.tenant_id)
        people = {p.person_id: p for p in self.ats_for(tenant.id).changed_since(None)}
        matches = find_matches([person_record(p) for p in people.values()],
                               region=self.config.phone_region(tenant.id))
        pairs = self.propose(session, tenant, people, matches)
        posted = self.post(session, tenant)
        found = [blocks.DuplicatePair(self._named(people[m.a]), self._named(people[m.b]), str(m.confidence),
                                      m.reasons, new) for m, new in pairs]
        if not scan.response_url:
            return
        message = blocks.dedupe_answer(tenant.name, tenant.ats, len(people), found, posted=posted,
                                       ops_channel=tenant.ops_channel)
        add_message(session, dedupe_key=f"reply:{item.dedupe_key or item.id}", channel=scan.channel or "",
                    tenant_id=tenant.id, payload={**message, "response_url": scan.response_url,
                                                  "replace_original": True, "response_type": "ephemeral"})

    def propose(self, session: Session, tenant: Tenant, people: dict[str, AtsPerson],
                matches: list[Match]) -> list[tuple[Match, bool]]:
        """Store each pair likely or above as a proposal once; returns every match with whether it is new."""
        before = known_pairs(session, tenant.id)
        now = self.clock()
        found: list[tuple[Match, bool]] = []
        for match in sorted(matches, key=lambda m: -m.score):
            new = False
            if match.confidence in PROPOSED and pair_key(match.a, match.b) not in before:
                details = {side: person_details(people[record], tenant)
                           for side, record in (("a", match.a), ("b", match.b))}
                new = add_proposal(session, tenant_id=tenant.id, record_a=match.a, record_b=match.b,
                                   score=match.score, confidence=str(match.confidence), reasons=match.reasons,
                                   details=details, origin="scan", now=now) is not None
            found.append((match, new))
        return found

    def post(self, session: Session, tenant: Tenant, limit: int = POST_PER_SCAN) -> int:
        """Post open proposals not posted yet to the ops channel, each once (the outbox's key)."""
        rows = unposted(session, tenant.id, limit)
        for row in rows:
            card = cards.card_from(row.id or 0, tenant.name, tenant.ats, row.details, row.confidence, row.score,
                                   row.reasons)
            add_message(session, dedupe_key=f"proposal:{row.id}:posted", channel=tenant.ops_channel,
                        tenant_id=tenant.id, now=self.clock(), payload=cards.proposal(card))
            row.posted = True
            session.add(row)
        session.flush()
        return len(rows)

    @staticmethod
    def _named(person: AtsPerson) -> tuple[str, str | None]:
        return f"{person.first_name} {person.last_name}".strip(), person.url

