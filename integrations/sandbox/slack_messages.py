"""Messages in the Slack simulator: the API error, a posted message, its content checks and its edits."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse

from integrations.sandbox.slack_blocks import block_errors

if TYPE_CHECKING:  # the state module imports this one
    from integrations.sandbox.slack import SlackState

BOT_ID = "B0HBBOT"
MAX_TEXT = 40_000  # reference: unconfirmed; Slack truncates long text and documents msg_too_long


class SlackError(Exception):
    """An API error: Slack answers HTTP 200 with `{"ok": false, "error": ...}` unless `status` says otherwise."""

    def __init__(self, error: str, status: int = 200, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(error)
        self.error, self.status, self.headers, self.extra = error, status, headers, extra

    def response(self) -> JSONResponse:
        return JSONResponse({"ok": False, "error": self.error, **self.extra}, self.status, self.headers)


@dataclass
class Message:
    """A message the bot posted (or an ephemeral one, with its `user`); `edits` keeps earlier versions."""

    channel: str
    ts: str
    text: str
    blocks: list[Any]
    thread_ts: str | None = None
    user: str | None = None
    edits: list[dict[str, Any]] = field(default_factory=list)

    def wire(self, state: SlackState) -> dict[str, Any]:
        body: dict[str, Any] = {"type": "message", "text": self.text, "user": state.bot_user_id,
                                "bot_id": BOT_ID, "team": state.team_id, "ts": self.ts, "blocks": self.blocks}
        if self.thread_ts:
            body["thread_ts"] = self.thread_ts
        if self.edits:
            body["edited"] = {"user": state.bot_user_id, "ts": self.edits[-1]["edited_ts"]}
        return body


def check_content(args: dict[str, Any]) -> tuple[str, list[Any] | None]:
    """The message text and blocks (a list, or a JSON string when form-encoded), checked as Slack does."""
    text, blocks = str(args.get("text") or ""), args.get("blocks")
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks)
        except ValueError:
            raise SlackError("invalid_blocks_format") from None
    if blocks is not None and (errors := block_errors(blocks)):
        raise SlackError("invalid_blocks", errors=errors,
                         response_metadata={"messages": [f"[ERROR] {e}" for e in errors]})
    if not text and not blocks:
        raise SlackError("no_text")
    if len(text) > MAX_TEXT:
        raise SlackError("msg_too_long")
    return text, blocks


def edit_message(state: SlackState, message: Message, text: str, blocks: list[Any] | None) -> None:
    """Replace a message's content, keeping the version it replaces; omitted blocks are kept, as Slack does."""
    previous = {"text": message.text, "blocks": message.blocks, "edited_ts": state.next_ts()}
    message.edits.append(previous)
    message.text, message.blocks = text, message.blocks if blocks is None else blocks
    state.updates.append({"channel": message.channel, "ts": message.ts, "text": text, "blocks": message.blocks,
                          "edited_ts": previous["edited_ts"]})
