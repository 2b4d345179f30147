"""Duplicate proposals and local merges: the store's side of "are these two records one person?".

A proposal changes state only conditionally (`… WHERE status IN (expected)`), so a double click, a Slack retry
or two workers decide it once. A local merge moves everything the absorbed candidate holds (identity keys,
applications with their stage history, notes) to the survivor and keeps the absorbed row as a
snapshot in the audit log before deleting it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from storage.models import (
    Application,
    AuditEntry,
    Candidate,
    CandidateBlock,
    CandidateIdentity,
    DuplicateProposal,
    Note,
    ProposalState,
    table,
)

PROPOSALS = table(DuplicateProposal)
#: the candidate fields a survivor takes from the absorbed record when it has none of its own
FILLED = ("headline", "company", "title", "location", "source", "profile_url", "owner", "ats_url")


def pair_key(a: str, b: str) -> str:
    """The same two records make the same key, whichever order they come in."""
    return "|".join(sorted((a, b)))


def add_proposal(session: Session, *, tenant_id: str, record_a: str, record_b: str, score: float,
                 confidence: str, reasons: Sequence[str], details: dict[str, Any], origin: str,
                 now: datetime, posted: bool = False) -> int | None:
    """Store a new proposal; None when the pair was proposed before (in any state: dismissed stays dismissed)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(DuplicateProposal).values(
        tenant_id=tenant_id, pair_key=pair_key(record_a, record_b), record_a=record_a, record_b=record_b,
        score=score, confidence=confidence, reasons=list(reasons), details=details, origin=origin,
        status=ProposalState.OPEN, posted=posted, created_at=now, updated_at=now,
    ).on_conflict_do_nothing(index_elements=["tenant_id", "pair_key"]).returning(PROPOSALS.c.id)
    return session.execute(stmt).scalar_one_or_none()


def known_pairs(session: Session, tenant_id: str) -> set[str]:
    """Every pair ever proposed in the tenant (the scan skips them)."""
    return set(session.execute(select(PROPOSALS.c.pair_key).where(PROPOSALS.c.tenant_id == tenant_id)).scalars())


def transition(session: Session, proposal_id: int, *, expected: Collection[str], to: str, now: datetime,
               **values: Any) -> bool:
    """Move the proposal to `to` only if it is in one of the `expected` states; True if this call moved it."""
    c = PROPOSALS.c
    result = session.execute(update(PROPOSALS).where(c.id == proposal_id, c.status.in_(list(expected)))
                             .values(status=to, updated_at=now, **values))
    return bool(getattr(result, "rowcount", 0) == 1)


def unposted(session: Session, tenant_id: str, limit: int) -> list[DuplicateProposal]:
    """Open proposals not yet posted to Slack, oldest first."""
    c = PROPOSALS.c
    return list(session.execute(select(DuplicateProposal).where(
        c.tenant_id == tenant_id, c.status == ProposalState.OPEN, c.posted.is_(False))
        .order_by(c.id).limit(limit)).scalars())


def supersede(session: Session, tenant_id: str, absorbed: str, now: datetime, *, keep: int | None = None) -> int:
    """Close the open proposals that name a record merged away (it no longer exists to decide on)."""
    c = PROPOSALS.c
    result = session.execute(update(PROPOSALS).where(
        c.tenant_id == tenant_id, c.status == ProposalState.OPEN,
        or_(c.record_a == absorbed, c.record_b == absorbed),
        *([c.id != keep] if keep is not None else [])).values(status=ProposalState.SUPERSEDED, updated_at=now))
    return int(getattr(result, "rowcount", 0) or 0)


def merge_candidates(session: Session, tenant_id: str, survivor_id: int, absorbed_id: int, *, actor: str,
                     now: datetime, why: dict[str, Any] | None = None) -> dict[str, Any]:
    """Fold the absorbed candidate into the survivor, losing nothing; returns the absorbed record's snapshot.

    Identity keys, applications (their stage history hangs off them) and notes move to the survivor; fields
    the survivor lacks are taken from the absorbed record. The snapshot goes to the audit log
    (`candidate.merged`), then the absorbed row is deleted.
    """
    if survivor_id == absorbed_id:
        raise ValueError("a candidate cannot be merged into itself")
    survivor, absorbed = session.get(Candidate, survivor_id), session.get(Candidate, absorbed_id)
    if survivor is None or absorbed is None or {survivor.tenant_id, absorbed.tenant_id} != {tenant_id}:
        raise ValueError(f"candidates {survivor_id} and {absorbed_id} are not both in tenant {tenant_id}")
    ids = table(CandidateIdentity).c
    identities = [(r.kind, r.value) for r in session.execute(
        select(ids.kind, ids.value).where(ids.candidate_id == absorbed_id).order_by(ids.id))]
    snapshot = {**absorbed.model_dump(mode="json"), "identities": [list(i) for i in identities]}
    for model in (CandidateIdentity, Application, Note):
        session.execute(update(table(model)).where(table(model).c.candidate_id == absorbed_id)
                        .values(candidate_id=survivor_id))
    for name in FILLED:
        if not getattr(survivor, name) and getattr(absorbed, name):
            setattr(survivor, name, getattr(absorbed, name))
    survivor.last_activity_at = max((t for t in (survivor.last_activity_at, absorbed.last_activity_at) if t),
                                    default=None)
    survivor.updated_at = now
    session.add(survivor)
    session.add(AuditEntry(at=now, actor=actor, action="candidate.merged", tenant_id=tenant_id,
                           subject=f"candidate:{absorbed_id}",
                           detail={"into": survivor_id, **(why or {}), "absorbed": snapshot}))
    session.execute(delete(table(CandidateBlock)).where(table(CandidateBlock).c.candidate_id == absorbed_id))
    session.flush()
    session.delete(absorbed)
    session.flush()
    return snapshot
