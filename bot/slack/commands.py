"""`/candidate`: parse once, check the role, ack within Slack's 3 seconds, audit every command."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from slack_bolt import Ack, App, BoltRequest, Respond
from sqlalchemy import Engine

from bot.config_model import AppConfig
from bot.domain.commands import Command, CommandError, parse_command, required_role
from bot.slack import blocks
from bot.slack.roles import Roles
from bot.slack.usergroups import GroupsUnknown, UserGroups
from storage.db import transaction
from storage.models import AuditEntry

log = logging.getLogger(__name__)

#: subcommand -> the use-case answering it after the ack (given the command and a responder)
Answer = Callable[[Command, dict[str, Any], Respond], None]
WORKING = {"check": "Looking them up…", "export": "Exporting… this message updates when the ATS record exists.",
           "dedupe": "Starting a duplicate scan…", "status": "Checking sync health…"}


def register(app: App, candidate: CandidateCommand) -> None:
    app.command("/candidate")(candidate.handle)


@dataclass
class CandidateCommand:
    engine: Engine
    config: Callable[[], AppConfig]
    answers: dict[str, Answer]
    groups: UserGroups | None = None  # resolves roles granted to Slack user groups
    after_ack: Executor = field(default_factory=lambda: ThreadPoolExecutor(2, thread_name_prefix="slack-answer"))

    def handle(self, ack: Ack, command: dict[str, Any], respond: Respond, request: BoltRequest) -> None:
        """Ack at once (usage, refusal or a placeholder); everything after the ack — the audit entry and the
        answer — runs on a small executor of its own, so a burst of slow answers never holds up later acks."""
        user = str(command.get("user_id", ""))
        # Bolt maps Socket Mode's `retry_attempt` here too, as "0" on a first delivery; the header is not signed,
        # so one that is no small number counts as none
        num = request.headers.get("x-slack-retry-num", ["0"])[0]
        retry = int(num) if num.isascii() and num.isdigit() and len(num) <= 3 else 0
        reply, action, detail, work = self._decide(user, str(command.get("text", "")))
        ack(response_type="ephemeral", **reply)
        if retry > 0:
            detail = {**(detail or {}), "slack_retry": retry}
        self.after_ack.submit(self._after_ack, user, action, detail, work, command, respond)

    def _decide(self, user: str, text: str) -> tuple[blocks.Message, str, dict[str, Any] | None,
                                                     tuple[Answer, Command] | None]:
        """What to ack with, what to audit, and the answer to run after the ack (if any)."""
        try:
            parsed = parse_command(text)
        except CommandError as exc:
            return blocks.usage(str(exc)), "command.invalid", {"error": str(exc)}, None
        refused = f"command.{parsed.name}.refused"
        try:
            allowed = self._allowed(user, parsed.name)
        except GroupsUnknown:
            text = ("Your role comes from a Slack user group, and Slack could not be asked who is in it just now; "
                    "please try again in a minute.")
            return {"text": text}, refused, {"reason": "user groups unknown"}, None
        if not allowed:
            return ({"text": f"`/candidate {parsed.name}` is for {required_role(parsed.name)} and above; ask a "
                             "HireBridge admin if you need it."}, refused, None, None)
        answer = self.answers.get(parsed.name)
        if answer is None:
            reply = blocks.help_text() if parsed.name == "help" else blocks.usage(
                f"`{parsed.name}` is not available in this version yet")
            return reply, f"command.{parsed.name}", None, None
        working = WORKING.get(parsed.name, f"Working on `/candidate {parsed.name}`…")
        return {"text": working}, f"command.{parsed.name}", None, (answer, parsed)

    def _after_ack(self, user: str, action: str, detail: dict[str, Any] | None,
                   work: tuple[Answer, Command] | None, command: dict[str, Any], respond: Respond) -> None:
        try:
            self._audit(user, action, detail)
            if work is not None:
                answer, parsed = work
                answer(parsed, command, respond)
        except Exception:  # the ack went out already: say so where it was asked, and log it for ops
            log.exception("/candidate %s failed after its ack", action)
            if work is not None:
                respond(replace_original=True, response_type="ephemeral",
                        text=f":x: `/candidate {work[1].name}` failed on our side; please try again in a minute.")

    def _allowed(self, user: str, name: str) -> bool:
        return Roles(self.config, self.groups).allows(user, required_role(name))

    def _audit(self, user: str, action: str, detail: dict[str, Any] | None = None) -> None:
        """Who did what, when; never the query itself (it may be a person's email or name)."""
        with transaction(self.engine) as session:
            session.add(AuditEntry(actor=f"slack:{user}", action=action, detail=detail or {}))
