"""Messages in the Slack simulator: the API error, a posted message, its content checks, edits and history."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
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
    metadata: dict[str, Any] | None = None  # {"event_type": ..., "event_payload": {...}} as posted
    posted_at: float | None = None  # when chat.postMessage accepted it (epoch seconds); not on the wire

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


def check_metadata(args: dict[str, Any]) -> dict[str, Any] | None:
    """Message metadata (an object, or a JSON string when form-encoded): an `event_type` and an `event_payload`.

    reference: unconfirmed error name; Slack documents `invalid_metadata_format` and `invalid_metadata_schema`.
    """
    metadata = args.get("metadata")
    if metadata is None or metadata == "":
        return None
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            raise SlackError("invalid_metadata_format") from None
    if not (isinstance(metadata, dict) and isinstance(metadata.get("event_type"), str)
            and isinstance(metadata.get("event_payload"), dict)):
        raise SlackError("invalid_metadata_format")
    return {"event_type": metadata["event_type"], "event_payload": metadata["event_payload"]}


def edit_message(state: SlackState, message: Message, text: str, blocks: list[Any] | None) -> None:
    """Replace a message's content, keeping the version it replaces; omitted blocks are kept, as Slack does."""
    previous = {"text": message.text, "blocks": message.blocks, "edited_ts": state.next_ts()}
    message.edits.append(previous)
    message.text, message.blocks = text, message.blocks if blocks is None else blocks
    state.updates.append({"channel": message.channel, "ts": message.ts, "text": text, "blocks": message.blocks,
                          "edited_ts": previous["edited_ts"]})


# --- conversations.history ----------------------------------------------------------------------------------

HISTORY_LIMIT, HISTORY_MAX_LIMIT = 100, 999  # documented default and maximum of `limit`


def _is_true(value: Any) -> bool:
    """A boolean argument: slack_sdk sends `1`/`0` in a query string; JSON bodies carry true/false."""
    return value is True or str(value).lower() in ("1", "true")


def _ts(args: dict[str, Any], name: str) -> Decimal | None:
    value = args.get(name)
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise SlackError(f"invalid_ts_{name}") from None


def _cursor(ts: str) -> str:
    # Slack's cursors are opaque; its documented example decodes to "next_ts:<ts digits>".
    return base64.b64encode(f"next_ts:{ts.replace('.', '')}".encode()).decode()


def _from_cursor(cursor: str) -> Decimal:
    try:
        kind, _, digits = base64.b64decode(cursor, validate=True).decode().partition(":")
        if kind != "next_ts" or not digits.isdigit() or len(digits) <= 6:
            raise ValueError(cursor)
    except (ValueError, binascii.Error):
        raise SlackError("invalid_cursor") from None
    return Decimal(f"{digits[:-6]}.{digits[-6:]}")


def history_page(state: SlackState, messages: Iterable[Message], args: dict[str, Any]) -> dict[str, Any]:
    """One page of a channel's history, newest first, the way `conversations.history` returns it.

    Only top-level messages (thread replies are read with conversations.replies); `oldest`/`latest` bound
    the page exclusively unless `inclusive`; `metadata` only with `include_all_metadata`. Paging: `limit`
    messages, `has_more`, and `response_metadata.next_cursor` naming where the next page starts.
    reference: unconfirmed whether Slack omits `response_metadata` or sends an empty cursor on the last page
    (omitted here), and whether a bot's own metadata comes back without `include_all_metadata` (it does not).
    """
    try:
        limit = min(max(int(args.get("limit") or HISTORY_LIMIT), 1), HISTORY_MAX_LIMIT)
    except ValueError:
        raise SlackError("invalid_limit") from None  # reference: unconfirmed error name
    # No `latest` means now: every message (the simulator's ts may run a little ahead of its clock).
    oldest, latest, inclusive = _ts(args, "oldest"), _ts(args, "latest"), _is_true(args.get("inclusive"))
    page_start = _from_cursor(str(args["cursor"])) if args.get("cursor") else None

    def in_range(ts: Decimal) -> bool:
        after = oldest is None or (ts >= oldest if inclusive else ts > oldest)
        before = latest is None or (ts <= latest if inclusive else ts < latest)
        return after and before and (page_start is None or ts <= page_start)  # a cursor names its first message

    top_level = [m for m in messages if m.thread_ts in (None, m.ts)]
    found = sorted((m for m in top_level if in_range(Decimal(m.ts))), key=lambda m: Decimal(m.ts), reverse=True)
    page, rest = found[:limit], found[limit:]
    with_metadata = _is_true(args.get("include_all_metadata"))
    answer: dict[str, Any] = {
        "messages": [{**m.wire(state), **({"metadata": m.metadata} if with_metadata and m.metadata else {})}
                     for m in page],
        "has_more": bool(rest), "pin_count": 0, "channel_actions_ts": None, "channel_actions_count": 0,
    }
    if rest:
        answer["response_metadata"] = {"next_cursor": _cursor(rest[0].ts)}
    return answer
