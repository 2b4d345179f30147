"""Ops incidents under a driven clock: every kind opens once, stays quiet while open, and resolves once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import update
from sqlmodel import Session, select

from bot.config import load_config
from bot.demo.script import EXAMPLE_CONFIG
from bot.ops_watch import OpsWatch
from bot.sync import SYNC
from storage.candidates import open_attention, record_attention, resolve_attention
from storage.db import transaction
from storage.health import count_requests, record_failure, record_success
from storage.incidents import open_incidents
from storage.models import Incident, OutboxMessage, WorkItem, WorkState, table, utcnow
from storage.queue import enqueue
from tests.conftest import Database

Step = Callable[[Session], None]


def backlog_on(s: Session) -> None:
    for n in range(31):
        enqueue(s, SYNC, {}, dedupe_key=f"sync:{n}", tenant_id="acme")


def backlog_off(s: Session) -> None:
    s.execute(update(table(WorkItem)).values(state=WorkState.DONE))


def failures(integration: str, count: int, error: str = "Unavailable: HTTP 503") -> Step:
    def step(s: Session) -> None:
        for _ in range(count):
            record_failure(s, "acme", integration, error, utcnow())
    return step


def success(integration: str) -> Step:
    def step(s: Session) -> None:
        record_success(s, "acme", integration, utcnow())
    return step


def budget(s: Session) -> None:
    count_requests(s, "acme", "linkedin", 400, utcnow())  # 80% of the example's 500


def dead_on(s: Session) -> None:
    enqueue(s, "test.broken", {}, dedupe_key="broken", tenant_id="acme")
    s.execute(update(table(WorkItem)).values(state=WorkState.DEAD))


def dead_off(s: Session) -> None:
    s.execute(update(table(WorkItem)).where(table(WorkItem).c.state == WorkState.DEAD).values(
        state=WorkState.DONE))


def unmapped_on(s: Session) -> None:
    record_attention(s, tenant_id="acme", source="unmapped_stage", source_id="4401:7999", reason="Take-home",
                     detail={}, now=utcnow())


def unmapped_off(s: Session) -> None:
    for item in open_attention(s, "acme"):
        resolve_attention(s, item.id or 0, utcnow())


def nothing(s: Session) -> None:
    return None


CASES = [
    pytest.param("backlog", "", nothing, backlog_on, backlog_off, id="backlog"),
    pytest.param("api_errors", "greenhouse", nothing, failures("greenhouse", 10), success("greenhouse"),
                 id="api-errors"),
    pytest.param("auth", "lever", nothing, failures("lever", 1, "AuthFailed: Lever refused the API key"),
                 success("lever"), id="auth"),
    pytest.param("budget", "linkedin", nothing, budget, nothing, id="budget"),  # clears at midnight UTC
    pytest.param("dead_letters", "", nothing, dead_on, dead_off, id="dead-letters"),
    pytest.param("unmapped", "", nothing, unmapped_on, unmapped_off, id="unmapped"),
    pytest.param("stale_sync", "greenhouse", success("greenhouse"), failures("greenhouse", 1),
                 success("greenhouse"), id="stale-sync"),
]


def posted(db: Database) -> list[str]:
    with Session(db.engine) as s:
        return [str(m.payload["text"]) for m in s.exec(select(OutboxMessage).order_by(OutboxMessage.id))]


@pytest.mark.parametrize(("kind", "integration", "before", "hold", "clear"), CASES)
def test_an_incident_opens_once_stays_quiet_and_resolves_once(db: Database, kind: str, integration: str,
                                                              before: Step, hold: Step, clear: Step) -> None:
    watch = OpsWatch(db.engine, load_config(EXAMPLE_CONFIG))
    with freeze_time("2026-11-22 09:00:00", tz_offset=0) as clock:
        with transaction(db.engine) as s:
            before(s)
        clock.tick(timedelta(minutes=31))  # the stale-sync case: the last success is now over 30 minutes old
        watch.run()
        with transaction(db.engine) as s:
            hold(s)
        assert watch.run() == (1, 0)
        for _ in range(3):  # while the condition holds, nothing more is said
            clock.tick(timedelta(minutes=1))
            assert watch.run() == (0, 0)
        with Session(db.engine) as s:
            (incident,) = open_incidents(s, "acme")
        assert (incident.kind, incident.integration) == (kind, integration)
        with transaction(db.engine) as s:
            clear(s)
        if kind == "budget":
            clock.tick(timedelta(days=1))  # LinkedIn's daily budget starts again at midnight UTC
        clock.tick(timedelta(minutes=1))
        assert watch.run() == (0, 1)
        assert watch.run() == (0, 0)
    with Session(db.engine) as s:
        assert open_incidents(s) == [] and len(s.exec(select(Incident)).all()) == 1
    texts = posted(db)
    assert len(texts) == 2 and "HireBridge warning for Acme" in texts[0] and "Resolved for Acme" in texts[1]
