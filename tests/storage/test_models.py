"""Table-level guarantees: identity keys are unique per tenant, timestamps come back as aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from storage.models import Candidate, CandidateIdentity, IdentityKind, Tenant
from tests.conftest import Database


def seed(session: Session) -> Candidate:
    session.add(Tenant(id="acme", name="Acme", ats="greenhouse"))
    session.add(Tenant(id="globex", name="Globex", ats="lever"))
    session.flush()  # no relationship() between the models: the unit of work does not order by FKs
    candidate = Candidate(tenant_id="acme", first_name="Ada", last_name="Example")
    session.add(candidate)
    session.flush()
    return candidate


def test_identity_key_is_unique_per_tenant_kind_and_value(db: Database) -> None:
    url = "linkedin.com/in/ada-example"
    with Session(db.engine) as session:
        candidate = seed(session)
        session.add(CandidateIdentity(tenant_id="acme", candidate_id=candidate.id or 0,
                                      kind=IdentityKind.LINKEDIN, value=url))
        session.commit()
        other = Candidate(tenant_id="globex", first_name="Ada", last_name="Example")
        session.add(other)
        session.flush()
        # the same person in another tenant is a separate record
        session.add(CandidateIdentity(tenant_id="globex", candidate_id=other.id or 0,
                                      kind=IdentityKind.LINKEDIN, value=url))
        session.commit()
        session.add(CandidateIdentity(tenant_id="acme", candidate_id=other.id or 0,
                                      kind=IdentityKind.LINKEDIN, value=url))
        with pytest.raises(IntegrityError):
            session.commit()


def test_foreign_keys_are_enforced(db: Database) -> None:
    with Session(db.engine) as session:
        session.add(Candidate(tenant_id="no-such-tenant", first_name="X"))
        with pytest.raises(IntegrityError):
            session.commit()


def test_timestamps_round_trip_as_aware_utc(db: Database) -> None:
    paris = datetime(2026, 11, 2, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    with Session(db.engine) as session:
        candidate = seed(session)
        candidate.last_activity_at = paris
        session.commit()
    with Session(db.engine) as session:
        loaded = session.exec(select(Candidate)).one()
    assert loaded.last_activity_at == datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    assert loaded.last_activity_at.tzinfo is UTC and loaded.created_at.tzinfo is UTC


def test_naive_datetimes_are_refused(db: Database) -> None:
    with Session(db.engine) as session:
        candidate = seed(session)
        candidate.last_activity_at = datetime(2026, 11, 2, 9, 0)
        with pytest.raises(Exception, match="naive datetime"):
            session.commit()
