"""`alerts`: signed Greenhouse stage changes through the real server and worker, into Slack at its channel pace."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from rich.progress import Progress

from bench import alerts_world
from bench.alerts_run import BURST, CONNECTIONS, SUSTAINED, Run, run_alerts
from bench.alerts_world import (
    ACTION,
    BURST_RATE,
    BURST_ROUTE,
    BURST_SECONDS,
    QUICK_BURST_SECONDS,
    QUICK_SUSTAINED_SECONDS,
    ROUTES,
    SLACK_PACE,
    SUSTAINED_RATE,
    SUSTAINED_SECONDS,
    TENANT,
    Change,
    named,
)
from bench.results import Figure, Result, Table
from storage.models import OutboxState, WorkState

GOAL_P95_MS = 2000.0


# --- figures, goal, tables -------------------------------------------------------------------------------------

def percentile(values: Sequence[float], q: float) -> float:
    """Nearest rank: the smallest value at least `q` of the values are at or below."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else 0.0


def first_posts(run: Run) -> dict[int, list[float]]:
    """Each change's posts (when Slack accepted each message naming it), in order."""
    posts: dict[int, list[float]] = {c.index: [] for c in run.changes}
    for message in run.messages:
        for n in named(message) & posts.keys():
            posts[n].append(float(message["posted_at"]))
    return {n: sorted(times) for n, times in posts.items()}


def latencies_ms(run: Run, changes: Sequence[Change]) -> list[float]:
    posts = first_posts(run)
    return [(posts[c.index][0] - run.sent_at[c.index]) * 1000 for c in changes if posts[c.index]]


def max_per_second(run: Run) -> tuple[int, str]:
    """The most posts any channel got within one second (a sliding window), and which channel."""
    times: dict[str, list[float]] = {}
    for message in run.messages:
        times.setdefault(str(message["channel"]), []).append(float(message["posted_at"]))
    best, where = 0, ""
    for channel, posted in times.items():
        posted.sort()
        start = 0
        for end, at in enumerate(posted):
            while posted[start] <= at - 1.0:
                start += 1
            if end - start + 1 > best:
                best, where = end - start + 1, channel
    return best, where


def drain_seconds(run: Run) -> float:
    """From the first burst webhook sent to the last burst change in Slack."""
    posts, burst = first_posts(run), run.of(BURST)
    done = [posts[c.index][0] for c in burst if posts[c.index]]
    return max(done) - min(run.sent_at[c.index] for c in burst) if done else 0.0


def misrouted(run: Run) -> int:
    """Changes named in a channel other than their route's."""
    route = {c.index: c.route.channel for c in run.changes}
    return sum(1 for m in run.messages for n in named(m) if n in route and route[n] != m["channel"])


def figures(run: Run) -> list[Figure]:
    sustained, burst = run.of(SUSTAINED), run.of(BURST)
    posts = first_posts(run)
    latency = latencies_ms(run, sustained)
    burst_messages = sum(1 for m in run.messages if named(m) & {c.index for c in burst})
    peak, channel = max_per_second(run)
    done = Counter({kind: n for (kind, state), n in run.bot.work.items() if state == WorkState.DONE})
    non_200 = Counter(f"HTTP {s}" for s in run.statuses if s != 200)
    non_200.update(e.split(":", 1)[0] for e in run.errors)
    return [
        Figure("changes_sent", len(run.changes), None,
               f"{len(sustained)} sustained ({SUSTAINED_RATE}/s round-robin over {len(ROUTES)} channels), "
               f"{len(burst)} in the burst ({BURST_RATE}/s into {BURST_ROUTE.channel})"),
        Figure("changes_posted", sum(1 for p in posts.values() if p), len(run.changes),
               "changes named in some Slack message; goal: all of them (nothing lost)"),
        Figure("p50_ms", percentile(latency, 0.5), None,
               "sustained load: webhook sent → chat.postMessage accepted by Slack, per change"),
        Figure("p95_ms", percentile(latency, 0.95), None, f"goal ≤ {GOAL_P95_MS:.0f} ms"),
        Figure("max_ms", max(latency, default=0.0)),
        Figure("burst_drain_s", drain_seconds(run), len(burst) / SLACK_PACE,
               "first burst webhook sent → last burst change in Slack; baseline: the burst's changes at Slack's "
               f"{SLACK_PACE:g} message/s/channel, one message each (the floor unless coalesced)"),
        Figure("burst_messages", burst_messages, len(burst),
               "messages naming burst changes (fewer than the changes: coalesced)"),
        Figure("max_per_channel_per_second", peak, SLACK_PACE,
               f"most posts to one channel ({channel or 'none'}) within any 1 s, whole run; baseline: Slack's "
               f"{SLACK_PACE:g}/s/channel; goal ≤ it"),
        Figure("duplicates_posted", sum(max(0, len(p) - 1) for p in posts.values()), None,
               "extra messages naming a change already posted; goal 0"),
        Figure("http_429_seen", run.posts[429], None, "chat.postMessage calls the simulator answered 429"),
        Figure("chat_post_calls", sum(run.posts.values()), None,
               f"all chat.postMessage calls (accepted: {run.posts[200]}); conversations.history calls: "
               f"{run.history_calls}"),
        Figure("non_200_webhooks", sum(non_200.values()), None,
               "; ".join(["goal 0", *(f"{what} × {n}" for what, n in non_200.most_common())])),
        Figure("webhook_ack_p95_ms", percentile(run.ack_ms, 0.95), None,
               "the server's answer to a webhook (verify, inbox, queue), over both phases"),
        Figure("misrouted", misrouted(run), None, "changes named in another route's channel; goal 0"),
        Figure("dead_messages", run.bot.outbox[OutboxState.DEAD], None, "outbox messages dead-lettered"),
        Figure("dead_work_items", sum(n for (_, state), n in run.bot.work.items() if state == WorkState.DEAD)),
        Figure("work_items_done", sum(done.values()), None,
               "by the worker: " + ", ".join(f"{kind} × {n}" for kind, n in sorted(done.items()))),
    ]


