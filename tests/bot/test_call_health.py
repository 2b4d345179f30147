"""Real API calls feed integration health: a Greenhouse outage during real work opens one `api_errors`
incident and shows in /metrics; calls that work again resolve it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlmodel import Session, select

from bot.ops_watch import OpsWatch
from bot.web import create_web_app
from integrations.sandbox.server import RunningServer
from storage.models import Incident, IntegrationHealth, utcnow
from storage.queue import RetryPolicy
from tests.bot.test_metrics import scrape
from tests.bot.test_sync_faults import enqueue, prospect
from tests.bot.world import World


def health(world: World, tenant: str, integration: str) -> IntegrationHealth:
    with Session(world.rt.engine) as s:
        row = s.get(IntegrationHealth, (tenant, integration))
        assert row is not None, f"no health row for {tenant}/{integration}"
        return row


def incidents(world: World) -> list[tuple[str, str, bool]]:
    with Session(world.rt.engine) as s:
        return [(i.kind, i.integration, i.resolved_at is None)
                for i in s.exec(select(Incident).order_by(Incident.id)).all()]  # type: ignore[arg-type]


def test_failing_work_opens_one_api_errors_incident_and_working_calls_resolve_it(
        world: World, serve: Callable[..., RunningServer]) -> None:
    threshold = world.rt.app_config().bot.consecutive_error_threshold
    watch = OpsWatch(world.rt.engine, world.rt.app_config())
    # a retry comes an hour later: each item fails once in the drain, however slow the machine is
    world.rt.queue.policy = RetryPolicy(base_seconds=3600, cap_seconds=3600)
    world.sims.states["greenhouse"].faults.outage = True
    enqueue(world, "acme", [prospect(n) for n in range(threshold + 2)])
    world.drain()  # each item fails once (and waits for its retry); the worker writes the tallies as it stops
    row = health(world, "acme", "greenhouse")
    assert row.consecutive_failures >= threshold + 2, row
    assert row.errors_total >= threshold + 2 and row.calls_total >= row.errors_total
    assert row.last_error is not None and row.last_error.startswith("Unavailable: ") and "503" in row.last_error
    watch.run()
    watch.run()  # still failing: nothing more
    assert [i for i in incidents(world) if i[0] == "api_errors"] == [("api_errors", "greenhouse", True)]

    figures = scrape(serve(create_web_app(world.rt.engine), "web-metrics"))
    labels = (("integration", "greenhouse"), ("tenant", "acme"))
    assert figures["hirebridge_api_errors_total"][labels] == row.errors_total
    assert figures["hirebridge_api_calls_total"][labels] == row.calls_total

    world.sims.states["greenhouse"].faults.outage = False
    world.rt.queue.clock = lambda: utcnow() + timedelta(hours=2)  # the retries are due
    world.drain()
    assert health(world, "acme", "greenhouse").consecutive_failures == 0
    watch.run()
    assert [i for i in incidents(world) if i[0] == "api_errors"] == [("api_errors", "greenhouse", False)]


def test_a_refused_key_during_work_opens_an_auth_incident(world: World) -> None:
    world.sims.states["lever"].faults.reject_credentials = True
    enqueue(world, "northwind", [prospect(1, job_id="post-nw-platform")])
    world.drain()
    assert health(world, "northwind", "lever").last_error.startswith("AuthFailed: ")  # type: ignore[union-attr]
    OpsWatch(world.rt.engine, world.rt.app_config()).run()
    assert ("auth", "lever", True) in incidents(world)
