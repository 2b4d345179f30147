"""`GET /metrics`: Prometheus figures read from the store at scrape time (so every process reports the same).

The queue, the outbox, the integrations' health and budgets, and open incidents all live in the database that
every `serve` and `worker` process shares; a collector that reads it on each scrape needs no multi-process
bookkeeping, and a scrape of any `serve` process gives the whole picture.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from bot.stage_events import STAGE_ALERT
from storage.health import health_of
from storage.incidents import open_incidents
from storage.models import OutboxMessage, OutboxState, WorkItem, WorkState, table, utcnow

WORK, OUTBOX = table(WorkItem).c, table(OutboxMessage).c
LATENCY_WINDOW = timedelta(hours=1)
LATENCY_SAMPLE = 10_000  # the newest posts at most: a scrape stays cheap however busy the hour was


class StoreCollector(Collector):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        with Session(self.engine) as session:
            depth = GaugeMetricFamily("hirebridge_queue_items", "Work items by state and kind",
                                      labels=["state", "kind"])
            processed = CounterMetricFamily("hirebridge_items_processed", "Work items finished, by kind",
                                            labels=["kind"])
            failed = CounterMetricFamily("hirebridge_items_failed", "Work items dead-lettered, by kind",
                                         labels=["kind"])
            for state, kind, n in session.execute(select(WORK.state, WORK.kind, func.count())
                                                  .group_by(WORK.state, WORK.kind)):
                depth.add_metric([str(state), str(kind)], int(n))
                if state == WorkState.DONE:
                    processed.add_metric([str(kind)], int(n))
                elif state == WorkState.DEAD:
                    failed.add_metric([str(kind)], int(n))
            yield from (depth, processed, failed)
            dead = session.execute(select(func.count()).where(WORK.state == WorkState.DEAD)).scalar_one()
            yield GaugeMetricFamily("hirebridge_dead_letters", "Work items in the dead-letter queue", value=dead)
            outbox = GaugeMetricFamily("hirebridge_outbox_messages", "Slack messages by state", labels=["state"])
            for state, n in session.execute(select(OUTBOX.state, func.count()).group_by(OUTBOX.state)):
                outbox.add_metric([str(state)], int(n))
            yield outbox
            failures = GaugeMetricFamily("hirebridge_integration_consecutive_failures",
                                         "Failed calls in a row per tenant and integration",
                                         labels=["tenant", "integration"])
            success = GaugeMetricFamily("hirebridge_integration_last_success_timestamp_seconds",
                                        "When the integration last worked (sync lag = now - this)",
                                        labels=["tenant", "integration"])
            budget = GaugeMetricFamily("hirebridge_budget_used", "Requests counted against today's budget",
                                       labels=["tenant", "integration", "day"])
            calls = CounterMetricFamily("hirebridge_api_calls", "API calls made, per tenant and integration",
                                        labels=["tenant", "integration"])
            errors = CounterMetricFamily("hirebridge_api_errors", "API calls that failed (unreachable, 5xx, 429, "
                                         "401/403), per tenant and integration", labels=["tenant", "integration"])
            for row in health_of(session):
                labels = [row.tenant_id, row.integration]
                calls.add_metric(labels, row.calls_total)
                errors.add_metric(labels, row.errors_total)
                failures.add_metric(labels, row.consecutive_failures)
                if row.last_success_at is not None:
                    success.add_metric(labels, row.last_success_at.astimezone(UTC).timestamp())
                if row.budget_day:
                    budget.add_metric([*labels, row.budget_day], row.budget_used)
            yield from (failures, success, budget, calls, errors)
            yield alert_latency(session, utcnow())
            incidents = GaugeMetricFamily("hirebridge_open_incidents", "Open ops incidents",
                                          labels=["tenant", "kind", "integration"])
            counted: dict[tuple[str, str, str], int] = {}
            for incident in open_incidents(session):
                key = (incident.tenant_id, incident.kind, incident.integration)
                counted[key] = counted.get(key, 0) + 1
            for key, n in counted.items():
                incidents.add_metric(list(key), n)
            yield incidents


def alert_latency(session: Session, now: datetime) -> Metric:
    """Stage alerts posted in the last hour: seconds from the change being recorded (the alert queued in the
    same transaction) to Slack accepting the post, as a summary with the median and the 95th percentile."""
    since = now - LATENCY_WINDOW
    rows = session.execute(select(OUTBOX.created_at, OUTBOX.sent_at).where(
        OUTBOX.batch == STAGE_ALERT, OUTBOX.state == OutboxState.SENT, OUTBOX.sent_at >= since)
        .order_by(OUTBOX.sent_at.desc()).limit(LATENCY_SAMPLE)).all()
    seconds = sorted(max(0.0, (sent - created).total_seconds()) for created, sent in rows)
    family = SummaryMetricFamily("hirebridge_alert_latency_seconds",
                                 "Stage change recorded to alert posted, over the last hour",
                                 count_value=len(seconds), sum_value=sum(seconds))
    for q in (0.5, 0.95):
        if seconds:
            family.add_sample("hirebridge_alert_latency_seconds", {"quantile": str(q)},
                              seconds[min(len(seconds) - 1, int(q * len(seconds)))])
    return family


def metrics_registry(engine: Engine) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(engine))
    return registry
