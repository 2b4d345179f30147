"""Import-time duplicate look-up: a likely duplicate is proposed for a merge, never linked silently."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from integrations.ats import NewCandidate
from storage.db import transaction
from storage.models import Candidate, CandidateBlock, DuplicateProposal
from tests.bot.world import World

pytestmark = pytest.mark.slow


def in_ats(world: World, first: str, last: str, company: str, email: str, title: str = "Staff Engineer") -> str:
    ats = world.rt.connections().ats_adapter("acme")
    person, _ = ats.create_candidate(NewCandidate(first_name=first, last_name=last, job_id="4401",
                                                  emails=(email,), company=company, title=title))
    with transaction(world.rt.engine) as s:
        world.rt.mirror().pull(s, world.rt.app_config().tenant("acme"))
    return person.person_id


def export(world: World, first: str, last: str, company: str, slug: str, headline: str | None = None) -> None:
    world.export("acme", [{"firstName": first, "lastName": last, "currentEmployerNames": [company],
                           "headline": headline or f"Staff Engineer at {company}",
                           "profileUrl": f"https://www.linkedin.com/in/{slug}"}], job="4402")
    world.drain()
    world.relay()


def proposals(world: World) -> list[DuplicateProposal]:
    with Session(world.rt.engine) as s:
        return list(s.exec(select(DuplicateProposal)).all())


def test_a_likely_duplicate_created_by_an_export_becomes_a_posted_proposal(world: World) -> None:
    known = in_ats(world, "Katherine", "Novak", "Brightline Inc.", "katherine.novak@brightline.example")
    export(world, "Kate", "Novak", "Brightline", "kate-novak-3")  # no email: LinkedIn exports carry none
    (proposal,) = proposals(world)
    assert proposal.origin == "import" and proposal.confidence == "likely" and proposal.posted
    assert proposal.record_a == known and "same employer" in "; ".join(proposal.reasons)
    with Session(world.rt.engine) as s:
        novaks = s.exec(select(Candidate).where(Candidate.last_name == "Novak")).all()
    assert len(novaks) == 2, "not linked silently: two records until someone decides"
    assert "Kate Novak" in str(world.sims.states["slack"].messages[-1].blocks)


def test_a_namesake_at_the_same_employer_is_not_proposed(world: World) -> None:
    in_ats(world, "Daniel", "Kim", "Brightline", "daniel.kim@brightline.example", title="Account Executive")
    export(world, "Daniel", "Kim", "Brightline", "daniel-kim-88", headline="Data Scientist at Brightline")
    assert [p.confidence for p in proposals(world)] == [], "same name and employer alone is at most possible"


def test_every_mirrored_candidate_keeps_its_name_keys(world: World) -> None:
    in_ats(world, "Katherine", "Novak", "Brightline Inc.", "katherine.novak@brightline.example")
    with Session(world.rt.engine) as s:
        (row,) = s.exec(select(Candidate).where(Candidate.last_name == "Novak")).all()
        keys = [b.key for b in s.exec(select(CandidateBlock).where(CandidateBlock.candidate_id == row.id))]
    assert keys and all(k.startswith("n") for k in keys)
