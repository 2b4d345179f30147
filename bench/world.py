"""The simulated deployment benchmarks run on: simulators on loopback, and the bridge (database, runtime, web)."""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
from sqlalchemy import func, select
from sqlmodel import Session

from bot.config import load_config
from bot.config_model import AppConfig
from bot.demo.world import Simulators, sandbox_config, start_simulators
from bot.exports import EXPORT
from bot.handlers import handlers_for
from bot.runtime import Runtime
from bot.settings import Settings
from bot.sync import SYNC
from bot.tenants import register_tenants
from bot.web import create_web_app
from bot.worker import Outcome, Worker
from integrations.ats import AtsClient
from integrations.sandbox.base import SimulatorState
from integrations.sandbox.server import RunningServer, serve_in_thread
from integrations.sandbox.world import LINKEDIN_CUSTOMERS, SANDBOX_ENV
from storage.db import build_engine
from storage.migrate import upgrade
from storage.models import WorkItem, WorkState, table, utcnow
from storage.outbox import Outbox
from storage.queue import WorkQueue

EXAMPLE_CONFIG = Path(__file__).resolve().parents[1] / "hirebridge.example.toml"
#: Greenhouse allows ~50 requests per 30 s window; benchmarks measure calls and the bridge's own cost, not
#: how long a worker waits for the window, so the simulator's limit is raised far above any run's volume.
RAISED_ATS_LIMIT = 1_000_000
CLIENT_IDS = {c.tenant: c.client_id for c in LINKEDIN_CUSTOMERS}
MAX_SKIPS = 1_000  # a bound on fast-forwards, so a queue that never empties ends the run
DRAIN_TIMEOUT_SECONDS = 600.0
IMPORT_KINDS = (EXPORT, SYNC)  # what an import phase waits for; anything else queued is deferred work
OnOutcome = Callable[[Outcome], None] | None


@contextmanager
def simulators(*, ats_limit: int = RAISED_ATS_LIMIT) -> Iterator[Simulators]:
    """Every simulator on a free loopback port, seeded with the sandbox world, Greenhouse's limit raised."""
    sims = start_simulators()
    sims.states["greenhouse"].faults.rate_limit = ats_limit
    try:
        yield sims
    finally:
        sims.stop()


def app_config(sims: Simulators) -> AppConfig:
    """The example configuration pointed at these simulators."""
    return sandbox_config(load_config(EXAMPLE_CONFIG), sims)


def server_env(slack_url: str, config: Path, database_url: str) -> dict[str, str]:
    """A bot process's environment (`serve`, `worker`): the sandbox deployment's, Slack's API at the simulator."""
    # this process's variables are kept (PATH, …) except HireBridge's and Slack's own
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("HIREBRIDGE_", "SLACK_"))}
    return {**inherited, **SANDBOX_ENV, "HIREBRIDGE_CONFIG": str(config), "HIREBRIDGE_DATABASE_URL": database_url,
            "HIREBRIDGE_SLACK_API_URL": f"{slack_url}/api/"}


class SkippingClock:
    """UTC now, plus however far the benchmark has fast-forwarded (only ever forward)."""

    def __init__(self) -> None:
        self.skipped = timedelta(0)

    def __call__(self) -> datetime:
        return utcnow() + self.skipped

    def skip_to(self, moment: datetime) -> None:
        ahead = moment - self()
        if ahead > timedelta(0):
            self.skipped += ahead


