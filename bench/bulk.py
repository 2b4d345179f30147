"""`bulk`: a 10,000-candidate CSV backfill into Greenhouse held to a fixed rate limit — how much of it is used.

- **The limit** is Greenhouse's, in its simulator: Harvest v3's fixed 30-second window with `X-RateLimit-*`
  headers on every answer and 429 + `Retry-After` past the limit (reference 2.2), set to 600 requests per
  window (`faults.rate_limit`): a ceiling of 20 requests/s, so 10,000 creates take 8⅓ minutes at best.
  Greenhouse rather than Lever: it is the sandbox tenant `acme`'s ATS, and its window is paced by the bridge
  itself (`GreenhouseClient._respect_window` waits up to 5 s for the reset, else hands the item back to the
  queue as `RateLimited`), where Lever's client throttle is hard-wired to Lever's 10/s (10,000 people would
  take 17 minutes and measure a sleep). Why 20/s: the limit has to bind, as a real one does (Greenhouse's
  are tens of requests per window, far below what the bridge can send), or the ratio measures the bridge's
  own speed instead of its pacing. Unlimited, these two processes sync about 25-27 people/s on 2 cores (an
  exploratory run at 30/s spent only one window of thirteen and measured 0.93: CPU and SQLite, not pacing);
  20/s binds and still keeps the run within minutes. The sandbox's own 50 per 30 s would take 100 minutes.
  `--quick`: 200 people, 80 per 10-s window (8/s), so a smoke run still spends several windows.
- **The backfill** is what a customer runs without RSC access: `hirebridge import backfill.csv --tenant acme
  --job 4401` (bot/importer.py: every row queued at bulk priority, then synced in the command's process),
  while the deployment's `hirebridge worker` (one process, `--no-scheduler` so the minute's mirror pull does
  not share the budget) works the same queue, as it would in production. Two processes sync, on a temp
  SQLite file. The people are new (bench/backfill.py: varied fictitious names, a LinkedIn URL each, no email).
  One worker and not more: on SQLite every transaction takes the write lock at its BEGIN (storage/db.py), so
  the ~4 transactions of each sync serialize across processes. Measured while writing this (1,500 people, no
  limit, a busy machine): the import alone synced 16.2/s; beside one worker 16.6/s, the two waiting 34 s and
  60 s of the 90 s in `BEGIN IMMEDIATE`; beside two workers 12.4/s, each process waiting 70-105 s of 120 s.
- **Measured** from the Greenhouse simulator's request recorder (every request, its status and arrival time),
  the bot's database (work items' states and finish times) and /proc (CPU time of the two processes).
  `fraction_of_ceiling` is the requests Greenhouse accepted in the windows the run filled end to end (its
  first and last windows are partial) ÷ the limit: a fixed window lets a run's edges borrow up to a window's
  budget, so the whole-run rate (`run_requests_per_second`, also shown) over- or under-states it by up to a
  window's worth. The run is given `DEADLINE_FACTOR`× the ideal time (+ 1 minute); what is not done then
  counts as failed.

Goals: `fraction_of_ceiling ≥ 0.9`, `ats_requests_per_candidate ≤ 1.2` (the `import` benchmark's goal: a
budget spent on other requests than creates is not a backfill at the ceiling), `failed_items == 0`,
`duplicates_created == 0`.
"""

from __future__ import annotations

import re
import resource
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rich.progress import Progress
from sqlalchemy import Engine, func, select

from bench.backfill import (
    BOT,
    Newcomer,
    cpu_seconds,
    load_average,
    load_note,
    newcomers,
    sync_states,
    syncs_left,
    write_csv,
)
from bench.harness import settle
from bench.people import Audit, audit
from bench.results import Figure, Result, Table
from bench.servers import ROOT, Process, started
from bench.world import RAISED_ATS_LIMIT, app_config, bridge, endpoint, server_env, simulators
from bot.demo.world import Simulators, write_config
from bot.sync import SYNC
from integrations.sandbox.base import RecordedRequest
from integrations.sandbox.greenhouse import GreenhouseState
from storage.models import WorkItem, WorkState, table

