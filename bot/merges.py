"""Merging duplicates from Slack: a click decides a proposal once, a work item merges everywhere, losing nothing.

1. A click (`decide`) moves the proposal conditionally (`open → merging` or `open → dismissed`), so double
   clicks, Slack retries and two servers decide it once. A merge queues one `dedupe.merge` work item (keyed by
   the proposal) in the same transaction; the message is replaced by the card saying who decided what.
2. The work item (`__call__`) merges in the ATS first (Greenhouse's merge endpoint; Lever has none: contact
   details copied, the duplicate's opportunities archived with a note), then locally (identity keys,
   applications with their history, notes move to the survivor; the absorbed record is kept as a snapshot in
   the audit log), then on LinkedIn (the absorbed `atsCandidates` record deleted, the survivor pushed). A
   retry after a crash finds the ATS merge done (`already_merged`) and goes on.
3. A merge made in the ATS itself (Greenhouse's `merge_candidate` webhook) is folded in locally the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from bot.config_model import AppConfig, Tenant
from bot.mirror import Mirror
from bot.pushback import PushBack
from bot.slack import proposal_blocks as cards
from bot.slack.blocks import LABELS, esc
from integrations.ats import AtsClient
from storage.candidates import by_ats_id
from storage.db import transaction
from storage.models import AuditEntry, DuplicateProposal, ProposalState, utcnow
from storage.outbox import add_message
from storage.proposals import merge_candidates, supersede, transition
from storage.queue import Claimed, Priority, enqueue

log = logging.getLogger(__name__)

MERGE = "dedupe.merge"


@dataclass(frozen=True)
class Decision:
    """What a click did: `merging`, `dismissed`, `taken` (decided before), `refused` or `missing`."""

    outcome: str
    proposal_id: int


@dataclass
class Merges:
    engine: Engine
    config: AppConfig
    ats_for: Callable[[str], AtsClient]
    mirror: Mirror
    push_back: PushBack | None = None
    clock: Callable[[], datetime] = utcnow

    # --- 1. the click ------------------------------------------------------------------------------------------

    def decide(self, proposal_id: int, action_id: str, user: str, response_url: str | None) -> Decision:
        """Record one click on a proposal's buttons; the reply goes to the message's `response_url`."""
        now = self.clock()
        with transaction(self.engine) as session:
            row = session.get(DuplicateProposal, proposal_id)
            if row is None or action_id not in cards.ACTIONS:
                self._reply(session, None, response_url, f"missing:{proposal_id}:{now.timestamp()}",
                            {"text": "This proposal is no longer known; run `/candidate dedupe` again."})
                return Decision("missing", proposal_id)
            card = self.card(row)
            if action_id == cards.DISMISS:
                if transition(session, proposal_id, expected={ProposalState.OPEN}, to=ProposalState.DISMISSED,
                              now=now, decided_by=user, decided_at=now):
                    outcome = (f":no_entry_sign: Not a duplicate — decided by <@{user}>. This pair will not be "
                               "proposed again.")
                    self._audit(session, row, user, "dedupe.dismissed", now)
                    self._update(session, row, response_url, "dismissed", cards.decided(card, outcome))
                    return Decision("dismissed", proposal_id)
                return self._taken(session, row, user, response_url, now)
            letter, name = cards.survivor_label(card, action_id)
            survivor, absorbed = ((row.record_a, row.record_b) if letter == "A" else (row.record_b, row.record_a))
            if not transition(session, proposal_id, expected={ProposalState.OPEN}, to=ProposalState.MERGING,
                              now=now, survivor=survivor, decided_by=user, decided_at=now):
                return self._taken(session, row, user, response_url, now)
            enqueue(session, MERGE, {"tenant": row.tenant_id, "proposal": proposal_id, "survivor": survivor,
                                     "absorbed": absorbed, "user": user, "response_url": response_url},
                    tenant_id=row.tenant_id, dedupe_key=f"merge:{proposal_id}", priority=Priority.INTERACTIVE)
            self._audit(session, row, user, "dedupe.merge_requested", now, survivor=survivor)
            outcome = f":hourglass_flowing_sand: Merging into {letter} ({esc(name)}) — requested by <@{user}>…"
            self._update(session, row, response_url, "merging", cards.decided(card, outcome))
            return Decision("merging", proposal_id)

    def _taken(self, session: Session, row: DuplicateProposal, user: str, response_url: str | None,
               now: datetime) -> Decision:
        """A click on a proposal decided already (a double click, or someone else first): say by whom."""
        session.refresh(row)
        who = f" by <@{row.decided_by}>" if row.decided_by else ""
        self._reply(session, row, response_url, f"taken:{row.id}:{user}:{now.timestamp()}",
                    {"text": f"This proposal was already {row.status}{who}; nothing more was done.",
                     "response_type": "ephemeral", "replace_original": False})
        return Decision("taken", row.id or 0)

    # --- 2. the merge ------------------------------------------------------------------------------------------

    def __call__(self, session: Session, item: Claimed) -> None:
        p = item.payload
        row = session.get(DuplicateProposal, int(p["proposal"]))
        if row is None or row.status != ProposalState.MERGING:
            return  # decided otherwise meanwhile: nothing to merge
        tenant = self.config.tenant(row.tenant_id)
        survivor, absorbed = str(p["survivor"]), str(p["absorbed"])
        card = self.card(row)
        note = (f"HireBridge merged a duplicate record into this one ({self._name(row, card, absorbed)}, "
                f"{tenant.ats} id {absorbed}): {'; '.join(row.reasons) or 'similar records'}. "
                f"Decided in Slack by user {p['user']}.")
        outcome = self.ats_for(tenant.id).merge_people(survivor, absorbed, note=note)
        now = self.clock()
        snapshot = self.fold(session, tenant, survivor, absorbed, actor=f"slack:{p['user']}",
                             why={"proposal": row.id, "reasons": list(row.reasons),
                                  "ats_actions": list(outcome.actions)})
        self.mirror.absorb(session, tenant, outcome.survivor)
        self._linkedin(session, tenant, survivor, absorbed, snapshot)
        transition(session, row.id or 0, expected={ProposalState.MERGING}, to=ProposalState.MERGED, now=now)
        supersede(session, tenant.id, absorbed, now, keep=row.id)
        letter = "A" if survivor == row.record_a else "B"
        self._audit(session, row, str(p["user"]), "dedupe.merged", now, survivor=survivor,
                    already_merged=outcome.already_merged)
        text = (f":white_check_mark: Merged into {letter} ({esc(self._name(row, card, survivor))}) — decided by "
                f"<@{p['user']}>. Nothing was lost: applications, notes and contact details are on {letter}.")
        self._update(session, row, p.get("response_url"), "merged", cards.decided(card, text))

    def on_dead(self, item: Claimed, error: str) -> None:
        """The merge gave up: the proposal says so, and so does its message (nothing is retried silently)."""
        p = item.payload
        now = self.clock()
        with transaction(self.engine) as session:
            row = session.get(DuplicateProposal, int(p["proposal"]))
            if row is None:
                return
            transition(session, row.id or 0, expected={ProposalState.MERGING}, to=ProposalState.FAILED, now=now,
                       error=error[:4000])
            tenant = self.config.tenant(row.tenant_id)
            text = (f":x: The merge requested by <@{p['user']}> stopped: {esc(error[:300])}. Check both "
                    f"records in {LABELS.get(tenant.ats, tenant.ats)}; the proposal is kept as failed.")
            self._update(session, row, p.get("response_url"), "failed", cards.decided(self.card(row), text))

    # --- 3. folding a merge in locally ---------------------------------------------------------------------

    def fold(self, session: Session, tenant: Tenant, survivor: str, absorbed: str, *, actor: str,
             why: dict[str, Any]) -> dict[str, Any] | None:
        """Merge the absorbed ATS person's local record into the survivor's; None when there is nothing to fold
        (never seen, or folded already: a retry, or the webhook of our own merge)."""
        gone, kept = by_ats_id(session, tenant.id, absorbed), by_ats_id(session, tenant.id, survivor)
        if gone is None or kept is None or gone.id == kept.id:
            return None
        return merge_candidates(session, tenant.id, kept.id or 0, gone.id or 0, actor=actor, now=self.clock(),
                                why={"survivor_ats_id": survivor, "absorbed_ats_id": absorbed, **why})

    def merged_in_ats(self, session: Session, tenant: Tenant, absorbed: str, survivor: str) -> None:
        """A merge someone made in the ATS (its webhook): fold it in locally, and close proposals naming it."""
        if self.fold(session, tenant, survivor, absorbed, actor=f"{tenant.ats}:webhook",
                     why={"origin": "ats"}) is not None:
            supersede(session, tenant.id, absorbed, self.clock())

    def _linkedin(self, session: Session, tenant: Tenant, survivor: str, absorbed: str,
                  snapshot: dict[str, Any] | None) -> None:
        """LinkedIn's In-ATS record of the absorbed person goes; the survivor's is refreshed."""
        if self.push_back is None or tenant.linkedin is None:
            return
        was_pushed = snapshot is None or bool(snapshot.get("linkedin_pushed_at"))
        if was_pushed:
            self.push_back.withdraw(session, tenant, [absorbed])
        kept = by_ats_id(session, tenant.id, survivor)
        if kept is not None:
            self.push_back.push_candidate(session, tenant, kept)

    # --- helpers -------------------------------------------------------------------------------------------------

    def card(self, row: DuplicateProposal) -> cards.ProposalCard:
        tenant = self.config.tenant(row.tenant_id)
        return cards.card_from(row.id or 0, tenant.name, tenant.ats, row.details, row.confidence, row.score,
                               row.reasons)

    @staticmethod
    def _name(row: DuplicateProposal, card: cards.ProposalCard, record: str) -> str:
        return card.a.name if record == row.record_a else card.b.name

    def _update(self, session: Session, row: DuplicateProposal, response_url: str | None, step: str,
                payload: dict[str, Any]) -> None:
        """Replace the proposal's message (through the outbox, in this transaction)."""
        self._reply(session, row, response_url, f"proposal:{row.id}:{step}",
                    {**payload, "replace_original": True})

    def _reply(self, session: Session, row: DuplicateProposal | None, response_url: str | None, key: str,
               payload: dict[str, Any]) -> None:
        if not response_url:
            return
        tenant = self.config.tenant(row.tenant_id) if row is not None else None
        add_message(session, dedupe_key=key, channel=tenant.ops_channel if tenant else "response_url",
                    tenant_id=row.tenant_id if row else None, now=self.clock(),
                    payload={**payload, "response_url": response_url})

    @staticmethod
    def _audit(session: Session, row: DuplicateProposal, user: str, action: str, now: datetime,
               **detail: Any) -> None:
        session.add(AuditEntry(at=now, actor=f"slack:{user}", action=action, tenant_id=row.tenant_id,
                               subject=f"proposal:{row.id}", detail={"pair": row.pair_key, **detail}))
