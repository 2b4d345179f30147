"""`GET /metrics`: Prometheus figures read from the store at scrape time (so every process reports the same).

The queue, the outbox, the integrations' health and budgets, and open incidents all live in the database that
every `serve` and `worker` process shares; a collector that reads it on each scrape needs no multi-process
bookkeeping, and a scrape of any `serve` process gives the whole picture.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from storage.health import health_of
from storage.incidents import open_incidents
from storage.models import OutboxMessage, WorkItem, WorkState, table

WORK, OUTBOX = table(WorkItem).c, table(OutboxMessage).c


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
            for row in health_of(session):
                labels = [row.tenant_id, row.integration]
                failures.add_metric(labels, row.consecutive_failures)
                if row.last_success_at is not None:
                    success.add_metric(labels, row.last_success_at.astimezone(UTC).timestamp())
                if row.budget_day:
                    budget.add_metric([*labels, row.budget_day], row.budget_used)
            yield from (failures, success, budget)
            incidents = GaugeMetricFamily("hirebridge_open_incidents", "Open ops incidents",
                                          labels=["tenant", "kind", "integration"])
            counted: dict[tuple[str, str, str], int] = {}
            for incident in open_incidents(session):
                key = (incident.tenant_id, incident.kind, incident.integration)
                counted[key] = counted.get(key, 0) + 1
            for key, n in counted.items():
                incidents.add_metric(list(key), n)
            yield incidents


def metrics_registry(engine: Engine) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(engine))
    return registry
