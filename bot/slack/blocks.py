"""Block Kit builders: pure functions from values to Slack message payloads, within Slack's limits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from bot.domain.commands import SUBCOMMANDS

if TYPE_CHECKING:  # the builders stay free of database imports at run time
    from bot.lookup import ApplicationView, Lookup, PersonView
    from bot.status import IntegrationStatus, Status

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
TRUNCATED = "… (truncated)"

Message = dict[str, Any]


class HealthRow(Protocol):
    integration: str
    consecutive_failures: int
    last_success_at: datetime | None
    last_error: str | None


def truncate(text: str, limit: int) -> str:
    """Cut `text` to `limit` characters with a visible marker, so Slack never rejects it."""
    return text if len(text) <= limit else text[: limit - len(TRUNCATED)] + TRUNCATED


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, MAX_SECTION_TEXT)}}


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(text, 2000)}]}


def message(text: str, blocks: Sequence[dict[str, Any]]) -> Message:
    """A message payload: `text` is the notification fallback; blocks are capped at Slack's 50."""
    kept = list(blocks)
    if len(kept) > MAX_BLOCKS:
        kept = [*kept[: MAX_BLOCKS - 1], context(f"{len(blocks) - MAX_BLOCKS + 1} more not shown {TRUNCATED}")]
    return {"text": truncate(text, 3000), "blocks": kept}


LABELS = {"greenhouse": "Greenhouse", "lever": "Lever", "linkedin": "LinkedIn Recruiter", "slack": "Slack"}


def health_line(row: HealthRow) -> str:
    label = LABELS.get(row.integration, row.integration)
    if row.consecutive_failures == 0 and row.last_success_at:
        return f":white_check_mark: *{label}* connected (checked {row.last_success_at:%H:%M} UTC)"
    failures = f"{row.consecutive_failures} failed check(s) in a row"
    return f":x: *{label}* not working: {failures} — `{truncate(row.last_error or 'unknown error', 300)}`"


def health_report(tenant_name: str, rows: Sequence[HealthRow]) -> Message:
    """The ops-channel summary of a tenant's integrations."""
    healthy = all(r.consecutive_failures == 0 for r in rows)
    title = f"HireBridge connection check for {tenant_name}: " + ("all connected" if healthy else "problems")
    lines = [health_line(r) for r in rows] or ["no integration has been checked yet"]
    return message(title, [section(f"*{title}*"), section("\n".join(lines))])


# --- /candidate ---------------------------------------------------------------------------------------------

COMMANDS = tuple((syntax, what) for _, syntax, what in SUBCOMMANDS.values())
MOVED = {"ats": "in the ATS", "linkedin": "from LinkedIn", "slack": "from Slack"}
MAX_NAME = 200


