"""ATS stage changes: history per application, one alert per change and channel, unmapped stages to ops once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from bot.stage_events import ATS_EVENT
from integrations.ats import NewCandidate
from storage.candidates import open_attention
from storage.db import transaction
from storage.models import Application, Candidate, CandidateIdentity, StageEvent, WorkItem
from storage.queue import Priority, enqueue
from tests.bot.world import World

pytestmark = pytest.mark.slow
JANE = {"firstName": "Jane", "lastName": "Doe", "profileUrl": "https://www.linkedin.com/in/jane-doe-42"}


def exported(world: World, tenant: str = "acme", job: str = "4401") -> Application:
    world.export(tenant, [JANE], job=job)
    world.drain()
    with Session(world.rt.engine) as s:
        return s.exec(select(Application).where(Application.tenant_id == tenant)).one()


def event(app: Application, event_id: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": event_id, "vendor": "greenhouse", "kind": "stage_change", "person_id": None,
            "application_id": app.ats_application_id, "job_id": app.job_id, "to_stage_id": None,
            "to_stage_name": None, "from_stage_id": None, "status": "active", "actor": None,
            "occurred_at": datetime.now(UTC).isoformat(), **fields}


def deliver(world: World, tenant: str, *events: dict[str, Any]) -> None:
    """What the webhook intake queues for each accepted event; then the worker and the relay run."""
    with transaction(world.rt.engine) as s:
        for ev in events:
            enqueue(s, ATS_EVENT, {"tenant": tenant, "event": ev}, tenant_id=tenant, priority=Priority.PUSH,
                    dedupe_key=f"ats-event:{ev['vendor']}:{tenant}:{ev['event_id']}")
    outcomes = world.drain()
    assert all(o.state is not None and o.state.value == "done" for o in outcomes), outcomes
    world.relay()


def posted(world: World, channel: str) -> list[str]:
    answer = httpx.get(f"{world.sims.url('slack')}/_sandbox/messages", params={"channel": channel}).json()
    return [str(m["blocks"]) for m in answer["messages"]]


def history(world: World) -> list[tuple[str | None, str, str]]:
    with Session(world.rt.engine) as s:
        return [(e.from_stage, e.to_stage, e.source) for e in s.exec(select(StageEvent).order_by(StageEvent.id))]


def test_a_stage_change_is_recorded_from_the_last_seen_stage_and_alerted_once(world: World) -> None:
    app = exported(world)
    move = event(app, "gh-1", to_stage_id="7003", to_stage_name="Phone Screen", actor="Rae Recruiter")
    deliver(world, "acme", move)
    deliver(world, "acme", move, event(app, "gh-1-again", to_stage_id="7003", to_stage_name="Phone Screen"))
    assert history(world)[-1] == ("Application Review", "Phone Screen", "ats")
    assert len(history(world)) == 2  # the export's first stage, then this move; the replays add nothing
    (alert,) = posted(world, "C0ACMEENG")
    assert "Jane Doe* — Senior Backend Engineer: Application Review → *Phone Screen*" in alert
    assert "moved by Rae Recruiter in Greenhouse" in alert and "Open in Greenhouse" in alert


def test_stages_no_route_asks_for_are_recorded_but_not_alerted(world: World) -> None:
    app = exported(world)
    deliver(world, "acme", event(app, "gh-2", to_stage_id="7002", to_stage_name="Recruiter Screen"))
    assert history(world)[-1][1] == "Recruiter Screen"
    assert posted(world, "C0ACMEENG") == []


def test_hired_is_an_outcome_every_route_may_ask_for(world: World) -> None:
    app = exported(world)
    deliver(world, "acme", event(app, "gh-3", kind="hired", status="hired", to_stage_id="7005",
                                 to_stage_name="Offer"))
    (alert,) = posted(world, "C0ACMEENG")
    assert "*Hired*" in alert
    with Session(world.rt.engine) as s:
        assert s.exec(select(Application)).one().status == "hired"


def test_an_unmapped_stage_is_reported_to_ops_once_and_never_alerted(world: World) -> None:
    app = exported(world)
    deliver(world, "acme", event(app, "gh-4", to_stage_id="7999", to_stage_name="Take-home"))
    deliver(world, "acme", event(app, "gh-5", to_stage_id="7005", to_stage_name="Offer"),
            event(app, "gh-6", to_stage_id="7999", to_stage_name="Take-home"))
    (notice,) = posted(world, "C0ACMEOPS")[-1:]
    assert "Unmapped ATS stage in Acme" in notice and "Take-home (7999)" in notice
    assert sum("Unmapped" in m for m in posted(world, "C0ACMEOPS")) == 1
    with Session(world.rt.engine) as s:
        assert [a.source for a in open_attention(s, "acme")] == ["unmapped_stage"]
    assert [m for m in posted(world, "C0ACMEENG") if "→ *Take-home*" in m] == []
    assert history(world)[1:] == [("Application Review", "Take-home", "ats"), ("Take-home", "Offer", "ats"),
                                  ("Offer", "Take-home", "ats")]


def test_an_application_never_seen_is_read_from_the_ats_once(world: World) -> None:
    ats = world.rt.connections().ats_adapter("acme")
    person, application = ats.create_candidate(NewCandidate(first_name="Nadia", last_name="Haddad",
                                                            job_id="4401", stage_id="7003"))
    deliver(world, "acme", {**event(Application(ats_application_id=application.application_id, job_id="4401",
                                                tenant_id="acme", candidate_id=0), "gh-7"),
                            "person_id": person.person_id, "to_stage_id": "7003", "to_stage_name": "Phone Screen"})
    assert history(world) == [(None, "Phone Screen", "ats")]
    (alert,) = posted(world, "C0ACMEENG")
    assert "Nadia Haddad" in alert


def test_lever_changes_name_their_stages_through_the_map(world: World) -> None:
    app = exported(world, "northwind", "post-nw-platform")
    deliver(world, "northwind", event(app, "lv-1", vendor="lever", from_stage_id="stage-nw-new",
                                      to_stage_id="stage-nw-phone"))
    assert history(world)[-1] == ("New lead", "Phone screen", "ats")
    (alert,) = posted(world, "C0NWHIRE")
    assert "New lead → *Phone screen*" in alert and "Platform Engineer" in alert


def linkedin_stages(world: World, app: Application) -> list[str]:
    state: Any = world.sims.states["linkedin"]
    with state.lock:
        found = [entities for (_, application), entities in state.stages.items()
                 if application == app.ats_application_id]
    entries = sorted((e["atsCreatedAt"], e["stage"]) for entities in found for e in entities.values())
    return [stage for _, stage in entries]


def test_ats_stage_changes_reach_linkedin_with_their_history(world: World) -> None:
    app = exported(world)  # LinkedIn has not been sent the candidate yet: the push-back waits for its window
    deliver(world, "acme", event(app, "gh-10", to_stage_id="7003", to_stage_name="Phone Screen"))
    assert linkedin_stages(world, app) == ["Application Review", "Phone Screen"]
    deliver(world, "acme", event(app, "gh-11", to_stage_id="7004", to_stage_name="Onsite"),
            event(app, "gh-10", to_stage_id="7003", to_stage_name="Phone Screen"))  # a late replay
    assert linkedin_stages(world, app) == ["Application Review", "Phone Screen", "Onsite"]


def test_unmapped_stages_stay_off_linkedin(world: World) -> None:
    app = exported(world)
    deliver(world, "acme", event(app, "gh-12", to_stage_id="7999", to_stage_name="Take-home"))
    assert "Take-home" not in linkedin_stages(world, app)
    with Session(world.rt.engine) as s:
        assert not s.exec(select(WorkItem).where(WorkItem.kind == "linkedin.stage_push")).all()


def test_a_candidate_update_refreshes_the_local_index(world: World) -> None:
    app = exported(world)
    with Session(world.rt.engine) as s:
        person_id = s.exec(select(Candidate)).one().ats_candidate_id
    assert person_id is not None
    world.rt.connections().ats_adapter("acme").update_person(person_id, add_emails=["jane.doe@new.example"])
    deliver(world, "acme", {**event(app, "gh-20", kind="candidate_updated"), "person_id": person_id})
    with Session(world.rt.engine) as s:
        keys = {(k.kind, k.value) for k in s.exec(select(CandidateIdentity)).all()}
    assert ("email", "jane.doe@new.example") in keys


def test_the_owning_recruiter_gets_one_direct_message_when_the_route_asks(world: World) -> None:
    app = exported(world)
    move = event(app, "gh-dm", to_stage_id="7003", to_stage_name="Phone Screen", owner_email="Rae@acme.example")
    deliver(world, "acme", move)
    deliver(world, "acme", move)
    (dm,) = posted(world, "D0RAE")
    assert "Jane Doe* — Senior Backend Engineer: Application Review → *Phone Screen*" in dm
    assert len(posted(world, "C0ACMEENG")) == 1


def test_no_direct_message_from_a_route_that_does_not_ask(world: World) -> None:
    app = exported(world, job="4402")  # #hiring-data's route (Data department) has no dm_recruiter
    deliver(world, "acme", event(app, "gh-nodm", to_stage_id="7104", to_stage_name="Onsite",
                                 owner_email="rae@acme.example"))
    assert len(posted(world, "C0ACMEDATA")) == 1
    assert posted(world, "D0RAE") == []


def test_lever_names_the_opportunity_owner_for_the_direct_message(world: World) -> None:
    app = exported(world, "northwind", "post-nw-platform")
    deliver(world, "northwind", event(app, "lv-dm", vendor="lever", from_stage_id="stage-nw-new",
                                      to_stage_id="stage-nw-phone"))
    (dm,) = posted(world, "D0NIA")  # the export's opportunity is owned by the user it is performed as
    assert "→ *Phone screen*" in dm
