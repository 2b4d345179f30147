"""`hirebridge demo`: a narrated run on the embedded default (SQLite in a temp dir + the sandbox simulators)."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from sqlmodel import Session, col, select

from bot.cli_stats import print_kpis
from bot.config import check_config, format_report, load_config
from bot.demo.render import show_messages
from bot.demo.scenes_dedupe import scene_duplicates
from bot.demo.scenes_slack import scene_slack_commands
from bot.demo.scenes_stages import scene_stage_alerts
from bot.demo.scenes_sync import scene_calls, scene_exports, scene_inmail
from bot.demo.world import Simulators, sandbox_config, start_simulators
from bot.domain.prospect import NeedsAttention, Prospect
from bot.handlers import handlers_for
from bot.health import CHECK, REPORT, SLACK_SCOPE
from bot.kpis import STATS_DAYS, compute_kpis
from bot.ops_watch import OpsWatch
from bot.runtime import Runtime, build_runtime
from bot.slack.notifier import Notifier
from bot.sync import Outcome
from bot.tenants import register_tenants
from bot.worker import Handler, Worker
from bot.worker import Outcome as WorkOutcome
from integrations.sandbox.server import RunningServer
from integrations.sandbox.world import SANDBOX_ENV
from storage.db import transaction
from storage.health import health_of
from storage.migrate import head_revision, upgrade
from storage.models import DuplicateProposal, Incident, utcnow
from storage.queue import RetryPolicy, enqueue

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "hirebridge.example.toml"


@dataclass
class Tally:
    """What the run did, for the closing summary."""

    outcomes: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    dead_letters: int = 0
    replayed: int = 0
    slack_messages: int = 0

    def add(self, outcome: WorkOutcome) -> None:
        self.outcomes[outcome.state.value if outcome.state else "lease lost"] += 1


@dataclass
class Demo:
    console: Console
    rt: Runtime
    sims: Simulators
    tally: Tally = field(default_factory=Tally)
    extra_servers: list[RunningServer] = field(default_factory=list)
    synced: list[tuple[str, Prospect, Outcome | NeedsAttention]] = field(default_factory=list)
    handler_overrides: dict[str, Handler] = field(default_factory=dict)
    ats_calls_before: dict[str, int] = field(default_factory=dict)
    web_url: str = ""  # the bot's web server (`hirebridge serve`), once started
    slack_url: str = ""  # the bot's web server with /slack/events, once the Slack scene started it

    def step(self, title: str, story: str) -> None:
        self.console.print()
        self.console.rule(f"[bold]{title}")
        self.console.print(story, style="italic")

    def worker(self) -> Worker:
        handlers = {**handlers_for(self.rt), **self.handler_overrides}
        return self.rt.worker(handlers, name="demo-worker", on_outcome=self.tally.add)

    def drain(self) -> list[WorkOutcome]:
        """Run the worker until nothing is runnable, narrating each outcome."""
        outcomes = self.worker().drain()
        for outcome in outcomes:
            item = outcome.item
            target = "/".join(str(item.payload[k]) for k in ("tenant", "integration") if k in item.payload)
            what = f"{item.kind} {target}"
            state = outcome.state.value if outcome.state else "lease lost"
            style = {"done": "green", "queued": "yellow", "dead": "red"}.get(state, "white")
            note = f" — {outcome.error}" if outcome.error else ""
            self.console.print(f"  [{style}]{state:>6}[/{style}]  {what} (attempt {item.attempts}){note}",
                               highlight=False)
            self.tally.retries += outcome.state is not None and outcome.state.value == "queued"
            self.tally.dead_letters += outcome.state is not None and outcome.state.value == "dead"
        return outcomes

    def relay(self) -> None:
        report = Notifier(self.rt.outbox, self.rt.slack()).relay_once(limit=100)
        self.tally.slack_messages += report.sent

    def flush_outbox(self, timeout: float = 10.0) -> None:
        """Relay until nothing waits: a channel's burst is paced by Slack (429, Retry-After), so wait for it."""
        deadline = time.monotonic() + timeout
        while self.rt.outbox.counts()["pending"] and time.monotonic() < deadline:
            time.sleep(0.25)
            self.relay()

    def enqueue(self, kind: str, payload: dict[str, str], key: str) -> None:
        with transaction(self.rt.engine) as session:
            enqueue(session, kind, payload, dedupe_key=key, tenant_id=payload.get("tenant"))

    def wait_until_runnable(self, timeout: float = 10.0) -> None:
        """Sleep until the next queued retry is due (retries back off for real, in small demo steps)."""
        due = self.rt.queue.next_due()
        if due is not None:
            wait = (due - self.rt.queue.clock()).total_seconds()
            time.sleep(max(0.0, min(wait, timeout)) + 0.01)