TENANT, JOB = "acme", "4401"
SIZE, QUICK_SIZE = 10_000, 200
LIMIT, WINDOW = 600, 30.0  # requests per fixed window, window seconds (Harvest v3: 30 s)
QUICK_LIMIT, QUICK_WINDOW = 80, 10.0
WORKERS = 1  # `hirebridge worker` processes beside the import command
DEADLINE_FACTOR, DEADLINE_SLACK = 2.0, 60.0
GOAL_FRACTION, GOAL_REQUESTS_PER_CANDIDATE = 0.9, 1.2
POLL_SECONDS = 0.25
CREATE = "POST /v3/candidates"
RECONCILE = ("GET /v3/candidates?updated_at", "GET /v3/candidates?cursor")  # no mirror runs: only reconciles list
FAILED_ROWS = re.compile(r"(\d+) failed \(retried later by the worker\)")


@dataclass
class Backfill:
    """One run: what was asked, what the simulator recorded, what the bot's database and processes say."""

    people: Sequence[Newcomer]
    limit: int
    window: float
    requests: list[RecordedRequest] = field(default_factory=list)
    seconds: float = 0.0  # the command's start to the last sync item done (or the deadline)
    timed_out: bool = False
    states: dict[str, int] = field(default_factory=dict)  # sync items per state at the end
    audit: Audit = field(default_factory=lambda: Audit(0, 0, 0))
    cli_exit: int | None = None
    cli_failed_rows: int = 0
    deferred: int = 0  # sync items handed back to the queue by the rate limit at least once
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # per process: the import, worker-1, …
    logged_errors: list[str] = field(default_factory=list)
    load: tuple[float, float] = (0.0, 0.0)  # the machine's load average at the start and at the end

    @property
    def ceiling(self) -> float:
        return self.limit / self.window

    @property
    def ideal_seconds(self) -> float:
        """The floor: one request per new person (a create, the application nested), at the ceiling."""
        return len(self.people) / self.ceiling

    @property
    def v3(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.startswith("/v3/")]

    @property
    def accepted(self) -> list[RecordedRequest]:
        """What Greenhouse counted against the window (a 429 is not counted)."""
        return [r for r in self.v3 if r.status != 429]

    def synced(self) -> int:
        return self.states.get(WorkState.DONE, 0)

    def failed(self) -> int:
        return len(self.people) - self.synced()

    def by_endpoint(self) -> Counter[tuple[str, int]]:
        return Counter((endpoint(r.method, r.path, r.query), r.status) for r in self.requests)

    def windows(self) -> dict[int, list[RecordedRequest]]:
        """The run's requests per limiter window (the simulator's windows start at multiples of `window`)."""
        found: dict[int, list[RecordedRequest]] = {}
        for r in self.v3:
            found.setdefault(int(r.at // self.window), []).append(r)
        return dict(sorted(found.items()))

    def full_windows(self) -> list[int]:
        """The windows between the run's first and last: those it could fill from start to end."""
        spans = list(self.windows())
        return list(range(spans[0] + 1, spans[-1])) if spans else []

    def accepted_in_full_windows(self) -> list[int]:
        """Requests accepted in each full window (an idle one counts 0)."""
        windows = self.windows()
        return [sum(1 for r in windows.get(w, []) if r.status != 429) for w in self.full_windows()]

    def achieved(self) -> float:
        """Accepted requests per second over the full windows; the whole run's when there is none."""
        sent = self.accepted_in_full_windows()
        if not sent:  # too short to have a full window: the whole run, edges included
            return len(self.accepted) / max(self.seconds, 1e-9)
        return sum(sent) / (len(sent) * self.window)

    def fraction(self) -> float:
        return self.achieved() / self.ceiling


# --- the run ---------------------------------------------------------------------------------------------

def greenhouse(sims: Simulators, limit: int, window: float) -> GreenhouseState:
    """The Greenhouse simulator held to `limit` requests per `window` seconds, recording every request."""
    state = sims.states["greenhouse"]
    assert isinstance(state, GreenhouseState)
    state.faults.rate_limit = limit
    for account in state.accounts.values():
        account.limiter.window = window
    state.recorder.limit = 1_000_000  # a long run sends more than the default 20,000
    return state


def last_done(engine: Engine) -> float | None:
    t = table(WorkItem).c
    query = select(func.max(t.finished_at)).where(t.kind == SYNC, t.state == WorkState.DONE)
    with engine.connect() as conn:
        moment: datetime | None = conn.execute(query).scalar_one()
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()  # SQLite keeps UTC, naive


def deferred_items(engine: Engine) -> int:
    """Sync items the rate limit handed back to the queue at least once (their last error says so)."""
    t = table(WorkItem).c
    query = select(func.count()).where(t.kind == SYNC, t.last_error.like("RateLimited%")
                                       | t.last_error.like("WriteRefused%"))
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_backfill(quick: bool, progress: Progress) -> Backfill:
    size, limit, window = (QUICK_SIZE, QUICK_LIMIT, QUICK_WINDOW) if quick else (SIZE, LIMIT, WINDOW)
    run = Backfill(newcomers(size), limit, window)
    load_before = load_average()
    with simulators(ats_limit=limit) as sims, bridge(sims) as b, \
            tempfile.TemporaryDirectory(prefix="hirebridge-bulk-") as tmp:
        state = greenhouse(sims, limit, window)
        csv_path = write_csv(Path(tmp) / "backfill.csv", run.people)
        config = Path(tmp) / "hirebridge.toml"
        write_config(app_config(sims), config)
        env = {**server_env(sims.url("slack"), config, str(b.rt.engine.url)), "PYTHONUNBUFFERED": "1"}
        with ExitStack() as stack:
            workers: list[Process] = [
                stack.enter_context(started(f"worker-{n}", [*BOT, "worker", "--no-scheduler"], env,
                                            Path(tmp) / f"worker-{n}.log")) for n in range(1, WORKERS + 1)]
            for worker in workers:
                worker.wait_for_line(" started")
            cpu_before = {w.name: cpu_seconds(w.process.pid) for w in workers}
            deadline_seconds = DEADLINE_FACTOR * run.ideal_seconds + DEADLINE_SLACK
            task = progress.add_task(f"bulk: backfill of {size:,} at {limit} per {window:g} s", total=size)
            state.recorder.clear()
            cli_log = Path(tmp) / "import.log"
            children_before, started_at = children_cpu(), time.time()
            with cli_log.open("wb") as out:
                cli = subprocess.Popen([*BOT, "import", str(csv_path), "--tenant", TENANT, "--job", JOB], cwd=ROOT,
                                       env=env, stdout=out, stderr=subprocess.STDOUT)
            try:
                while cli.poll() is None or syncs_left(b.rt.engine):
                    if time.time() - started_at > deadline_seconds:
                        run.timed_out = True
                        break
                    progress.update(task, completed=sync_states(b.rt.engine).get(WorkState.DONE, 0))
                    time.sleep(POLL_SECONDS)
            finally:
                if cli.poll() is None:
                    cli.terminate()
                cli.wait(timeout=30)
            run.cli_exit = cli.returncode
            run.cpu_seconds["import"] = children_cpu() - children_before
            run.cpu_seconds.update({w.name: cpu_seconds(w.process.pid) - cpu_before[w.name] for w in workers})
            run.requests = state.recorder.items()
            run.load = (load_before, load_average())
            finished = last_done(b.rt.engine)
            run.seconds = (time.time() if run.timed_out or finished is None else finished) - started_at
            run.states = sync_states(b.rt.engine)
            run.deferred = deferred_items(b.rt.engine)
            progress.update(task, completed=run.synced())
            settle(progress, task)
        run.logged_errors = [f"{w.name}: {line}" for w in workers for line in w.logged_errors()]
        text = " ".join(cli_log.read_text(errors="replace").split())  # the console wraps long lines
        run.cli_failed_rows = sum(int(n) for n in FAILED_ROWS.findall(text))
        state.faults.rate_limit = RAISED_ATS_LIMIT  # the audit reads every record: not part of the run
        run.audit = audit(b.ats(TENANT).changed_since(None), run.people, JOB)
    return run


# --- figures, goals, tables ------------------------------------------------------------------------------

def figures(run: Backfill) -> list[Figure]:
    accepted, synced = len(run.accepted), max(run.synced(), 1)
    full = run.full_windows()
    counts = run.by_endpoint()
    reconciles = sum(n for (e, status), n in counts.items() if e in RECONCILE and status != 429)
    tokens = sum(n for (e, _), n in counts.items() if e == "POST /token")
    cpu = sum(run.cpu_seconds.values())
    where = f"over {len(full)} full windows" if full else "whole run (no full window)"
    return [
        Figure("candidates", len(run.people)),
        Figure("synced", run.synced()),
        Figure("fraction_of_ceiling", run.fraction(), None,
               f"goal ≥ {GOAL_FRACTION}; accepted requests ÷ limit, {where} of {run.limit} per {run.window:g} s"),
        Figure("achieved_requests_per_second", run.achieved(), run.ceiling,
               f"{where}; baseline: the ceiling ({run.limit} per {run.window:g} s)"),
        Figure("ceiling_requests_per_second", run.ceiling),
        Figure("run_requests_per_second", accepted / max(run.seconds, 1e-9), run.ceiling,
               "accepted requests ÷ the whole run (start and tail windows included)"),
        Figure("candidates_per_second", run.synced() / max(run.seconds, 1e-9), run.ceiling,
               "baseline: the ceiling at the floor of one request per new person"),
        Figure("ats_requests_per_candidate", (accepted + tokens) / synced, 1.0,
               f"goal ≤ {GOAL_REQUESTS_PER_CANDIDATE}; accepted + token requests ÷ people synced; floor 1"),
        Figure("reconcile_requests", reconciles, None,
               "`GET /v3/candidates?updated_at` and its cursor pages: looking for a create that may have "
               "happened"),
        Figure("http_429_seen", sum(1 for r in run.v3 if r.status == 429)),
        Figure("deferred_items", run.deferred, None,
               "sync items the limit handed back to the queue (`RateLimited`: a 429, or a spent window with "
               "more than 5 s to its reset)"),
        Figure("failed_items", run.failed(), None, "goal 0; dead-lettered or not done by the deadline"),
        Figure("dead_items", run.states.get(WorkState.DEAD, 0)),
        Figure("duplicates_created", run.audit.duplicates, None, "goal 0; the ATS audited afterwards"),
        Figure("missing_from_job", run.audit.missing_from_job, None, f"people with no application on job {JOB}"),
        Figure("backfill_seconds", run.seconds, run.ideal_seconds,
               "`hirebridge import` started → the last sync item done; baseline: one request each at the ceiling"),
        Figure("sync_processes", 1 + WORKERS, None, f"the import command + {WORKERS} `hirebridge worker`"),
        Figure("bridge_cpu_ms_per_candidate", 1000 * cpu / synced, None,
               "CPU time of the import command and the worker(s) ÷ people synced"),
        Figure("import_cli_failed_rows", run.cli_failed_rows, None,
               f"rows `hirebridge import` reported failed (retried later by the worker); it exited "
               f"{run.cli_exit}"),
    ]


def breakdown(run: Backfill) -> str:
    counts = Counter({e: n for (e, status), n in run.by_endpoint().items() if status != 429})
    return ", ".join(f"{e} × {n:,}" for e, n in counts.most_common())


def goal_failures(result: Result, run: Backfill) -> list[str]:
    figure = {f.name: f.value for f in result.figures}
    failures = []
    if figure["fraction_of_ceiling"] < GOAL_FRACTION:
        failures.append(f"fraction of the ceiling {figure['fraction_of_ceiling']:.2f} < {GOAL_FRACTION}: "
                        + what_limited(run, figure))
    per = figure["ats_requests_per_candidate"]
    if per > GOAL_REQUESTS_PER_CANDIDATE:
        failures.append(
            f"{per:.2f} ATS requests per person synced > {GOAL_REQUESTS_PER_CANDIDATE}, so people went in at "
            f"{figure['candidates_per_second']:.1f}/s of a {run.ceiling:g}/s ceiling; the budget went to: "
            f"{breakdown(run)}. The {figure['reconcile_requests']:,.0f} reconcile requests are retried creates "
            "looking for a person an earlier attempt may have created (bot/sync.py `_reconcile`)")
    if figure["failed_items"]:
        left = {k: n for k, n in run.states.items() if k != WorkState.DONE}
        failures.append(f"{figure['failed_items']:.0f} people not synced ({left})"
                        + (f": the run hit its deadline of {DEADLINE_FACTOR:g}× the ideal "
                           f"{run.ideal_seconds:.0f} s + {DEADLINE_SLACK:.0f} s" if run.timed_out else ""))
    if figure["duplicates_created"]:
        failures.append(f"{figure['duplicates_created']:.0f} duplicates created (goal 0)")
    if run.logged_errors:
        failures.append(f"not a valid run: the worker logged errors: {run.logged_errors[:3]}")
    return failures


def what_limited(run: Backfill, figure: dict[str, float]) -> str:
    """Which windows the limit paced (budget spent) and which the bridge did (sent less), and the costs seen."""
    sent = run.accepted_in_full_windows()
    spent = sum(1 for n in sent if n >= run.limit)
    short = sorted(n for n in sent if n < run.limit)
    parts = [f"{spent} of {len(sent)} full windows spent their {run.limit}"]
    if short:
        parts.append(f"the other {len(short)} sent {short[0]}–{short[-1]}: there the bridge, not the limit, set "
                     f"the pace ({figure['bridge_cpu_ms_per_candidate']:.0f} ms of CPU per person over "
                     f"{1 + WORKERS} processes; the machine's load average went from {run.load[0]:.1f} to "
                     f"{run.load[1]:.1f})")
    if run.deferred:
        parts.append(f"{run.deferred} items were handed back to the queue by the limit and their retries spent "
                     f"{figure['reconcile_requests']:.0f} requests reconciling (listing every person changed "
                     "since the create was stamped)")
    return "; ".join(parts)


def endpoint_table(run: Backfill) -> Table:
    rows = [(f"`{e}`", str(status), f"{n:,}") for (e, status), n in sorted(run.by_endpoint().items())]
    return Table("Greenhouse requests during the backfill (the simulator's recorder)",
                 ("request", "status", "count"), tuple(rows))


def window_table(run: Backfill) -> Table:
    windows = run.windows()
    first = min(windows, default=0)
    full = set(run.full_windows())
    rows = []
    for w, requests in windows.items():
        kinds = Counter(endpoint(r.method, r.path, r.query) for r in requests if r.status != 429)
        rows.append((f"{(w - first) * run.window:g}", "yes" if w in full else "no",
                     str(sum(1 for r in requests if r.status != 429)), str(kinds[CREATE]),
                     str(sum(kinds[e] for e in RECONCILE)), str(sum(1 for r in requests if r.status == 429))))
    return Table(f"Requests per {run.window:g}-s window (limit {run.limit})",
                 ("window start (s)", "full", "accepted", "creates", "reconcile", "429"), tuple(rows))


def notes(run: Backfill) -> list[str]:
    return [
        f"{len(run.people):,} new people (fictitious varied names, a LinkedIn URL each, no email) in one CSV, "
        f"imported with `hirebridge import FILE --tenant {TENANT} --job {JOB}` while {WORKERS} `hirebridge worker "
        "--no-scheduler` process works the same queue; SQLite in a temp dir; every process on this machine.",
        f"Greenhouse simulator held to {run.limit} requests per fixed {run.window:g}-s window "
        f"(`faults.rate_limit`, {run.ceiling:g} requests/s): `X-RateLimit-*` on every answer, 429 + `Retry-After` "
        "past it; token requests are not counted in the window (reference 2.2: they have their own).",
        "`fraction_of_ceiling` counts the windows the run spans from start to end (the first and last are "
        "partial); `run_requests_per_second` divides every accepted request by the whole run instead.",
        f"CPU seconds: {', '.join(f'{k} {v:.0f}' for k, v in run.cpu_seconds.items())} "
        f"over {run.seconds:.0f} s of backfill.",
        load_note(*run.load),
    ]


@dataclass(frozen=True)
class BulkBenchmark:
    name: str = "bulk"

    def run(self, *, quick: bool, progress: Progress) -> Result:
        run = run_backfill(quick, progress)
        result = Result(self.name, "A CSV backfill into Greenhouse at its rate limit", figures(run), notes(run),
                        [endpoint_table(run), window_table(run)])
        result.failures = goal_failures(result, run)
        return result


BENCHMARK = BulkBenchmark()