def esc(text: str) -> str:
    """Escape the three characters Slack mrkdwn reserves, so names and queries show as typed."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str) -> str:
    return f"<{esc(url).replace('|', '%7C')}|{esc(label).replace('|', '/')}>"


def usage(problem: str | None = None) -> Message:
    """How to use `/candidate`, after the problem with what was typed (if any)."""
    lines = [f"`/candidate {esc(syntax)}`" for syntax, _ in COMMANDS]
    head = [section(f":warning: {esc(problem)}")] if problem else []
    return message(esc(problem or "Usage: /candidate"), [*head, section("*Usage*\n" + "\n".join(lines))])


def help_text() -> Message:
    """Every `/candidate` subcommand with what it answers."""
    lines = [f"`/candidate {esc(syntax)}` — {esc(what)}" for syntax, what in COMMANDS]
    return message("HireBridge /candidate help", [
        section("*HireBridge* bridges LinkedIn Recruiter and your ATS. `/candidate` subcommands:"),
        section("\n".join(lines)),
        context("Answers with personal data are visible only to you."),
    ])


def check_answer(lookup: Lookup) -> Message:
    """The answer to `/candidate check`: not found, one person in detail, or the matches of a name."""
    if lookup.problem:
        problem = esc(lookup.problem)
        hint = context(f"Usage: `/candidate {esc(COMMANDS[0][0])}`")
        return message(problem, [section(f":warning: {problem}"), hint])
    if not lookup.people:
        return _not_found(lookup)
    if lookup.kind == "name" and len(lookup.people) > 1:
        return _several(lookup)
    blocks: list[dict[str, Any]] = []
    for person in lookup.people:
        blocks += [*([{"type": "divider"}] if blocks else []), *_person_blocks(person, lookup.as_of)]
    if len(lookup.people) > 1:  # one key, several records: the same person in several tenants, or duplicates
        blocks.insert(0, section(f"*{len(lookup.people)} records* match {_searched(lookup)}."))
    return message(_indicator(lookup.people[0], lookup.as_of), [*blocks, *_more(lookup)])


def _not_found(lookup: Lookup) -> Message:
    where = ", ".join(esc(name) for name in lookup.tenants)
    hint = f"Export them with `/candidate export {esc(lookup.term)}`." if lookup.kind == "url" else \
        "Try their LinkedIn profile URL or email: names are spelled many ways."
    text = f":mag: *Not in the ATS* — nobody with {_searched(lookup)} in {where}."
    return message(f"Not in the ATS: {lookup.query.strip()}", [section(text), context(hint)])


def _several(lookup: Lookup) -> Message:
    head = section(f":busts_in_silhouette: *{len(lookup.people)} people match {_searched(lookup)}* — "
                   "narrow it down with their LinkedIn URL or email.")
    rows = [section(f"{_who(p)}\n{_indicator(p, lookup.as_of)}") for p in lookup.people]
    return message(f"{len(lookup.people)} people match {lookup.query.strip()}", [head, *rows, *_more(lookup)])


def _more(lookup: Lookup) -> list[dict[str, Any]]:
    if not lookup.truncated:
        return []
    return [context(f"More match than the {len(lookup.people)} shown {TRUNCATED}: narrow the search.")]


def _searched(lookup: Lookup) -> str:
    if lookup.kind == "url":
        return f"LinkedIn profile `{esc(lookup.term)}`"
    if lookup.kind == "email":
        return f"email `{esc(lookup.term)}`"
    return f"name “{esc(truncate(' '.join(lookup.query.split()), MAX_NAME))}”"


def _person_blocks(p: PersonView, now: datetime) -> list[dict[str, Any]]:
    current = [_application(a, now) for a in p.current[1:]]
    head = [f"{_indicator(p, now, rich=True)}", *(f"Also: {line}" for line in current)]
    blocks = [section(_bounded(head)), section(_bounded([_who(p), *_facts(p, now)]))]
    if p.earlier:
        earlier = [f"• {_ended(a)}" for a in p.earlier]
        blocks.append(section(_bounded(["*Earlier applications*", *earlier])))
    return blocks


def _indicator(p: PersonView, now: datetime, rich: bool = False) -> str:
    """The In-ATS indicator: "Already in Greenhouse (Acme): Senior Backend Engineer — Phone Screen since …"."""
    where = f"{LABELS.get(p.ats, p.ats)} ({esc(p.tenant_name)})"
    if p.pending:
        line = f"Being added to {where} — the ATS record is not linked yet"
        return f":hourglass_flowing_sand: *{line}*" if rich else line
    if p.is_rediscovered:
        line = f"Rediscovered candidate — in {where}, earlier applications only"
        return f":recycle: *{line}*" if rich else line
    first = f": {_application(p.current[0], now)}" if p.current else " — no open application"
    return f":large_green_circle: *Already in {where}*{first}" if rich else f"Already in {where}{first}"


def _who(p: PersonView) -> str:
    role = " at ".join(esc(part) for part in (p.title, p.company) if part)
    links = [link(url, label) for url, label in ((p.ats_url, f"Open in {LABELS.get(p.ats, p.ats)}"),
                                                  (p.linkedin_url, "LinkedIn profile")) if url]
    return " · ".join([f"*{esc(truncate(p.name, MAX_NAME))}*", *([role] if role else []), *links])


def _facts(p: PersonView, now: datetime) -> list[str]:
    facts = [f"Owner: {esc(p.owner) if p.owner else 'none set'}",
             f"Last activity: {_ago(p.last_activity_at, now)}"]
    if p.last_inmail:
        mail = p.last_inmail
        facts.append(f"Last InMail: {mail.at:%Y-%m-%d} — {esc(truncate(mail.first_line, 200))}")
    if p.last_stage_change:
        change = p.last_stage_change
        by = [f"by {esc(change.actor)}"] if change.actor else []
        how = ", ".join([MOVED.get(change.source, esc(change.source)), *by])
        facts.append(f"Last stage change: to {esc(change.to_stage)} ({how}), {_ago(change.at, now)}")
    if p.attention:
        facts.append(f":warning: Needs attention: {esc(truncate(p.attention, 500))}")
    return facts


def _application(a: ApplicationView, now: datetime) -> str:
    stage = f" — {esc(a.stage)}" if a.stage else ""
    since = f" since {_ago(a.since, now)}" if a.since and a.stage else ""
    return f"{esc(truncate(a.job, MAX_NAME))}{stage}{since}"


def _ended(a: ApplicationView) -> str:
    at = f" at {esc(a.stage)}" if a.stage else ""
    when = f" ({a.since:%Y-%m-%d})" if a.since else ""
    return f"{esc(truncate(a.job, MAX_NAME))} — {esc(a.status)}{at}{when}"


def _ago(when: datetime | None, now: datetime) -> str:
    """A short relative time ("3 days ago"); a date beyond two months."""
    if when is None:
        return "unknown"
    seconds = (now - when).total_seconds()
    if seconds > 60 * 86_400:
        return f"{when:%Y-%m-%d}"
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        count = int(seconds // size)
        if count >= 1:
            return f"{count} {unit}{'s' if count > 1 else ''} ago"
    return "just now"


def _bounded(lines: Sequence[str], limit: int = MAX_SECTION_TEXT) -> str:
    """Join lines; whole lines past the section limit are dropped, counted and marked."""
    text = "\n".join(lines)
    if len(text) <= limit:
        return text
    kept: list[str] = []
    size = 0
    for line in lines:
        size += len(line) + 1
        if size > limit - 100:  # room for the marker line
            break
        kept.append(line)
    return "\n".join([*kept, f"{len(lines) - len(kept)} more not shown {TRUNCATED}"])


# --- /candidate export --------------------------------------------------------------------------------------

MATCHED = {"linkedin": "the same LinkedIn profile", "linkedin_member": "the same LinkedIn member",
           "email": "the same email", "phone": "the same phone number", "ats": "the ATS record id"}


def export_answer(lookup: Lookup, *, created: bool, matched_by: str | None, job: str | None) -> Message:
    """The export's result: created, or an existing record linked instead of a duplicate; with its link."""
    if not lookup.people:  # the sync recorded the person in this very transaction; kept as a safe answer
        return message("Exported", [section(":white_check_mark: *Exported* — the record is being linked.")])
    p = lookup.people[0]
    where = f"{LABELS.get(p.ats, p.ats)} ({esc(p.tenant_name)})"
    added = f", added to *{esc(truncate(job, MAX_NAME))}*" if job else ""
    if created:
        head = f":white_check_mark: *Exported to {where}*: a new candidate record{added}."
    else:
        why = f" ({MATCHED.get(matched_by, esc(matched_by))})" if matched_by else ""
        head = f":link: *Already in {where}* — linked to the existing record{why}, no duplicate created{added}."
    text = f"{'Exported to' if created else 'Already in'} {where}: {p.name}"
    now = lookup.as_of
    applications = [f"• {_application(a, now)}" for a in p.current]
    return message(text, [section(head), section(_bounded([_who(p), *applications, *_facts(p, now)]))])


