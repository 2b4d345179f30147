"""Proposals decide once; a local merge moves everything the absorbed candidate held and keeps a snapshot."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, select

from storage.db import build_engine, transaction
from storage.models import (
    Application,
    AuditEntry,
    Candidate,
    CandidateBlock,
    CandidateIdentity,
    Note,
    ProposalState,
    Tenant,
)
from storage.proposals import add_proposal, merge_candidates, supersede, transition
from tests.conftest import Database

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def seed(db: Database) -> tuple[int, int, int]:
    with transaction(db.engine) as s:
        s.add(Tenant(id="acme", name="Acme", ats="greenhouse"))
        s.flush()
        kept = Candidate(tenant_id="acme", first_name="Jürgen", last_name="Weiß", ats_candidate_id="1")
        gone = Candidate(tenant_id="acme", first_name="Jurgen", last_name="Weiss", ats_candidate_id="2",
                         company="Nordlicht", title="Staff Engineer")
        s.add_all([kept, gone])
        s.flush()
        assert kept.id and gone.id
        s.add_all([CandidateIdentity(tenant_id="acme", candidate_id=kept.id, kind="ats", value="1"),
                   CandidateIdentity(tenant_id="acme", candidate_id=gone.id, kind="ats", value="2"),
                   CandidateIdentity(tenant_id="acme", candidate_id=gone.id, kind="email", value="j@x.example"),
                   Application(tenant_id="acme", candidate_id=gone.id, ats_application_id="a2", job_id="4402"),
                   Note(tenant_id="acme", candidate_id=gone.id, source_id="inmail:1", body="hello"),
                   CandidateBlock(tenant_id="acme", candidate_id=gone.id, key="n1:ws|j")])
        pid = add_proposal(s, tenant_id="acme", record_a="1", record_b="2", score=0.9, confidence="likely",
                           reasons=["similar name"], details={}, origin="scan", now=NOW)
        assert pid is not None
        return kept.id, gone.id, pid


def test_a_pair_is_proposed_once_whichever_way_round(db: Database) -> None:
    seed(db)
    with transaction(db.engine) as s:
        assert add_proposal(s, tenant_id="acme", record_a="2", record_b="1", score=1.0, confidence="certain",
                            reasons=[], details={}, origin="import", now=NOW) is None


def test_a_decision_is_taken_once_even_by_two_sessions_at_once(db: Database) -> None:
    *_, pid = seed(db)
    engines = [db.engine, build_engine(db.url, schema=db.schema)]
    start = threading.Barrier(2)

    def decide(engine: object) -> bool:
        start.wait()
        with transaction(engine) as s:  # type: ignore[arg-type]
            return transition(s, pid, expected={ProposalState.OPEN}, to=ProposalState.MERGING, now=NOW)

    try:
        with ThreadPoolExecutor(2) as pool:
            assert sorted(pool.map(decide, engines)) == [False, True]
    finally:
        engines[1].dispose()
    with transaction(db.engine) as s:
        assert not transition(s, pid, expected={ProposalState.OPEN}, to=ProposalState.DISMISSED, now=NOW)


def test_a_local_merge_moves_keys_applications_and_notes_and_keeps_a_snapshot(db: Database) -> None:
    kept, gone, pid = seed(db)
    with transaction(db.engine) as s:
        snapshot = merge_candidates(s, "acme", kept, gone, actor="slack:U0OLU", now=NOW, why={"proposal": pid})
        assert supersede(s, "acme", "2", NOW, keep=pid) == 0  # the proposal deciding it is kept as it is
    assert snapshot["first_name"] == "Jurgen" and ["email", "j@x.example"] in snapshot["identities"]
    with Session(db.engine) as s:
        assert s.get(Candidate, gone) is None
        survivor = s.get(Candidate, kept)
        assert survivor is not None and (survivor.company, survivor.title) == ("Nordlicht", "Staff Engineer")
        keys = {(i.kind, i.value) for i in s.exec(select(CandidateIdentity).where(
            CandidateIdentity.candidate_id == kept))}
        assert keys == {("ats", "1"), ("ats", "2"), ("email", "j@x.example")}
        assert [a.ats_application_id for a in s.exec(select(Application).where(
            Application.candidate_id == kept))] == ["a2"]
        assert [n.body for n in s.exec(select(Note).where(Note.candidate_id == kept))] == ["hello"]
        assert s.exec(select(CandidateBlock).where(CandidateBlock.candidate_id == gone)).all() == []
        (entry,) = s.exec(select(AuditEntry).where(AuditEntry.action == "candidate.merged")).all()
        assert entry.detail["into"] == kept and entry.detail["absorbed"]["last_name"] == "Weiss"


def test_a_candidate_is_never_merged_into_itself_or_across_tenants(db: Database) -> None:
    kept, _, _ = seed(db)
    with transaction(db.engine) as s, pytest.raises(ValueError, match="itself"):
        merge_candidates(s, "acme", kept, kept, actor="x", now=NOW)
    with transaction(db.engine) as s, pytest.raises(ValueError, match="not both in tenant"):
        merge_candidates(s, "globex", kept, kept + 1, actor="x", now=NOW)
