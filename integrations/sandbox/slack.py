"""Slack Web API simulator: the methods the bot calls, Block Kit limits, per-channel pacing, response_urls."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations.sandbox import world
from integrations.sandbox.base import (
    Clock,
    SimulatorState,
    TokenBucket,
    control_routes,
    recorded,
)

BOT_ID = "B0HBBOT"
TEAM_NAME = "HireBridge Sandbox"
MAX_TEXT = 40_000  # reference: unconfirmed; Slack truncates long text and documents msg_too_long
RESPONSE_URL_USES = 5  # Slack: "up to 5 times within 30 minutes"
RESPONSE_URL_TTL = 30 * 60.0
_RECORDED_HEADERS = ("authorization", "content-type", "user-agent")
_FAULT_ERRORS = {500: "internal_error", 503: "service_unavailable", 504: "request_timeout"}


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


@dataclass
class ResponseUrl:
    """A `response_url` handed to the bot with a command or action; `posts` is what it sent there."""

    id: str
    channel: str
    user: str
    created_at: float
    message_ts: str | None = None
    posts: list[dict[str, Any]] = field(default_factory=list)


class SlackState(SimulatorState):
    """One workspace: token, channels, users, what was posted, and the per-channel posting buckets."""

    name = "slack"

    def __init__(self, seed: int | None = None, *, post_rate: float = 1.0, post_burst: float = 3.0,
                 clock: Clock = time.time) -> None:
        super().__init__(seed)
        self.post_rate, self.post_burst, self.clock = post_rate, post_burst, clock
        self.bot_token, self.team_id, self.bot_user_id = "", "", ""
        self.channels: dict[str, str] = {}
        self.users: dict[str, str] = {}
        self.messages: list[Message] = []
        self.ephemeral: list[Message] = []
        self.updates: list[dict[str, Any]] = []
        self.response_urls: dict[str, ResponseUrl] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self._ts = 1_700_000_000_000_000  # microseconds: ts "1700000000.000100" onwards

    def next_ts(self) -> str:
        with self.lock:
            self._ts += 100
            return f"{self._ts // 1_000_000}.{self._ts % 1_000_000:06d}"

    def take_post_token(self, channel: str) -> float | None:
        """None if `chat.postMessage` may post to `channel` now, else the seconds to wait (Retry-After)."""
        rate = self.post_rate if self.faults.rate_limit is None else float(self.faults.rate_limit)
        with self.lock:
            bucket = self._buckets.setdefault(channel, TokenBucket(self.post_rate, self.post_burst))
        if bucket.take(rate):
            return None
        return float(math.ceil(1 / rate)) if rate > 0 else 60.0

    def channel_messages(self, channel: str | None) -> dict[str, Any]:
        """What `GET /_sandbox/messages` shows: posted, ephemeral, updates and response_url posts."""
        def mine(item_channel: str) -> bool:
            return channel is None or item_channel == channel

        with self.lock:
            return {
                "messages": [{**m.wire(self), "channel": m.channel, "edits": m.edits}
                             for m in self.messages if mine(m.channel)],
                "ephemeral": [{**m.wire(self), "channel": m.channel, "user": m.user}
                              for m in self.ephemeral if mine(m.channel)],
                "updates": [u for u in self.updates if mine(u["channel"])],
                "responses": [p for r in self.response_urls.values() if mine(r.channel) for p in r.posts],
            }

    def inspect(self) -> dict[str, Any]:
        with self.lock:
            counts = {c: sum(m.channel == c for m in self.messages) for c in self.channels}
            return {**super().inspect(), "team_id": self.team_id, "messages_per_channel": counts,
                    "ephemeral": len(self.ephemeral), "updates": len(self.updates),
                    "response_urls": len(self.response_urls)}


def seed_sandbox(state: SlackState, workspace: world.SlackWorkspace = world.SLACK) -> SlackState:
    """Load the sandbox workspace: bot token, team, bot user, channels, users."""
    state.bot_token, state.team_id = workspace.bot_token, workspace.team_id
    state.bot_user_id = workspace.bot_user_id
    state.channels.update(workspace.channels)
    state.users.update(workspace.users)
    return state


# --- Block Kit limits (reference 5.6) --------------------------------------------------------------------

BLOCK_TYPES = {"section", "actions", "context", "divider", "header", "image", "input", "rich_text", "markdown",
               "file", "video"}
MAX_BLOCKS = 50  # per message; 100 only in modals and the Home tab


def _too_long(value: Any, limit: int, pointer: str) -> list[str]:
    if isinstance(value, str) and len(value) > limit:
        return [f"must be less than {limit + 1} characters [json-pointer:{pointer}]"]
    return []


def _too_many(value: Any, limit: int, pointer: str) -> list[str]:
    if isinstance(value, list) and len(value) > limit:
        return [f"no more than {limit} items allowed [json-pointer:{pointer}]"]
    return []


def _text_errors(obj: Any, limit: int, pointer: str) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn") or not obj.get("text"):
        return [f"must provide a text object [json-pointer:{pointer}]"]
    return _too_long(obj["text"], limit, f"{pointer}/text")


def _element_errors(element: Any, pointer: str) -> list[str]:
    if not isinstance(element, dict) or not isinstance(element.get("type"), str):
        return [f"must provide an element type [json-pointer:{pointer}]"]
    errors = _too_long(element.get("action_id"), 255, f"{pointer}/action_id")
    if element["type"] == "button":
        errors += _text_errors(element.get("text"), 75, f"{pointer}/text")
        errors += _too_long(element.get("value"), 2000, f"{pointer}/value")
        errors += _too_long(element.get("url"), 3000, f"{pointer}/url")
    return errors


def _block_errors(block: Any, pointer: str) -> list[str]:
    if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
        return [f"failed to match all allowed schemas [json-pointer:{pointer}]"]
    kind, errors = block["type"], _too_long(block.get("block_id"), 255, f"{pointer}/block_id")
    if kind == "section":
        if "text" in block or "fields" not in block:
            errors += _text_errors(block.get("text"), 3000, f"{pointer}/text")
        fields = block.get("fields") or []
        errors += _too_many(fields, 10, f"{pointer}/fields")
        errors += [e for i, f in enumerate(fields) for e in _text_errors(f, 2000, f"{pointer}/fields/{i}")]
        if "accessory" in block:
            errors += _element_errors(block["accessory"], f"{pointer}/accessory")
    elif kind == "header":
        errors += _text_errors(block.get("text"), 150, f"{pointer}/text")
    elif kind in ("actions", "context"):
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            return [*errors, f"must provide elements [json-pointer:{pointer}/elements]"]
        errors += _too_many(elements, 25 if kind == "actions" else 10, f"{pointer}/elements")
        if kind == "actions":
            errors += [e for i, el in enumerate(elements) for e in _element_errors(el, f"{pointer}/elements/{i}")]
    return errors


def block_errors(blocks: Any) -> list[str]:
    """Slack's `invalid_blocks` reasons for a message's blocks (empty when they are valid)."""
    if not isinstance(blocks, list):
        return ["must be an array [json-pointer:/blocks]"]
    errors = _too_many(blocks, MAX_BLOCKS, "/blocks")
    return errors + [e for i, block in enumerate(blocks) for e in _block_errors(block, f"/blocks/{i}")]


# --- arguments -------------------------------------------------------------------------------------------

def _decode(raw: bytes, content_type: str) -> dict[str, Any]:
    """A JSON object or urlencoded form body as a dict (stdlib only: python-multipart is not installed)."""
    if not raw:  # auth.test: no body, yet a JSON content type
        return {}
    if "json" in content_type:
        try:
            body = json.loads(raw)
        except ValueError:
            raise SlackError("invalid_json") from None
        return body if isinstance(body, dict) else {}
    if "form" in content_type:
        return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    return {}


async def _arguments(request: Request) -> dict[str, Any]:
    """Query string plus the body: slack_sdk sends JSON for chat.* and form fields for the rest."""
    body = _decode(await request.body(), request.headers.get("content-type", ""))
    return {**request.query_params, **body}


def _authenticate(state: SlackState, request: Request, args: dict[str, Any]) -> None:
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    token = bearer if scheme.lower() == "bearer" else args.get("token")
    if not token:
        raise SlackError("not_authed")
    if token != state.bot_token or state.faults.reject_credentials:
        raise SlackError("invalid_auth")


def _channel(state: SlackState, args: dict[str, Any]) -> str:
    """A channel id; like Slack, a `#name` or bare name is accepted too."""
    wanted = str(args.get("channel") or "")
    if wanted in state.channels:
        return wanted
    by_name = {name: cid for cid, name in state.channels.items()}
    if wanted.lstrip("#") in by_name:
        return by_name[wanted.lstrip("#")]
    raise SlackError("channel_not_found")


def _content(args: dict[str, Any]) -> tuple[str, list[Any] | None]:
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


# --- methods ---------------------------------------------------------------------------------------------

def auth_test(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    return {"url": "https://hirebridge-sandbox.slack.com/", "team": TEAM_NAME, "user": "hirebridge",
            "team_id": state.team_id, "user_id": state.bot_user_id, "bot_id": BOT_ID,
            "is_enterprise_install": False}


def post_message(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    channel = _channel(state, args)
    text, blocks = _content(args)
    if (retry_after := state.take_post_token(channel)) is not None:
        raise SlackError("ratelimited", 429, {"Retry-After": str(int(retry_after))})
    message = Message(channel, state.next_ts(), text, blocks or [], thread_ts=args.get("thread_ts"))
    with state.lock:
        state.messages.append(message)
    return {"channel": channel, "ts": message.ts, "message": message.wire(state)}


def post_ephemeral(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    channel = _channel(state, args)
    if args.get("user") not in state.users:
        raise SlackError("user_not_found")
    text, blocks = _content(args)
    message = Message(channel, state.next_ts(), text, blocks or [], args.get("thread_ts"), str(args["user"]))
    with state.lock:
        state.ephemeral.append(message)
    return {"message_ts": message.ts}


def update_message(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    channel = _channel(state, args)
    text, blocks = _content(args)
    with state.lock:
        message = next((m for m in state.messages if m.channel == channel and m.ts == args.get("ts")), None)
        if message is None:
            raise SlackError("message_not_found")
        _edit(state, message, text, blocks)
    return {"channel": channel, "ts": message.ts, "text": message.text, "message": message.wire(state)}


def _edit(state: SlackState, message: Message, text: str, blocks: list[Any] | None) -> None:
    """Replace a message's content, keeping the version it replaces; omitted blocks are kept, as Slack does."""
    previous = {"text": message.text, "blocks": message.blocks, "edited_ts": state.next_ts()}
    message.edits.append(previous)
    message.text, message.blocks = text, message.blocks if blocks is None else blocks
    state.updates.append({"channel": message.channel, "ts": message.ts, "text": text, "blocks": message.blocks,
                          "edited_ts": previous["edited_ts"]})


