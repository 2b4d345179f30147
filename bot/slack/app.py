"""The Bolt app: signature verification on, one error handler, listeners registered module by module."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient

from bot.slack import commands, forget_actions, merge_actions

log = logging.getLogger(__name__)


def build_slack_app(*, signing_secret: str | None, client: WebClient, candidate: commands.CandidateCommand,
                    proposals: merge_actions.ProposalActions | None = None,
                    forget: forget_actions.ForgetActions | None = None, workers: int = 16) -> App:
    """A sync Bolt app that never calls Slack at start-up (the server must come up while Slack is down).

    Without a signing secret, request verification is off: only for Socket Mode, never for HTTP.
    """
    token = client.token

    def authorize(enterprise_id: str | None, team_id: str | None, user_id: str | None) -> AuthorizeResult:
        # One workspace, one bot token: nothing to look up. Bolt's default single-team authorization calls
        # auth.test on the first request, so while Slack was unreachable every command failed with
        # "installation no longer available"; this answers from the token we hold, without Slack.
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, bot_token=token)

    app = App(
        authorize=authorize,
        signing_secret=signing_secret or "",
        request_verification_enabled=signing_secret is not None,
        client=WebClient(base_url=client.base_url, timeout=client.timeout, retry_handlers=client.retry_handlers),
        process_before_response=False,  # ack first; the listener goes on in Bolt's executor
        raise_error_for_unhandled_request=False,
        listener_executor=ThreadPoolExecutor(max_workers=workers, thread_name_prefix="slack-listener"),
    )
    commands.register(app, candidate)
    if proposals is not None:
        merge_actions.register(app, proposals)
    if forget is not None:
        forget_actions.register(app, forget)

    @app.error
    def on_error(error: Exception, body: dict[str, Any], logger: logging.Logger) -> BoltResponse:
        log.exception("slack request failed: %s", error)
        return BoltResponse(status=500, body="")

    return app
