"""Import-time duplicate look-up: a person created in the ATS is compared with the similar people already there.

Exact keys (LinkedIn profile, email, phone) link an export to the person it names before anything is created
(bot/sync.py). What they cannot catch — the same person under a new email, a nickname, a typo — is found here:
each candidate's name keys (bot.domain.matching's blocking keys) are kept in `candidateblock`, and a newly
created person is compared with the candidates sharing one. A likely or certain match is never linked
silently: it becomes a merge proposal in the ops channel, like a scan's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from bot.config_model import AppConfig, Tenant
from bot.domain.matching import Confidence, Match, PersonRecord, blocking_keys, compare_each
from bot.slack import proposal_blocks as cards
from storage.candidates import set_blocks, similar_by_blocks
from storage.models import Application, Candidate, CandidateIdentity, IdentityKind, table, utcnow
from storage.outbox import add_message
from storage.proposals import add_proposal

IDS, APPS = table(CandidateIdentity).c, table(Application).c
#: at most this many similar candidates are compared with a newcomer (the most keys shared first)
COMPARED = 50
PROPOSED = frozenset({Confidence.CERTAIN, Confidence.LIKELY})


def title_of(row: Candidate) -> str | None:
    """The job title: the ATS's, else the part of a LinkedIn headline before " at " ("Staff Engineer at X")."""
    if row.title or not row.headline:
        return row.title
    for joint in (" at ", " @ ", " | "):
        if joint in row.headline:
            return row.headline.split(joint, 1)[0].strip() or None
    return None


def local_record(session: Session, row: Candidate) -> PersonRecord:
    """A local candidate as the matcher reads one (its id as the record id)."""
    return local_records(session, [row])[row.id or 0]


def local_records(session: Session, rows: Sequence[Candidate]) -> dict[int, PersonRecord]:
    """Several local candidates as the matcher reads them, their identity keys read in one query."""
    ids = [row.id or 0 for row in rows]
    keys: dict[int, list[tuple[str, str]]] = {i: [] for i in ids}
    for r in session.execute(select(IDS.candidate_id, IDS.kind, IDS.value).where(IDS.candidate_id.in_(ids))):
        keys[int(r.candidate_id)].append((r.kind, r.value))
    return {row.id or 0: PersonRecord(
        record_id=str(row.id), first_name=row.first_name, last_name=row.last_name,
        emails=tuple(v for k, v in keys[row.id or 0] if k == IdentityKind.EMAIL.value),
        phones=tuple(v for k, v in keys[row.id or 0] if k == IdentityKind.PHONE.value),
        employer=row.company, title=title_of(row), location=row.location,
        linkedin_urls=(row.profile_url,) if row.profile_url else (), source=row.source) for row in rows}


def name_keys(record: PersonRecord, region: str) -> list[str]:
    """The blocking keys built from names (identity keys are looked up exactly, elsewhere)."""
    return sorted(k for k in blocking_keys(record, region=region) if k.startswith("n"))


def refresh_blocks(session: Session, row: Candidate, region: str) -> list[str]:
    """Keep the candidate's name keys in step with its record; returns them."""
    keys = name_keys(local_record(session, row), region)
    set_blocks(session, row.tenant_id, row.id or 0, keys)
    return keys


def details(session: Session, tenant: Tenant, row: Candidate) -> dict[str, object]:
    """What a proposal shows of a local candidate."""
    record = local_record(session, row)
    jobs = session.execute(select(APPS.job_id, APPS.job_name).where(APPS.candidate_id == row.id)).all()
    return {"name": f"{row.first_name} {row.last_name}".strip(), "url": row.ats_url, "emails": list(record.emails),
            "phones": list(record.phones), "employer": row.company, "title": row.title,
            "linkedin": row.profile_url, "jobs": [name or job for job, name in jobs]}


@dataclass
class ImportMatches:
    config: AppConfig
    clock: Callable[[], datetime] = utcnow

    def similar(self, session: Session, row: Candidate) -> list[Match]:
        """The candidates of its tenant that may be the same person as `row` (any confidence), best first."""
        return self.similar_to(session, row.tenant_id, local_record(session, row), exclude=row.id)

    def similar_to(self, session: Session, tenant_id: str, me: PersonRecord, *,
                   exclude: int | None = None) -> list[Match]:
        """The candidates that may be the same person as the record `me` (its `a` side is theirs), best first.

        Three indexed queries whatever the tenant's size: the candidates sharing a name key (at most
        `COMPARED`), those candidates, and their identity keys; then the pure comparisons.
        """
        region = self.config.phone_region(tenant_id)
        ids = similar_by_blocks(session, tenant_id, name_keys(me, region), exclude=exclude, limit=COMPARED)
        if not ids:
            return []
        others = list(session.execute(select(Candidate).where(table(Candidate).c.id.in_(ids))).scalars())
        # Their phones and emails are left out: had one been `me`'s, the exact look-up would have found it, so
        # they can only say "different", which is no evidence (people have several) — and phones cost most.
        records = [replace(r, phones=(), emails=()) for r in local_records(session, others).values()]
        return sorted(compare_each(me, records, region=region), key=lambda m: -m.score)

    def created(self, session: Session, tenant: Tenant, candidate_id: int) -> int:
        """After a person was created in the ATS: propose a merge with each likely duplicate; returns how many."""
        row = session.get(Candidate, candidate_id)
        if row is None or not row.ats_candidate_id:
            return 0
        refresh_blocks(session, row, self.config.phone_region(tenant.id))
        proposed = 0
        for match in self.similar(session, row):
            other = session.get(Candidate, int(match.a))
            if match.confidence not in PROPOSED or other is None or not other.ats_candidate_id:
                continue
            both = {"a": details(session, tenant, other), "b": details(session, tenant, row)}
            pid = add_proposal(session, tenant_id=tenant.id, record_a=other.ats_candidate_id,
                               record_b=row.ats_candidate_id, score=match.score, confidence=str(match.confidence),
                               reasons=match.reasons, origin="import", now=self.clock(), details=both, posted=True)
            if pid is not None:
                card = cards.card_from(pid, tenant.name, tenant.ats, both, str(match.confidence), match.score,
                                       match.reasons)
                add_message(session, dedupe_key=f"proposal:{pid}:posted", channel=tenant.ops_channel,
                            tenant_id=tenant.id, now=self.clock(), payload=cards.proposal(card))
                proposed += 1
        return proposed
