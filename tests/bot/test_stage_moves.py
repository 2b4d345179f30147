"""LinkedIn → ATS stage moves: forward only when the ATS wins, recorded first so the webhook they cause is an
echo that changes nothing, undone when the ATS had moved on, retried without doubling."""

from __future__ import annotations

import time

import httpx
import pytest
from sqlmodel import Session, select

from bot.stage_moves import STAGE_MOVE
from bot.web import create_web_app
from integrations.sandbox.server import serve_in_thread
from integrations.sandbox.world import ACME_GREENHOUSE
from storage.candidates import open_attention
from storage.db import transaction
from storage.models import Application, StageEvent, WorkItem
from tests.bot.world import World

pytestmark = pytest.mark.slow
JANE = {"firstName": "Jane", "lastName": "Doe", "profileUrl": "https://www.linkedin.com/in/jane-doe-42"}


def exported(world: World) -> Application:
    world.export("acme", [JANE], job="4401")
    world.drain()
    return application(world)


def application(world: World) -> Application:
    with Session(world.rt.engine) as s:
        return s.exec(select(Application)).one()


def replied(world: World, app: Application, ref: str = "ref-1") -> None:
    """What the InMail poll queues when the candidate answers; then the worker runs."""
    with transaction(world.rt.engine) as s:
        world.rt.stage_moves().schedule(s, world.rt.app_config().tenant("acme"), app, "inmail_replied", ref)
    world.drain()
    world.relay()


def ats_stage(world: World, app: Application) -> str | None:
    ats = world.rt.connections().ats_adapter("acme")
    person = ats.changed_since(None)
    return next(a.stage_id for p in person for a in p.applications if a.application_id == app.ats_application_id)


def history(world: World) -> list[tuple[str | None, str, str]]:
    with Session(world.rt.engine) as s:
        return [(e.from_stage, e.to_stage, e.source) for e in s.exec(select(StageEvent).order_by(StageEvent.id))]


def test_an_answered_inmail_moves_the_ats_application_and_is_recorded_as_linkedins(world: World) -> None:
    app = exported(world)
    replied(world, app)
    assert ats_stage(world, app) == "7002"
    assert history(world)[-1] == ("Application Review", "Recruiter Screen", "linkedin")
    assert application(world).stage_id == "7002"
    replied(world, app)  # the same event again: queued once
    assert len(history(world)) == 2


def test_the_webhook_the_move_causes_is_an_echo_that_changes_nothing(world: World) -> None:
    app = exported(world)
    web = serve_in_thread(create_web_app(world.rt.engine, ats_webhooks=world.rt.ats_webhooks()), "echo-web")
    try:
        sim = world.sims.url("greenhouse")
        httpx.post(f"{sim}/_sandbox/webhooks", json={"url": f"{web.url}/webhooks/greenhouse/acme",
                                                      "account": ACME_GREENHOUSE.client_id, "time_scale": 0.0001})
        replied(world, app)
        echo = {"account": ACME_GREENHOUSE.client_id, "action": "candidate_stage_change",
                "application_id": int(app.ats_application_id)}  # Greenhouse reports the move the bridge made
        assert httpx.post(f"{sim}/_sandbox/emit", json=echo).status_code == 202
        world.sims.states["greenhouse"].webhooks.join(10)  # type: ignore[attr-defined]
        world.drain()
        world.relay()
    finally:
        web.stop()
    assert [e[2] for e in history(world)] == ["linkedin", "linkedin"], "no second record of the same move"
    with Session(world.rt.engine) as s:
        pushes = s.exec(select(WorkItem).where(WorkItem.kind == "linkedin.stage_push")).all()
        assert len(pushes) == 1, "the echo is not synced back to LinkedIn"


def test_when_the_ats_wins_a_recruiters_move_made_meanwhile_stands(world: World) -> None:
    app = exported(world)
    world.rt.connections().ats_adapter("acme").move_stage(app.ats_application_id, "7004")  # no webhook yet
    replied(world, app)
    assert ats_stage(world, app) == "7004"
    assert application(world).stage_id == "7001" and len(history(world)) == 1, "the local claim is undone"
    with Session(world.rt.engine) as s:
        (conflict,) = open_attention(s, "acme")
    assert conflict.source == "stage_conflict" and "the ATS wins" in conflict.reason


def test_a_linkedin_event_never_moves_a_candidate_back_when_the_ats_wins(world: World) -> None:
    app = exported(world)
    with transaction(world.rt.engine) as s:
        row = s.get(Application, app.id)
        assert row is not None
        row.stage_id = "7004"  # Onsite, as the ATS last told us
        s.add(row)
    calls = world.rt.connections().ats_adapter("acme").api_calls
    replied(world, app.model_copy(update={"stage_id": "7004"}))
    assert world.rt.connections().ats_adapter("acme").api_calls == calls
    assert application(world).stage_id == "7004"


def test_when_linkedin_wins_the_move_is_made_anyway(world: World) -> None:
    config = world.rt.app_config()
    tenant = config.tenant("acme")
    world.rt.config = config.model_copy(update={"tenants": [
        tenant.model_copy(update={"conflict_winner": "linkedin"}) if t.id == "acme" else t
        for t in config.tenants]})
    app = exported(world)
    world.rt.connections().ats_adapter("acme").move_stage(app.ats_application_id, "7004")
    replied(world, app)
    assert ats_stage(world, app) == "7002"


def retry_due(world: World) -> None:
    """Wait out the (test-sized) backoff of the item that just failed."""
    due = world.rt.queue.next_due()
    if due is not None:
        time.sleep(max(0.0, (due - world.rt.queue.clock()).total_seconds()) + 0.01)


def test_a_failed_move_is_claimed_once_and_finished_by_the_retry(world: World) -> None:
    app = exported(world)
    faults = world.sims.states["greenhouse"].faults
    faults.update({"error_rate": 1.0, "error_status": 503})
    replied(world, app)
    assert application(world).stage_id == "7002", "claimed locally before the ATS call"
    faults.update({"error_rate": 0.0})
    retry_due(world)
    world.drain()
    assert ats_stage(world, app) == "7002"
    assert history(world)[1:] == [("Application Review", "Recruiter Screen", "linkedin")]


def test_a_move_that_gives_up_is_undone_locally(world: World) -> None:
    app = exported(world)
    world.sims.states["greenhouse"].faults.update({"error_rate": 1.0, "error_status": 503})
    replied(world, app)
    retry_due(world)
    (item,) = world.rt.queue.claim("test", kinds=[STAGE_MOVE])
    world.rt.stage_moves().on_dead(item, "gave up")
    assert application(world).stage_id == "7001" and len(history(world)) == 1
