"""The HTTP surface of `hirebridge serve`: one declarative list of routes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt import App, BoltRequest
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.ats_webhooks import AtsWebhooks
from bot.exports import Exports
from bot.metrics import metrics_registry
from storage.db import ping

MAX_WEBHOOK_BYTES = 1_000_000


async def _body_within(request: Request, limit: int) -> bytes | None:
    """The request body, or None as soon as it exceeds `limit` bytes (read no further)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _webhook(request: Request, accept: Callable[[str, bytes], tuple[int, dict[str, Any]]]) -> Response:
    """Every webhook route: the body up to the limit (413 past it), then `accept` off the event loop."""
    body = await _body_within(request, MAX_WEBHOOK_BYTES)
    if body is None:
        return JSONResponse({"error": "body too large"}, status_code=413)
    status, answer = await run_in_threadpool(accept, request.path_params["tenant"], body)
    return JSONResponse(answer, status_code=status)


def _verifiable(headers: Mapping[str, str]) -> bool:
    """Whether Bolt's signature check can read these headers: it raises (a 500) on a timestamp that is no number
    and on a signature with non-ASCII characters, neither of which a request from Slack carries."""
    timestamp = headers.get("x-slack-request-timestamp", "0")
    signature = headers.get("x-slack-signature", "")
    return timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 20 and signature.isascii()


def create_web_app(engine: Engine, *, exports: Exports | None = None, slack: App | None = None,
                   ats_webhooks: AtsWebhooks | None = None) -> Starlette:
    """Build the ASGI app; everything it needs is passed in by the composition root."""

    async def healthz(request: Request) -> Response:
        """Process and database health; 503 when the database does not answer."""
        try:
            await run_in_threadpool(ping, engine)
        except Exception as exc:  # any database failure makes the process unhealthy
            return JSONResponse({"status": "unhealthy", "database": f"{type(exc).__name__}: {exc}"},
                                status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    registry = metrics_registry(engine)

    async def metrics(request: Request) -> Response:
        """Prometheus text format, read from the store at scrape time."""
        body = await run_in_threadpool(generate_latest, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    async def linkedin_push(request: Request) -> Response:
        """One-Click Export push: verified against the raw bytes, recorded, queued; answered at once."""
        assert exports is not None
        signature = request.headers.get("x-li-signature")
        return await _webhook(request, lambda tenant, body: exports.accept(tenant, body, signature))

    async def linkedin_challenge(request: Request) -> Response:
        assert exports is not None
        code = request.query_params.get("challengeCode")
        if not code:
            return JSONResponse({"error": "challengeCode is required"}, status_code=400)
        status, answer = exports.challenge(request.path_params["tenant"], code)
        return JSONResponse(answer, status_code=status)

    async def greenhouse_webhook(request: Request) -> Response:
        """Greenhouse webhook: verified against the raw bytes, recorded, queued; answered at once."""
        assert ats_webhooks is not None
        headers = request.headers
        return await _webhook(request, lambda tenant, body: ats_webhooks.accept_greenhouse(tenant, body, headers))

    async def lever_webhook(request: Request) -> Response:
        """Lever webhook: its signature is inside the body; verified, recorded, queued; answered at once."""
        assert ats_webhooks is not None
        return await _webhook(request, ats_webhooks.accept_lever)

    async def slack_events(request: Request) -> Response:
        """Commands, interactivity and events: Bolt verifies the signature on the raw body, off the loop."""
        if slack is None:
            return JSONResponse({"error": "Slack is not configured (SLACK_SIGNING_SECRET)"}, status_code=503)
        body = await _body_within(request, MAX_WEBHOOK_BYTES)
        if body is None:
            return JSONResponse({"error": "body too large"}, status_code=413)
        if not _verifiable(request.headers):
            return JSONResponse({"error": "invalid request"}, status_code=401)
        try:
            bolt_request = BoltRequest(body=body.decode("utf-8", "replace"), headers=dict(request.headers))
        except Exception:  # Bolt parses in its constructor and raises whatever a body makes it (JSON errors,
            # AttributeError on a JSON array...): Slack sends only forms and JSON objects
            return JSONResponse({"error": "not a Slack request body"}, status_code=400)
        answer = await run_in_threadpool(slack.dispatch, bolt_request)
        headers = {k: v[0] for k, v in answer.headers.items() if v and k.lower() != "content-length"}
        return Response(answer.body, status_code=answer.status, headers=headers)

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/slack/events", slack_events, methods=["POST"]),
    ]
    if exports is not None:
        routes += [
            Route("/webhooks/linkedin/{tenant}", linkedin_push, methods=["POST"]),
            Route("/webhooks/linkedin/{tenant}", linkedin_challenge, methods=["GET"]),
        ]
    if ats_webhooks is not None:
        routes += [
            Route("/webhooks/greenhouse/{tenant}", greenhouse_webhook, methods=["POST"]),
            Route("/webhooks/lever/{tenant}", lever_webhook, methods=["POST"]),
        ]
    app = Starlette(routes=routes)
    # A tenant ending in an encoded slash ("acme%2F") decodes to a path no route takes; Starlette would answer a
    # 307 to the path without it. Webhook senders do not follow redirects on POST: a plain 404 says what is wrong.
    app.router.redirect_slashes = False
    return app
