"""The outbox relay: posts queued Slack messages, honouring 429 Retry-After, retrying or dead-lettering.

Pacing (one post per channel per second) is the claim's job (storage/outbox.py). A message that may
already be in its channel (a relay died mid-send, or the connection broke) is looked for there, by the
outbox id its metadata carries, before it is posted again. A claim that coalesced several queued messages
of one kind (a burst of stage alerts) is posted as one message whose metadata carries every outbox id, so
recovery finds each of them.

A message addressed "@<email>" is a direct message: the relay finds the person's Slack user by email
(`users.lookupByEmail`), opens the bot's DM with them (`conversations.open`) and posts there.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.slack import blocks
from storage.models import OutboxState
from storage.outbox import DM_PREFIX, Outbox, Pending

log = logging.getLogger(__name__)

#: the message metadata event type that carries the outbox id of a post
EVENT_TYPE = "hirebridge_outbox"
#: how long before a message was queued to start looking for it in its channel (covers clock skew with Slack)
HISTORY_MARGIN = timedelta(minutes=5)
#: messages per conversations.history page (Slack recommends no more than 200)
HISTORY_PAGE = 200

#: Slack errors that no retry can fix: the message is dead-lettered with the error for ops.
PERMANENT_SLACK_ERRORS = frozenset({
    "channel_not_found", "not_in_channel", "is_archived", "invalid_auth", "not_authed", "account_inactive",
    "token_revoked", "invalid_blocks", "msg_too_long", "no_text", "missing_scope", "restricted_action",
    "users_not_found", "user_not_found", "user_disabled", "cannot_dm_bot",
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
    #: email -> the bot's DM channel with that person (found once per process)
    _dms: dict[str, str] = field(default_factory=dict)

    def relay_once(self, limit: int = 20) -> RelayReport:
        """Claim and send one batch of due messages (at most one per channel, each channel paced)."""
        report = RelayReport()
        for message in self.outbox.claim(limit):
            state = self._send(message)
            n = len(message.parts)
            if state == OutboxState.SENT:
                report.sent += n
            elif state == OutboxState.PENDING:
                report.retried += n
            else:
                report.dead += n
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
            channel = self._channel(message.channel)
        except Exception as exc:
            return self._failed(message, exc, "users.lookupByEmail", maybe_posted=message.maybe_posted)
        if any(p.maybe_posted for p in message.parts):  # an earlier attempt may have posted: look before posting
            try:
                earlier = self._posted_earlier(channel, message)
            except Exception as exc:
                return self._failed(message, exc, "conversations.history", maybe_posted=True)
            for part in message.parts:
                if part.id in earlier:
                    log.info("outbox message %s was already posted (ts %s); not posting it again",
                             part.id, earlier[part.id])
                    self.outbox.mark_sent(replace(part, riders=()), earlier[part.id])
            rest = [p for p in message.parts if p.id not in earlier]
            if not rest:
                return OutboxState.SENT
            message = replace(rest[0], riders=tuple(rest[1:]))
        try:
            response = self.slack.chat_postMessage(channel=channel, **self._content(message))
        except Exception as exc:
            return self._failed(message, exc, "chat.postMessage", maybe_posted=_may_have_posted(exc))
        self.outbox.mark_sent(message, str(response.get("ts") or ""))
        return OutboxState.SENT

    def _channel(self, address: str) -> str:
        """The Slack channel to post to: the address itself, or for "@<email>" the bot's DM with that person."""
        if not address.startswith(DM_PREFIX):
            return address
        email = address[len(DM_PREFIX):]
        if email not in self._dms:
            user = self.slack.users_lookupByEmail(email=email)["user"]["id"]
            self._dms[email] = str(self.slack.conversations_open(users=user)["channel"]["id"])
        return self._dms[email]

    def _posted_earlier(self, channel: str, message: Pending) -> dict[int, str]:
        """The ts of each part of `message` that an earlier attempt posted in `channel` (found by metadata)."""
        wanted = {p.id for p in message.parts}
        found: dict[int, str] = {}
        oldest = f"{(min(p.created_at for p in message.parts) - HISTORY_MARGIN).timestamp():.6f}"
        cursor: str | None = None
        while True:
            page = self.slack.conversations_history(channel=channel, oldest=oldest, cursor=cursor,
                                                    include_all_metadata=True, limit=HISTORY_PAGE)
            for posted in page.get("messages") or []:
                for outbox_id in _outbox_ids(posted) & wanted:
                    found[outbox_id] = str(posted["ts"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if found.keys() == wanted or not page.get("has_more") or not cursor:
                return found

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
            return self.outbox.retry(message, "ratelimited", retry_after=retry_after, count_attempt=False)
        if response.status_code in (400, 403, 404, 410):  # expired or used up, or a payload Slack refuses
            return self.outbox.dead(message, error)
        return self.outbox.retry(message, error)

    @staticmethod
    def _content(message: Pending) -> dict[str, Any]:
        payload = (blocks.coalesced(message.batch or "", [p.payload for p in message.parts]) if message.riders
                   else message.payload)
        content = {k: v for k, v in payload.items() if k in ("text", "blocks", "unfurl_links")}
        # The outbox ids travel as message metadata, so a crash between Slack's answer and our "sent"
        # write can be detected by looking for them before re-posting.
        event: dict[str, Any] = {"outbox_id": message.id}
        if message.riders:  # as text: the SDK types allow strings, numbers, booleans and objects, not [int]
            event["outbox_ids"] = ",".join(str(p.id) for p in message.parts)
        content["metadata"] = {"event_type": EVENT_TYPE, "event_payload": event}
        return content

    def _failed(self, message: Pending, exc: Exception, method: str, *, maybe_posted: bool) -> OutboxState:
        """Retry (429: after Retry-After), or dead-letter what no retry can fix; `maybe_posted` is kept."""
        if not isinstance(exc, SlackApiError):  # network trouble reaching Slack: retry with backoff
            log.warning("%s for outbox message %s failed: %s", method, message.id, exc)
            return self.outbox.retry(message, f"{type(exc).__name__}: {exc}", maybe_posted=maybe_posted)
        status = exc.response.status_code
        error = str(exc.response.get("error") or f"http {status}")
        where = "slack" if method == "chat.postMessage" else f"slack {method}"
        if status == 429:
            retry_after = float(exc.response.headers.get("Retry-After", 1) or 1)
            return self.outbox.retry(message, "ratelimited", retry_after=retry_after, maybe_posted=maybe_posted,
                                     count_attempt=False)
        if error in PERMANENT_SLACK_ERRORS:  # e.g. not_in_channel: history needs the bot in the channel
            unchecked = "" if method == "chat.postMessage" else " (could not look for an earlier post)"
            return self.outbox.dead(message, f"{where}: {error}{unchecked}")
        return self.outbox.retry(message, f"{where}: {error}", maybe_posted=maybe_posted)


def _may_have_posted(exc: Exception) -> bool:
    """Whether a failed `chat.postMessage` may still have posted: no answer came back, or a server error did."""
    return not isinstance(exc, SlackApiError) or exc.response.status_code >= 500


def _outbox_ids(posted: dict[str, Any]) -> set[int]:
    """The outbox ids a posted message carries in its metadata (none if it is not one of ours)."""
    metadata = posted.get("metadata") or {}
    if metadata.get("event_type") != EVENT_TYPE:
        return set()
    payload = metadata.get("event_payload") or {}
    raw = [str(payload.get("outbox_id") or ""), *str(payload.get("outbox_ids") or "").split(",")]
    return {int(value) for value in raw if value.strip().isdigit()}
