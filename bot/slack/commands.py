"""`/candidate`: parse once, check the role, ack within Slack's 3 seconds, audit every command."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, BoltRequest, Respond
from sqlalchemy import Engine

from bot.config_model import AppConfig, Role
from bot.domain.commands import Command, CommandError, parse_command, required_role
from bot.slack import blocks
from bot.slack.usergroups import GroupsUnknown, UserGroups
from storage.db import transaction
from storage.models import AuditEntry

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

    def handle(self, ack: Ack, command: dict[str, Any], respond: Respond, request: BoltRequest) -> None:
        """Ack at once (usage, refusal or a placeholder); slow work answers later through `respond`."""
        user = str(command.get("user_id", ""))
        # Bolt maps Socket Mode's `retry_attempt` here too, as "0" on a first delivery
        retry = int(request.headers.get("x-slack-retry-num", ["0"])[0] or 0)
        try:
            parsed = parse_command(str(command.get("text", "")))
        except CommandError as exc:
            ack(response_type="ephemeral", **blocks.usage(str(exc)))
            self._audit(user, "command.invalid", detail={"error": str(exc)})
            return
        try:
            allowed = self._allowed(user, parsed.name)
        except GroupsUnknown:
            ack(response_type="ephemeral", text="Your role comes from a Slack user group, and Slack could not be "
                                                  "asked who is in it just now; please try again in a minute.")
            self._audit(user, f"command.{parsed.name}.refused", detail={"reason": "user groups unknown"})
            return
        if not allowed:
            role = required_role(parsed.name)
            ack(response_type="ephemeral", text=f"`/candidate {parsed.name}` is for {role} and above; "
                                                  "ask a HireBridge admin if you need it.")
            self._audit(user, f"command.{parsed.name}.refused")
            return
        answer = self.answers.get(parsed.name)
        if answer is None:
            ack(response_type="ephemeral", **blocks.help_text() if parsed.name == "help" else blocks.usage(
                f"`{parsed.name}` is not available in this version yet"))
            self._audit(user, f"command.{parsed.name}")
            return
        ack(response_type="ephemeral", text=WORKING.get(parsed.name, f"Working on `/candidate {parsed.name}`…"))
        self._audit(user, f"command.{parsed.name}", detail={"slack_retry": retry} if retry > 0 else None)
        try:
            answer(parsed, command, respond)
        except Exception:
            respond(replace_original=True, response_type="ephemeral",
                    text=f":x: `/candidate {parsed.name}` failed on our side; please try again in a minute.")
            raise

    def _allowed(self, user: str, name: str) -> bool:
        minimum = required_role(name)
        if minimum is None:
            return True
        config, needed = self.config(), Role(minimum)
        role = config.role_of(user)
        if role is not None and role.at_least(needed):
            return True
        # only then ask who is in the user groups that would grant it
        groups = [g for r in Role if r.at_least(needed) for g in config.roles.members(r) if g.startswith("S")]
        if not groups or self.groups is None:
            return False
        role = config.role_of(user, self.groups.groups_of(user, groups))
        return role is not None and role.at_least(needed)

    def _audit(self, user: str, action: str, detail: dict[str, Any] | None = None) -> None:
        """Who did what, when; never the query itself (it may be a person's email or name)."""
        with transaction(self.engine) as session:
            session.add(AuditEntry(actor=f"slack:{user}", action=action, detail=detail or {}))
