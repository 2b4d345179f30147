"""`/candidate forget`: the answer (what was found, Confirm / Cancel) and the buttons' listener.

Only admins erase. The command is refused to anyone else before the ack; a click checks the clicker's role
again, since a button can be pressed by whoever sees the message. A click decides the request once
(bot/forget_requests.py), so a double click or a Slack retry erases once and answers the second click
without an error; the message is then replaced by the outcome.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.config_model import AppConfig
from bot.domain.profile_url import strip_slack_link
from bot.erasure import Erasure, SubjectError, subject_in
from bot.forget_requests import ForgetRequests
from bot.slack import blocks, forget_blocks
from bot.slack.roles import Roles, clicked_by
from bot.slack.usergroups import GroupsUnknown

log = logging.getLogger(__name__)

ERASES = "admin"


def register(app: App, actions: ForgetActions) -> None:
    app.action(re.compile("^(" + "|".join(forget_blocks.ACTIONS) + ")$"))(actions.handle)


def answer(erasure: Erasure, requests: ForgetRequests, config: AppConfig, typed: str,
           command: dict[str, Any]) -> blocks.Message:
    """The answer to `/candidate forget <email | url>`: a usage problem, nothing found, or a request to confirm."""
    typed = strip_slack_link(typed)
    try:
        subject = subject_in(typed)
    except SubjectError as exc:
        return blocks.usage(f"forget needs an email or a LinkedIn profile URL: {exc}")
    report = erasure.find(subject)
    if not report.found:
        return forget_blocks.nothing_found(typed)
    request_id = requests.open(subject, str(command.get("user_id", "")), command.get("response_url"))
    return forget_blocks.preview(typed, report, {t.id: t.name for t in config.tenants}, request_id)


@dataclass
class ForgetActions:
    requests: ForgetRequests
    erasure: Erasure
    roles: Roles
    config: Callable[[], AppConfig]

    def handle(self, ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        user = clicked_by(body)
        if not self._allowed(user, respond):
            return
        decision = "confirmed" if action.get("action_id") == forget_blocks.CONFIRM else "cancelled"
        request = self.requests.take(str(action.get("value", "")), user, decision)
        if request is None:  # a double click, a Slack retry, another admin first, or too late
            respond(response_type="ephemeral", replace_original=False,
                    text="This erasure request was already decided or has expired; nothing more was done.")
            return
        if decision == "cancelled":
            respond(replace_original=True, **forget_blocks.cancelled(user))
            return
        try:
            report = self.erasure.erase(request.subject, actor=f"slack:{user}")
        except Exception:  # the request is used up: say so, so the admin asks again (erasing twice is harmless)
            log.exception("erasure confirmed by %s failed", user)
            respond(replace_original=True, **forget_blocks.failed())
            return
        log.info("erasure %s confirmed by %s", report.erasure_id, user)
        respond(replace_original=True,
                **forget_blocks.erased(report, user, {t.id: t.name for t in self.config().tenants}))

    def _allowed(self, user: str, respond: Respond) -> bool:
        try:
            if self.roles.allows(user, ERASES):
                return True
            text = f"Erasing a person is for {ERASES}s; nothing was changed."
        except GroupsUnknown:
            text = "Slack could not be asked who is in your user group just now; please try again."
        respond(response_type="ephemeral", replace_original=False, text=text)
        return False
