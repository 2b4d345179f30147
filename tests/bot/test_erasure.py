"""Erasure: a person stored everywhere leaves no trace in any table, nor in Greenhouse or on LinkedIn; their
namesake is untouched; outside calls are durable and retried; every form of the request erases once."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from bot.config_model import AppConfig
from bot.erasure import ERASED as ERASED_ACTION
from bot.erasure import Erasure, SubjectError, subject_in, subject_of
from bot.erasure_outside import ERASE_OUTSIDE, LEVER_HAS_NO_DELETE
from bot.stage_events import ATS_EVENT
from bot.web import create_web_app
from bot.worker import Worker
from integrations.sandbox.world import ACME_GREENHOUSE
from storage.models import AuditEntry, InboxEvent, OutboxMessage, OutboxState, WorkItem, WorkState
from tests.bot.erasure_seed import (
    ERASED,
    KEPT,
    everywhere,
    in_ats,
    leftovers,
    namesakes_work,
    outside_items,
    snapshot,
)
from tests.bot.world import World

pytestmark = pytest.mark.slow


def erase_in_ats(config: AppConfig, tenant_id: str = "acme") -> AppConfig:
    """The config with `erase_in_ats` on for one tenant."""
    tenants = [t.model_copy(update={"erase_in_ats": True}) if t.id == tenant_id else t for t in config.tenants]
    return config.model_copy(update={"tenants": tenants})


def run_outside(world: World) -> list[Any]:
    """Run only the outside erasure items (other seeded work stays queued, as it would for a busy worker)."""
    handlers = world.worker().handlers
    return Worker(world.rt.engine, world.rt.queue, {ERASE_OUTSIDE: handlers[ERASE_OUTSIDE]}).drain()


@pytest.fixture
def seeded(world: World) -> World:
    world.rt.config = erase_in_ats(world.rt.app_config())
    erased, kept = in_ats(world, ERASED, "4401"), in_ats(world, KEPT, "4402")
    everywhere(world, erased)
    namesakes_work(world, kept)
    world.erased, world.kept = erased, kept  # type: ignore[attr-defined]
    return world


def test_an_erased_person_leaves_no_trace_in_any_table_and_their_namesake_is_untouched(seeded: World) -> None:
    world = seeded
    erased, kept = world.erased, world.kept  # type: ignore[attr-defined]
    assert leftovers(world.rt.engine, erased.values()), "the seed holds the person everywhere"
    kept_before = snapshot(world.rt.engine, kept)

    report = world.rt.erasure().erase(subject_of(email=erased.email.upper()), actor="cli:test")

    (acme,) = report.tenants
    assert acme.tenant_id == "acme" and acme.candidates == 1
    assert {"candidate", "candidateidentity", "candidateblock", "application", "stageevent", "note",
            "attentionitem", "duplicateproposal", "inboxevent", "workitem", "outboxmessage", "auditentry",
            "incident", "integrationhealth", "jobrun"} <= set(acme.counts)
    (item,) = outside_items(world.rt.engine)  # queued with the local erasure: ids only
    assert item.payload == {"tenant": "acme", "erasure": report.erasure_id, "greenhouse": [erased.ats_id],
                            "linkedin_candidates": [erased.ats_id],
                            "linkedin_applications": [erased.application_id]}
    left = leftovers(world.rt.engine, erased.values(), skip_kinds=(ERASE_OUTSIDE,))
    assert left == [], "\n".join(left)

    assert [o.state for o in run_outside(world)] == [WorkState.DONE]
    assert leftovers(world.rt.engine, erased.values()) == [], "not even in the outside item, once done"
    assert snapshot(world.rt.engine, kept) == kept_before, "the namesake's rows and pending work are untouched"
    with Session(world.rt.engine) as s:  # history naming them only by name (or id) is redacted, not kept
        sent = s.execute(select(OutboxMessage).where(OutboxMessage.state == OutboxState.SENT)).scalars().all()
        finished = s.execute(select(WorkItem).where(WorkItem.state.in_([WorkState.DONE, WorkState.DEAD]),
                                                    WorkItem.kind != ERASE_OUTSIDE)).scalars().all()
    assert [m.payload for m in sent] == [{"erased": report.erasure_id}]
    assert [w.payload for w in finished] == [{"erased": report.erasure_id}] * 2
    people = {p.person_id for p in world.people("acme")}
    assert erased.ats_id not in people and kept.ats_id in people
    linkedin: Any = world.sims.states["linkedin"]
    org = "urn:li:organization:1001"
    assert (org, erased.ats_id) not in linkedin.candidates and (org, kept.ats_id) in linkedin.candidates
    assert (org, erased.application_id) not in linkedin.applications
    assert (org, kept.application_id) in linkedin.applications
    with Session(world.rt.engine) as s:
        (audit,) = s.execute(select(AuditEntry).where(AuditEntry.action == ERASED_ACTION)).scalars()
    assert (audit.actor, audit.tenant_id, audit.subject) == ("cli:test", "acme", f"erasure:{report.erasure_id}")
    assert audit.detail["counts"] == acme.counts and audit.detail["outside"] == {"greenhouse": "queued",
                                                                                "linkedin": "queued"}


def test_erasing_again_finds_nothing_and_changes_nothing(seeded: World) -> None:
    world, erased = seeded, seeded.erased  # type: ignore[attr-defined]
    erasure = world.rt.erasure()
    first = erasure.erase(subject_of(linkedin_url=erased.url.replace("https://www.", "http://uk.")), actor="t")
    assert first.found and first.candidates == 1
    assert not erasure.find(subject_of(email=erased.email)).found
    again = erasure.erase(subject_of(email=erased.email), actor="t")
    assert not again.found and len(outside_items(world.rt.engine)) == 1


def test_an_outside_failure_leaves_the_local_erasure_whole_and_is_retried(seeded: World) -> None:
    world, erased = seeded, seeded.erased  # type: ignore[attr-defined]
    world.sims.states["greenhouse"].faults.outage = True
    world.rt.erasure().erase(subject_of(email=erased.email), actor="t")
    assert leftovers(world.rt.engine, erased.values(), skip_kinds=(ERASE_OUTSIDE,)) == []
    handlers = world.worker().handlers
    outcome = Worker(world.rt.engine, world.rt.queue, {ERASE_OUTSIDE: handlers[ERASE_OUTSIDE]}).run_once()
    assert outcome is not None and outcome.state == WorkState.QUEUED, "Greenhouse down: retried later"
    world.sims.states["greenhouse"].faults.outage = False
    deadline = time.monotonic() + 30
    while outside_items(world.rt.engine)[0].state != WorkState.DONE and time.monotonic() < deadline:
        run_outside(world)
        time.sleep(0.05)
    assert outside_items(world.rt.engine)[0].state == WorkState.DONE
    assert erased.ats_id not in {p.person_id for p in world.people("acme")}


def test_erasure_in_ats_is_off_by_default_and_lever_has_no_delete(world: World) -> None:
    erasure = world.rt.erasure()
    acme, northwind = world.rt.app_config().tenant("acme"), world.rt.app_config().tenant("northwind")
    assert not acme.erase_in_ats and acme.erase_in_linkedin
    from bot.erasure_outside import outside_steps

    assert [(s.system, s.outcome) for s in outside_steps(acme, ["1"])] == [("greenhouse", "off"),
                                                                            ("linkedin", "queued")]
    lever, _ = outside_steps(northwind, ["c-1"])
    assert (lever.system, lever.outcome, lever.note) == ("lever", "not available", LEVER_HAS_NO_DELETE)
    assert not erasure.find(subject_of(email="nobody@example.org")).found


def test_one_tenant_only_when_asked(seeded: World) -> None:
    world, erased = seeded, seeded.erased  # type: ignore[attr-defined]
    assert not world.rt.erasure().erase(subject_of(email=erased.email), actor="t", tenant_id="globex").found
    assert world.rt.erasure().find(subject_of(email=erased.email), "acme").candidates == 1
    with pytest.raises(KeyError):
        world.rt.erasure().find(subject_of(email=erased.email), "no-such-tenant")


@pytest.mark.parametrize(("kwargs", "problem"), [
    ({}, "exactly one"), ({"email": "a@b.io", "linkedin_url": "https://linkedin.com/in/a"}, "exactly one"),
    ({"email": "not an address"}, "not an email"), ({"linkedin_url": "https://example.com/in/a"}, "LinkedIn"),
])
def test_a_request_names_exactly_one_valid_key(kwargs: dict[str, str], problem: str) -> None:
    with pytest.raises(SubjectError, match=problem):
        subject_of(**kwargs)


def test_a_slack_request_is_an_email_or_a_url_normalized_as_the_sync_does() -> None:
    assert subject_in("<mailto:Zoe@Example.org|Zoe@Example.org>").value == "zoe@example.org"
    assert subject_in("https://de.linkedin.com/in/zoe-77?trk=x").value == "linkedin.com/in/zoe-77"


def test_a_person_known_only_from_a_kept_aside_export_is_found_by_the_typed_key(world: World) -> None:
    from storage.candidates import record_attention
    from storage.db import transaction

    with transaction(world.rt.engine) as s:
        record_attention(s, tenant_id="globex", source="export", source_id="r1:urn:li:person:x", reason="no job",
                         detail={"first_name": "Pat", "emails": ["pat@example.org"]})
    found = Erasure(world.rt.engine, world.rt.app_config()).find(subject_of(email="pat@example.org"))
    assert [(t.tenant_id, t.candidates, t.counts) for t in found.tenants] == [("globex", 0, {"attentionitem": 1})]


@pytest.fixture
def hooked(seeded: World, serve: Any) -> World:
    """Greenhouse's webhooks delivered to a bot web server that accepts them."""
    web = serve(create_web_app(seeded.rt.engine, ats_webhooks=seeded.rt.ats_webhooks()), "ats-web")
    sim = seeded.sims.url("greenhouse")
    registered = httpx.post(f"{sim}/_sandbox/webhooks", json={
        "url": f"{web.url}/webhooks/greenhouse/acme", "account": ACME_GREENHOUSE.client_id, "time_scale": 0.0001})
    assert registered.status_code == 201
    return seeded


