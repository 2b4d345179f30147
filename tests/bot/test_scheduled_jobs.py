"""The worker's housekeeping jobs: the dead-letter sweep, token renewal ahead of expiry, the plumbing purge,
and the weekly anchor of the digest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import update
from sqlmodel import Session, select

from bot.config import load_config
from bot.demo.script import EXAMPLE_CONFIG
from bot.ops_watch import OpsWatch
from bot.scheduler import WEEKLY_ANCHOR, JobSpec, ScheduledWork, Scheduler, occurrence, scheduled_jobs
from bot.tokens import TokenRefresh
from storage.db import transaction
from storage.health import record_failure
from storage.housekeeping import purge_plumbing
from storage.models import (
    InboxEvent,
    Incident,
    IntegrationHealth,
    JobRun,
    OutboxMessage,
    OutboxState,
    WorkItem,
    WorkState,
    table,
    utcnow,
)
from storage.outbox import add_message
from storage.queue import WorkQueue, enqueue
from tests.bot.world import World
from tests.conftest import Database

WORK = table(WorkItem)


def dead(db: Database, key: str, error: str, *, tenant: str = "acme", revived: int = 0) -> None:
    with transaction(db.engine) as s:
        enqueue(s, "sync.prospect", {}, dedupe_key=key, tenant_id=tenant)
        s.execute(update(WORK).where(WORK.c.dedupe_key == key).values(
            state=WorkState.DEAD, last_error=error, attempts=20, revived=revived))


def states(db: Database) -> dict[str, tuple[str, int, int]]:
    with Session(db.engine) as s:
        return {i.dedupe_key: (str(i.state), i.attempts, i.revived) for i in s.exec(select(WorkItem)).all()}


def sweep_job(db: Database) -> JobSpec:
    config = load_config(EXAMPLE_CONFIG)
    jobs = {j.id: j for j in scheduled_jobs(config, db.engine, ScheduledWork(queue=WorkQueue(db.engine)))}
    return jobs["dlq.sweep"]


def test_the_sweep_revives_transient_dead_letters_only_and_only_so_often(db: Database) -> None:
    dead(db, "outage", "Unavailable: POST /v3/candidates answered 503")
    dead(db, "busy", "RateLimited: HTTP 429")
    dead(db, "rejected", "Rejected: HTTP 422: email is invalid")
    dead(db, "refused", "AuthFailed: 401 after a token refresh")
    dead(db, "tired", "Unavailable: HTTP 503", revived=3)
    dead(db, "failing-tenant", "Unavailable: HTTP 503", tenant="northwind")
    with transaction(db.engine) as s:
        record_failure(s, "northwind", "lever", "Unavailable: HTTP 503", utcnow())
    assert sweep_job(db).run(utcnow()) == 2
    assert states(db) == {"outage": ("queued", 0, 1), "busy": ("queued", 0, 1), "rejected": ("dead", 20, 0),
                          "refused": ("dead", 20, 0), "tired": ("dead", 20, 3),
                          "failing-tenant": ("dead", 20, 0)}
    assert sweep_job(db).run(utcnow()) == 0, "queued items are not dead: nothing more to revive"
    with transaction(db.engine) as s:  # Lever works again: its tenant's item gets its round
        s.execute(update(table(IntegrationHealth)).values(consecutive_failures=0))
    assert sweep_job(db).run(utcnow()) == 1
    assert states(db)["failing-tenant"] == ("queued", 0, 1)


def test_the_plumbing_purge_deletes_what_finished_long_ago_and_keeps_dead_letters(db: Database) -> None:
    now = utcnow()
    old, recent = now - timedelta(days=40), now - timedelta(days=2)
    with transaction(db.engine) as s:
        for key in ("done-old", "done-recent", "dead-old", "queued-old"):
            enqueue(s, "sync.prospect", {"email": "ada@example.com"}, dedupe_key=key, tenant_id="acme", now=old)
        for key, state, finished in (("done-old", WorkState.DONE, old), ("done-recent", WorkState.DONE, recent),
                                     ("dead-old", WorkState.DEAD, old)):
            s.execute(update(WORK).where(WORK.c.dedupe_key == key).values(state=state, finished_at=finished))
        for key, sent in (("sent-old", old), ("sent-recent", recent)):
            add_message(s, dedupe_key=key, channel="C1", payload={"text": "Ada Lovelace moved"}, now=old)
            s.execute(update(table(OutboxMessage)).where(table(OutboxMessage).c.dedupe_key == key)
                      .values(state=OutboxState.SENT, sent_at=sent))
        add_message(s, dedupe_key="dead-message", channel="C1", payload={"text": "x"}, now=old)
        s.execute(update(table(OutboxMessage)).where(table(OutboxMessage).c.dedupe_key == "dead-message")
                  .values(state=OutboxState.DEAD))
        s.add(InboxEvent(provider="greenhouse", tenant_id="acme", event_id="e-old", body="{}", received_at=old))
        s.add(InboxEvent(provider="greenhouse", tenant_id="acme", event_id="e-new", body="{}", received_at=recent))
        s.add(JobRun(job="sync.pull", scheduled_for=old, holder="w", status="done", started_at=old))
        s.add(JobRun(job="sync.pull", scheduled_for=recent, holder="w", status="done", started_at=recent))
    counts = purge_plumbing(db.engine, now - timedelta(days=30), batch=1)  # batch of one: the loop is exercised
    assert counts == {"workitem": 1, "outboxmessage": 1, "inboxevent": 1, "jobrun": 1}
    with Session(db.engine) as s:
        assert sorted(i.dedupe_key for i in s.exec(select(WorkItem))) == ["dead-old", "done-recent", "queued-old"]
        assert sorted(m.dedupe_key for m in s.exec(select(OutboxMessage))) == ["dead-message", "sent-recent"]
        assert [e.event_id for e in s.exec(select(InboxEvent))] == ["e-new"]
        assert [r.scheduled_for for r in s.exec(select(JobRun))] == [recent]


def test_the_weekly_digest_falls_on_monday_mornings() -> None:
    wednesday = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    assert occurrence(timedelta(days=7), wednesday, WEEKLY_ANCHOR) == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert occurrence(timedelta(days=7), datetime(2026, 11, 23, 8, 59, tzinfo=UTC),
                      WEEKLY_ANCHOR) == datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


def test_a_per_process_job_runs_once_in_each_process(db: Database) -> None:
    ran: list[str] = []
    spec = JobSpec("tokens.refresh", timedelta(minutes=5), lambda due: ran.append("x"), per_process=True)
    a, b = Scheduler(db.engine, [spec], holder="host:1"), Scheduler(db.engine, [spec], holder="host:2")
    with freeze_time("2026-11-22 10:00:05", tz_offset=0):
        assert a.run_occurrence(spec) and b.run_occurrence(spec)
        assert not a.run_occurrence(spec) and not b.run_occurrence(spec)
    assert len(ran) == 2


@pytest.mark.slow
def test_tokens_are_renewed_ahead_of_expiry_and_a_refusal_opens_an_auth_incident(world: World) -> None:
    rt = world.rt
    refresh = TokenRefresh(rt.engine, rt.app_config(), rt.connections(), timedelta(minutes=5))
    holders = sum(t.greenhouse is not None for t in rt.app_config().tenants) + sum(
        t.linkedin is not None for t in rt.app_config().tenants)
    first = refresh.run()
    assert first["failed"] == 0 and first["renewed"] >= 1
    assert refresh.run() == {"renewed": 0, "fresh": holders, "failed": 0}, "tokens good for an hour stay"
    for sim in ("greenhouse", "linkedin"):
        world.sims.states[sim].faults.token_ttl_seconds = 300  # new tokens end within twice the interval
        world.sims.states[sim].tokens.expire_all()  # type: ignore[attr-defined]
    rt.connections()._clients.clear()  # a fresh process: no token held
    assert refresh.run() == {"renewed": holders, "fresh": 0, "failed": 0}
    assert refresh.run() == {"renewed": holders, "fresh": 0, "failed": 0}, "short-lived tokens: renewed again"
    world.sims.states["greenhouse"].faults.reject_credentials = True
    world.sims.states["greenhouse"].faults.token_ttl_seconds = None
    counts = refresh.run()
    assert counts["failed"] == sum(t.greenhouse is not None for t in rt.app_config().tenants)
    OpsWatch(rt.engine, rt.app_config()).run()
    with Session(rt.engine) as s:
        auth = s.exec(select(Incident).where(Incident.kind == "auth")).all()
    assert {(i.tenant_id, i.integration) for i in auth} == {
        (t.id, "greenhouse") for t in rt.app_config().tenants if t.greenhouse is not None}