def export_problem(problem: str) -> Message:
    """Why an export could not run as typed, and what to type instead."""
    return message(f"Not exported: {problem}", [
        section(f":warning: *Not exported* — {esc(problem)}"),
        context(f"Usage: `/candidate {esc(SUBCOMMANDS['export'][1])}`"),
    ])


def export_failed(error: str) -> Message:
    """The export gave up after its retries (or hit a permanent error): nothing more will happen by itself."""
    text = f":x: *Export failed* — `{esc(truncate(error, 500))}`"
    return message("Export failed", [section(text), context(
        "Ops can see it with `hirebridge dlq list` and retry it once the cause is fixed.")])


# --- /candidate status and mapping --------------------------------------------------------------------------

def status_answer(status: Status, tenant_names: dict[str, str]) -> Message:
    """Sync health: the queue, dead letters, each tenant's integrations (last sync, checks, budget)."""
    title = "Sync health: all good" if status.healthy else "Sync health: needs attention"
    icon = ":white_check_mark:" if status.healthy else ":warning:"
    q = status.queue
    kinds = ", ".join(f"{esc(k)} {n}" for k, n in list(status.waiting_by_kind.items())[:6])
    queue = [f"*Queue*: {q.get('queued', 0)} waiting{f' ({kinds})' if kinds else ''}, "
             f"{q.get('running', 0)} running, {q.get('dead', 0)} dead letter(s)",
             f"*Slack messages*: {status.outbox.get('pending', 0)} waiting, {status.outbox.get('dead', 0)} failed"]
    blocks = [section(f"{icon} *{title}*"), section("\n".join(queue))]
    for tenant_id, name in tenant_names.items():
        lines = [f"*{esc(name)}*", *(_integration_line(i, status.as_of) for i in status.integrations
                                     if i.tenant_id == tenant_id)]
        if status.attention.get(tenant_id):
            lines.append(f":warning: {status.attention[tenant_id]} record(s) need a person: "
                         "`hirebridge attention list`")
        blocks.append(section(_bounded(lines)))
    slack = [i for i in status.integrations if i.integration == "slack"]
    if slack:
        blocks.append(section(_integration_line(slack[0], status.as_of)))
    if status.dead:
        dead = [f"• #{d.id} {esc(d.kind)}{f' ({esc(d.tenant_id)})' if d.tenant_id else ''} — "
                f"`{esc(truncate(d.error or 'no error recorded', 200))}`" for d in status.dead]
        blocks.append(section(_bounded(["*Latest dead letters* (`hirebridge dlq list`, `dlq retry`)", *dead])))
    blocks.append(context(f"As of {status.as_of:%Y-%m-%d %H:%M} UTC"))
    return message(title, blocks)