@dataclass
class Bridge:
    """HireBridge deployed on the simulators: a runtime on a fresh SQLite file, its web app on loopback."""

    sims: Simulators
    rt: Runtime
    web: RunningServer
    clock: SkippingClock

    def ats(self, tenant: str) -> AtsClient:
        """The tenant's ATS adapter: the very one the sync uses, so its `api_calls` counts the sync's calls."""
        return self.rt.connections().ats_adapter(tenant)

    def export(self, tenant: str, candidates: list[dict[str, Any]], job: str) -> None:
        """A recruiter's One-Click Export: LinkedIn pushes it, signed, to the web app, which queues it."""
        body = {"client_id": CLIENT_IDS[tenant], "candidates": candidates, "externalJobPostingId": job}
        answer = httpx.post(f"{self.sims.url('linkedin')}/_sandbox/exports", json=body, timeout=60).json()
        if not answer.get("delivered"):
            raise RuntimeError(f"the export push was not delivered: {answer.get('outcomes')}")

    def mirror_pull(self, tenant: str) -> None:
        with Session(self.rt.engine) as session, session.begin():
            self.rt.mirror().pull(session, self.rt.app_config().tenant(tenant))

    def drain(self, on_outcome: OnOutcome = None, *, wait_for: Collection[str] = IMPORT_KINDS) -> None:
        """Work runnable items until none is left and no item of `wait_for` kinds is still queued.

        A queued item of another kind is work deferred on purpose (the push back to LinkedIn waits for
        the end of its minute window): it is left for `flush`, so a phase ends when its imports have.
        """
        worker = self._worker(on_outcome)
        deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
        while True:
            worker.drain()
            if not set(self.queued_kinds()) & set(wait_for):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"imports still queued after {DRAIN_TIMEOUT_SECONDS:.0f} s: "
                                   f"{dict(self.queued_kinds())}")
            time.sleep(0.05)  # a retried import waits out its backoff, as it would in production

    def flush(self, on_outcome: OnOutcome = None) -> None:
        """Run every deferred item, fast-forwarding the queue's clock to each one's due time instead of waiting."""
        worker = self._worker(on_outcome)
        for _ in range(MAX_SKIPS):
            worker.drain()
            due = self.rt.queue.next_due()
            if due is None:
                return
            self.clock.skip_to(due)
        raise RuntimeError(f"work still queued after {MAX_SKIPS} fast-forwards: {dict(self.queued_kinds())}")

    def queued_kinds(self) -> Counter[str]:
        t = table(WorkItem).c
        query = select(t.kind, func.count()).where(t.state == WorkState.QUEUED).group_by(t.kind)
        with self.rt.engine.connect() as conn:
            return Counter({str(kind): int(n) for kind, n in conn.execute(query).all()})

    def _worker(self, on_outcome: OnOutcome) -> Worker:
        return self.rt.worker(handlers_for(self.rt), name="bench-worker", on_outcome=on_outcome)

    def dead_items(self) -> int:
        return self.rt.queue.counts()[WorkState.DEAD]


@contextmanager
def bridge(sims: Simulators) -> Iterator[Bridge]:
    """Migrate a temporary SQLite database, build the runtime, serve the web app, register the callbacks."""
    with tempfile.TemporaryDirectory(prefix="hirebridge-bench-") as tmp:
        engine = build_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(engine)
        env = {**SANDBOX_ENV, "HIREBRIDGE_SLACK_API_URL": f"{sims.url('slack')}/api/"}
        clock = SkippingClock()
        queue = WorkQueue(engine, clock=clock)
        rt = Runtime(settings=Settings.from_env(env), environ=env, engine=engine, queue=queue,
                     outbox=Outbox(engine), config=app_config(sims))
        register_tenants(engine, rt.app_config())
        web = serve_in_thread(create_web_app(engine, exports=rt.exports()), "web")
        try:
            for tenant in CLIENT_IDS:
                rt.connections().linkedin(tenant).register_callback_url(f"{web.url}/webhooks/linkedin/{tenant}")
            yield Bridge(sims, rt, web, clock)
        finally:
            web.stop()
            rt.close()


def endpoint(method: str, path: str, query: str) -> str:
    """A request's endpoint: ids folded (`/v3/candidates/{id}`), filter names kept (`?email`, `?ids`)."""
    # `ids[3].atsCandidateId` (Rest.li batch keys) is folded to `ids`: one endpoint, whatever the batch
    filters = sorted({re.split(r"[.\[]", name)[0] for name, _ in parse_qsl(query) if name != "per_page"})
    folded = re.sub(r"/\d+", "/{id}", path)
    return f"{method} {folded}" + (f"?{','.join(filters)}" if filters else "")


def requests_by_endpoint(state: SimulatorState) -> Counter[str]:
    """What a simulator has recorded since its recorder was last cleared, counted per endpoint."""
    items = state.recorder.items()
    if len(items) >= state.recorder.limit:
        raise RuntimeError(f"{state.name} recorder is full ({state.recorder.limit}): counts would be short")
    return Counter(endpoint(r.method, r.path, r.query) for r in items)
