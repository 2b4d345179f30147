"""Recruiting KPIs from rows of known shape: exact figures, window boundaries, and "no data" on an empty store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from bot.config_model import AppConfig
from bot.kpis import (
    Adoption,
    Completeness,
    DuplicateRate,
    Kpis,
    Prevented,
    SourceAccuracy,
    SyncLag,
    TimeToReview,
    compute_kpis,
    describe,
    percentile,
)
from storage.db import transaction
from storage.models import IdentityKind, WorkState
from tests.bot.kpi_rows import Rows
from tests.bot.kpi_rows import config as config  # the example config, its tenants registered
from tests.bot.world import World
from tests.conftest import Database

SINCE = datetime(2024, 3, 4, tzinfo=UTC)  # a Monday
UNTIL = SINCE + timedelta(days=7)
H = timedelta(hours=1)
EMAIL, PHONE, LINKEDIN, MEMBER = (IdentityKind.EMAIL.value, IdentityKind.PHONE.value, IdentityKind.LINKEDIN.value,
                                  IdentityKind.LINKEDIN_MEMBER.value)


def seed_week(db: Database) -> None:
    """Acme's week: each row near a boundary has a twin on the other side; globex's rows must not leak."""
    before = SINCE - timedelta(days=30)
    with transaction(db.engine) as s:
        acme = Rows(s)
        jane = acme.candidate("Jane", "Doe", ats="p1", created=before, keys=(EMAIL, PHONE, LINKEDIN),
                              source="linkedin:export", company="Acme", title="Engineer", location="Paris")
        john = acme.candidate("John", "Roe", ats="p2", created=before, keys=(EMAIL,), source="Referral",
                              title="")
        ann = acme.candidate("Ann", "", ats="p3", created=before, keys=(MEMBER,),
                             source="LinkedIn (Prospecting)", company="  ", title="PM", location="Berlin")
        kim = acme.candidate("Kim", "Lee", ats="p6", created=SINCE + H, source="linkedin:slack")
        acme.candidate("Pending", "Person", ats=None, created=SINCE, keys=(EMAIL,))  # not a record yet
        acme.candidate("Late", "Comer", ats="p5", created=UNTIL, keys=(EMAIL,))  # after the window
        # time to review: 2 h, 10 h, 6 h, 4 h (an export exactly at `since` counts)
        app = acme.exported(jane, SINCE + H, reviewed=SINCE + 3 * H)
        acme.event(app, SINCE + 10 * H, from_stage="Phone Screen", to_stage="Onsite", source="ats")  # not first
        acme.exported(john, SINCE + 2 * H, reviewed=SINCE + 12 * H, source="slack")
        acme.exported(ann, SINCE + 24 * H, reviewed=SINCE + 30 * H)
        acme.exported(ann, SINCE, reviewed=SINCE + 4 * H)
        acme.exported(jane, SINCE + 5 * H)  # exported, not reviewed
        acme.exported(john, UNTIL - H, reviewed=UNTIL + H)  # reviewed only after the window
        acme.exported(kim, SINCE + 48 * H, source="slack")
        acme.exported(jane, SINCE - timedelta(seconds=1), reviewed=SINCE + H)  # exported before the window
        acme.exported(john, UNTIL, reviewed=UNTIL + H)  # exported as the window ends
        fresh = acme.application(jane)  # first seen in an ATS webhook: not an export
        acme.event(fresh, SINCE + H, source="ats")
        acme.event(fresh, SINCE + 2 * H, from_stage="Application Review", source="ats")
        # duplicates: two of the window's proposals count (a dismissed one does not)
        acme.proposal(SINCE)
        acme.proposal(SINCE + 24 * H, status="merged")
        acme.proposal(SINCE + 25 * H, status="dismissed")
        acme.proposal(SINCE - H)
        acme.proposal(UNTIL)
        for at in (SINCE, SINCE + 30 * H, SINCE - H, UNTIL):
            acme.matched(at)
        # sync lag: 10, 20, 30 and 100 s
        for start, seconds in ((SINCE, 10), (SINCE + H, 20), (SINCE + 2 * H, 30), (UNTIL - H, 100)):
            acme.sync(start, start + timedelta(seconds=seconds))
        acme.sync(SINCE - H, SINCE - timedelta(seconds=1))  # done before the window
        acme.sync(UNTIL - H, UNTIL)  # done as it ends
        acme.sync(SINCE, SINCE + H, state=WorkState.DEAD)
        acme.sync(SINCE, None, state=WorkState.QUEUED)
        acme.sync(SINCE, SINCE + H, kind="ats.mirror")
        # adoption: 4 commands by 2 people; a Slack retry, refusals and answers are not commands run
        for action in ("command.check", "command.check", "command.check"):
            acme.audit(SINCE + H, "slack:U1", action)
        acme.audit(SINCE + H, "slack:U2", "command.status")
        acme.audit(SINCE + H, "slack:U2", "command.status", detail={"slack_retry": 1})
        acme.audit(SINCE + H, "slack:U3", "command.stats.refused")
        acme.audit(SINCE + H, "slack:U4", "command.invalid", detail={"error": "unknown subcommand"})
        acme.audit(SINCE + H, "slack:U1", "check.answered")
        acme.audit(SINCE - H, "slack:U5", "command.help")
        acme.audit(UNTIL, "slack:U5", "command.help")
        globex = Rows(s, tenant="globex")
        other = globex.candidate("Gus", "Grey", ats="g1", created=before, keys=(EMAIL,), source="Referral")
        globex.exported(other, SINCE + H, reviewed=SINCE + 2 * H)
        globex.proposal(SINCE + H)
        globex.matched(SINCE + H)
        globex.sync(SINCE, SINCE + timedelta(seconds=5))


def test_known_rows_give_exact_figures(db: Database, config: AppConfig) -> None:
    seed_week(db)
    with Session(db.engine) as s:
        k = compute_kpis(s, config, "acme", since=SINCE, until=UNTIL)
    assert k.review == TimeToReview(exported=7, reviewed=4, median_hours=5.0, p90_hours=pytest.approx(8.8))
    assert k.duplicates == DuplicateRate(records=4, found=2, percent=50.0)
    assert k.prevented == Prevented(imports=4, prevented=2)
    assert k.completeness == Completeness(records=4, percent=pytest.approx(1300 / 28), by_field={
        "name": 75.0, "email": 50.0, "phone": 25.0, "linkedin": 50.0, "company": 25.0, "title": 50.0,
        "location": 50.0})
    assert k.source == SourceAccuracy(linkedin_sourced=4, credited=3, percent=75.0)
    assert k.sync_lag == SyncLag(syncs=4, p50_seconds=25.0, p95_seconds=pytest.approx(89.5))
    assert k.adoption == Adoption(commands=4, users=2, refused=2, weeks=1.0, per_user_per_week=2.0)


def test_other_tenants_rows_stay_theirs_and_adoption_is_install_wide(db: Database, config: AppConfig) -> None:
    seed_week(db)
    with Session(db.engine) as s:
        k = compute_kpis(s, config, "globex", since=SINCE, until=UNTIL)
    assert k.review == TimeToReview(exported=1, reviewed=1, median_hours=1.0, p90_hours=1.0)
    assert k.duplicates == DuplicateRate(records=1, found=1, percent=100.0)
    assert k.prevented == Prevented(imports=1, prevented=1)
    assert k.source == SourceAccuracy(linkedin_sourced=1, credited=0, percent=0.0)
    assert k.sync_lag == SyncLag(syncs=1, p50_seconds=5.0, p95_seconds=5.0)
    assert k.adoption.commands == 4 and k.adoption.users == 2


def test_the_next_window_counts_what_this_one_left_out(db: Database, config: AppConfig) -> None:
    seed_week(db)
    with Session(db.engine) as s:
        k = compute_kpis(s, config, "acme", since=UNTIL, until=UNTIL + timedelta(days=14))
    assert k.review == TimeToReview(exported=1, reviewed=1, median_hours=1.0, p90_hours=1.0)
    assert (k.duplicates.found, k.duplicates.records) == (1, 5)  # the late comer is a record by now
    assert k.prevented == Prevented(imports=1, prevented=1)
    assert k.sync_lag.p50_seconds == 3600.0
    assert k.adoption == Adoption(commands=1, users=1, refused=0, weeks=2.0, per_user_per_week=0.5)


def test_an_empty_store_has_no_data_rather_than_zeros(db: Database, config: AppConfig) -> None:
    with Session(db.engine) as s:
        k = compute_kpis(s, config, "acme", since=SINCE, until=UNTIL)
    assert k.review == TimeToReview(0, 0, None, None)
    assert k.duplicates == DuplicateRate(0, 0, None)
    assert k.prevented == Prevented(0, 0)
    assert k.completeness == Completeness(0, None, dict.fromkeys(
        ("name", "email", "phone", "linkedin", "company", "title", "location")))
    assert k.source == SourceAccuracy(0, 0, None)
    assert k.sync_lag == SyncLag(0, None, None)
    assert k.adoption == Adoption(0, 0, 0, 1.0, None)
    words = {f.key: f.text for f in describe(k)}
    assert words["time_to_review"] == "no data — no application exported in this period"
    assert words["duplicate_rate"] == "no data — 0 pair(s) found among 0 record(s)"
    assert words["sync_lag"] == "p50 no data, p95 no data over 0 sync(s)"
    assert words["completeness"] == "no data on average over 0 record(s)"


def test_figures_round_trip_through_json(db: Database, config: AppConfig) -> None:
    seed_week(db)
    with Session(db.engine) as s:
        k = compute_kpis(s, config, "acme", since=SINCE, until=UNTIL)
    assert Kpis.from_figures(k.figures()) == k
    assert Kpis.from_figures({"tenant_id": "acme"}) is None  # an older shape: no comparison, no crash


def test_figures_in_words(db: Database, config: AppConfig) -> None:
    seed_week(db)
    with Session(db.engine) as s:
        words = {f.key: f.text for f in describe(compute_kpis(s, config, "acme", since=SINCE, until=UNTIL))}
    assert words == {
        "time_to_review": "median 5.0 h, p90 8.8 h — 4 of 7 exported application(s) reviewed",
        "duplicate_rate": "50.0% — 2 pair(s) found among 4 record(s)",
        "prevented": "2 of 4 import(s) linked to an existing record",
        "completeness": "46.4% on average over 4 record(s) — name 75%, email 50%, phone 25%, linkedin 50%, "
                        "company 25%, title 50%, location 50%",
        "source_accuracy": "75.0% — 3 of 4 LinkedIn-sourced record(s) credited to LinkedIn",
        "sync_lag": "p50 25.0 s, p95 89.5 s over 4 sync(s)",
        "adoption": "2.0 command(s) per user per week — 4 command(s) by 2 user(s), 2 refused (install-wide)",
    }


def test_a_window_must_end_after_it_starts_and_name_a_known_tenant(db: Database, config: AppConfig) -> None:
    with Session(db.engine) as s:
        with pytest.raises(ValueError, match="before it starts"):
            compute_kpis(s, config, "acme", since=UNTIL, until=SINCE)
        with pytest.raises(KeyError):
            compute_kpis(s, config, "nobody", since=SINCE, until=UNTIL)


@pytest.mark.parametrize(("values", "q", "expected"), [
    ([], 50, None), ([7.0], 95, 7.0), ([1.0, 2.0], 50, 1.5), ([4.0, 1.0, 3.0, 2.0], 50, 2.5),
    ([10.0, 20.0, 30.0, 100.0], 95, 89.5), ([1.0, 2.0, 3.0], 0, 1.0), ([1.0, 2.0, 3.0], 100, 3.0),
])
def test_percentile_interpolates_between_ranks(values: list[float], q: float, expected: float | None) -> None:
    assert percentile(values, q) == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.slow
def test_a_second_export_of_a_known_person_counts_as_a_prevented_duplicate(world: World) -> None:
    """Through the real sync: the second export links to the record the first created, and is audited so."""
    jane = {"firstName": "Jane", "lastName": "Doe", "profileUrl": "https://www.linkedin.com/in/jane-doe-42"}
    start = datetime.now(UTC) - H
    world.export("acme", [jane], job="4401")
    world.drain()
    world.export("acme", [jane], job="4401")
    world.drain()
    assert len(world.people("acme")) == 1
    with Session(world.rt.engine) as s:
        k = compute_kpis(s, world.rt.app_config(), "acme", since=start, until=datetime.now(UTC) + H)
    assert k.prevented == Prevented(imports=2, prevented=1)
    assert k.review == TimeToReview(exported=1, reviewed=0, median_hours=None, p90_hours=None)
    assert k.source == SourceAccuracy(linkedin_sourced=1, credited=1, percent=100.0)
    assert (k.duplicates.records, k.completeness.by_field["linkedin"], k.completeness.by_field["name"]) == (
        1, 100.0, 100.0)
