"""`slack_ack`: how fast the real server acks bursts of `/candidate check`, vs a bare Bolt app that only acks."""

from __future__ import annotations

import math
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import httpx
from rich.progress import Progress
from slack_sdk.signature import SignatureVerifier

from bench.harness import settle
from bench.load import Loader, Request
from bench.people import Person, population
from bench.results import Figure, Result, Table
from bench.servers import Server, served
from bench.world import app_config, bridge, server_env, simulators
from bot.demo.world import write_config
from integrations.ats import batches
from integrations.sandbox.world import SLACK

SIZE, QUICK_SIZE = 300, 100  # candidates in the database the checks look up
ROUNDS, QUICK_ROUNDS = 10, 3  # measured bursts per server
CONCURRENCY = 50  # requests per burst, sent together
TENANT, JOB, BATCH = "acme", "4401", 25
CHANNEL, USER = "C0ACMEENG", "U0RAE"  # a recruiter: `check` is for recruiters and above
ANSWER_TIMEOUT_SECONDS = 10.0
GOAL_RATIO, SLACK_DEADLINE_MS = 1.5, 3000.0
BOT, BARE, FLOOR = "bot", "bare Bolt", "floor"


# --- what is asked --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Query:
    kind: str
    text: str
    in_ats: bool


#: the ways a recruiter names someone: LinkedIn URL variants, an email, names; one unknown profile in the mix
VARIANTS: tuple[tuple[str, Callable[[Person], str], bool], ...] = (
    ("canonical URL", lambda p: p.profile_url, True),
    ("URL as LinkedIn's connector writes it", lambda p: f"linkedin.com/in/{p.slug.title()}/", True),
    ("URL with tracking", lambda p: f"{p.profile_url}/?trk=public_profile_browsemap", True),
    ("Slack link", lambda p: f"<{p.profile_url}|linkedin.com/in/{p.slug}>", True),
    ("email", lambda p: (p.email or "").upper(), True),
    ("full name", lambda p: f"{p.first_name} {p.last_name}", True),
    ("first name only (everyone)", lambda p: p.first_name, True),
    ("unknown URL", lambda p: f"https://www.linkedin.com/in/not-exported-{p.index:05d}", False),
)


def queries(people: Sequence[Person], count: int, start: int = 0) -> list[Query]:
    """`count` checks cycling through the variants; emails are asked of the people who have one."""
    with_email = [p for p in people if p.email]
    asked = []
    for n in range(start, start + count):
        kind, text, in_ats = VARIANTS[n % len(VARIANTS)]
        person = with_email[n % len(with_email)] if kind == "email" else people[(n * 7) % len(people)]
        asked.append(Query(kind, text(person), in_ats))
    return asked


def signed(form: dict[str, str]) -> tuple[str, dict[str, str]]:
    """A slash command as Slack sends it: form-encoded, signed with the workspace's signing secret."""
    body, timestamp = urlencode(form), str(int(time.time()))
    signature = str(SignatureVerifier(SLACK.signing_secret).generate_signature(timestamp=timestamp, body=body))
    return body, {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature,
                  "Content-Type": "application/x-www-form-urlencoded"}


# --- the load --------------------------------------------------------------------------------------------------

@dataclass
class Burst:
    """One burst at one server: each request's status and ack time; the bot's answers, when it has them."""

    round: int
    server: str
    statuses: list[int]
    ack_ms: list[float]
    errors: list[str] = field(default_factory=list)  # why requests got no HTTP response (status 0)
    answer_ms: list[float] = field(default_factory=list)
    not_found: int = 0  # answers saying "Not in the ATS"
    unknown: int = 0  # checks that asked about someone not in the ATS


