"""Merging duplicates from Slack: signed block_actions, decided once, merged everywhere, nothing lost."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlmodel import Session, col, select

from bot.dedupe_scan import DuplicateScans
from bot.merges import MERGE
from bot.slack.proposal_blocks import DISMISS, MERGE_INTO_A, MERGE_INTO_B
from bot.worker import Worker
from integrations.ats import NewCandidate
from integrations.sandbox.server import RunningServer
from integrations.sandbox.world import SLACK
from storage.db import transaction
from storage.models import (
    Application,
    AuditEntry,
    Candidate,
    CandidateIdentity,
    DuplicateProposal,
    Note,
    ProposalState,
    WorkItem,
)
from storage.proposals import add_proposal
from tests.bot.slack_client import server as server
from tests.bot.slack_client import signed_headers
from tests.bot.world import World, wait_until

pytestmark = pytest.mark.slow
OPS = "C0ACMEOPS"


# --- a world with one pair of duplicates ------------------------------------------------------------------------

def duplicates(world: World, tenant: str = "acme", jobs: tuple[str, str] = ("4401", "4402")) -> tuple[str, str]:
    """The same person twice in the ATS (typed differently, on two jobs), mirrored locally with a note."""
    ats = world.rt.connections().ats_adapter(tenant)
    a, _ = ats.create_candidate(NewCandidate(first_name="Jürgen", last_name="Weiß", job_id=jobs[0],
                                             emails=("jurgen.weiss@example.org",), phones=("+49 30 1234567",),
                                             company="Nordlicht GmbH"))
    b, _ = ats.create_candidate(NewCandidate(first_name="Jurgen", last_name="Weiss", job_id=jobs[1],
                                             emails=("j.weiss@mail.example",), phones=("+49 (30) 123-4567",),
                                             links=("https://www.linkedin.com/in/jurgen-weiss-7",),
                                             company="Nordlicht"))
    with transaction(world.rt.engine) as s:
        world.rt.mirror().pull(s, world.rt.app_config().tenant(tenant))
    with transaction(world.rt.engine) as s:
        absorbed = s.exec(select(Candidate).where(Candidate.ats_candidate_id == b.person_id)).one()
        s.add(Note(tenant_id=tenant, candidate_id=absorbed.id or 0, source_id="inmail:1", body="InMail: hello"))
    return a.person_id, b.person_id


def propose(world: World, a: str, b: str, tenant: str = "acme") -> int:
    """Store the pair as a scan would, and post it to the ops channel."""
    config = world.rt.app_config()
    people = {p.person_id: p for p in world.people(tenant)}
    scans = DuplicateScans(world.rt.engine, config, world.rt.connections().ats_adapter)
    from bot.dedupe_scan import person_details

    gone = {"name": "(no longer in the ATS)"}
    with transaction(world.rt.engine) as s:
        pid = add_proposal(s, tenant_id=tenant, record_a=a, record_b=b, score=0.93, confidence="likely",
                           reasons=["similar name + same employer"], origin="scan", now=scans.clock(),
                           details={side: person_details(people[record], config.tenant(tenant))
                                    if record in people else gone for side, record in (("a", a), ("b", b))})
        assert pid is not None
        scans.post(s, config.tenant(tenant))
    world.relay()
    return pid


def posted_proposal(world: World, channel: str = OPS) -> dict[str, Any]:
    params = {"channel": channel}
    messages = httpx.get(f"{world.sims.url('slack')}/_sandbox/messages", params=params).json()["messages"]
    (proposal,) = [m for m in messages if "Possible duplicate" in m["text"]]
    return dict(proposal)


def click(world: World, server: RunningServer, action_id: str, proposal_id: int, *, user: str = "U0OLU",
          secret: str = SLACK.signing_secret, channel: str = OPS) -> httpx.Response:
    """A signed block_actions delivery, as Slack sends it when someone clicks (after any confirm dialog)."""
    message = posted_proposal(world, channel)
    minted = httpx.post(f"{world.sims.url('slack')}/_sandbox/response_urls",
                        json={"channel": channel, "user": user, "message_ts": message["ts"]})
    response_url = minted.json()["response_url"]
    payload = {
        "type": "block_actions", "team": {"id": SLACK.team_id, "domain": "sandbox"},
        "user": {"id": user, "username": user.lower(), "team_id": SLACK.team_id}, "api_app_id": "A0HIREBRIDGE",
        "token": "legacy", "container": {"type": "message", "message_ts": message["ts"], "channel_id": channel,
                                         "is_ephemeral": False},
        "trigger_id": f"{time.time_ns()}.sandbox", "channel": {"id": channel, "name": "ops"},
        "message": {"type": "message", "ts": message["ts"], "text": message["text"], "blocks": message["blocks"]},
        "response_url": response_url,
        "actions": [{"type": "button", "action_id": action_id, "block_id": f"proposal:{proposal_id}",
                     "value": str(proposal_id), "text": {"type": "plain_text", "text": "x"},
                     "action_ts": f"{time.time():.6f}"}],
    }
    body = urlencode({"payload": json.dumps(payload)})
    return httpx.post(f"{server.url}/slack/events", content=body, headers=signed_headers(body, secret=secret),
                      timeout=10)


def proposal_row(world: World, pid: int) -> DuplicateProposal:
    with Session(world.rt.engine) as s:
        row = s.get(DuplicateProposal, pid)
        assert row is not None
        return row



def merge_items(world: World) -> list[WorkItem]:
    with Session(world.rt.engine) as s:
        return list(s.exec(select(WorkItem).where(WorkItem.kind == MERGE)).all())


def replies(world: World) -> list[dict[str, Any]]:
    return list(httpx.get(f"{world.sims.url('slack')}/_sandbox/messages").json()["responses"])


def settle(world: World) -> None:
    """Run what the clicks queued with two workers at once, then post every reply."""
    workers = [Worker(world.rt.engine, world.rt.queue, world.worker().handlers, name=f"w{i}") for i in (1, 2)]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda w: w.drain(), workers))
    world.relay()


# --- the message ------------------------------------------------------------------------------------------------

def test_a_proposal_shows_both_records_the_reasons_and_confirmed_merge_buttons(world: World) -> None:
    a, b = duplicates(world)
    propose(world, a, b)
    message = posted_proposal(world)
    text = json.dumps(message["blocks"], ensure_ascii=False)
    assert "Jürgen Weiß" in text and "Jurgen Weiss" in text and "similar name + same employer" in text
    (actions,) = [blk for blk in message["blocks"] if blk["type"] == "actions"]
    buttons = {e["action_id"]: e for e in actions["elements"]}
    assert set(buttons) == {MERGE_INTO_A, MERGE_INTO_B, DISMISS}
    assert "cannot be undone" in buttons[MERGE_INTO_A]["confirm"]["text"]["text"]
    assert "confirm" in buttons[MERGE_INTO_B] and "confirm" not in buttons[DISMISS]


# --- merging ----------------------------------------------------------------------------------------------------

def test_double_clicks_and_two_workers_merge_once_and_lose_nothing(world: World, server: RunningServer) -> None:
    a, b = duplicates(world)
    pid = propose(world, a, b)
    start = threading.Barrier(2)

    def clicked(user: str) -> int:
        start.wait()
        return click(world, server, MERGE_INTO_A, pid, user=user).status_code

    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(clicked, ["U0OLU", "U0ADA"])) == [200, 200]
    wait_until(lambda: proposal_row(world, pid).status == ProposalState.MERGING and len(replies(world)) >= 0,
             "the click was decided")
    time.sleep(0.3)  # the second click's answer (it found the proposal decided) is queued after its ack
    assert len(merge_items(world)) == 1, "one merge, whoever clicked first"
    settle(world)

    gh: Any = world.sims.states["greenhouse"]
    merges = [r for r in gh.recorder.items() if r.path.endswith("/merge")]
    assert len(merges) == 1
    row = proposal_row(world, pid)
    assert (row.status, row.survivor) == (ProposalState.MERGED, a)
    assert row.decided_by in ("U0OLU", "U0ADA")
    people = {p.person_id: p for p in world.people("acme")}
    assert b not in people and {x.job_id for x in people[a].applications} == {"4401", "4402"}
    with Session(world.rt.engine) as s:
        (kept,) = s.exec(select(Candidate).where(col(Candidate.first_name).in_(["Jürgen", "Jurgen"]))).all()
        keys = {(i.kind, i.value) for i in s.exec(select(CandidateIdentity).where(
            CandidateIdentity.candidate_id == kept.id))}
        assert ("email", "j.weiss@mail.example") in keys and ("ats", b) in keys, "the absorbed keys moved"
        assert {x.job_id for x in s.exec(select(Application).where(Application.candidate_id == kept.id))} == {
            "4401", "4402"}
        assert [n.body for n in s.exec(select(Note).where(Note.candidate_id == kept.id))] == ["InMail: hello"]
        (merged,) = s.exec(select(AuditEntry).where(AuditEntry.action == "candidate.merged")).all()
        assert merged.detail["absorbed"]["first_name"] == "Jurgen" and merged.detail["proposal"] == pid
    texts = [str(r["text"]) for r in replies(world)]
    assert any("Merged into A" in t for t in texts)
    assert any("already merging" in t for t in texts), "the second click is told who was first"


def test_not_a_duplicate_is_remembered_and_never_proposed_again(world: World, server: RunningServer) -> None:
    a, b = duplicates(world)
    pid = propose(world, a, b)
    assert click(world, server, DISMISS, pid).status_code == 200
    wait_until(lambda: proposal_row(world, pid).status == ProposalState.DISMISSED, "dismissed")
    with transaction(world.rt.engine) as s:
        again = add_proposal(s, tenant_id="acme", record_a=b, record_b=a, score=1.0, confidence="certain",
                             reasons=[], details={}, origin="scan", now=proposal_row(world, pid).created_at)
    assert again is None, "the same pair, either way round, is not proposed again"
    assert click(world, server, MERGE_INTO_B, pid).status_code == 200
    time.sleep(0.3)
    assert merge_items(world) == [] and proposal_row(world, pid).status == ProposalState.DISMISSED


def test_only_ops_decide_and_a_bad_signature_changes_nothing(world: World, server: RunningServer) -> None:
    a, b = duplicates(world)
    pid = propose(world, a, b)
    assert click(world, server, MERGE_INTO_A, pid, secret="not-the-secret").status_code == 401
    assert click(world, server, MERGE_INTO_A, pid, user="U0RAE").status_code == 200  # a recruiter
    time.sleep(0.3)
    assert proposal_row(world, pid).status == ProposalState.OPEN and merge_items(world) == []


def test_a_merge_made_in_greenhouse_is_folded_in_locally(world: World) -> None:
    a, b = duplicates(world)
    pid = propose(world, a, b)
    ats = world.rt.connections().ats_adapter("acme")
    ats.merge_people(a, b, note="merged by a recruiter in Greenhouse")
    from bot.stage_events import ATS_EVENT
    from storage.queue import Priority, enqueue

    event = {"event_id": "gh-merge-1", "vendor": "greenhouse", "kind": "merged", "person_id": b, "merged_into": a,
             "occurred_at": "2026-11-22T10:00:00+00:00"}
    with transaction(world.rt.engine) as s:
        enqueue(s, ATS_EVENT, {"tenant": "acme", "event": event}, tenant_id="acme", priority=Priority.PUSH,
                dedupe_key="ats-event:greenhouse:acme:gh-merge-1")
    world.drain()
    with Session(world.rt.engine) as s:
        assert len(s.exec(select(Candidate).where(col(Candidate.first_name).in_(["Jürgen", "Jurgen"]))).all()) == 1
    assert proposal_row(world, pid).status == ProposalState.SUPERSEDED


def test_a_lever_merge_archives_the_duplicate_with_a_note(world: World, server: RunningServer) -> None:
    a, b = duplicates(world, "northwind", ("post-nw-platform", "post-nw-sre"))
    pid = propose(world, a, b, "northwind")
    assert click(world, server, MERGE_INTO_A, pid, channel="C0NWOPS").status_code == 200
    wait_until(lambda: len(merge_items(world)) == 1, "the merge was queued")
    settle(world)
    assert proposal_row(world, pid).status == ProposalState.MERGED
    people = {p.person_id: p for p in world.people("northwind")}
    survivor = people[a]
    assert "j.weiss@mail.example" in survivor.emails, "the duplicate's contact details are on the survivor"
    assert {x.job_id for x in survivor.applications if x.status != "archived"} == {"post-nw-platform",
                                                                                   "post-nw-sre"}
    # Lever keeps the duplicate contact: its opportunity archived with the configured reason and a note
    assert b in people and [x.status for x in people[b].applications] == ["archived"]
    notes = world.rt.connections().ats_adapter("northwind").list_notes(b)
    assert any("HireBridge merged a duplicate record" in body for _, body in notes)
    with Session(world.rt.engine) as s:
        weiss = s.exec(select(Candidate).where(Candidate.tenant_id == "northwind",
                                               col(Candidate.first_name).in_(["Jürgen", "Jurgen"]))).all()
        assert len(weiss) == 1


def test_a_scan_nobody_asked_for_proposes_to_ops_once_and_skips_dismissed_pairs(world: World,
                                                                                server: RunningServer) -> None:
    from bot.dedupe_scan import ScanRequest

    a, b = duplicates(world)
    scans = world.rt.duplicate_scans()
    assert scans.request(ScanRequest(tenant_id="acme", request_key="scheduled:1")) is not None
    assert scans.request(ScanRequest(tenant_id="acme", request_key="scheduled:1")) is None, "one per occurrence"
    world.drain()
    world.relay()
    with Session(world.rt.engine) as s:
        (row,) = s.exec(select(DuplicateProposal)).all()
    assert {row.record_a, row.record_b} == {a, b} and row.posted and replies(world) == []
    assert click(world, server, DISMISS, row.id or 0).status_code == 200
    wait_until(lambda: proposal_row(world, row.id or 0).status == ProposalState.DISMISSED, "dismissed")
    scans.request(ScanRequest(tenant_id="acme", request_key="scheduled:2"))
    world.drain()
    with Session(world.rt.engine) as s:
        assert len(s.exec(select(DuplicateProposal)).all()) == 1, "a dismissed pair is not proposed again"


def test_a_merge_the_ats_refuses_is_kept_as_failed_and_says_so(world: World, server: RunningServer) -> None:
    _, b = duplicates(world)
    pid = propose(world, b, "99999999")  # someone deleted record B in Greenhouse since the scan
    assert click(world, server, MERGE_INTO_B, pid).status_code == 200
    wait_until(lambda: len(merge_items(world)) == 1, "the merge was queued")
    settle(world)
    row = proposal_row(world, pid)
    assert row.status == ProposalState.FAILED and "99999999" in (row.error or "")
    assert any("stopped" in str(r["text"]) and "kept as failed" in str(r["text"]) for r in replies(world))
    assert b in {p.person_id for p in world.people("acme")}, "nothing was merged"