def users_info(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    user = str(args.get("user") or "")
    if user not in state.users:
        raise SlackError("user_not_found")
    name = state.users[user]
    handle = name.split()[0].lower()
    profile = {"real_name": name, "display_name": handle, "real_name_normalized": name,
               "display_name_normalized": handle, "email": f"{handle}@hirebridge.example", "team": state.team_id}
    return {"user": {"id": user, "team_id": state.team_id, "name": handle, "deleted": False, "real_name": name,
                     "tz": "Etc/UTC", "tz_label": "Coordinated Universal Time", "tz_offset": 0,
                     "profile": profile, "is_admin": False, "is_owner": False, "is_bot": False,
                     "is_app_user": False, "updated": 1_700_000_000}}


def conversations_info(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    channel = _channel(state, args)
    name = state.channels[channel]
    return {"channel": {"id": channel, "name": name, "name_normalized": name, "is_channel": True,
                        "is_group": False, "is_im": False, "is_mpim": False, "is_private": False,
                        "is_archived": False, "is_general": False, "is_member": True, "is_shared": False,
                        "created": 1_700_000_000, "creator": state.bot_user_id,
                        "topic": {"value": "", "creator": "", "last_set": 0},
                        "purpose": {"value": "", "creator": "", "last_set": 0}}}


METHODS: dict[str, Callable[[SlackState, dict[str, Any]], dict[str, Any]]] = {
    "auth.test": auth_test,
    "chat.postMessage": post_message,
    "chat.postEphemeral": post_ephemeral,
    "chat.update": update_message,
    "users.info": users_info,
    "conversations.info": conversations_info,
}


# --- response_url ----------------------------------------------------------------------------------------

def _respond(state: SlackState, target: ResponseUrl, body: dict[str, Any]) -> None:
    """Record one response_url post; `in_channel` posts a message, `replace_original` edits the source one."""
    text, blocks = _content(body)
    post = {"channel": target.channel, "user": target.user, "text": text, "blocks": blocks,
            "response_type": body.get("response_type", "ephemeral"),  # Slack's default is ephemeral
            "replace_original": bool(body.get("replace_original")), "at": state.clock()}
    with state.lock:
        target.posts.append(post)
        original = next((m for m in state.messages if m.ts == target.message_ts), None)
        if post["replace_original"] and original is not None:
            _edit(state, original, text, blocks)
        elif post["response_type"] == "in_channel":
            state.messages.append(Message(target.channel, state.next_ts(), text, blocks or []))


def response_url_routes(state: SlackState, fault: Callable[[int], Response]) -> list[Route]:
    """`POST /_sandbox/response_urls {channel, user[, message_ts]}` mints a URL; `POST /response/<id>` uses it."""

    async def mint(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("channel") not in state.channels:
            return JSONResponse({"error": "body must name a known channel (and a user)"}, status_code=400)
        target = ResponseUrl(f"{state.random.getrandbits(64):016x}", body["channel"], str(body.get("user", "")),
                             state.clock(), body.get("message_ts"))
        with state.lock:
            state.response_urls[target.id] = target
        return JSONResponse({"response_url": f"{str(request.base_url).rstrip('/')}/response/{target.id}"})

    @recorded(state, fault)
    async def respond(request: Request) -> Response:
        target = state.response_urls.get(request.path_params["id"])
        # reference: unconfirmed answer once a URL is spent or stale; we chose 404 expired_url.
        if target is None or len(target.posts) >= RESPONSE_URL_USES or \
                state.clock() - target.created_at > RESPONSE_URL_TTL:
            return SlackError("expired_url", 404).response()
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise SlackError("invalid_payload", 400)
            _respond(state, target, body)
        except ValueError:
            return SlackError("invalid_payload", 400).response()
        except SlackError as exc:  # reference: unconfirmed; response_url errors answered 400 here
            return SlackError(exc.error, 400, **exc.extra).response()
        return JSONResponse({"ok": True})

    return [Route("/_sandbox/response_urls", mint, methods=["POST"]),
            Route("/response/{id}", respond, methods=["POST"])]


# --- app -------------------------------------------------------------------------------------------------

def _fault(status: int) -> Response:
    if status == 429:
        return SlackError("ratelimited", 429, {"Retry-After": "1"}).response()
    return SlackError(_FAULT_ERRORS.get(status, "fatal_error"), status).response()


def create_app(state: SlackState | None = None) -> Starlette:
    """The Slack Web API simulator (`/api/<method>`); its state is on `app.state.sim`."""
    state = state if state is not None else seed_sandbox(SlackState())

    @recorded(state, _fault)
    async def api(request: Request) -> Response:
        method = METHODS.get(request.path_params["method"])
        if method is None:  # reference: unconfirmed status for unknown methods
            return SlackError("unknown_method", 404).response()
        try:
            args = await _arguments(request)
            _authenticate(state, request, args)
            return JSONResponse({"ok": True, **method(state, args)})
        except SlackError as exc:
            return exc.response()

    async def messages(request: Request) -> Response:
        return JSONResponse(state.channel_messages(request.query_params.get("channel")))

    routes = [Route("/api/{method}", api, methods=["GET", "POST"]),
              Route("/_sandbox/messages", messages, methods=["GET"]),
              *response_url_routes(state, _fault), *control_routes(state)]
    app = Starlette(routes=routes)
    app.state.sim = state
    return app