@dataclass
class Load:
    """Bursts at the bot and the baseline, sent by the load process; response_urls minted, answers awaited."""

    sim: httpx.Client
    slack_url: str
    servers: dict[str, Server]
    people: Sequence[Person]
    loader: Loader
    asked: int = 0

    def mint(self) -> str:
        body = {"channel": CHANNEL, "user": USER}
        return str(self.sim.post(f"{self.slack_url}/_sandbox/response_urls", json=body).json()["response_url"])

    def responses(self) -> list[dict[str, object]]:
        return list(self.sim.get(f"{self.slack_url}/_sandbox/messages").json()["responses"])

    def checks(self, server: str) -> tuple[list[Query], list[Request]]:
        """The next checks, each with a fresh response_url, signed (a few seconds before they are sent)."""
        asked = queries(self.people, CONCURRENCY, self.asked)
        self.asked += len(asked)
        target = f"{self.servers[server].url}/slack/events"
        forms = [{"token": "unused", "team_id": SLACK.team_id, "channel_id": CHANNEL, "user_id": USER,
                  "command": "/candidate", "text": f"check {q.text}", "response_url": self.mint(),
                  "trigger_id": "1.2.3"} for q in asked]
        return asked, [Request(target, *signed(form)) for form in forms]

    def burst(self, n: int, server: str) -> Burst:
        asked, requests = self.checks(server)
        before = len(self.responses()) if server == BOT else 0
        timings = self.loader.burst(requests)
        burst = Burst(n, server, timings.statuses, timings.ms, timings.errors,
                      unknown=sum(not q.in_ats for q in asked))
        if server == BOT:  # the next burst waits for these answers, so every burst meets an idle server
            answers = self.answers(before, len(asked))
            burst.answer_ms = [(float(str(a["at"])) - timings.sent_at) * 1000 for a in answers]
            burst.not_found = sum(str(a.get("text", "")).startswith("Not in the ATS") for a in answers)
        return burst

    def floor(self, n: int) -> Burst:
        """The same burst size at the bare app's trivial /healthz: what the sender, uvicorn and loopback cost."""
        timings = self.loader.burst([Request(f"{self.servers[BARE].url}/healthz")] * CONCURRENCY)
        return Burst(n, FLOOR, timings.statuses, timings.ms, timings.errors)

    def answers(self, before: int, expected: int) -> list[dict[str, object]]:
        deadline = time.monotonic() + ANSWER_TIMEOUT_SECONDS
        while True:
            arrived = self.responses()[before:]
            if len(arrived) >= expected or time.monotonic() > deadline:
                return arrived
            time.sleep(0.05)

    def run(self, rounds: int, progress: Progress) -> list[Burst]:
        """Round 0 warms both up; then `rounds` rounds, bot and baseline in ABBA order so drift hits both alike."""
        task = progress.add_task(f"slack_ack: rounds of {CONCURRENCY} checks each (one warm-up)", total=rounds + 1)
        bursts = []
        for n in range(rounds + 1):
            order = (BOT, BARE) if n % 2 == 0 else (BARE, BOT)
            bursts += [self.floor(n), *(self.burst(n, server) for server in order)]
            progress.advance(task)
        return [b for b in bursts if b.round > 0]


# --- the run ---------------------------------------------------------------------------------------------------

def run_load(people: Sequence[Person], rounds: int, progress: Progress) -> tuple[list[Burst], list[str]]:
    """Seed the database through the real export and sync, serve it and the baseline, load both.

    Returns the measured bursts and the error lines either server logged.
    """
    with simulators() as sims, bridge(sims) as b, tempfile.TemporaryDirectory(prefix="hirebridge-ack-") as tmp:
        task = progress.add_task(f"slack_ack: seeding {len(people)} candidates", total=len(people))
        for batch in batches(list(people), BATCH):
            b.export(TENANT, [p.exported() for p in batch], JOB)
        b.drain(on_outcome=lambda _: progress.advance(task))
        settle(progress, task)
        config = Path(tmp) / "hirebridge.toml"
        write_config(app_config(sims), config)
        env = server_env(sims.url("slack"), config, str(b.rt.engine.url))
        with ExitStack() as stack:
            servers = {
                BOT: stack.enter_context(served(BOT, [sys.executable, "-m", "bot.cli", "serve"], env,
                                                Path(tmp) / "serve.log")),
                BARE: stack.enter_context(served(BARE, [sys.executable, "-m", "bench.bare_bolt"], env,
                                                 Path(tmp) / "bare.log")),
            }
            sim = stack.enter_context(httpx.Client(timeout=20))
            loader = stack.enter_context(Loader(CONCURRENCY))
            for server in servers.values():
                server.wait_until_up(sim)
            bursts = Load(sim, sims.url("slack"), servers, people, loader).run(rounds, progress)
            return bursts, [f"{name}: {line}" for name, s in servers.items() for line in s.logged_errors()]


# --- figures, goal, tables -------------------------------------------------------------------------------------

