"""The buttons of a duplicate proposal: ack at once, check the role, then decide through `Merges` (once).

Slack shows the merge buttons' confirm dialog itself, so a merge click arrives only once confirmed. Deciding
is for ops and admins; anyone else's click is refused in a message only they see, and changes nothing.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.merges import Merges
from bot.slack.proposal_blocks import ACTIONS
from bot.slack.roles import Roles, clicked_by
from bot.slack.usergroups import GroupsUnknown

log = logging.getLogger(__name__)
MAX_ID = 2**31 - 1  # proposal ids are 32-bit integers (PostgreSQL INTEGER)

#: who may decide a proposal (as `/candidate dedupe`)
DECIDES = "ops"


def register(app: App, actions: ProposalActions) -> None:
    app.action(re.compile("^(" + "|".join(ACTIONS) + ")$"))(actions.handle)


@dataclass
class ProposalActions:
    merges: Merges
    roles: Roles

    def handle(self, ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        user = clicked_by(body)
        try:
            allowed = self.roles.allows(user, DECIDES)
        except GroupsUnknown:
            respond(response_type="ephemeral", replace_original=False,
                    text="Slack could not be asked who is in your user group just now; please try again.")
            return
        if not allowed:
            respond(response_type="ephemeral", replace_original=False,
                    text=f"Deciding duplicate proposals is for {DECIDES} and above; nothing was changed.")
            return
        try:
            proposal = int(str(action.get("value", "")))
            if not 0 < proposal <= MAX_ID:  # no row has it, and a store refuses to even look it up
                raise ValueError(proposal)
        except ValueError:
            respond(response_type="ephemeral", replace_original=False, text="That button names no proposal.")
            return
        decision = self.merges.decide(proposal, str(action.get("action_id")), user, body.get("response_url"))
        log.info("proposal %s: %s by %s", proposal, decision.outcome, user)
