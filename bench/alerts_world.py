"""The `alerts` benchmark's world: ten alert routes to ten channels, the applications they move, the webhooks."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func, select

from bench.load import Request
from bench.people import Kind, Person
from bot.config_model import AlertRoute, AppConfig
from bot.demo.world import Simulators
from integrations.sandbox.greenhouse import GreenhouseState
from integrations.sandbox.greenhouse_records import Account
from integrations.sandbox.greenhouse_webhooks import application_event, encode, event_headers
from integrations.sandbox.slack import SlackState
from integrations.sandbox.world import ACME_GREENHOUSE, Job, Stage
from storage.models import Application, table

TENANT = "acme"
SUSTAINED_RATE, SUSTAINED_SECONDS, QUICK_SUSTAINED_SECONDS = 5, 30, 5  # webhooks/s over the ten channels
BURST_RATE, BURST_SECONDS, QUICK_BURST_SECONDS = 20, 10, 1  # webhooks/s into one channel
SLACK_PACE = 1.0  # Slack's chat.postMessage limit: about one message per second per channel
ACTION = "candidate_stage_change"
STAGES_PER_JOB = 5  # the stages the example config's stage map names (job 4402's sixth is left unmapped)
#: how a change is recognised in a message: the candidate's name, "Sample Candidate 00042"
NAMED = re.compile(rf"{Person.first_name} Candidate (\d{{5}})\b")


@dataclass(frozen=True)
class Route:
    """An alert route to a channel of its own: one stage of one job; its applications start on another stage."""

    channel: str
    job: Job
    stage: Stage
    start: Stage  # where the applications this route alerts on wait before the change

    @property
    def label(self) -> str:
        return f"{self.job.id} → {self.stage.name}"


def routes() -> tuple[Route, ...]:
    """Ten routes: each mapped stage of jobs 4401 and 4402; a change alerts exactly one of them."""
    found: list[Route] = []
    for job in ACME_GREENHOUSE.jobs:
        stages = job.stages[:STAGES_PER_JOB]
        for k, stage in enumerate(stages):
            found.append(Route(f"C0ALERTS{len(found)}", job, stage, stages[(k + 1) % len(stages)]))
    return tuple(found)


ROUTES = routes()
BURST_ROUTE = ROUTES[2]  # job 4401 → Phone Screen


@dataclass(frozen=True)
class Change:
    """One stage change the benchmark sends: whose application, the route it alerts, its phase and event id."""

    index: int
    route: Route
    phase: str
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def person(self) -> Person:
        return Person(self.index, Kind.NEW)


def plan(sustained: int, burst: int) -> tuple[list[Change], list[Change]]:
    """`sustained` changes round-robin over the routes, then `burst` changes all on the burst route."""
    first = [Change(i, ROUTES[(i - 1) % len(ROUTES)], "sustained") for i in range(1, sustained + 1)]
    second = [Change(i, BURST_ROUTE, "burst") for i in range(sustained + 1, sustained + burst + 1)]
    return first, second


def named(message: dict[str, Any]) -> set[int]:
    """The changes a posted message names (by candidate), in its text or its blocks."""
    return {int(n) for n in NAMED.findall(f"{message.get('text', '')} {message.get('blocks', '')}")}


# --- the world -------------------------------------------------------------------------------------------------

def greenhouse(sims: Simulators) -> tuple[GreenhouseState, Account]:
    state = sims.states["greenhouse"]
    assert isinstance(state, GreenhouseState)
    return state, state.account(ACME_GREENHOUSE.client_id)


def seed(sims: Simulators, changes: Iterable[Change]) -> dict[int, int]:
    """A candidate per change with an application on its route's job, waiting on the route's start stage.

    Written into the Greenhouse simulator (as recruiters would have); returns change index → application id.
    """
    state, account = greenhouse(sims)
    applications = {}
    with state.lock:
        for change in changes:
            person, route = change.person, change.route
            _, application = account.create_candidate({
                "first_name": person.first_name, "last_name": person.last_name,
                "application": {"job_id": int(route.job.id), "initial_stage_id": int(route.start.id)}})
            assert application is not None
            applications[change.index] = int(application["id"])
    slack = sims.states["slack"]
    assert isinstance(slack, SlackState)
    with slack.lock:
        slack.channels.update({r.channel: f"bench-alerts-{r.job.id}-{r.stage.id}" for r in ROUTES})
    return applications


def known(engine: Engine, applications: Iterable[int]) -> int:
    """How many of these Greenhouse applications the bot's database holds."""
    c = table(Application).c
    ids = [str(a) for a in applications]
    query = select(func.count()).where(c.tenant_id == TENANT, c.ats_application_id.in_(ids))
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def with_routes(config: AppConfig) -> AppConfig:
    """The configuration with the tenant's alert routes replaced by the benchmark's ten."""
    alerts = [AlertRoute(channel=r.channel, jobs=[r.job.id], stages=[r.stage.name]) for r in ROUTES]
    tenants = [t.model_copy(update={"alerts": alerts}) if t.id == TENANT else t for t in config.tenants]
    return config.model_copy(update={"tenants": tenants})


def webhooks(sims: Simulators, changes: Sequence[Change], applications: dict[int, int], url: str,
             rate: float) -> list[Request]:
    """Move each application in Greenhouse and build the signed webhook Greenhouse sends for it, `1/rate` apart."""
    state, account = greenhouse(sims)
    requests = []
    for n, change in enumerate(changes):
        route = change.route
        with state.lock:
            application = account.move(applications[change.index], {
                "from_stage_id": int(route.start.id), "to_stage_id": int(route.stage.id)})
            body = encode(application_event(account, ACTION, application))
        headers = event_headers(account.webhook_secret, body, change.event_id)
        requests.append(Request(url, body.decode("ascii"), headers, at=n / rate))
    return requests
