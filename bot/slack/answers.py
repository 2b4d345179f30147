"""What each `/candidate` subcommand answers after the ack, bound to the runtime's use-cases."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_bolt import Respond
from sqlmodel import Session

from bot.domain.commands import Command
from bot.lookup import find_people
from bot.slack import blocks
from bot.slack.commands import Answer
from storage.db import transaction
from storage.models import AuditEntry

if TYPE_CHECKING:
    from bot.runtime import Runtime


def answers_for(rt: Runtime) -> dict[str, Answer]:
    """The subcommands this version answers (others say plainly they have not landed)."""

    def check(parsed: Command, command: dict[str, Any], respond: Respond) -> None:
        with Session(rt.engine) as session:
            lookup = find_people(session, rt.app_config(), parsed.rest)
        respond(replace_original=True, response_type="ephemeral", **blocks.check_answer(lookup))
        # on whom: the records shown, by id (the query itself may be an email or a name)
        shown = ",".join(f"{p.tenant_id}:{p.candidate_id}" for p in lookup.people)[:255]
        with transaction(rt.engine) as session:
            session.add(AuditEntry(actor=f"slack:{command.get('user_id', '')}", action="check.answered",
                                   subject=shown, detail={"kind": lookup.kind, "found": len(lookup.people)}))

    return {"check": check}
