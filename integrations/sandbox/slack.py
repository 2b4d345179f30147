"""Slack Web API simulator: the workspace state, the methods the bot calls, per-channel pacing, the app."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
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
from integrations.sandbox.slack_blocks import block_errors as block_errors  # re-exported for callers
from integrations.sandbox.slack_messages import (
    BOT_ID,
    Message,
    SlackError,
    check_content,
    check_metadata,
    edit_message,
    history_page,
)
from integrations.sandbox.slack_response_urls import ResponseUrl, response_url_routes
from integrations.sandbox.slack_socket import APP_METHODS, SocketHub, authenticate_app, socket_routes

TEAM_NAME = "HireBridge Sandbox"
_FAULT_ERRORS = {500: "internal_error", 503: "service_unavailable", 504: "request_timeout"}


class SlackState(SimulatorState):
    """One workspace: tokens, channels, users, what was posted, per-channel buckets, Socket Mode clients."""

    name = "slack"

    def __init__(self, seed: int | None = None, *, post_rate: float = 1.0, post_burst: float = 3.0,
                 clock: Clock = time.time) -> None:
        super().__init__(seed)
        self.post_rate, self.post_burst, self.clock = post_rate, post_burst, clock
        self.bot_token, self.app_token, self.team_id, self.bot_user_id = "", "", "", ""
        self.channels: dict[str, str] = {}
        self.users: dict[str, str] = {}
        self.emails: dict[str, str] = {}  # user id -> profile email
        self.ims: dict[str, str] = {}  # the bot's DM channel id -> the user it is with
        self.usergroups: dict[str, list[str]] = {}
        self.messages: list[Message] = []
        self.ephemeral: list[Message] = []
        self.updates: list[dict[str, Any]] = []
        self.response_urls: dict[str, ResponseUrl] = {}
        self.sockets = SocketHub()
        self._buckets: dict[str, TokenBucket] = {}
        self._ts = 0  # microseconds of the last ts given

    def next_ts(self) -> str:
        """A new message ts: the clock's time (as Slack's are), kept unique and increasing."""
        with self.lock:
            self._ts = max(self._ts, int(self.clock() * 1_000_000)) + 100
            return f"{self._ts // 1_000_000}.{self._ts % 1_000_000:06d}"

    def take_post_token(self, channel: str) -> float | None:
        """None if `chat.postMessage` may post to `channel` now, else the seconds to wait (Retry-After)."""
        rate = self.post_rate if self.faults.rate_limit is None else float(self.faults.rate_limit)
        with self.lock:
            bucket = self._buckets.setdefault(channel, TokenBucket(self.post_rate, self.post_burst, self.clock))
        if bucket.take(rate):
            return None
        return float(math.ceil(1 / rate)) if rate > 0 else 60.0

    def channel_messages(self, channel: str | None) -> dict[str, Any]:
        """What `GET /_sandbox/messages` shows: posted, ephemeral, updates and response_url posts."""
        def mine(item_channel: str) -> bool:
            return channel is None or item_channel == channel

        with self.lock:
            return {
                "messages": [{**m.wire(self), "channel": m.channel, "edits": m.edits, "metadata": m.metadata,
                              "posted_at": m.posted_at}
                             for m in self.messages if mine(m.channel)],
                "ephemeral": [{**m.wire(self), "channel": m.channel, "user": m.user}
                              for m in self.ephemeral if mine(m.channel)],
                "updates": [u for u in self.updates if mine(u["channel"])],
                "responses": [p for r in self.response_urls.values() if mine(r.channel) for p in r.posts],
            }

    def inspect(self) -> dict[str, Any]:
        with self.lock:
            counts = {c: sum(m.channel == c for m in self.messages) for c in [*self.channels, *self.ims]}
            return {**super().inspect(), "team_id": self.team_id, "messages_per_channel": counts,
                    "ephemeral": len(self.ephemeral), "updates": len(self.updates),
                    "response_urls": len(self.response_urls), "socket": self.sockets.inspect()}


def seed_sandbox(state: SlackState, workspace: world.SlackWorkspace = world.SLACK) -> SlackState:
    """Load the sandbox workspace: bot and app tokens, team, bot user, channels, users."""
    state.bot_token, state.app_token, state.team_id = workspace.bot_token, workspace.app_token, workspace.team_id
    state.bot_user_id = workspace.bot_user_id
    state.channels.update(workspace.channels)
    state.users.update(workspace.users)
    state.emails.update({user: f"{name.split()[0].lower()}@hirebridge.example"
                         for user, name in workspace.users.items()})
    state.emails.update(workspace.emails)
    state.usergroups.update({group: list(members) for group, members in workspace.usergroups.items()})
    return state


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
    """A channel id; like Slack, a `#name` or bare name is accepted too, and a DM channel the bot opened."""
    wanted = str(args.get("channel") or "")
    if wanted in state.channels or wanted in state.ims:
        return wanted
    by_name = {name: cid for cid, name in state.channels.items()}
    if wanted.lstrip("#") in by_name:
        return by_name[wanted.lstrip("#")]
    raise SlackError("channel_not_found")


# --- methods ---------------------------------------------------------------------------------------------

def auth_test(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    return {"url": "https://hirebridge-sandbox.slack.com/", "team": TEAM_NAME, "user": "hirebridge",
            "team_id": state.team_id, "user_id": state.bot_user_id, "bot_id": BOT_ID,
            "is_enterprise_install": False}


def post_message(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    channel = _channel(state, args)
    text, blocks = check_content(args)
    metadata = check_metadata(args)
    if (retry_after := state.take_post_token(channel)) is not None:
        raise SlackError("ratelimited", 429, {"Retry-After": str(int(retry_after))})
    message = Message(channel, state.next_ts(), text, blocks or [], thread_ts=args.get("thread_ts"),
                      metadata=metadata, posted_at=state.clock())
    with state.lock:
        state.messages.append(message)
    return {"channel": channel, "ts": message.ts, "message": message.wire(state)}


def post_ephemeral(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    channel = _channel(state, args)
    if args.get("user") not in state.users:
        raise SlackError("user_not_found")
    text, blocks = check_content(args)
    message = Message(channel, state.next_ts(), text, blocks or [], args.get("thread_ts"), str(args["user"]))
    with state.lock:
        state.ephemeral.append(message)
    return {"message_ts": message.ts}


def update_message(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    channel = _channel(state, args)
    text, blocks = check_content(args)
    with state.lock:
        message = next((m for m in state.messages if m.channel == channel and m.ts == args.get("ts")), None)
        if message is None:
            raise SlackError("message_not_found")
        edit_message(state, message, text, blocks)
    return {"channel": channel, "ts": message.ts, "text": message.text, "message": message.wire(state)}


def _user(state: SlackState, user: str) -> dict[str, Any]:
    """A user object as users.info and users.lookupByEmail return it."""
    name = state.users[user]
    handle = name.split()[0].lower()
    profile = {"real_name": name, "display_name": handle, "real_name_normalized": name,
               "display_name_normalized": handle, "email": state.emails.get(user), "team": state.team_id}
    return {"id": user, "team_id": state.team_id, "name": handle, "deleted": False, "real_name": name,
            "tz": "Etc/UTC", "tz_label": "Coordinated Universal Time", "tz_offset": 0,
            "profile": profile, "is_admin": False, "is_owner": False, "is_bot": False,
            "is_app_user": False, "updated": 1_700_000_000}


def users_info(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    user = str(args.get("user") or "")
    if user not in state.users:
        raise SlackError("user_not_found")
    return {"user": _user(state, user)}


def users_lookup_by_email(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    """The user with this profile email (needs users:read.email); Slack compares emails ignoring case."""
    email = str(args.get("email") or "").strip().lower()
    if not email:
        raise SlackError("invalid_arguments")
    user = next((u for u, e in state.emails.items() if e.lower() == email), None)
    if user is None:
        raise SlackError("users_not_found")
    return {"user": _user(state, user)}


def conversations_open(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    """The bot's DM with one user (im:write): the same channel id every time it is asked."""
    users = [u for u in str(args.get("users") or "").split(",") if u]
    if len(users) != 1:  # a group DM is not something the bot opens
        raise SlackError("users_list_not_supplied" if not users else "not_supported")
    if users[0] not in state.users:
        raise SlackError("user_not_found")
    with state.lock:
        channel = next((c for c, u in state.ims.items() if u == users[0]), None)
        if channel is None:
            channel = f"D{users[0][1:]}"
            state.ims[channel] = users[0]
    return {"channel": {"id": channel}}