def deliver_webhooks(world: World) -> None:
    """Wait for the simulator's deliveries, then run the `ats.event` items they queued."""
    assert world.sims.states["greenhouse"].webhooks.join(10)  # type: ignore[attr-defined]
    handlers = world.worker().handlers
    Worker(world.rt.engine, world.rt.queue, {ATS_EVENT: handlers[ATS_EVENT]}).drain()


def test_the_webhook_of_our_own_greenhouse_delete_leaves_no_trace_either(hooked: World) -> None:
    world, erased = hooked, hooked.erased  # type: ignore[attr-defined]
    world.rt.erasure().erase(subject_of(email=erased.email), actor="t")
    run_outside(world)
    deliver_webhooks(world)  # delete_candidate, naming them, arrives after the local erasure
    with Session(world.rt.engine) as s:
        bodies = [e.body for e in s.execute(select(InboxEvent).where(InboxEvent.action == "delete_candidate"))
                  .scalars()]
    assert len(bodies) == 1 and "erased" in bodies[0]
    left = leftovers(world.rt.engine, erased.values())
    assert left == [], "\n".join(left)


def test_a_person_deleted_in_greenhouse_is_erased_here_too(hooked: World) -> None:
    world, erased, kept = hooked, hooked.erased, hooked.kept  # type: ignore[attr-defined]
    kept_before = snapshot(world.rt.engine, kept)
    deleted = {"account": ACME_GREENHOUSE.client_id, "action": "delete_candidate",
               "candidate_id": int(erased.ats_id)}
    assert httpx.post(f"{world.sims.url('greenhouse')}/_sandbox/emit", json=deleted).status_code == 202
    deliver_webhooks(world)
    run_outside(world)  # LinkedIn's In-ATS record goes too (Greenhouse deleted the person itself)
    left = leftovers(world.rt.engine, erased.values())
    assert left == [], "\n".join(left)
    assert snapshot(world.rt.engine, kept) == kept_before
    with Session(world.rt.engine) as s:
        (audit,) = s.execute(select(AuditEntry).where(AuditEntry.action == ERASED_ACTION)).scalars()
    assert audit.actor == "greenhouse:webhook" and audit.detail["outside"] == {"linkedin": "queued"}


def test_erase_in_ats_is_refused_for_a_lever_tenant() -> None:
    from bot.config import load_config
    from bot.config_checks import tenant_problems
    from bot.demo.script import EXAMPLE_CONFIG

    northwind = load_config(EXAMPLE_CONFIG).tenant("northwind").model_copy(update={"erase_in_ats": True})
    (problem,) = tenant_problems(northwind)
    assert problem.path == "erase_in_ats" and "Lever's API documents no way to delete" in problem.message


def test_every_table_holds_personal_data_that_erasure_cleans_or_none_at_all() -> None:
    from bot.erasure_scrub import LINKED, rules
    from storage.models import PERSONAL_DATA_TABLES, metadata

    cleaned = {r.name for r in rules(spare_kinds=())} | {name for name, _, _ in LINKED} | {"stageevent"}
    assert set(PERSONAL_DATA_TABLES) == cleaned
    assert set(metadata.tables) - cleaned == {"tenant", "synccursor", "kpisnapshot"}, "a new table: which is it?"
