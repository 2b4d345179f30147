"""The HTTP surface of `hirebridge serve`: one declarative list of routes."""

from __future__ import annotations

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from storage.db import ping


def create_web_app(engine: Engine) -> Starlette:
    """Build the ASGI app; the engine is passed in by the composition root."""

    async def healthz(request: Request) -> Response:
        """Process and database health; 503 when the database does not answer."""
        try:
            await run_in_threadpool(ping, engine)
        except Exception as exc:  # any database failure makes the process unhealthy
            return JSONResponse({"status": "unhealthy", "database": f"{type(exc).__name__}: {exc}"},
                                status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
    ]
    return Starlette(routes=routes)
