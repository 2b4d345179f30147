"""An end-to-end world for tests: the simulators, a runtime on the test database, the web app serving pushes."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session, select

from bot.config import load_config
from bot.demo.script import EXAMPLE_CONFIG
from bot.demo.world import Simulators, sandbox_config, start_simulators, write_config
from bot.handlers import handlers_for
from bot.runtime import Runtime
from bot.settings import Settings
from bot.slack.notifier import Notifier, RelayReport
from bot.sync import SYNC
from bot.tenants import register_tenants
from bot.web import create_web_app
from bot.worker import Outcome, Worker
from integrations.ats import AtsPerson
from integrations.sandbox.server import RunningServer, serve_in_thread
from integrations.sandbox.world import LINKEDIN_CUSTOMERS, SANDBOX_ENV
from storage.models import WorkItem
from storage.outbox import Outbox
from storage.queue import RetryPolicy, WorkQueue
from tests.conftest import Database

CLIENT_IDS = {c.tenant: c.client_id for c in LINKEDIN_CUSTOMERS}
SEATS = {c.tenant: c.seats[0] for c in LINKEDIN_CUSTOMERS}


@dataclass
class World:
    sims: Simulators
    rt: Runtime
    web: RunningServer

    def export(self, tenant: str, candidates: list[dict[str, Any]], job: str | None = None) -> dict[str, Any]:
        """A recruiter's One-Click Export: LinkedIn pushes it (signed) to our web server."""
        body: dict[str, Any] = {"client_id": CLIENT_IDS[tenant], "candidates": candidates}
        if job:
            body["externalJobPostingId"] = job
        answer = httpx.post(f"{self.sims.url('linkedin')}/_sandbox/exports", json=body, timeout=30).json()
        assert answer["delivered"], answer
        return dict(answer)

    def inmails(self, tenant: str, events: list[dict[str, Any]]) -> None:
        httpx.post(f"{self.sims.url('linkedin')}/_sandbox/conversations",
                   json={"seat": SEATS[tenant], "events": events}, timeout=10).raise_for_status()

    def cli_env(self, db: Database, config_path: Path) -> dict[str, str]:
        """The environment a `hirebridge` command needs to act on this world (config written to a file)."""
        write_config(self.rt.app_config(), config_path)
        url = f"{db.url}?options=-csearch_path%3D{db.schema}" if db.schema else db.url
        return {**SANDBOX_ENV, "HIREBRIDGE_CONFIG": str(config_path), "HIREBRIDGE_DATABASE_URL": url,
                "HIREBRIDGE_SLACK_API_URL": f"{self.sims.url('slack')}/api/"}

    def worker(self) -> Worker:
        return self.rt.worker(handlers_for(self.rt), name="test-worker")

    def drain(self) -> list[Outcome]:
        return self.worker().drain()

    def relay(self) -> RelayReport:
        """Post what the outbox holds (channel messages and command answers) to the Slack simulator."""
        return Notifier(self.rt.outbox, self.rt.slack()).relay_once(limit=100)

    def people(self, tenant: str) -> list[AtsPerson]:
        """Everyone in the tenant's ATS, read through the vendor API."""
        return list(self.rt.connections().ats_adapter(tenant).changed_since(None))


def build_world(db: Database) -> Iterator[World]:
    sims = start_simulators()
    env = {**SANDBOX_ENV, "HIREBRIDGE_SLACK_API_URL": f"{sims.url('slack')}/api/"}
    policy = RetryPolicy(base_seconds=0.05, cap_seconds=0.2)
    queue = WorkQueue(db.engine, policy=policy)
    rt = Runtime(settings=Settings.from_env(env), environ=env, engine=db.engine, queue=queue,
                 outbox=Outbox(db.engine, policy=policy),
                 config=sandbox_config(load_config(EXAMPLE_CONFIG), sims))
    sims.states["greenhouse"].faults.rate_limit = 10_000  # tests of the limiter itself live with the simulator
    register_tenants(db.engine, rt.app_config())
    web = serve_in_thread(create_web_app(db.engine, exports=rt.exports()), "web")
    for tenant in CLIENT_IDS:
        rt.connections().linkedin(tenant).register_callback_url(f"{web.url}/webhooks/linkedin/{tenant}")
    try:
        yield World(sims, rt, web)
    finally:
        web.stop()
        rt.close()
        sims.stop()


def sync_states(world: World) -> Counter[str]:
    """How many sync items are in each state (other kinds, such as the LinkedIn push-back, left out)."""
    with Session(world.rt.engine) as s:
        return Counter(str(i.state) for i in s.exec(select(WorkItem).where(WorkItem.kind == SYNC)).all())


def now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def wait_until(predicate: Callable[[], object], what: str, seconds: float = 30.0) -> None:
    """Poll `predicate` until it holds; fail naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)
