"""A load generator in a process of its own: bursts of concurrent HTTP requests, each timed to its response.

A benchmark starts it with `Loader`, writes one burst per line (JSON) to its stdin and reads the timings back
from its stdout, so the sender shares no GIL with the servers and simulators it measures. Connections are
kept alive per server between bursts, as Slack keeps them to an app.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import httpx

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Request:
    """One request of a burst: a GET without a body, else a POST of `body` (already encoded) with `headers`.

    `at`: seconds after the burst starts to send it (0: at once), so a burst can be a paced stream.
    """

    url: str
    body: str | None = None
    headers: dict[str, str] | None = None
    at: float = 0.0


@dataclass(frozen=True)
class Timings:
    """A burst's outcome: when it was sent (wall clock), each request's status and time, and why any failed."""

    sent_at: float
    statuses: list[int]  # 0: no HTTP response (see `errors`)
    ms: list[float]
    errors: list[str]  # the exception of each request that got no response, e.g. "ReadTimeout: …"
    started_at: list[float] = field(default_factory=list)  # when each request went out (wall clock)


class Loader:
    """The benchmark's end of `python -m bench.load`: send it bursts, get their timings."""

    def __init__(self, connections: int) -> None:
        self.connections = connections
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> Loader:
        command = [sys.executable, "-m", "bench.load", "--connections", str(self.connections)]
        self._process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         text=True)
        return self

    def burst(self, requests: Sequence[Request]) -> Timings:
        """Send every request at once; returns when all are answered (or failed)."""
        assert self._process is not None and self._process.stdin and self._process.stdout
        self._process.stdin.write(json.dumps([asdict(r) for r in requests]) + "\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the load generator exited (status {self._process.wait()})")
        return Timings(**json.loads(line))

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self._process is None:
            return
        assert self._process.stdin
        self._process.stdin.close()  # end of input: the child closes its connections and exits
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout:
            self._process.stdout.close()


# --- the child process -----------------------------------------------------------------------------------------

Sent = tuple[int, float, str | None, float]  # status, ms, error, when it went out (wall clock)


async def send(client: httpx.AsyncClient, request: Request, burst_start: float) -> Sent:
    if (wait := burst_start + request.at - time.perf_counter()) > 0:
        await asyncio.sleep(wait)
    started, started_at = time.perf_counter(), time.time()
    status, error = 0, None
    try:
        if request.body is None:
            status = (await client.get(request.url, headers=request.headers)).status_code
        else:
            status = (await client.post(request.url, content=request.body, headers=request.headers)).status_code
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
    return status, (time.perf_counter() - started) * 1000, error, started_at


async def serve_bursts(lines: IO[str], out: IO[str], connections: int) -> None:
    """Answer each burst read from `lines` with its timings on `out`, until end of input."""
    # One client per connection, request i of a burst on connection i: httpx's pool does work per request
    # that grows with the requests and connections it holds, ~5 ms of CPU per request at 50 of each, which
    # the sender would add to every time it measures. Idle connections are dropped after 4 s, before
    # uvicorn's 5 s keep-alive closes them, so no request goes out on a connection the server is closing.
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=4.0)
    clients: dict[str, list[httpx.AsyncClient]] = {}  # per server, so each keeps its own connections

    def client_for(url: str, i: int) -> httpx.AsyncClient:
        origin = str(httpx.URL(url).copy_with(path="/", query=None))
        pool = clients.setdefault(origin, [])
        while len(pool) < connections:
            pool.append(httpx.AsyncClient(limits=limits, timeout=30))
        return pool[i % connections]

    loop = asyncio.get_running_loop()
    try:
        while line := await loop.run_in_executor(None, lines.readline):
            requests = [Request(**r) for r in json.loads(line)]
            pairs = [(client_for(r.url, i), r) for i, r in enumerate(requests)]
            sent_at, start = time.time(), time.perf_counter()
            timed = await asyncio.gather(*(send(client, r, start) for client, r in pairs))
            answer: dict[str, Any] = {"sent_at": sent_at, "statuses": [t[0] for t in timed],
                                      "ms": [t[1] for t in timed], "errors": [t[2] for t in timed if t[2]],
                                      "started_at": [t[3] for t in timed]}
            out.write(json.dumps(answer) + "\n")
            out.flush()
    finally:
        for pool in clients.values():
            for client in pool:
                await client.aclose()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description="Send bursts read from stdin.")
    parser.add_argument("--connections", type=int, default=50, help="kept-alive connections per server")
    args = parser.parse_args(argv)
    asyncio.run(serve_bursts(sys.stdin, sys.stdout, args.connections))


if __name__ == "__main__":
    main()