def run_demo(console: Console, *, keep: bool = False) -> int:
    """Run every scene; returns the exit code (0 when every scene ended as it should)."""
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="hirebridge-demo-"))
    console.rule("[bold blue]HireBridge demo — the embedded default")
    console.print(f"SQLite in {workdir}, the sandbox simulators on loopback, {EXAMPLE_CONFIG.name}.")
    sims = start_simulators()
    env = {**SANDBOX_ENV, "HIREBRIDGE_DATABASE_URL": f"sqlite:///{workdir / 'hirebridge.db'}",
           "HIREBRIDGE_CONFIG": str(EXAMPLE_CONFIG), "HIREBRIDGE_SLACK_API_URL": f"{sims.url('slack')}/api/"}
    rt = build_runtime(env, retry=RetryPolicy(base_seconds=0.4, cap_seconds=2.0))
    try:
        demo = Demo(console, rt, sims)
        try:
            ok = all(scene(demo) for scene in SCENES)
            summary(demo, time.monotonic() - started, ok)
        finally:
            for server in demo.extra_servers:
                server.stop()
        return 0 if ok else 1
    finally:
        rt.close()
        sims.stop()
        if keep:
            console.print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def scene_config(demo: Demo) -> bool:
    demo.step("1. Configuration", "One install serves a Greenhouse customer and an agency with two Lever clients.")
    report = check_config(EXAMPLE_CONFIG, demo.rt.environ)
    for line in format_report(report, EXAMPLE_CONFIG):
        demo.console.print(f"  {line}", highlight=False, markup=False)
    config = load_config(EXAMPLE_CONFIG)
    table = Table(title="Tenants")
    for column in ("tenant", "ATS", "agency", "jobs", "projects", "alert routes", "ops channel"):
        table.add_column(column)
    for t in config.tenants:
        agency = config.agency_of(t.id)
        table.add_row(t.id, t.ats, agency.name if agency else "-", str(len(t.jobs)), str(len(t.projects)),
                      str(len(t.alerts)), t.ops_channel)
    demo.console.print(table)
    demo.rt.config = sandbox_config(config, demo.sims)
    return report.ok


def scene_setup(demo: Demo) -> bool:
    demo.step("2. Sandbox world and database", "Simulators follow the vendors' documented contracts.")
    table = Table(title="Simulators")
    table.add_column("service")
    table.add_column("URL")
    for name, server in demo.sims.servers.items():
        table.add_row(name, server.url)
    demo.console.print(table)
    upgrade(demo.rt.engine)
    register_tenants(demo.rt.engine, demo.rt.app_config())
    demo.console.print(f"database migrated to revision {head_revision()}; tenants registered")
    return True


def scene_connect(demo: Demo) -> bool:
    demo.step("3. Morning connection check",
              "The worker proves every integration answers (OAuth client credentials, Basic auth, auth.test) "
              "and posts a summary to each tenant's ops channel through the outbox.")
    with transaction(demo.rt.engine) as session:
        demo.rt.health_checks().enqueue_checks(session, run="morning")
    outcomes = demo.drain()
    report_all(demo, "morning")
    return bool(outcomes) and all(o.state and o.state.value == "done" for o in outcomes)


def report_all(demo: Demo, run: str, tenants: list[str] | None = None) -> None:
    """Queue a health report per tenant (or the named ones), run it, and relay the messages to Slack."""
    for tenant_id in tenants or [t.id for t in demo.rt.app_config().tenants]:
        demo.enqueue(REPORT, {"tenant": tenant_id}, f"report:{run}:{tenant_id}")
    demo.drain()
    demo.relay()


def scene_outage(demo: Demo) -> bool:
    demo.step("10. Greenhouse outage",
              "Greenhouse answers 503. The check fails, is retried with exponential backoff and jitter, "
              "and succeeds once Greenhouse is back. Nothing is lost. The ops watch (a scheduled job) opens one "
              "incident for the failing calls — the demo warns after 2 in a row, production after 10 — says "
              "nothing more while it lasts, and posts one resolution when Greenhouse works again. It also points "
              "ops at the records still waiting for a project mapping since the exports earlier.")
    config = demo.rt.app_config()
    watch = OpsWatch(demo.rt.engine, config.model_copy(update={
        "bot": config.bot.model_copy(update={"consecutive_error_threshold": 2})}))
    faults = demo.sims.states["greenhouse"].faults
    faults.outage = True
    demo.enqueue(CHECK, {"tenant": "acme", "integration": "greenhouse"}, "check:outage:acme:greenhouse")
    failures = 0
    for _ in range(2):
        failures += sum(o.state is not None and o.state.value == "queued" for o in demo.drain())
        demo.wait_until_runnable()
    show_health(demo, "acme")
    report_all(demo, "outage", ["acme"])
    watched = [watch.run(), watch.run()]  # the second check says nothing new
    show_incidents(demo)
    faults.outage = False
    demo.console.print("  Greenhouse is back.", style="bold")
    demo.wait_until_runnable()
    recovered = [o for o in demo.drain() if o.state and o.state.value == "done"]
    report_all(demo, "recovered", ["acme"])
    watched.append(watch.run())
    show_incidents(demo)
    demo.flush_outbox()
    with Session(demo.rt.engine) as session:
        errors = [i for i in session.exec(select(Incident)) if i.kind == "api_errors"]
    return (failures >= 2 and len(recovered) == 1 and watched[1] == (0, 0) and watched[2][1] >= 1
            and len(errors) == 1 and errors[0].resolved_at is not None)


