"""Candidate look-ups and writes keyed by identity: the one indexed query before any ATS create."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, union_all, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from storage.models import (
    Application,
    AttentionItem,
    Candidate,
    CandidateBlock,
    CandidateIdentity,
    IdentityKind,
    SyncCursor,
    table,
    utcnow,
)

Key = tuple[str, str]  # (kind, value)
IDENTITY = table(CandidateIdentity)


def owners_of(session: Session, tenant_id: str, keys: Sequence[Key]) -> dict[Key, int]:
    """Which candidate holds each of `keys` in this tenant (keys nobody holds are absent)."""
    if not keys:
        return {}
    c = IDENTITY.c
    by_kind: dict[str, list[str]] = {}
    for kind, value in dict.fromkeys(keys):
        by_kind.setdefault(kind, []).append(value)
    # One indexed search per kind, (tenant, kind, value) all bound: SQLite's planner uses only the tenant
    # column for a row-value `(kind, value) IN (…)`, which scanned every identity of the tenant.
    parts = [select(c.kind, c.value, c.candidate_id).where(c.tenant_id == tenant_id, c.kind == kind,
                                                          c.value.in_(values)) for kind, values in by_kind.items()]
    rows = session.execute(parts[0] if len(parts) == 1 else union_all(*parts)).all()
    return {(r.kind, r.value): int(r.candidate_id) for r in rows}


def first_owner(session: Session, tenant_id: str, keys: Sequence[Key]) -> int | None:
    """The candidate holding the highest-priority key (keys come in priority order), or None."""
    owners = owners_of(session, tenant_id, keys)
    return next((owners[k] for k in keys if k in owners), None)


def add_keys(session: Session, tenant_id: str, candidate_id: int, keys: Iterable[Key]) -> list[Key]:
    """Give the candidate every key nobody holds yet; returns the keys another candidate already holds."""
    keys = list(dict.fromkeys(keys))
    owners = owners_of(session, tenant_id, keys)
    for kind, value in keys:
        if (kind, value) not in owners:
            session.add(CandidateIdentity(tenant_id=tenant_id, candidate_id=candidate_id, kind=kind, value=value))
    session.flush()
    return [k for k in keys if owners.get(k, candidate_id) != candidate_id]


def claim_new(session: Session, tenant_id: str, keys: Sequence[Key], now: datetime,
              **fields: Any) -> Candidate:
    """Insert a pending candidate holding `keys`; a concurrent claim of a key fails (IntegrityError)."""
    candidate = Candidate(tenant_id=tenant_id, sync_status="pending", intent_at=None, created_at=now,
                          updated_at=now, **fields)
    session.add(candidate)
    session.flush()
    for kind, value in keys:
        session.add(CandidateIdentity(tenant_id=tenant_id, candidate_id=candidate.id or 0, kind=kind, value=value))
    session.flush()
    return candidate


def set_blocks(session: Session, tenant_id: str, candidate_id: int, keys: Iterable[str]) -> None:
    """Replace the candidate's name keys (what an import-time look-up for similar people compares)."""
    blocks = table(CandidateBlock)
    session.execute(delete(blocks).where(blocks.c.candidate_id == candidate_id))
    rows = [{"tenant_id": tenant_id, "candidate_id": candidate_id, "key": key} for key in sorted(set(keys))]
    if rows:
        session.execute(insert(blocks), rows)


def similar_by_blocks(session: Session, tenant_id: str, keys: Sequence[str], *, exclude: int | None = None,
                      limit: int = 50) -> list[int]:
    """Candidates sharing any of `keys`, those sharing the most first (one indexed query)."""
    if not keys:
        return []
    c = table(CandidateBlock).c
    shared = func.count().label("shared")
    query = (select(c.candidate_id, shared).where(c.tenant_id == tenant_id, c.key.in_(list(keys)))
             .group_by(c.candidate_id).order_by(shared.desc(), c.candidate_id).limit(limit + 1))
    return [int(r.candidate_id) for r in session.execute(query) if r.candidate_id != exclude][:limit]


def by_ats_id(session: Session, tenant_id: str, person_id: str) -> Candidate | None:
    owner = first_owner(session, tenant_id, [(IdentityKind.ATS.value, person_id)])
    return session.get(Candidate, owner) if owner is not None else None


