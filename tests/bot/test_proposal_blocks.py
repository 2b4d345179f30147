"""The merge proposal card: both records, the reasons, confirmed merge buttons, all within Slack's limits."""

from __future__ import annotations

from bot.slack.blocks import MAX_BLOCKS
from bot.slack.proposal_blocks import (
    DISMISS,
    MERGE_INTO_A,
    MERGE_INTO_B,
    ProposalCard,
    ProposalRecord,
    decided,
    proposal,
)

LONG = "x" * 5000
A = ProposalRecord("Jürgen Weiß", "https://app.greenhouse.io/people/1", ("j@x.example",), ("+49301234567",),
                   "Nordlicht GmbH", "Staff Engineer", None, ("Senior Backend Engineer",))
B = ProposalRecord("Jurgen <Weiss> & Co", None, linkedin="https://www.linkedin.com/in/jurgen-weiss-7")


def card(a: ProposalRecord = A, b: ProposalRecord = B, ats: str = "greenhouse") -> ProposalCard:
    return ProposalCard(7, "Acme", ats, a, b, "likely", 0.8271, ("same phone", "similar name + same employer"))


def buttons(message: dict[str, object]) -> dict[str, dict[str, object]]:
    blocks = message["blocks"]
    assert isinstance(blocks, list)
    return {e["action_id"]: e for b in blocks if b["type"] == "actions" for e in b["elements"]}


def test_the_card_names_both_records_and_why_with_names_escaped() -> None:
    text = str(proposal(card())["blocks"])
    assert "Jürgen Weiß" in text and "Jurgen &lt;Weiss&gt; &amp; Co" in text
    assert "Why: same phone; similar name + same employer" in text and "likely (0.83)" in text
    assert "<https://www.linkedin.com/in/jurgen-weiss-7|LinkedIn profile>" in text


def test_merges_ask_first_and_say_what_cannot_be_undone_per_ats() -> None:
    greenhouse, lever = buttons(proposal(card())), buttons(proposal(card(ats="lever")))
    assert set(greenhouse) == {MERGE_INTO_A, MERGE_INTO_B, DISMISS}
    assert all(b["value"] == "7" for b in greenhouse.values())
    confirm = greenhouse[MERGE_INTO_B]["confirm"]
    assert isinstance(confirm, dict) and "cannot be undone" in str(confirm["text"])
    assert "Jurgen" in str(confirm["text"]).split("becomes part of")[1]  # B survives when merging into B
    assert "archived" in str(lever[MERGE_INTO_A]["confirm"]) and "confirm" not in greenhouse[DISMISS]


def test_a_decided_card_has_no_buttons() -> None:
    message = decided(card(), ":white_check_mark: Merged into A — decided by <@U0OLU>.")
    assert buttons(message) == {} and "decided by <@U0OLU>" in str(message["blocks"])


def test_huge_records_stay_within_slack_limits() -> None:
    huge = ProposalRecord(LONG, "https://ats.example/" + "y" * 3000, (LONG,) * 10, (LONG,) * 10, LONG, LONG, LONG,
                          (LONG,) * 10)
    message = proposal(card(huge, huge))
    blocks = message["blocks"]
    assert isinstance(blocks, list) and len(blocks) <= MAX_BLOCKS
    assert all(len(f["text"]) <= 2000 for b in blocks for f in b.get("fields", []))
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section" and "text" in b)
    assert all(len(str(e["confirm"]["text"]["text"])) <= 300 for e in buttons(message).values() if "confirm" in e)
    assert len(str(message["text"])) <= 3000
