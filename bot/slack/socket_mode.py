"""Socket Mode: the Bolt app's WebSocket to Slack, opened in the background and reopened with backoff."""

from __future__ import annotations

import contextlib
import logging
import random
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.socket_mode.builtin import SocketModeHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool

log = logging.getLogger(__name__)

#: apps.connections.open errors that mean the app-level token itself is wrong (retrying will not fix it)
TOKEN_ERRORS = frozenset({"not_authed", "invalid_auth", "not_allowed_token_type", "account_inactive",
                          "token_revoked", "token_expired", "missing_scope"})


class SocketModeConnection:
    """Keeps the app connected over Socket Mode until `stop`; never raises while Slack is down, only logs."""

    def __init__(self, app: App, app_token: str, *, client: WebClient, first_delay: float = 1.0,
                 max_delay: float = 60.0, check_every: float = 1.0, ping_interval: float = 10.0) -> None:
        # `client` carries the Web API base URL (HIREBRIDGE_SLACK_API_URL): apps.connections.open goes there.
        # The SDK's own reconnect loop is off: it retries every ping interval without backoff, and its
        # first failure escapes; this class reconnects instead. Slack's `disconnect` message still makes
        # the SDK open a new connection by itself (that path does not depend on the flag).
        self._handler = SocketModeHandler(app, app_token=app_token, web_client=client,
                                          logger=log.getChild("sdk"), auto_reconnect_enabled=False,
                                          ping_interval=ping_interval)
        self._api_url = client.base_url
        self.first_delay, self.max_delay, self.check_every = first_delay, max_delay, check_every
        self.stale_after = 2 * ping_interval + check_every  # no pong for this long: the connection is dead
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Connect in a background thread; returns at once (the web server must not wait for Slack)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="slack-socket-mode", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Close the WebSocket and the SDK's threads; safe to call twice."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._wake_receiver()
        self._handler.client.close()

    def is_connected(self) -> bool:
        return bool(self._handler.client.is_connected())

    def _wake_receiver(self) -> None:
        """The SDK's close() waits out a blocked recv (a 3 s socket timeout); shutting the socket down ends it."""
        session = self._handler.client.current_session
        sock = session.sock if session is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _run(self) -> None:
        delay = self.first_delay
        while not self._stop.is_set():
            if self.is_connected():
                delay = self.first_delay
                self._drop_if_stale()
                self._stop.wait(self.check_every)
                continue
            problem = self._connect()
            if problem is None:
                log.info("Socket Mode connected to Slack")
                continue
            wait = delay * random.uniform(0.5, 1.0)  # jitter: several instances must not retry in step
            log.log(problem[0], "Socket Mode: %s; retrying in %.1fs", problem[1], wait)
            self._stop.wait(wait)
            delay = min(delay * 2, self.max_delay)

    def _drop_if_stale(self) -> None:
        """Close a connection whose pongs stopped: the SDK's receiver spins on a peer that closed without a
        close frame, and notices only after about 4 ping intervals."""
        session = self._handler.client.current_session
        last_pong = session.last_ping_pong_time if session is not None else None
        if last_pong is not None and time.time() - last_pong > self.stale_after:
            log.warning("Socket Mode: no pong from Slack for %.0fs; reconnecting", time.time() - last_pong)
            self._handler.client.disconnect()

    def _connect(self) -> tuple[int, str] | None:
        """Ask for a WebSocket URL and open it; None when connected, else a log level and what went wrong."""
        try:
            self._handler.client.connect_to_new_endpoint()
        except SlackApiError as exc:
            error = str(exc.response.get("error", "unknown_error"))
            if error in TOKEN_ERRORS:
                return logging.ERROR, (f"Slack refused SLACK_APP_TOKEN on apps.connections.open ({error}); "
                                       "it must be the app-level xapp- token with connections:write")
            return logging.WARNING, f"apps.connections.open failed ({error})"
        except (OSError, SlackClientError) as exc:  # urllib's URLError is an OSError
            return logging.WARNING, f"Slack is unreachable at {self._api_url} ({type(exc).__name__}: {exc})"
        except Exception as exc:  # this thread is the only one reconnecting: it must outlive any surprise
            log.exception("Socket Mode: unexpected error while connecting")
            return logging.WARNING, f"unexpected {type(exc).__name__}"
        if self.is_connected():
            return None
        # The SDK logs why the WebSocket handshake failed and returns without raising.
        return logging.WARNING, "the WebSocket handshake failed (see the slack_sdk log line above)"


def with_socket_mode(web: Starlette, connection: SocketModeConnection) -> Starlette:
    """Tie the connection to the web server's lifespan: connect at start-up, close on shutdown (SIGTERM too)."""
    inner: Callable[[Any], AbstractAsyncContextManager[Any]] = web.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        async with inner(app) as state:
            connection.start()
            try:
                yield state
            finally:
                await run_in_threadpool(connection.stop)

    web.router.lifespan_context = lifespan
    return web