def upsert_application(session: Session, tenant_id: str, candidate_id: int, ats_application_id: str,
                       **fields: Any) -> Application:
    """Create or update the local copy of an ATS application."""
    a = table(Application).c
    found = session.execute(select(Application).where(
        a.tenant_id == tenant_id, a.ats_application_id == ats_application_id)).scalars().first()
    row: Application = found if found is not None else Application(
        tenant_id=tenant_id, candidate_id=candidate_id, ats_application_id=ats_application_id,
        job_id=str(fields.get("job_id", "")))
    for name, value in fields.items():
        setattr(row, name, value)
    row.candidate_id = candidate_id
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    return row


def record_attention(session: Session, *, tenant_id: str, source: str, source_id: str, reason: str,
                     detail: dict[str, Any], now: datetime | None = None) -> int | None:
    """Keep a record that needs a person's attention (once per source record); None if already kept."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(AttentionItem).values(
        tenant_id=tenant_id, source=source, source_id=source_id, reason=reason, detail=detail,
        created_at=now or utcnow(),
    ).on_conflict_do_nothing(index_elements=["tenant_id", "source", "source_id"]).returning(
        table(AttentionItem).c.id)
    return session.execute(stmt).scalar_one_or_none()


def open_attention(session: Session, tenant_id: str | None = None) -> list[AttentionItem]:
    a = table(AttentionItem).c
    query = select(AttentionItem).where(a.resolved_at.is_(None))
    if tenant_id:
        query = query.where(a.tenant_id == tenant_id)
    return list(session.execute(query.order_by(a.id)).scalars().all())


def resolve_attention(session: Session, item_id: int, now: datetime) -> bool:
    """Mark an attention item dealt with (once); False if it was resolved already."""
    a = table(AttentionItem).c
    done = session.execute(update(AttentionItem).where(a.id == item_id, a.resolved_at.is_(None))
                           .values(resolved_at=now))
    return bool(done.rowcount)  # type: ignore[attr-defined]


def read_cursor(session: Session, tenant_id: str, name: str) -> str | None:
    row = session.get(SyncCursor, (tenant_id, name))
    return row.value if row else None


def write_cursor(session: Session, tenant_id: str, name: str, value: str) -> None:
    row = session.get(SyncCursor, (tenant_id, name)) or SyncCursor(tenant_id=tenant_id, name=name, value=value)
    row.value, row.updated_at = value, utcnow()
    session.add(row)
    session.flush()


def pending_since(session: Session, tenant_id: str) -> list[Candidate]:
    """Candidates whose ATS create may have happened without being recorded (crash between the two)."""
    c = table(Candidate).c
    query = select(Candidate).where(and_(c.tenant_id == tenant_id, c.sync_status == "pending"))
    return list(session.execute(query.order_by(c.id)).scalars().all())


def keys_of(session: Session, tenant_id: str, candidate_ids: Sequence[int]) -> dict[int, list[Key]]:
    """Every identity key of these candidates, in insertion order."""
    c = IDENTITY.c
    rows = session.execute(select(c.candidate_id, c.kind, c.value).where(
        c.tenant_id == tenant_id, c.candidate_id.in_(list(candidate_ids))).order_by(c.id)).all()
    found: dict[int, list[Key]] = {}
    for row in rows:
        found.setdefault(int(row.candidate_id), []).append((row.kind, row.value))
    return found


def unpushed(session: Session, tenant_id: str, limit: int) -> list[Candidate]:
    """Synced candidates LinkedIn has not seen in their current state (never pushed, or changed since)."""
    c = table(Candidate).c
    stale = c.linkedin_pushed_at.is_(None) | (c.linkedin_pushed_at < c.updated_at)
    query = select(Candidate).where(c.tenant_id == tenant_id, c.sync_status == "synced",
                                    c.ats_candidate_id.is_not(None), stale).order_by(c.id).limit(limit)
    return list(session.execute(query).scalars().all())


def applications_of(session: Session, tenant_id: str, candidate_ids: Sequence[int]) -> list[Application]:
    a = table(Application).c
    query = select(Application).where(a.tenant_id == tenant_id, a.candidate_id.in_(list(candidate_ids)))
    return list(session.execute(query.order_by(a.id)).scalars().all())
