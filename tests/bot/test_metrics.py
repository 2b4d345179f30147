"""`GET /metrics`: the store's figures in Prometheus text format, on a fresh store and a busy one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from bot.stage_events import STAGE_ALERT
from bot.web import create_web_app
from integrations.sandbox.server import RunningServer
from storage.db import transaction
from storage.health import count_requests, record_failure, record_success
from storage.incidents import open_incident
from storage.models import OutboxMessage, OutboxState, WorkItem, WorkState, table, utcnow
from storage.outbox import add_message
from storage.queue import enqueue
from tests.conftest import Database

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def scrape(server: RunningServer) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every sample by its name and labels."""
    response = httpx.get(f"{server.url}/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    figures: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            figures.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return figures


def test_metrics_answer_on_a_fresh_store(db: Database, serve: Callable[..., RunningServer]) -> None:
    figures = scrape(serve(create_web_app(db.engine), "web"))
    assert figures["hirebridge_dead_letters"] == {(): 0.0}


def test_metrics_show_the_queue_health_budget_and_incidents(db: Database,
                                                            serve: Callable[..., RunningServer]) -> None:
    with transaction(db.engine) as s:
        for n in range(3):
            enqueue(s, "sync.prospect", {}, dedupe_key=f"s{n}", tenant_id="acme")
        enqueue(s, "ats.mirror", {}, dedupe_key="dead", tenant_id="acme")
        s.execute(update(table(WorkItem)).where(table(WorkItem).c.dedupe_key == "dead")
                  .values(state=WorkState.DEAD))
        record_success(s, "acme", "greenhouse", NOW)
        record_failure(s, "acme", "greenhouse", "Unavailable: HTTP 503", NOW)
        count_requests(s, "acme", "linkedin", 42, NOW)
        open_incident(s, tenant_id="acme", kind="backlog", summary="31 waiting", detail={}, now=NOW)
    figures = scrape(serve(create_web_app(db.engine), "web"))
    assert figures["hirebridge_queue_items"][(("kind", "sync.prospect"), ("state", "queued"))] == 3
    assert figures["hirebridge_dead_letters"] == {(): 1.0}
    assert figures["hirebridge_items_failed_total"] == {(("kind", "ats.mirror"),): 1.0}
    gh = (("integration", "greenhouse"), ("tenant", "acme"))
    assert figures["hirebridge_integration_consecutive_failures"][gh] == 1
    assert figures["hirebridge_integration_last_success_timestamp_seconds"][gh] == NOW.timestamp()
    assert figures["hirebridge_budget_used"][(("day", "2026-11-22"), ("integration", "linkedin"),
                                              ("tenant", "acme"))] == 42
    assert figures["hirebridge_open_incidents"] == {(("integration", ""), ("kind", "backlog"),
                                                     ("tenant", "acme")): 1.0}


def test_alert_latency_is_the_last_hour_of_posted_stage_alerts(db: Database,
                                                              serve: Callable[..., RunningServer]) -> None:
    now = utcnow()
    with transaction(db.engine) as s:
        # posted within the hour: 1 s … 10 s from queued to posted; an older one and a non-alert are left out
        for n in range(1, 11):
            queued = now - timedelta(minutes=30)
            add_message(s, dedupe_key=f"alert:{n}", channel="C1", payload={"text": "x"}, now=queued,
                        batch=STAGE_ALERT)
            s.execute(update(table(OutboxMessage)).where(table(OutboxMessage).c.dedupe_key == f"alert:{n}")
                      .values(state=OutboxState.SENT, sent_at=queued + timedelta(seconds=n)))
        add_message(s, dedupe_key="old", channel="C1", payload={"text": "x"}, now=now - timedelta(hours=3),
                    batch=STAGE_ALERT)
        add_message(s, dedupe_key="report", channel="C1", payload={"text": "x"}, now=now - timedelta(minutes=5))
        s.execute(update(table(OutboxMessage)).where(table(OutboxMessage).c.dedupe_key.in_(["old", "report"]))
                  .values(state=OutboxState.SENT, sent_at=now - timedelta(minutes=1)))
        s.execute(update(table(OutboxMessage)).where(table(OutboxMessage).c.dedupe_key == "old")
                  .values(sent_at=now - timedelta(hours=2)))
    figures = scrape(serve(create_web_app(db.engine), "web"))
    assert figures["hirebridge_alert_latency_seconds_count"] == {(): 10.0}
    assert figures["hirebridge_alert_latency_seconds_sum"] == {(): 55.0}
    assert figures["hirebridge_alert_latency_seconds"] == {(("quantile", "0.5"),): 6.0,
                                                          (("quantile", "0.95"),): 10.0}


def test_alert_latency_without_any_alert_has_no_quantiles(db: Database,
                                                           serve: Callable[..., RunningServer]) -> None:
    figures = scrape(serve(create_web_app(db.engine), "web"))
    assert figures["hirebridge_alert_latency_seconds_count"] == {(): 0.0}
    assert "hirebridge_alert_latency_seconds" not in figures