def _integration_line(i: IntegrationStatus, now: datetime) -> str:
    label = LABELS.get(i.integration, i.integration)
    parts = [f"last sync {_ago(i.last_synced_at, now)}" if i.integration != "slack" else "connection"]
    if i.failures:
        parts.append(f":x: {i.failures} failed check(s) in a row: `{esc(truncate(i.last_error or '?', 200))}`")
    elif i.last_check_ok_at:
        parts.append(f"check ok {_ago(i.last_check_ok_at, now)}")
    else:
        parts.append("not checked yet")
    if i.budget_limit:
        parts.append(f"budget {i.budget_used or 0}/{i.budget_limit} today")
    return f"• {label}: " + " · ".join(parts)


def mapping_answer(tenant_name: str, ats: str, projects: Sequence[tuple[str, str]],
                   stages: Sequence[tuple[str, str, str]], events: Sequence[tuple[str, str]],
                   fields: Sequence[tuple[str, str, str]]) -> Message:
    """A tenant's maps: LinkedIn projects to jobs, ATS stages to names, LinkedIn events, and the field map."""
    column = 1 if ats == "greenhouse" else 2
    label = LABELS.get(ats, ats)
    project_lines = [f"• {esc(p)} → {esc(jobs) or '_no job_'}" for p, jobs in projects] or ["_none mapped_"]
    stage_lines = [f"• {esc(job)}: `{esc(stage_id)}` → {esc(name)}" for job, stage_id, name in stages] or [
        "_none mapped: stage changes are not synced_"]
    event_lines = [f"• {esc(event)} → {esc(target)}" for event, target in events]
    field_lines = [f"• {esc(row[0])} → {esc(row[column])}" for row in fields]
    title = f"Mappings for {tenant_name} ({label})"
    return message(title, [
        section(f"*{esc(title)}*"),
        section(_bounded([f"*LinkedIn projects → {label} jobs*", *project_lines])),
        section(_bounded([f"*{label} stages → names on LinkedIn and in alerts*", *stage_lines])),
        section(_bounded(["*LinkedIn events → stage*", *event_lines])),
        section(_bounded([f"*LinkedIn fields → {label}*", *field_lines])),
        context("Change them in the config file, then `hirebridge config check`."),
    ])


# --- /candidate dedupe --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DuplicatePair:
    """One pair a scan found: both records (name, link), how sure, why, and whether it is newly proposed."""

    a: tuple[str, str | None]
    b: tuple[str, str | None]
    confidence: str
    reasons: tuple[str, ...]
    new: bool


MAX_PAIRS_SHOWN = 40
CONFIDENCES = ("certain", "likely", "possible")