def where_lost(run: Run) -> str:
    """Where the changes that never reached Slack stopped: no work item, no alert queued, or never posted."""
    posts, bot = first_posts(run), run.bot
    lost = [c for c in run.changes if not posts[c.index]]
    stops = Counter("no work item (server)" if c.event_id not in bot.work_queued
                    else "no alert queued (worker)" if c.event_id not in bot.alert_queued
                    else "alert never posted (relay)" for c in lost)
    return ", ".join(f"{what} × {n}" for what, n in stops.most_common())


def goal_failures(run: Run, result: Result) -> list[str]:
    def value(name: str) -> float:
        return result.figure(name).value

    failures = []
    if value("p95_ms") > GOAL_P95_MS:
        failures.append(f"sustained p95 {value('p95_ms'):.0f} ms > {GOAL_P95_MS:.0f} ms; the longest wait: "
                        f"{slowest_span(run, SUSTAINED)} (the stage table)")
    if value("max_per_channel_per_second") > SLACK_PACE:
        failures.append(f"{value('max_per_channel_per_second'):.0f} posts within 1 s to one channel: Slack's pace "
                        f"is {SLACK_PACE:g}/s ({value('http_429_seen'):.0f} answered 429)")
    if value("duplicates_posted"):
        failures.append(f"{value('duplicates_posted'):.0f} changes posted more than once")
    if value("changes_posted") != value("changes_sent"):
        failures.append(f"lost: {value('changes_sent') - value('changes_posted'):.0f} of "
                        f"{value('changes_sent'):.0f} changes never reached Slack: {where_lost(run)} "
                        f"({value('dead_messages'):.0f} dead messages, {value('dead_work_items'):.0f} dead items)")
    if value("non_200_webhooks") or value("misrouted"):
        failures.append(f"not a valid run: {value('non_200_webhooks'):.0f} webhooks not answered 200, "
                        f"{value('misrouted'):.0f} changes in the wrong channel")
    if run.logged:
        failures.append(f"not a clean run: {len(run.logged)} error lines in the bot's logs, the last: "
                        f"{run.logged[-1]}")
    return failures


#: the moments of a change's way to Slack, in order, and who spends the time up to each one
MOMENTS = ("sent", "work", "alert", "posted")
SPANS = {"work": "webhook sent → work item queued (server)", "alert": "work item → alert in the outbox (worker)",
         "posted": "alert in the outbox → accepted by Slack (relay)"}


def spans_ms(run: Run, changes: Sequence[Change], start: str, end: str) -> list[float]:
    """Each change's time from one moment to a later one, for the changes both moments are known of."""
    posts, bot = first_posts(run), run.bot

    def moment(c: Change, what: str) -> float:
        return {"sent": run.sent_at.get(c.index, 0.0), "work": bot.work_queued.get(c.event_id, 0.0),
                "alert": bot.alert_queued.get(c.event_id, 0.0), "posted": (posts[c.index] or [0.0])[0]}[what]

    return [1000 * (moment(c, end) - moment(c, start)) for c in changes if moment(c, start) and moment(c, end)]


def stages_table(run: Run) -> Table:
    """Where each change's time went: the server, the worker, the relay (p50 / p95 / max, ms)."""
    def row(label: str, spans: list[float]) -> tuple[str, ...]:
        cells = (f"{percentile(spans, q):.0f}" for q in (0.5, 0.95, 1.0))
        return (label, *((f"{len(spans)}", *cells) if spans else ("0", "", "", "")))

    rows = []
    for phase in (SUSTAINED, BURST):
        changes = run.of(phase)
        rows += [row(f"{phase}: {SPANS[end]}", spans_ms(run, changes, start, end))
                 for start, end in pairwise(MOMENTS)]
        rows.append(row(f"{phase}: webhook sent → accepted by Slack", spans_ms(run, changes, "sent", "posted")))
    return Table("Where the time went (ms): from the bot's database and the Slack simulator's record",
                 ("span", "changes", "p50", "p95", "max"), tuple(rows))


