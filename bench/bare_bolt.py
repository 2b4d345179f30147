"""The `slack_ack` baseline: a bare Bolt app whose `/candidate` only acks, served like `hirebridge serve`.

`python -m bench.bare_bolt --port N`, configured from the environment `hirebridge serve` reads
(SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, HIREBRIDGE_SLACK_API_URL). The route is the shape of
`bot/web.py`'s `slack_events` (raw body, Bolt off the event loop in Starlette's thread pool), on the same
uvicorn, so the only difference from the bot is what runs behind the ack.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

import uvicorn
from slack_bolt import Ack, App, BoltRequest
from slack_sdk import WebClient
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

MAX_WEBHOOK_BYTES = 1_000_000  # as bot/web.py


def bare_app(signing_secret: str, client: WebClient) -> App:
    """Signature verification on, Bolt's defaults otherwise; `/candidate` acks and does nothing.

    Like the bot's app it has a bot token and verifies it on the first request, not at start-up: Bolt's
    single-workspace authorization calls `auth.test` once (on `client`'s Slack) and caches the answer.
    """
    app = App(signing_secret=signing_secret, client=client, token_verification_enabled=False)

    @app.command("/candidate")
    def candidate(ack: Ack) -> None:
        ack()

    return app


def web_app(slack: App) -> Starlette:
    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def slack_events(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_WEBHOOK_BYTES:
            return JSONResponse({"error": "body too large"}, status_code=413)
        bolt_request = BoltRequest(body=body.decode("utf-8", "replace"), headers=dict(request.headers))
        answer = await run_in_threadpool(slack.dispatch, bolt_request)
        headers = {k: v[0] for k, v in answer.headers.items() if v and k.lower() != "content-length"}
        return Response(answer.body, status_code=answer.status, headers=headers)

    return Starlette(routes=[Route("/healthz", healthz, methods=["GET"]),
                             Route("/slack/events", slack_events, methods=["POST"])])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bare_bolt", 
                                     description="A bare Bolt app that only acks /candidate.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--log-level", default="info", help="uvicorn's (`hirebridge serve` defaults to info)")
    args = parser.parse_args(argv)
    secret, token = os.environ.get("SLACK_SIGNING_SECRET", ""), os.environ.get("SLACK_BOT_TOKEN", "")
    if not secret or not token:
        parser.error("SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN must be set")
    client = WebClient(token=token, base_url=os.environ.get("HIREBRIDGE_SLACK_API_URL", "https://slack.com/api/"))
    uvicorn.run(web_app(bare_app(secret, client)), host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