def show_incidents(demo: Demo) -> None:
    with Session(demo.rt.engine) as session:
        rows = session.exec(select(Incident).order_by(col(Incident.id))).all()
    for row in rows:
        state = f"resolved {row.resolved_at:%H:%M:%S}" if row.resolved_at else "open"
        demo.console.print(f"  incident {row.kind} {row.tenant_id}/{row.integration or '-'}: {state} — "
                           f"{row.summary}", highlight=False)


def scene_dead_letter(demo: Demo) -> bool:
    demo.step("11. A revoked credential",
              "Lever refuses globex's API key. Retrying cannot fix that: the item goes straight to the "
              "dead-letter queue with its error, ops fix the key, and `hirebridge dlq retry` replays it.")
    faults = demo.sims.states["lever"].faults
    faults.reject_credentials = True
    demo.enqueue(CHECK, {"tenant": "globex", "integration": "lever"}, "check:revoked:globex:lever")
    demo.drain()
    dead = demo.rt.queue.dead()
    table = Table(title="hirebridge dlq list")
    for column in ("id", "kind", "tenant", "attempts", "error"):
        table.add_column(column)
    for item in dead:
        table.add_row(str(item.id), item.kind, item.tenant_id or "-", str(item.attempts), item.last_error or "")
    demo.console.print(table)
    report_all(demo, "revoked", ["globex"])
    faults.reject_credentials = False
    demo.tally.replayed = demo.rt.queue.retry_dead([item.id for item in dead if item.id is not None])
    demo.console.print(f"  key fixed; dlq retry requeued {demo.tally.replayed} item(s)", style="bold")
    replayed = demo.drain()
    report_all(demo, "key-fixed", ["globex"])
    return len(dead) == 1 and [o.state.value if o.state else "" for o in replayed] == ["done"]


def scene_slack(demo: Demo) -> bool:
    demo.step("12. What Slack saw", "Every message the bot posted, as the sandbox Slack workspace recorded it.")
    demo.flush_outbox()
    response = httpx.get(f"{demo.sims.url('slack')}/_sandbox/messages", timeout=10)
    messages = response.json()["messages"]
    slack: Any = demo.sims.states["slack"]
    dms = {im: slack.users[user] for im, user in slack.ims.items()}
    show_messages(demo.console, messages, slack.channels, dms)
    # one morning report per tenant, two stage alerts, a recruiter's direct message and an unmapped-stage notice,
    # the merge proposals the scan posted, one during and one after each of the two outages, and one message for
    # each incident the ops watch opened and resolved
    with Session(demo.rt.engine) as session:
        proposals = len(session.exec(select(DuplicateProposal).where(DuplicateProposal.posted)).all())
        incidents = session.exec(select(Incident)).all()
    said = len(incidents) + sum(i.resolved_at is not None for i in incidents)
    return len(messages) == len(demo.rt.app_config().tenants) + 4 + proposals + 4 + said


def show_health(demo: Demo, tenant_id: str) -> None:
    table = Table(title=f"Integration health — {tenant_id}")
    for column in ("integration", "consecutive failures", "last success", "last error"):
        table.add_column(column)
    with Session(demo.rt.engine) as session:
        for row in health_of(session):
            if row.tenant_id in (tenant_id, SLACK_SCOPE):
                last = f"{row.last_success_at:%H:%M:%S}" if row.last_success_at else "-"
                table.add_row(row.integration, str(row.consecutive_failures), last, row.last_error or "")
    demo.console.print(table)


def summary(demo: Demo, elapsed: float, ok: bool) -> None:
    demo.console.print()
    demo.console.rule("[bold]Summary")
    table = Table(show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    counts = demo.rt.queue.counts()
    rows = [
        ("work items done", counts["done"]), ("retries after failures", demo.tally.retries),
        ("dead-lettered, then replayed", f"{demo.tally.dead_letters} / {demo.tally.replayed}"),
        ("still queued / dead now", f"{counts['queued']} / {counts['dead']}"),
        ("Slack messages posted", demo.tally.slack_messages),
    ]
    rows += [(f"requests to the {name} simulator", len(state.recorder.items()))
             for name, state in demo.sims.states.items()]
    rows.append(("elapsed", f"{elapsed:.1f} s"))
    for what, count in rows:
        table.add_row(what, str(count))
    demo.console.print(table)
    until = utcnow()
    with Session(demo.rt.engine) as session:
        kpis = [compute_kpis(session, demo.rt.app_config(), t.id, since=until - timedelta(days=STATS_DAYS),
                             until=until) for t in demo.rt.app_config().tenants]
    print_kpis(kpis, "What the bridge did for each tenant (`hirebridge stats`, `/candidate stats`)", demo.console)
    verdict = "[bold green]demo complete" if ok else "[bold red]a scene did not end as it should"
    demo.console.print(verdict)


SCENES: list[Callable[[Demo], bool]] = [
    scene_config, scene_setup, scene_connect, scene_exports, scene_calls, scene_inmail, scene_slack_commands,
    scene_stage_alerts, scene_duplicates, scene_outage,
    scene_dead_letter, scene_slack,
]
