"""Demo scene: ops find a duplicate with `/candidate dedupe` and merge it from Slack, once."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import httpx
from sqlmodel import Session, select

from bot.demo.render import message_panel
from bot.demo.scenes_slack import Slack
from bot.slack.proposal_blocks import MERGE_INTO_A
from integrations.ats import NewCandidate
from storage.models import DuplicateProposal, ProposalState

if TYPE_CHECKING:
    from bot.demo.script import Demo

OPS = "C0ACMEOPS"


def ops_messages(demo: Demo) -> list[dict[str, Any]]:
    """The proposals posted to the ops channel (as they read now: a decided one has been edited)."""
    answer = httpx.get(f"{demo.sims.url('slack')}/_sandbox/messages", params={"channel": OPS}, timeout=10)
    return [m for m in answer.json()["messages"] if "Possible duplicate" in str(m["blocks"])]


def scene_duplicates(demo: Demo) -> bool:
    demo.step("9. Ops merge a duplicate",
              "Jürgen Weiß is in Greenhouse twice: once typed by hand with an umlaut and a work email, once as "
              "'Jurgen Weiss' with a private email and his LinkedIn profile. Greenhouse dedupes by email, so it "
              "never noticed. Olu runs /candidate dedupe: the scan matches the two records (the same phone "
              "written two ways, the same name once accents are folded, the same employer without its legal "
              "suffix) and posts a merge proposal to the ops channel. Olu clicks Merge into A; Slack asks to "
              "confirm, as Greenhouse merges cannot be undone; the bot merges once, losing nothing.")
    ats = demo.rt.connections().ats_adapter("acme")
    ats.create_candidate(NewCandidate(first_name="Jürgen", last_name="Weiß", job_id="4401",
                                      emails=("juergen.weiss@nordlicht.example",), phones=("+49 30 1234567",),
                                      company="Nordlicht GmbH", title="Staff Engineer"))
    ats.create_candidate(NewCandidate(first_name="Jurgen", last_name="Weiss", job_id="4402",
                                      emails=("jweiss@mail.example",), phones=("+49 (30) 123-4567",),
                                      links=("https://www.linkedin.com/in/jurgen-weiss-7",), company="Nordlicht"))
    demo.console.print("  Greenhouse: 'Jürgen Weiß' (Senior Backend Engineer) and 'Jurgen Weiss' (Data Engineer)")
    slack = Slack(demo, demo.slack_url)
    slack.command("U0OLU", "dedupe acme")
    _wait_for_work(demo)
    demo.drain()
    demo.flush_outbox()  # the ops channel is paced: its proposal may wait a second behind an earlier post
    slack.answers(1)
    proposals = ops_messages(demo)
    for proposal in proposals:
        demo.console.print(message_panel(proposal, "#acme-recruiting-ops"))
    ours = [p for p in proposals if "Weiß" in str(p["blocks"])]
    if not ours:
        return False
    status = slack.click("U0OLU", ours[0], MERGE_INTO_A, "Merge into A")
    _wait_for_work(demo)
    demo.drain()
    demo.flush_outbox()
    (after,) = [m for m in ops_messages(demo) if m["ts"] == ours[0]["ts"]]
    demo.console.print(message_panel(after, "#acme-recruiting-ops"))
    weiss = [p for p in ats.changed_since(None) if p.last_name in ("Weiß", "Weiss")]
    jobs = sorted(a.job_id for p in weiss for a in p.applications)
    demo.console.print(f"  Greenhouse now: {len(weiss)} record, applications on jobs {', '.join(jobs)}",
                       highlight=False)
    with Session(demo.rt.engine) as s:
        merged = s.exec(select(DuplicateProposal).where(DuplicateProposal.status == ProposalState.MERGED)).all()
    return status == 200 and len(weiss) == 1 and jobs == ["4401", "4402"] and len(merged) == 1


def _wait_for_work(demo: Demo, timeout: float = 5.0) -> None:
    """The listener queues its work right after the ack; give it a moment before the worker runs."""
    deadline = time.monotonic() + timeout
    while demo.rt.queue.next_due() is None and time.monotonic() < deadline:
        time.sleep(0.02)
