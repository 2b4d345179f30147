"""The HTTP surface of `hirebridge serve`: one declarative list of routes."""

from __future__ import annotations

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.exports import Exports
from storage.db import ping

MAX_WEBHOOK_BYTES = 1_000_000


def create_web_app(engine: Engine, *, exports: Exports | None = None) -> Starlette:
    """Build the ASGI app; everything it needs is passed in by the composition root."""

    async def healthz(request: Request) -> Response:
        """Process and database health; 503 when the database does not answer."""
        try:
            await run_in_threadpool(ping, engine)
        except Exception as exc:  # any database failure makes the process unhealthy
            return JSONResponse({"status": "unhealthy", "database": f"{type(exc).__name__}: {exc}"},
                                status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    async def linkedin_push(request: Request) -> Response:
        """One-Click Export push: verified against the raw bytes, recorded, queued; answered at once."""
        assert exports is not None
        body = await request.body()
        if len(body) > MAX_WEBHOOK_BYTES:
            return JSONResponse({"error": "body too large"}, status_code=413)
        status, answer = await run_in_threadpool(
            exports.accept, request.path_params["tenant"], body, request.headers.get("x-li-signature"))
        return JSONResponse(answer, status_code=status)

    async def linkedin_challenge(request: Request) -> Response:
        assert exports is not None
        code = request.query_params.get("challengeCode")
        if not code:
            return JSONResponse({"error": "challengeCode is required"}, status_code=400)
        status, answer = exports.challenge(request.path_params["tenant"], code)
        return JSONResponse(answer, status_code=status)

    routes = [Route("/healthz", healthz, methods=["GET"])]
    if exports is not None:
        routes += [
            Route("/webhooks/linkedin/{tenant}", linkedin_push, methods=["POST"]),
            Route("/webhooks/linkedin/{tenant}", linkedin_challenge, methods=["GET"]),
        ]
    return Starlette(routes=routes)
