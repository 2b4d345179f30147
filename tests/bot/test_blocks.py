"""The `/candidate` Block Kit builders: wording, escaping and Slack's limits, from plain values."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.lookup import ApplicationView, InMailView, Lookup, PersonView, StageChange
from bot.slack.blocks import (
    MAX_BLOCKS,
    MAX_SECTION_TEXT,
    TRUNCATED,
    DuplicatePair,
    Message,
    StageAlert,
    check_answer,
    dedupe_answer,
    export_answer,
    export_failed,
    export_problem,
    help_text,
    mapping_answer,
    stage_alert,
    status_answer,
    usage,
)
from bot.status import DeadLetter, IntegrationStatus, Status

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
SUBCOMMANDS = ("check", "export", "dedupe", "status", "mapping", "help")


def app(job: str = "Senior Backend Engineer", stage: str | None = "Phone Screen", status: str = "active",
        ago: timedelta | None = timedelta(days=3)) -> ApplicationView:
    return ApplicationView(job, stage, status, NOW - ago if ago is not None else None)


JANE = PersonView(
    tenant_id="acme", tenant_name="Acme", ats="greenhouse", candidate_id=7, name="Jane Doe", company="Initech",
    title="Staff Engineer", ats_id="53000001", ats_url="https://app.greenhouse.io/people/53000001",
    linkedin_url="https://www.linkedin.com/in/jane-doe-42", owner="Riley Recruiter",
    created_at=NOW - timedelta(days=40), last_activity_at=NOW - timedelta(hours=5),
    applications=(app(), app("Data Engineer", "Onsite", "rejected", timedelta(days=90))),
    last_stage_change=StageChange("Phone Screen", "ats", "Riley Recruiter", NOW - timedelta(days=3)),
    last_inmail=InMailView(datetime(2026, 3, 1, 9, 30, tzinfo=UTC), "InMail to Jane Doe, 2026-03-01 09:30 UTC"),
    pending=False, attention=None)
ROE = replace(JANE, candidate_id=8, name="Jane Roe", applications=(app("Data Engineer", "Offer", "hired"),))


def lookup(*people: PersonView, kind: str = "name", query: str = "Jane", term: str = "jane",
           **changes: Any) -> Lookup:
    return Lookup(query=query, kind=kind, term=term, as_of=NOW, tenants=("Acme", "Northwind"),  # type: ignore[arg-type]
                  people=list(people), **changes)


def texts(msg: Message) -> list[str]:
    """Every text Slack renders in the message: fallback, sections, context elements."""
    found = [msg["text"]]
    for block in msg["blocks"]:
        found += [block["text"]["text"]] if "text" in block else []
        found += [e["text"] for e in block.get("elements", [])]
    return found


def shown(msg: Message) -> str:
    return "\n".join(texts(msg))


GREEN = ":large_green_circle: *Already in Greenhouse (Acme)*"
WORDING = {
    "not-found-url": (lookup(kind="url", query="linkedin.com/in/x", term="linkedin.com/in/x"), [
        "*Not in the ATS*", "LinkedIn profile `linkedin.com/in/x`", "in Acme, Northwind",
        "/candidate export linkedin.com/in/x"]),
    "not-found-email": (lookup(kind="email", query="A@B.io", term="a@b.io"), [
        "*Not in the ATS*", "email `a@b.io`"]),
    "not-found-name": (lookup(query="Jane  Doe"), [
        "*Not in the ATS*", "name “Jane Doe”", "LinkedIn profile URL or email"]),
    "one-in-ats": (lookup(JANE, kind="url"), [
        "Already in Greenhouse (Acme): Senior Backend Engineer — Phone Screen since 3 days ago",
        f"{GREEN}: Senior Backend Engineer — Phone Screen since 3 days ago",
        "<https://app.greenhouse.io/people/53000001|Open in Greenhouse>",
        "<https://www.linkedin.com/in/jane-doe-42|LinkedIn profile>", "*Jane Doe* · Staff Engineer at Initech",
        "Owner: Riley Recruiter", "Last activity: 5 hours ago", "Last InMail: 2026-03-01 — InMail to Jane Doe",
        "Last stage change: to Phone Screen (in the ATS, by Riley Recruiter), 3 days ago",
        "*Earlier applications*\n• Data Engineer — rejected at Onsite (2025-12-10)"]),
    "rediscovered": (lookup(ROE, query="Jane Roe"), [
        ":recycle: *Rediscovered candidate — in Greenhouse (Acme), earlier applications only*",
        "• Data Engineer — hired at Offer"]),
    "no-application": (lookup(replace(JANE, applications=())), [f"{GREEN} — no open application"]),
    "pending": (lookup(replace(JANE, pending=True, ats_url=None)), ["*Being added to Greenhouse (Acme)"]),
    "attention": (lookup(replace(JANE, attention="LinkedIn refused the candidate (422)")), [
        ":warning: Needs attention: LinkedIn refused the candidate (422)"]),
    "several": (lookup(JANE, ROE), [
        "*2 people match name “Jane”*", "narrow it down", "*Jane Doe*", "*Jane Roe*",
        "Rediscovered candidate — in Greenhouse (Acme)", "Already in Greenhouse (Acme): Senior Backend Engineer"]),
    "one-key-two-tenants": (lookup(JANE, replace(JANE, tenant_id="nw", tenant_name="Northwind"), kind="url"), [
        "*2 records* match LinkedIn profile", "Already in Greenhouse (Northwind)"]),
    "truncated": (lookup(JANE, ROE, truncated=True), [f"More match than the 2 shown {TRUNCATED}"]),
    "problem": (lookup(kind="url", problem="That is a LinkedIn Recruiter link."), [
        ":warning: That is a LinkedIn Recruiter link.", "`/candidate check &lt;linkedin url | email | name&gt;`"]),
}


@pytest.mark.parametrize(("answer", "expected"), list(WORDING.values()), ids=list(WORDING))
def test_check_answer_wording(answer: Lookup, expected: list[str]) -> None:
    text = shown(check_answer(answer))
    for phrase in expected:
        assert phrase in text


@pytest.mark.parametrize(("ago", "phrase"), [
    (timedelta(seconds=20), "since just now"),
    (timedelta(minutes=1, seconds=5), "since 1 minute ago"),
    (timedelta(hours=2), "since 2 hours ago"),
    (timedelta(days=1, hours=3), "since 1 day ago"),
    (timedelta(days=75), "since 2025-12-25"),
])
def test_check_answer_says_how_long_ago(ago: timedelta, phrase: str) -> None:
    assert phrase in shown(check_answer(lookup(replace(JANE, applications=(app(ago=ago),)))))


def test_check_answer_escapes_what_people_typed_and_what_the_ats_holds() -> None:
    person = replace(JANE, name="<!channel> & <@U123>", company="A>B")
    text = shown(check_answer(lookup(person, query="<!here>")))
    assert "&lt;!channel&gt; &amp; &lt;@U123&gt;" in text and "A&gt;B" in text
    assert not re.search(r"<[!@]", text)
    assert "&lt;!here&gt;" in shown(check_answer(lookup(query="<!here>")))


LONG = "W" * 5000
MANY_APPS = tuple(app(f"Job {i} " + "x" * 120, status="active" if i % 2 else "rejected") for i in range(60))


@pytest.mark.parametrize("answer", [
    pytest.param(lookup(replace(JANE, name=LONG, owner=LONG, title=LONG)), id="long-name"),
    pytest.param(lookup(replace(JANE, applications=MANY_APPS)), id="60-applications"),
    pytest.param(lookup(*(replace(JANE, name=f"Jane {i}", applications=MANY_APPS) for i in range(60)),
                        truncated=True), id="60-people"),
    pytest.param(lookup(*(replace(JANE, tenant_id=f"t{i}") for i in range(20)), kind="url"), id="20-records"),
    pytest.param(lookup(query=LONG, problem=LONG), id="long-problem"),
])
def test_check_answer_stays_within_slack_limits(answer: Lookup) -> None:
    msg = check_answer(answer)
    assert len(msg["blocks"]) <= MAX_BLOCKS
    assert all(len(b["text"]["text"]) <= MAX_SECTION_TEXT for b in msg["blocks"] if b["type"] == "section")
    assert all(len(e["text"]) <= 2000 for b in msg["blocks"] for e in b.get("elements", []))
    assert len(msg["text"]) <= 3000
    assert TRUNCATED in shown(msg)


@pytest.mark.parametrize("msg", [usage(), usage("Unknown subcommand “frobnicate”."), help_text()],
                         ids=["usage", "usage-with-problem", "help"])
def test_usage_and_help_list_every_subcommand(msg: Message) -> None:
    text = shown(msg)
    for name in SUBCOMMANDS:
        assert f"`/candidate {name}" in text
    assert "check &lt;linkedin url | email | name&gt;" in text
    assert "export &lt;linkedin url&gt; [job [first last]]" in text
    assert "<linkedin" not in text, "angle brackets would be read as a Slack link"


def test_usage_puts_the_problem_first() -> None:
    msg = usage("Unknown subcommand “frobnicate”.")
    assert msg["blocks"][0]["text"]["text"] == ":warning: Unknown subcommand “frobnicate”."
    assert usage()["blocks"][0]["text"]["text"].startswith("*Usage*")


def test_a_long_list_is_cut_at_a_line_and_says_how_many_are_left_out() -> None:
    msg = check_answer(lookup(replace(JANE, applications=MANY_APPS)))
    sections = [b["text"]["text"] for b in msg["blocks"] if b["type"] == "section"]
    (earlier,) = [text for text in sections if text.startswith("*Earlier applications*")]
    shown_lines = [line for line in earlier.splitlines() if line.startswith("• Job ")]
    hidden = re.search(rf"(\d+) more not shown {re.escape(TRUNCATED)}$", earlier)
    assert hidden and shown_lines, earlier[-200:]
    assert len(shown_lines) + int(hidden.group(1)) == 30
    assert all(line.endswith("rejected at Phone Screen (2026-03-07)") for line in shown_lines)


def huge_status() -> tuple[Status, dict[str, str]]:
    tenants = {f"t{i}": f"Tenant {i} " + "x" * 300 for i in range(70)}
    integrations = [IntegrationStatus(t, "greenhouse", NOW, None, 3, LONG) for t in tenants]
    dead = [DeadLetter(i, "sync.prospect", "t1", LONG, NOW) for i in range(5)]
    return Status(NOW, {"queued": 9, "running": 1, "dead": 5}, {"k" * 300: 5}, dead, {"pending": 0, "dead": 0},
                  dict.fromkeys(tenants, 2), integrations), tenants


@pytest.mark.parametrize("msg", [
    pytest.param(status_answer(*huge_status()), id="status-70-tenants"),
    pytest.param(mapping_answer(LONG, "lever", [(LONG, LONG)] * 200, [("job", "1", LONG)] * 300,
                                [("Exported", LONG)], [(LONG, LONG, LONG)] * 20), id="mapping-huge"),
    pytest.param(export_answer(lookup(replace(JANE, name=LONG, applications=MANY_APPS)), created=False,
                               matched_by="email", job=LONG), id="export-long"),
    pytest.param(export_problem(LONG), id="export-problem-long"),
    pytest.param(stage_alert(StageAlert(LONG, LONG, LONG, LONG, LONG, "Greenhouse", "https://ats.example/1",
                                        LONG)), id="stage-alert-long"),
    pytest.param(dedupe_answer(LONG, "greenhouse", 10**6, [DuplicatePair(
        (LONG, "https://ats.example/1"), (LONG, "https://ats.example/2"), "likely", (LONG,) * 3, True)] * 100,
        posted=10, ops_channel="C0OPS"), id="dedupe-100-pairs"),
    pytest.param(export_failed(LONG), id="export-failed-long"),
])
def test_status_mapping_and_export_answers_stay_within_slack_limits(msg: Message) -> None:
    assert len(msg["blocks"]) <= MAX_BLOCKS
    assert all(len(b["text"]["text"]) <= MAX_SECTION_TEXT for b in msg["blocks"] if b["type"] == "section")
    assert all(len(e["text"]) <= 2000 for b in msg["blocks"] for e in b.get("elements", []))
    assert len(msg["text"]) <= 3000
    assert TRUNCATED in shown(msg)


def test_export_answer_says_created_or_linked_and_why() -> None:
    created = shown(export_answer(lookup(JANE), created=True, matched_by=None, job="Data Engineer"))
    assert "Exported to Greenhouse (Acme)" in created and "added to *Data Engineer*" in created
    linked = shown(export_answer(lookup(JANE), created=False, matched_by="email", job=None))
    assert "Already in Greenhouse (Acme)" in linked and "(the same email)" in linked
    assert "no duplicate created" in linked and "Open in Greenhouse" in linked
