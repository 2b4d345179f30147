"""Run an ASGI app on a free loopback port in a background thread (simulators, tests, the demo)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn


@dataclass
class RunningServer:
    """A uvicorn server serving one app on 127.0.0.1; `url` has no trailing slash."""

    name: str
    url: str
    port: int
    _server: uvicorn.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    def request_stop(self) -> None:
        """Ask the server to stop without waiting (stop several at once, then `stop` each)."""
        self._server.should_exit = True

    def stop(self, timeout: float = 5.0) -> None:
        self.request_stop()
        self._thread.join(timeout)


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (prefer passing a bound socket where possible)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def serve_in_thread(app: Any, name: str = "app", host: str = "127.0.0.1", port: int = 0,
                    startup_timeout: float = 10.0) -> RunningServer:
    """Bind a socket (port 0 = any free port), serve `app` on it in a daemon thread, wait until it listens."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this; without it Nagle + delayed ACK add ~40 ms to every keep-alive
    # request (asyncio sets TCP_NODELAY only on servers it binds itself, not on a socket handed in).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    bound_port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"serve-{name}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not start on {host}:{bound_port}")
        time.sleep(0.01)
    return RunningServer(name, f"http://{host}:{bound_port}", bound_port, server, thread)