def slowest_span(run: Run, phase: str) -> str:
    """Who held a phase's changes longest (by the spans' p95)."""
    p95 = {end: percentile(spans_ms(run, run.of(phase), start, end), 0.95)
           for start, end in pairwise(MOMENTS)}
    end = max(p95, key=lambda e: p95[e])
    return f"{SPANS[end]}: p95 {p95[end] / 1000:.1f} s"


def channels_table(run: Run) -> Table:
    posts = first_posts(run)
    rows = []
    for route in ROUTES:
        mine = [c for c in run.changes if c.route == route]
        messages = [m for m in run.messages if m["channel"] == route.channel]
        latency = latencies_ms(run, [c for c in mine if c.phase == SUSTAINED])
        rows.append((route.channel, route.label, str(len(mine)), str(sum(1 for c in mine if posts[c.index])),
                     str(len(messages)), f"{percentile(latency, 0.95):.0f}" if latency else ""))
    return Table("Per channel", ("channel", "route (job → stage)", "changes sent", "changes posted", "messages",
                                 "sustained p95 ms"), tuple(rows))


def notes(sustained: int, burst: int) -> list[str]:
    return [
        "The bot is `hirebridge serve` (`python -m bot.cli serve --port N`) and `hirebridge worker` (`python -m "
        "bot.cli worker`: the queue worker and the outbox relay thread, default poll 0.5 s) in processes of "
        "their own, sharing a temp SQLite file (WAL); no PostgreSQL here. The config is the sandbox one with "
        f"tenant `{TENANT}`'s alert routes replaced by {len(ROUTES)}: one per mapped stage of jobs 4401 and "
        "4402, each to a channel of its own (added to the Slack simulator), so a change alerts exactly one "
        "channel. Slack's Web API and LinkedIn point at the simulators.",
        f"Seeding: {sustained + burst} candidates, one application each, written into the Greenhouse "
        "simulator on a stage before the one their change moves them to, then one real mirror pull, so the "
        "bot knows every application and the handler never reads one from the ATS.",
        f"Load, from a process of its own (`python -m bench.load`, {CONNECTIONS} kept-alive connections): "
        f"Greenhouse `{ACTION}` webhooks built by the simulator's own builder (the application "
        "moved there first), signed (`Signature: sha256 …`), each with its own `Greenhouse-Event-ID`, sent "
        f"on a fixed schedule: {sustained} at {SUSTAINED_RATE}/s round-robin over the {len(ROUTES)} channels "
        f"(0.5/s per channel, inside Slack's pace); once those are in Slack, {burst} at {BURST_RATE}/s into "
        f"{BURST_ROUTE.channel} ({BURST_ROUTE.label}).",
        "Measured with the Slack simulator's record: `posted_at`, when it accepted each chat.postMessage; a "
        "change is matched to its messages by the candidate's name. Latency runs from the webhook going out "
        "to the first message naming its change. The bot's database gives when the server queued each "
        "change and when the worker queued its alert (the stage table).",
        f"Slack allows about {SLACK_PACE:g} message per second per channel; the simulator answers 429 beyond "
        "a bucket of 1/s with a burst of 3, so pacing is judged on `max_per_channel_per_second` (goal ≤ 1), "
        "not on 429s alone.",
    ]


def burst_note(run: Run, result: Result) -> str:
    """What the burst became in Slack, and who held it longest."""
    posts = first_posts(run)
    changes, posted = len(run.of(BURST)), sum(1 for c in run.of(BURST) if posts[c.index])
    messages, drain = result.figure("burst_messages").value, result.figure("burst_drain_s")
    if not posted:
        return f"In this run none of the burst's {changes} changes reached Slack."
    shape = ("was not coalesced: each change is a message of its own" if messages >= posted
             else f"was coalesced into {messages:.0f} messages")
    return (f"In this run the burst of {changes} changes {shape}; the last reached Slack {drain.value:.0f} s "
            f"after the burst began ({drain.baseline or 0:.0f} s for one message per change at Slack's "
            f"{SLACK_PACE:g}/s/channel). The longest wait: {slowest_span(run, BURST)} (the stage table).")


@dataclass(frozen=True)
class AlertsBenchmark:
    name: str = "alerts"

    def run(self, *, quick: bool, progress: Progress) -> Result:
        seconds = (QUICK_SUSTAINED_SECONDS, QUICK_BURST_SECONDS) if quick else (SUSTAINED_SECONDS, BURST_SECONDS)
        sustained, burst = alerts_world.plan(SUSTAINED_RATE * seconds[0], BURST_RATE * seconds[1])
        run = run_alerts(sustained, burst, progress)
        result = Result(self.name, "stage-change alerts from signed webhooks to Slack, sustained and in a burst",
                        figures(run), notes(len(sustained), len(burst)), [stages_table(run), channels_table(run)])
        result.notes.append(burst_note(run, result))
        result.failures = goal_failures(run, result)
        return result


BENCHMARK = AlertsBenchmark()