def conversations_info(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    channel = _channel(state, args)
    name = state.channels[channel]
    return {"channel": {"id": channel, "name": name, "name_normalized": name, "is_channel": True,
                        "is_group": False, "is_im": False, "is_mpim": False, "is_private": False,
                        "is_archived": False, "is_general": False, "is_member": True, "is_shared": False,
                        "created": 1_700_000_000, "creator": state.bot_user_id,
                        "topic": {"value": "", "creator": "", "last_set": 0},
                        "purpose": {"value": "", "creator": "", "last_set": 0}}}


def conversations_history(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    """A channel's messages, newest first, paged (see `history_page`). The bot is a member of every channel."""
    channel = _channel(state, args)
    with state.lock:
        return history_page(state, [m for m in state.messages if m.channel == channel], args)


def usergroups_users_list(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    """The members of a user group (ids only). reference: unconfirmed error name for an unknown group."""
    group = str(args.get("usergroup") or "")
    if not group:
        raise SlackError("invalid_arguments")
    if group not in state.usergroups:
        raise SlackError("no_such_subteam")
    with state.lock:
        return {"users": list(state.usergroups[group])}


METHODS: dict[str, Callable[[SlackState, dict[str, Any]], dict[str, Any]]] = {
    "auth.test": auth_test,
    "chat.postMessage": post_message,
    "chat.postEphemeral": post_ephemeral,
    "chat.update": update_message,
    "users.info": users_info,
    "users.lookupByEmail": users_lookup_by_email,
    "conversations.open": conversations_open,
    "conversations.info": conversations_info,
    "conversations.history": conversations_history,
    "usergroups.users.list": usergroups_users_list,
}


# --- app -------------------------------------------------------------------------------------------------

def _fault(status: int) -> Response:
    if status == 429:
        return SlackError("ratelimited", 429, {"Retry-After": "1"}).response()
    return SlackError(_FAULT_ERRORS.get(status, "fatal_error"), status).response()


def create_app(state: SlackState | None = None) -> Starlette:
    """The Slack Web API simulator (`/api/<method>`, Socket Mode); its state is on `app.state.sim`."""
    state = state if state is not None else seed_sandbox(SlackState())

    @recorded(state, _fault)
    async def api(request: Request) -> Response:
        name = request.path_params["method"]
        method, app_method = METHODS.get(name), APP_METHODS.get(name)
        if method is None and app_method is None:  # reference: unconfirmed status for unknown methods
            return SlackError("unknown_method", 404).response()
        try:
            args = await _arguments(request)
            if app_method is not None:  # app-level methods take the xapp- token, not the bot token
                authenticate_app(state, request, args)
                return JSONResponse({"ok": True, **app_method(state, request)})
            _authenticate(state, request, args)
            assert method is not None
            return JSONResponse({"ok": True, **method(state, args)})
        except SlackError as exc:
            return exc.response()

    async def messages(request: Request) -> Response:
        return JSONResponse(state.channel_messages(request.query_params.get("channel")))

    routes = [Route("/api/{method}", api, methods=["GET", "POST"]),
              Route("/_sandbox/messages", messages, methods=["GET"]),
              *response_url_routes(state, _fault), *socket_routes(state), *control_routes(state)]
    app = Starlette(routes=routes)
    app.state.sim = state
    return app
