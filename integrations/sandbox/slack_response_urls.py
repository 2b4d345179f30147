"""Slack `response_url`s in the simulator: minted URLs, their use limits, and what the bot posts to them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations.sandbox.base import recorded
from integrations.sandbox.slack_messages import Message, SlackError, check_content, edit_message

if TYPE_CHECKING:  # the state module imports this one
    from integrations.sandbox.slack import SlackState

RESPONSE_URL_USES = 5  # Slack: "up to 5 times within 30 minutes"
RESPONSE_URL_TTL = 30 * 60.0


@dataclass
class ResponseUrl:
    """A `response_url` handed to the bot with a command or action; `posts` is what it sent there."""

    id: str
    channel: str
    user: str
    created_at: float
    message_ts: str | None = None
    posts: list[dict[str, Any]] = field(default_factory=list)


def _respond(state: SlackState, target: ResponseUrl, body: dict[str, Any]) -> None:
    """Record one response_url post; `in_channel` posts a message, `replace_original` edits the source one."""
    text, blocks = check_content(body)
    post = {"channel": target.channel, "user": target.user, "text": text, "blocks": blocks,
            "response_type": body.get("response_type", "ephemeral"),  # Slack's default is ephemeral
            "replace_original": bool(body.get("replace_original")), "at": state.clock()}
    with state.lock:
        target.posts.append(post)
        original = next((m for m in state.messages if m.ts == target.message_ts), None)
        if post["replace_original"] and original is not None:
            edit_message(state, original, text, blocks)
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
