"""The `alerts` run: the bot's processes, the paced webhooks, and what Slack and the bot's database recorded."""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.progress import Progress
from sqlalchemy import Engine, select

from bench import alerts_world
from bench.alerts_world import BURST_RATE, SLACK_PACE, SUSTAINED_RATE, TENANT, Change, named
from bench.harness import settle
from bench.load import Loader
from bench.servers import Process, served, started
from bench.world import app_config, bridge, server_env, simulators
from bot.demo.world import Simulators, write_config
from bot.stage_events import ATS_EVENT
from storage.models import OutboxMessage, OutboxState, WorkItem, WorkState, table

CONNECTIONS = 20  # kept-alive connections from the load process to the server
POLL_SECONDS = 0.25
SUSTAINED_WAIT_SECONDS = 60.0  # for the sustained changes to reach Slack before the burst starts
IDLE_POLLS = 8  # consecutive polls with nothing left in the bot's queue or outbox: no more posts will come
SUSTAINED, BURST = "sustained", "burst"


def burst_wait(changes: int) -> float:
    """How long the burst may take to drain: three times its changes at Slack's pace, and at least a minute."""
    return max(60.0, 3 * changes / SLACK_PACE)


# --- what the bot did ------------------------------------------------------------------------------------------

@dataclass
class Bot:
    """When the server queued each change's work item and the worker its alert; work and messages per state."""

    work_queued: dict[str, float] = field(default_factory=dict)  # event id -> epoch seconds
    alert_queued: dict[str, float] = field(default_factory=dict)  # event id -> epoch seconds (its first alert)
    outbox: Counter[str] = field(default_factory=Counter)  # messages per state
    work: Counter[tuple[str, str]] = field(default_factory=Counter)  # work items per kind and state


def bot_records(engine: Engine) -> Bot:
    """Read from the bot's database, by the dedupe keys `ats_webhooks` and `stage_events` give them."""
    work, box = table(WorkItem).c, table(OutboxMessage).c
    bot = Bot()
    with engine.connect() as conn:
        for key, created in conn.execute(select(work.dedupe_key, work.created_at).where(work.kind == ATS_EVENT)):
            bot.work_queued[str(key).rsplit(":", 1)[-1]] = created.timestamp()
        bot.work.update((str(kind), str(state)) for kind, state in conn.execute(select(work.kind, work.state)))
        for key, created, state in conn.execute(select(box.dedupe_key, box.created_at, box.state)):
            bot.outbox[str(state)] += 1
            parts = str(key).split(":")  # alert:{tenant}:{vendor}:{event id}:{channel}
            if parts[0] == "alert" and len(parts) == 5:
                bot.alert_queued.setdefault(parts[3], created.timestamp())
    return bot


def is_idle(engine: Engine) -> bool:
    """Nothing left that could still post an alert: no stage change queued or running, no message pending."""
    work, box = table(WorkItem).c, table(OutboxMessage).c
    unfinished = work.state.in_([WorkState.QUEUED, WorkState.RUNNING])
    busy_work = select(work.id).where(work.kind == ATS_EVENT, unfinished)
    busy_box = select(box.id).where(box.state.in_([OutboxState.PENDING, OutboxState.SENDING]))
    with engine.connect() as conn:
        return conn.execute(busy_work.limit(1)).first() is None and conn.execute(busy_box.limit(1)).first() is None


# --- the load --------------------------------------------------------------------------------------------------

@dataclass
class Run:
    """What was sent (each change's webhook: when it went out, its answer) and what Slack got."""

    changes: list[Change]
    sent_at: dict[int, float] = field(default_factory=dict)
    statuses: list[int] = field(default_factory=list)
    ack_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    posts: Counter[int] = field(default_factory=Counter)  # chat.postMessage calls per answer status
    history_calls: int = 0
    bot: Bot = field(default_factory=Bot)
    logged: list[str] = field(default_factory=list)

    def of(self, phase: str) -> list[Change]:
        return [c for c in self.changes if c.phase == phase]


