"""Servers (and workers) a benchmark measures, each in a process of its own, servers on a free loopback port."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from integrations.sandbox.server import free_port

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_SECONDS = 30.0


@dataclass
class Process:
    """A process a benchmark measures (a server, a worker), and the file its stdout and stderr go to."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def logged_errors(self) -> list[str]:
        """The lines of its log that report an error (uvicorn's access log shows every request's status too)."""
        lines = self.log.read_text(errors="replace").splitlines()
        return [line for line in lines if any(word in line for word in ("ERROR", "Traceback", "Error:"))]

    def wait_for_line(self, text: str) -> None:
        """Wait until its log holds `text` (e.g. a worker's start-up line); one that exits or is slow fails."""
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while text not in self.log.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not log {text!r}:\n{self.tail()}")
            time.sleep(0.1)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-2_000:]


@dataclass
class Server(Process):
    """A server process: its URL besides its log."""

    url: str

    def wait_until_up(self, http: httpx.Client) -> None:
        """Poll `/healthz` until it answers 200; a process that exits or is slow to start fails with its log."""
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not come up on {self.url}:\n{self.tail()}")
            try:
                if http.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)


@contextmanager
def started(name: str, command: Sequence[str], env: dict[str, str], log: Path) -> Iterator[Process]:
    """Run a command in a process of its own, its output to `log`; terminated (then killed) on exit."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield Process(name, process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def served(name: str, command: Sequence[str], env: dict[str, str], log: Path) -> Iterator[Server]:
    """Run a server command with `--port` on a free loopback port; terminated (then killed) on exit."""
    port = free_port()
    with started(name, [*command, "--port", str(port)], env, log) as running:
        yield Server(name, running.process, log, url=f"http://127.0.0.1:{port}")
