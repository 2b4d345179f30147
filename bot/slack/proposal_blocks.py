"""Block Kit for duplicate-merge proposals: two records side by side, why, and the buttons that decide.

Merging is irreversible in Greenhouse, and in Lever it archives the duplicate: both merge buttons carry a
confirm dialog, so Slack asks before the click reaches the bot. Once decided, the message is replaced by the
same card without buttons, saying who decided what.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.slack.blocks import LABELS, MAX_NAME, Message, context, esc, link, message, section, truncate

MERGE_INTO_A, MERGE_INTO_B, DISMISS = "dedupe_merge_a", "dedupe_merge_b", "dedupe_dismiss"
ACTIONS = (MERGE_INTO_A, MERGE_INTO_B, DISMISS)
#: what a merge does in each ATS, said in the confirm dialog (at most 300 characters)
CONSEQUENCE = {
    "greenhouse": "Greenhouse merges cannot be undone: {b} becomes part of {a} (applications, notes and contact "
                  "details move to {a}).",
    "lever": "Lever has no merge: {b}'s contact details are copied to {a}, its opportunities are archived with a "
             "note, and any job only {b} applied to is added to {a}.",
}


@dataclass(frozen=True)
class ProposalRecord:
    """One side of a proposal as the scan saw it."""

    name: str
    url: str | None = None
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    employer: str | None = None
    title: str | None = None
    linkedin: str | None = None
    jobs: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProposalRecord:
        return cls(name=str(data.get("name") or "(no name)"), url=data.get("url"),
                   emails=tuple(data.get("emails") or ()), phones=tuple(data.get("phones") or ()),
                   employer=data.get("employer"), title=data.get("title"), linkedin=data.get("linkedin"),
                   jobs=tuple(data.get("jobs") or ()))


@dataclass(frozen=True)
class ProposalCard:
    id: int
    tenant: str
    ats: str  # greenhouse | lever
    a: ProposalRecord
    b: ProposalRecord
    confidence: str
    score: float
    reasons: tuple[str, ...]


def _side(letter: str, record: ProposalRecord, ats: str) -> str:
    name = esc(truncate(record.name, MAX_NAME))
    head = f"*{letter}* · " + (link(record.url, record.name) if record.url else f"*{name}*")
    work = " — ".join(esc(v) for v in (record.employer, record.title) if v)
    lines = [head, *(esc(e) for e in record.emails[:3]), *(esc(p) for p in record.phones[:2]),
             *([work] if work else []), *([link(record.linkedin, "LinkedIn profile")] if record.linkedin else []),
             *([f"{LABELS.get(ats, ats)}: " + ", ".join(esc(j) for j in record.jobs[:3])] if record.jobs else [])]
    return truncate("\n".join(lines), 2000)


def _card(card: ProposalCard) -> list[dict[str, Any]]:
    where = f"{LABELS.get(card.ats, card.ats)} ({esc(card.tenant)})"
    head = f":busts_in_silhouette: *Possible duplicate in {where}* — {esc(card.confidence)} ({card.score:.2f})"
    fields = [{"type": "mrkdwn", "text": _side("A", card.a, card.ats)},
              {"type": "mrkdwn", "text": _side("B", card.b, card.ats)}]
    why = "; ".join(card.reasons) or "similar records"
    return [section(head), {"type": "section", "fields": fields}, context(f"Why: {esc(why)}")]


def _confirm(card: ProposalCard, survivor: ProposalRecord, absorbed: ProposalRecord) -> dict[str, Any]:
    text = CONSEQUENCE.get(card.ats, "{b} is merged into {a}.").format(a=survivor.name, b=absorbed.name)
    return {"title": {"type": "plain_text", "text": "Merge these records?"},
            "text": {"type": "mrkdwn", "text": truncate(esc(text), 300)},
            "confirm": {"type": "plain_text", "text": "Merge"}, "deny": {"type": "plain_text", "text": "Cancel"},
            "style": "danger"}


def _button(action_id: str, text: str, value: int, **extra: Any) -> dict[str, Any]:
    return {"type": "button", "action_id": action_id, "text": {"type": "plain_text", "text": text},
            "value": str(value), **extra}


def proposal(card: ProposalCard) -> Message:
    """The ops-channel proposal: both records, the reasons, Merge into A / Merge into B / Not a duplicate."""
    buttons = [
        _button(MERGE_INTO_A, "Merge into A", card.id, style="primary", confirm=_confirm(card, card.a, card.b)),
        _button(MERGE_INTO_B, "Merge into B", card.id, confirm=_confirm(card, card.b, card.a)),
        _button(DISMISS, "Not a duplicate", card.id),
    ]
    text = f"Possible duplicate in {card.tenant}: {card.a.name} and {card.b.name}"
    return message(text, [*_card(card), {"type": "actions", "block_id": f"proposal:{card.id}",
                                         "elements": buttons}])


def decided(card: ProposalCard, outcome: str) -> Message:
    """The proposal once decided (or being merged): no buttons, and who decided what (`outcome` is mrkdwn)."""
    text = f"Duplicate proposal {card.a.name} / {card.b.name}: {outcome}"
    return message(text, [*_card(card), section(outcome)])


def survivor_label(card: ProposalCard, action_id: str) -> tuple[str, str]:
    """(`A` or `B`, its name) for a merge button."""
    return ("A", card.a.name) if action_id == MERGE_INTO_A else ("B", card.b.name)


def card_from(proposal_id: int, tenant: str, ats: str, details: Mapping[str, Any], confidence: str, score: float,
              reasons: Sequence[str]) -> ProposalCard:
    """A card from what a proposal row stores (`details` holds `a` and `b`)."""
    return ProposalCard(proposal_id, tenant, ats, ProposalRecord.from_json(details.get("a") or {}),
                        ProposalRecord.from_json(details.get("b") or {}), confidence, score, tuple(reasons))