def percentile(values: Sequence[float], q: float) -> float:
    """Nearest rank: the smallest value at least `q` of the values are at or below."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else 0.0


def pooled(bursts: Sequence[Burst], server: str) -> Burst:
    mine = [b for b in bursts if b.server == server]
    return Burst(0, server, [s for b in mine for s in b.statuses], [t for b in mine for t in b.ack_ms],
                 [e for b in mine for e in b.errors], [t for b in mine for t in b.answer_ms],
                 not_found=sum(b.not_found for b in mine), unknown=sum(b.unknown for b in mine))


def round_ratio(bursts: Sequence[Burst]) -> float:
    """The median of each round's bot p99 ÷ bare Bolt p99."""
    p99 = {(b.round, b.server): percentile(b.ack_ms, 0.99) for b in bursts}
    ratios = [p99[n, BOT] / p99[n, BARE] for n in sorted({b.round for b in bursts}) if p99.get((n, BARE))]
    return statistics.median(ratios) if ratios else 0.0


def failed(burst: Burst) -> str:
    """What the requests that were not answered 200 got instead, e.g. `HTTP 500 × 2, ReadError × 1`."""
    counts = Counter(f"HTTP {s}" for s in burst.statuses if s not in (0, 200))
    counts.update(e.split(":", 1)[0] for e in burst.errors)
    return ", ".join(f"{what} × {n}" for what, n in counts.most_common())


def figures(bursts: Sequence[Burst]) -> list[Figure]:
    bot, bare, floor = pooled(bursts, BOT), pooled(bursts, BARE), pooled(bursts, FLOOR)
    p50, p99 = percentile(bot.ack_ms, 0.5), percentile(bot.ack_ms, 0.99)
    bare_p50, bare_p99 = percentile(bare.ack_ms, 0.5), percentile(bare.ack_ms, 0.99)
    return [
        Figure("requests", len(bot.statuses), len(bare.statuses),
               f"{len(bot.statuses) // CONCURRENCY} bursts of {CONCURRENCY} signed `/candidate check` each"),
        Figure("p50_ms", p50, bare_p50, "time to the HTTP response (the ack), per request"),
        Figure("p99_ms", p99, bare_p99, f"goal: ≤ {GOAL_RATIO}× bare Bolt's and far inside Slack's 3 s"),
        Figure("max_ms", max(bot.ack_ms, default=0.0), max(bare.ack_ms, default=0.0)),
        Figure("p99_ratio", p99 / bare_p99 if bare_p99 else 0.0, None,
               f"bot p99 ÷ bare Bolt p99; goal ≤ {GOAL_RATIO}"),
        Figure("round_p99_ratio_median", round_ratio(bursts), None,
               "median over rounds of bot p99 ÷ bare Bolt p99 in the same round (one noisy round moves it less)"),
        Figure("non_200", sum(s != 200 for s in bot.statuses), sum(s != 200 for s in bare.statuses),
               "; ".join(["goal 0", *(f"{b.server}: {failed(b)}" for b in (bot, bare, floor) if failed(b))])),
        Figure("answered", len(bot.answer_ms), None,
               f"checks answered through their response_url within {ANSWER_TIMEOUT_SECONDS:.0f} s"),
        Figure("not_found_answers", bot.not_found, None,
               f"“Not in the ATS” answers; {bot.unknown} asked about an unknown profile"),
        Figure("answer_p50_ms", percentile(bot.answer_ms, 0.5), None,
               "from the burst being sent to the answer reaching the Slack simulator"),
        Figure("answer_p99_ms", percentile(bot.answer_ms, 0.99)),
        Figure("bare_bolt_p50_ms", bare_p50),
        Figure("bare_bolt_p99_ms", bare_p99),
        Figure("bare_bolt_max_ms", max(bare.ack_ms, default=0.0)),
        Figure("bare_bolt_non_200", sum(s != 200 for s in bare.statuses)),
        Figure("unknown_asked", bot.unknown),
        Figure("floor_p50_ms", percentile(floor.ack_ms, 0.5), None,
               f"{CONCURRENCY} concurrent GETs of the bare app's trivial /healthz: the sender, uvicorn, loopback"),
        Figure("floor_p99_ms", percentile(floor.ack_ms, 0.99)),
        Figure("floor_non_200", sum(s != 200 for s in floor.statuses)),
    ]