@dataclass
class Load:
    """Paced webhooks from the load process; Slack's record read back until every change is in it."""

    sims: Simulators
    applications: dict[int, int]
    url: str
    loader: Loader
    http: httpx.Client
    engine: Engine
    progress: Progress
    run: Run

    def send(self, changes: Sequence[Change], rate: float, label: str) -> None:
        task = self.progress.add_task(f"alerts: {label}: {len(changes)} webhooks at {rate:g}/s", total=None)
        timings = self.loader.burst(alerts_world.webhooks(self.sims, changes, self.applications, self.url, rate))
        self.run.sent_at.update({c.index: at for c, at in zip(changes, timings.started_at, strict=True)})
        self.run.statuses += timings.statuses
        self.run.ack_ms += timings.ms
        self.run.errors += timings.errors
        self.progress.update(task, total=len(changes), completed=len(changes))

    def messages(self) -> list[dict[str, Any]]:
        return list(self.http.get(f"{self.sims.url('slack')}/_sandbox/messages").json()["messages"])

    def await_posted(self, changes: Sequence[Change], timeout: float, label: str) -> None:
        """Until every change is named in Slack, the bot has nothing left to post, or `timeout` passes."""
        wanted = {c.index for c in changes}
        task = self.progress.add_task(f"alerts: {label}: changes in Slack", total=len(wanted))
        deadline, idle = time.monotonic() + timeout, 0
        while True:
            posted = wanted & {n for m in self.messages() for n in named(m)}
            self.progress.update(task, completed=len(posted))
            idle = idle + 1 if is_idle(self.engine) else 0
            if posted == wanted or idle >= IDLE_POLLS or time.monotonic() > deadline:
                settle(self.progress, task)
                return
            time.sleep(POLL_SECONDS)


def run_alerts(sustained: list[Change], burst: list[Change], progress: Progress) -> Run:
    """Seed, serve, run the worker, send the sustained load then the burst; read back what Slack got."""
    run = Run([*sustained, *burst])
    with simulators() as sims, bridge(sims) as b, tempfile.TemporaryDirectory(prefix="hirebridge-alerts-") as tmp:
        applications = alerts_world.seed(sims, run.changes)
        b.mirror_pull(TENANT)  # the bot knows every application: the handler never reads one from the ATS
        if (held := alerts_world.known(b.rt.engine, applications.values())) != len(applications):
            raise RuntimeError(f"the mirror pull stored {held} of {len(applications)} applications")
        config = Path(tmp) / "hirebridge.toml"
        write_config(alerts_world.with_routes(app_config(sims)), config)
        env = {**server_env(sims.url("slack"), config, str(b.rt.engine.url)), "PYTHONUNBUFFERED": "1"}
        with ExitStack() as stack:
            server = stack.enter_context(served("serve", [sys.executable, "-m", "bot.cli", "serve"], env,
                                                Path(tmp) / "serve.log"))
            worker_argv = [sys.executable, "-m", "bot.cli", "worker", "--no-scheduler"]  # only the load's work
            worker = stack.enter_context(started("worker", worker_argv, env,
                                                 Path(tmp) / "worker.log"))
            http = stack.enter_context(httpx.Client(timeout=20))
            loader = stack.enter_context(Loader(CONNECTIONS))
            server.wait_until_up(http)
            worker.wait_for_line(" started")
            load = Load(sims, applications, f"{server.url}/webhooks/greenhouse/{TENANT}", loader, http,
                        b.rt.engine, progress, run)
            load.send(sustained, SUSTAINED_RATE, SUSTAINED)
            load.await_posted(sustained, SUSTAINED_WAIT_SECONDS, SUSTAINED)
            load.send(burst, BURST_RATE, BURST)
            load.await_posted(burst, burst_wait(len(burst)), BURST)
            run.messages = load.messages()
            run.bot = bot_records(b.rt.engine)
        run.logged = logged_errors([server, worker])  # once they have stopped: shutting down is part of the run
        record(run, sims)
    return run


def logged_errors(processes: Sequence[Process]) -> list[str]:
    return [f"{p.name}: {line}" for p in processes for line in p.logged_errors()]


def record(run: Run, sims: Simulators) -> None:
    """The Slack simulator's answers to the bot's posts (429s among them) and its history look-ups."""
    for r in sims.states["slack"].recorder.items():
        if r.path == "/api/chat.postMessage":
            run.posts[r.status or 0] += 1
        elif r.path == "/api/conversations.history":
            run.history_calls += 1