def dedupe_answer(tenant_name: str, ats: str, checked: int, pairs: Sequence[DuplicatePair], *, posted: int,
                  ops_channel: str) -> Message:
    """A scan's result: records checked, pairs by confidence, and where the new merge proposals went."""
    where = f"{LABELS.get(ats, ats)} ({esc(tenant_name)})"
    if not pairs:
        head = f":white_check_mark: *No duplicates* among {checked} record(s) in {where}."
        return message(f"No duplicates in {tenant_name}", [section(head)])
    by = {c: sum(p.confidence == c for p in pairs) for c in CONFIDENCES}
    counts = ", ".join(f"{n} {c}" for c, n in by.items() if n)
    head = (f":busts_in_silhouette: *{len(pairs)} possible duplicate pair(s)* among {checked} record(s) in "
            f"{where}: {counts}.")
    new = sum(p.new for p in pairs)
    proposals = (f"{new} new merge proposal(s); {posted} posted in <#{ops_channel}> with their buttons "
                 "(the rest follow as those are decided)." if new else
                 "Every pair was proposed before; decide them in the ops channel.")
    rows = [section(_pair_line(p)) for p in pairs[:MAX_PAIRS_SHOWN]]
    more = [context(f"{len(pairs) - MAX_PAIRS_SHOWN} more pair(s) not shown {TRUNCATED}")] \
        if len(pairs) > MAX_PAIRS_SHOWN else []
    return message(f"{len(pairs)} possible duplicates in {tenant_name}",
                   [section(head), *rows, *more, context(proposals)])


def _pair_line(pair: DuplicatePair) -> str:
    names = [link(url, name or "(no name)") if url else esc(name or "(no name)") for name, url in (pair.a, pair.b)]
    mark = " _(new)_" if pair.new else ""
    why = esc("; ".join(pair.reasons))
    return _bounded([f"• {' · '.join(names)} — {esc(pair.confidence)}{mark}", f"   _{why}_"])


# --- stage alerts -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StageAlert:
    candidate: str
    role: str | None
    from_stage: str | None
    to_stage: str
    actor: str | None
    ats: str  # "Greenhouse" | "Lever"
    ats_url: str | None
    tenant: str


STAGE_ICON = {"Hired": ":tada:", "Rejected": ":no_entry_sign:"}


def stage_alert(alert: StageAlert) -> Message:
    """A hiring channel's alert: who, which role, from → to, who moved them, the ATS link."""
    move = f"{esc(alert.from_stage)} → *{esc(alert.to_stage)}*" if alert.from_stage else f"*{esc(alert.to_stage)}*"
    role = f" — {esc(truncate(alert.role, MAX_NAME))}" if alert.role else ""
    icon = STAGE_ICON.get(alert.to_stage, ":arrow_forward:")
    head = f"{icon} *{esc(truncate(alert.candidate, MAX_NAME))}*{role}: {move}"
    by = f"moved by {esc(alert.actor)} in {alert.ats}" if alert.actor else f"moved in {alert.ats}"
    where = [by, esc(alert.tenant), *([link(alert.ats_url, f"Open in {alert.ats}")] if alert.ats_url else [])]
    role_text = f" — {alert.role}" if alert.role else ""
    text = f"{alert.candidate}{role_text}: {alert.from_stage or '?'} → {alert.to_stage}"
    return message(text, [section(head), context(" · ".join(where))])


#: what a coalesced message of each outbox batch kind is a list of
BATCH_LABELS = {"stage_alert": "stage changes"}


def coalesced(kind: str, parts: Sequence[Message]) -> Message:
    """Several queued messages of one kind as one post that still shows every one of them, in order.

    The outbox takes at most `Outbox.batch_size` (10) parts; a stage alert is 2 blocks, so 10 fit Slack's 50.
    """
    label = BATCH_LABELS.get(kind, "updates")
    body: list[dict[str, Any]] = [context(f"*{len(parts)} {label}* in a row, posted together")]
    for i, part in enumerate(parts):
        if i:
            body.append({"type": "divider"})
        body.extend(part.get("blocks") or [section(esc(str(part.get("text") or "")))])
    text = f"{len(parts)} {label}: " + "; ".join(str(part.get("text") or "") for part in parts)
    return message(text, body)


def unmapped_stage(tenant_name: str, reason: str) -> Message:
    """The ops notice for a stage the stage map does not name (posted once per job and stage)."""
    return message(f"Unmapped ATS stage in {tenant_name}", [
        section(f":warning: *Unmapped ATS stage in {esc(tenant_name)}*"), section(esc(reason))])