def goal_failures(result: Result) -> list[str]:
    def value(name: str) -> float:
        return result.figure(name).value

    failures = []
    if value("p99_ratio") > GOAL_RATIO:
        failures.append(f"p99 {value('p99_ms'):.1f} ms is {value('p99_ratio'):.2f}× bare Bolt's "
                        f"{value('bare_bolt_p99_ms'):.1f} ms (goal ≤ {GOAL_RATIO}×)")
    if value("p99_ms") >= SLACK_DEADLINE_MS:
        failures.append(f"p99 {value('p99_ms'):.0f} ms is not inside Slack's {SLACK_DEADLINE_MS:.0f} ms")
    if value("non_200") or value("bare_bolt_non_200") or value("floor_non_200"):
        failures.append(f"not a valid run: requests not answered 200 ({result.figure('non_200').note})")
    if value("answered") != value("requests"):
        failures.append(f"{value('answered'):.0f} of {value('requests'):.0f} checks were answered through "
                        f"their response_url within {ANSWER_TIMEOUT_SECONDS:.0f} s")
    if value("not_found_answers") != value("unknown_asked"):
        failures.append(f"wrong answers: {value('not_found_answers'):.0f} said “Not in the ATS”, "
                        f"{value('unknown_asked'):.0f} asked about unknown profiles")
    return failures


def bursts_table(bursts: Sequence[Burst]) -> Table:
    def cells(b: Burst) -> tuple[str, ...]:
        return tuple(f"{percentile(b.ack_ms, q):.1f}" for q in (0.5, 0.99, 1.0))

    rows = []
    for n in sorted({b.round for b in bursts}):
        mine = [b for b in bursts if b.round == n]
        bot, bare, floor = (next(b for b in mine if b.server == s) for s in (BOT, BARE, FLOOR))
        first = next(b.server for b in mine if b.server != FLOOR)
        answers = f"{len(bot.answer_ms)} in {max(bot.answer_ms, default=0.0):.0f} ms"
        rows.append((str(n), f"{first} first", *cells(bot), *cells(bare), *cells(floor)[:2], answers))
    return Table("Times per round (ms): the ack for the bot and bare Bolt, the response for the floor",
                 ("round", "order", "bot p50", "bot p99", "bot max", "bare p50", "bare p99", "bare max",
                  "floor p50", "floor p99", "bot answers (last at)"), tuple(rows))


def notes(people: int, rounds: int) -> list[str]:
    mix = ", ".join(kind for kind, _, _ in VARIANTS)
    return [
        f"The bot is `hirebridge serve` (`python -m bot.cli serve --port N`: uvicorn, the web app and Bolt app "
        f"it builds, log level info) in its own process, on a temp SQLite file holding {people} candidates "
        f"exported to job {JOB} of tenant `{TENANT}` through the LinkedIn simulator's push and synced to "
        "Greenhouse by the real worker, with the sandbox config and Slack pointed at the Slack simulator.",
        "Baseline: `python -m bench.bare_bolt --port N` in its own process: a bare Bolt `App` (signing secret "
        "on, `token_verification_enabled=False`, Bolt's defaults) whose `/candidate` only calls `ack()`, "
        "behind the same Starlette route as `bot/web.py`'s `slack_events`, on the same uvicorn.",
        f"Load: a warm-up round, then {rounds} rounds from a third process (`python -m bench.load`: one "
        f"httpx.AsyncClient per kept-alive connection, {CONCURRENCY} per server): each round is the floor burst, "
        f"then {CONCURRENCY} signed checks sent together at the bot and at bare Bolt, in ABBA order. A "
        "request's time runs from sending it to its HTTP response (the ack). A bot burst ends when all its "
        f"answers have reached their response_url (or {ANSWER_TIMEOUT_SECONDS:.0f} s passed), so every burst "
        "meets an idle server.",
        f"Floor: {CONCURRENCY} concurrent GETs of the bare app's trivial `/healthz` each round, what the sender, "
        "uvicorn, Starlette and loopback cost with no Bolt at all. Servers, simulators and sender share the "
        "machine's cores: anything else running on it shows in every figure, the floor shows how much.",
        f"Checks cycle through: {mix}; by {USER} (a recruiter) in {CHANNEL}. Each asks about one of the "
        "seeded people, spread over all of them; the first name alone matches everyone (10 shown).",
    ]


@dataclass(frozen=True)
class SlackAckBenchmark:
    name: str = "slack_ack"

    def run(self, *, quick: bool, progress: Progress) -> Result:
        people, rounds = population(QUICK_SIZE if quick else SIZE), QUICK_ROUNDS if quick else ROUNDS
        bursts, logged = run_load(people, rounds, progress)
        result = Result(self.name, "`/candidate check` acked under bursts of 50, vs a bare Bolt app",
                        figures(bursts), notes(len(people), rounds), [bursts_table(bursts)])
        result.failures = goal_failures(result)
        if logged:  # shown whether or not the run is valid: a server that logs errors under load is news
            result.failures.append(f"not a clean run: {len(logged)} error lines in the servers' logs, the last: "
                                   f"{logged[-1]}")
        return result


BENCHMARK = SlackAckBenchmark()
