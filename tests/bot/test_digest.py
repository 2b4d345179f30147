"""The weekly digest: one message and one snapshot per tenant and week, however often it runs; weeks compared."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from bot.config_model import AppConfig
from bot.digest import WeeklyDigest, week_of
from bot.kpis import compute_kpis
from storage.db import transaction
from storage.models import KpiSnapshot, OutboxMessage
from tests.bot.kpi_rows import Rows
from tests.bot.kpi_rows import config as config  # the example config, its tenants registered
from tests.conftest import Database

WEEK1 = datetime(2024, 3, 4, tzinfo=UTC)  # a Monday: the first week reported starts here
DUE1, DUE2 = WEEK1 + timedelta(days=7), WEEK1 + timedelta(days=14)
H = timedelta(hours=1)


def seed(db: Database) -> None:
    """Acme, week 1: reviews after 2 h and 4 h, a 10 s sync, a duplicate prevented, a command; week 2: one 6 h
    review, a 20 s sync, nothing prevented, no command."""
    with transaction(db.engine) as s:
        acme = Rows(s)
        jane = acme.candidate("Jane", "Doe", ats="p1", created=WEEK1 - H, keys=("email",),
                              source="linkedin:export")
        acme.exported(jane, WEEK1 + H, reviewed=WEEK1 + 3 * H)
        acme.exported(jane, WEEK1 + 2 * H, reviewed=WEEK1 + 6 * H)
        acme.sync(WEEK1 + H, WEEK1 + H + timedelta(seconds=10))
        acme.matched(WEEK1 + H)
        acme.audit(WEEK1 + H, "slack:U0OLU", "command.stats")
        acme.exported(jane, DUE1 + H, reviewed=DUE1 + 7 * H)
        acme.sync(DUE1 + H, DUE1 + H + timedelta(seconds=20))


def messages(db: Database) -> dict[str, OutboxMessage]:
    with Session(db.engine) as s:
        return {m.dedupe_key: m for m in s.exec(select(OutboxMessage)).all()}


def snapshots(db: Database) -> dict[tuple[str, str], KpiSnapshot]:
    with Session(db.engine) as s:
        return {(k.tenant_id, k.week): k for k in s.exec(select(KpiSnapshot)).all()}


def test_one_digest_per_tenant_and_week_however_often_it_runs(db: Database, config: AppConfig) -> None:
    seed(db)
    digest = WeeklyDigest(db.engine, config, clock=lambda: DUE1)
    assert digest.run(DUE1) == 3
    assert digest.run(DUE1) == 0
    assert WeeklyDigest(db.engine, config, clock=lambda: DUE1 + H).run(DUE1) == 0  # another process, later
    sent = messages(db)
    assert {key: m.channel for key, m in sent.items()} == {
        "digest:acme:2024-03-04": "C0ACMEOPS", "digest:northwind:2024-03-04": "C0NWOPS",
        "digest:globex:2024-03-04": "C0GXOPS"}
    assert sorted(snapshots(db)) == [("acme", "2024-03-04"), ("globex", "2024-03-04"), ("northwind", "2024-03-04")]


def test_the_snapshot_keeps_the_weeks_figures_and_no_personal_data(db: Database, config: AppConfig) -> None:
    seed(db)
    WeeklyDigest(db.engine, config, clock=lambda: DUE1).run(DUE1)
    with Session(db.engine) as s:
        expected = compute_kpis(s, config, "acme", since=WEEK1, until=DUE1).figures()
    kept = snapshots(db)[("acme", "2024-03-04")]
    assert kept.figures == expected
    assert kept.figures["review"] == {"exported": 2, "reviewed": 2, "median_hours": 3.0, "p90_hours": 3.8}
    assert kept.figures["prevented"] == {"imports": 1, "prevented": 1}
    assert "Jane" not in json.dumps(kept.figures) and "p1" not in json.dumps(kept.figures)


def test_the_digest_shows_the_weeks_figures_then_the_change_since_last_week(db: Database,
                                                                             config: AppConfig) -> None:
    seed(db)
    WeeklyDigest(db.engine, config, clock=lambda: DUE1).run(DUE1)
    first = str(messages(db)["digest:acme:2024-03-04"].payload)
    assert "Weekly recruiting digest for Acme, week of 2024-03-04" in first
    assert "*Time to review*: median 3.0 h, p90 3.8 h — 2 of 2 exported application(s) reviewed" in first
    assert "*Sync lag*: p50 10.0 s, p95 10.0 s over 1 sync(s)" in first
    assert "*Duplicates prevented at import*: 1 of 1 import(s) linked to an existing record" in first
    assert "No earlier week to compare with" in first and "vs last week" not in first

    assert WeeklyDigest(db.engine, config, clock=lambda: DUE2).run(DUE2) == 3
    second = str(messages(db)["digest:acme:2024-03-11"].payload)
    assert "week of 2024-03-11" in second and "Compared with the week before" in second
    assert "median 6.0 h, p90 6.0 h — 1 of 1 exported application(s) reviewed _(+3.0 h vs last week)_" in second
    assert "p50 20.0 s, p95 20.0 s over 1 sync(s) _(+10.0 s vs last week)_" in second
    assert "0 of 1 import(s) linked to an existing record _(−1 vs last week)_" in second
    assert "0 command(s) by 0 user(s), 0 refused (install-wide) _(last week: 1.0)_" in second
    quiet = str(messages(db)["digest:globex:2024-03-11"].payload)
    assert "no data — no application exported in this period _(last week: no data)_" in quiet


@pytest.mark.parametrize(("moment", "monday"), [
    (datetime(2024, 3, 4, tzinfo=UTC), "2024-03-04"), (datetime(2024, 3, 10, 23, 59, tzinfo=UTC), "2024-03-04"),
    (datetime(2024, 3, 11, tzinfo=UTC), "2024-03-11"), (datetime(2024, 1, 3, 9, tzinfo=UTC), "2024-01-01"),
])
def test_weeks_are_named_by_their_monday(moment: datetime, monday: str) -> None:
    assert week_of(moment) == monday
