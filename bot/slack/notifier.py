"""The outbox relay: posts queued Slack messages, honouring 429 Retry-After, retrying or dead-lettering."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from storage.models import OutboxState
from storage.outbox import Outbox, Pending

log = logging.getLogger(__name__)

#: Slack errors that no retry can fix: the message is dead-lettered with the error for ops.
PERMANENT_SLACK_ERRORS = frozenset({
    "channel_not_found", "not_in_channel", "is_archived", "invalid_auth", "not_authed", "account_inactive",
    "token_revoked", "invalid_blocks", "msg_too_long", "no_text", "missing_scope", "restricted_action",
})


@dataclass
class RelayReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class Notifier:
    """Sends what the outbox holds through one Slack Web API client."""

    outbox: Outbox
    slack: WebClient

    def relay_once(self, limit: int = 20) -> RelayReport:
        """Claim and send one batch of due messages."""
        report = RelayReport()
        for message in self.outbox.claim(limit):
            state = self._send(message)
            if state == OutboxState.SENT:
                report.sent += 1
            elif state == OutboxState.PENDING:
                report.retried += 1
            else:
                report.dead += 1
        return report

    def run(self, stop: threading.Event, poll: float = 0.5) -> None:
        """Relay until `stop` is set, sleeping `poll` seconds whenever nothing was sent."""
        while not stop.is_set():
            if self.relay_once().sent == 0:
                stop.wait(poll)

    def _send(self, message: Pending) -> OutboxState:
        if message.payload.get("response_url"):
            return self._respond(message)
        try:
            response = self.slack.chat_postMessage(channel=message.channel, **self._content(message))
        except SlackApiError as exc:
            return self._slack_error(message, exc)
        except Exception as exc:  # network trouble reaching Slack: retry with backoff
            log.warning("posting outbox message %s failed: %s", message.id, exc)
            return self.outbox.retry(message, f"{type(exc).__name__}: {exc}")
        self.outbox.mark_sent(message, str(response.get("ts") or ""))
        return OutboxState.SENT

    def _respond(self, message: Pending) -> OutboxState:
        """An answer to a command: posted to its `response_url` (no token; at most 5 uses in 30 minutes)."""
        payload = message.payload
        body: dict[str, Any] = {k: payload[k] for k in ("text", "blocks", "response_type", "replace_original")
                                if k in payload}
        try:
            response = WebhookClient(str(payload["response_url"]), timeout=10, retry_handlers=[]).send_dict(body)
        except Exception as exc:  # network trouble reaching Slack: retry with backoff
            log.warning("answering outbox message %s failed: %s", message.id, exc)
            return self.outbox.retry(message, f"{type(exc).__name__}: {exc}")
        if response.status_code == 200:
            self.outbox.mark_sent(message, None)
            return OutboxState.SENT
        error = f"response_url: http {response.status_code} {response.body[:200]}"
        if response.status_code == 429:
            retry_after = float(response.headers.get("Retry-After") or 1)
            return self.outbox.retry(message, "ratelimited", retry_after=retry_after)
        if response.status_code in (400, 403, 404, 410):  # expired or used up, or a payload Slack refuses
            return self.outbox.dead(message, error)
        return self.outbox.retry(message, error)

    @staticmethod
    def _content(message: Pending) -> dict[str, Any]:
        content = {k: v for k, v in message.payload.items() if k in ("text", "blocks", "unfurl_links")}
        # The outbox id travels as message metadata, so a crash between Slack's answer and our "sent"
        # write can be detected by looking for it before re-posting.
        content["metadata"] = {"event_type": "hirebridge_outbox", "event_payload": {"outbox_id": message.id}}
        return content

    def _slack_error(self, message: Pending, exc: SlackApiError) -> OutboxState:
        status = exc.response.status_code
        error = str(exc.response.get("error") or f"http {status}")
        if status == 429:
            retry_after = float(exc.response.headers.get("Retry-After", 1) or 1)
            return self.outbox.retry(message, "ratelimited", retry_after=retry_after)
        if error in PERMANENT_SLACK_ERRORS:
            return self.outbox.dead(message, f"slack: {error}")
        return self.outbox.retry(message, f"slack: {error}")
