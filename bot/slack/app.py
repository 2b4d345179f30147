"""The Bolt app: signature verification on, one error handler, listeners registered module by module."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient

from bot.slack import commands

log = logging.getLogger(__name__)


def build_slack_app(*, signing_secret: str, client: WebClient, candidate: commands.CandidateCommand,
                    workers: int = 16) -> App:
    """A sync Bolt app that never calls Slack at start-up (the server must come up while Slack is down)."""
    app = App(
        signing_secret=signing_secret,
        client=client,
        token_verification_enabled=False,
        process_before_response=False,  # ack first; the listener goes on in Bolt's executor
        raise_error_for_unhandled_request=False,
        listener_executor=ThreadPoolExecutor(max_workers=workers, thread_name_prefix="slack-listener"),
    )
    commands.register(app, candidate)

    @app.error
    def on_error(error: Exception, body: dict[str, Any], logger: logging.Logger) -> BoltResponse:
        log.exception("slack request failed: %s", error)
        return BoltResponse(status=500, body="")

    return app
