"""Servers a benchmark measures, each in a process of its own on a free loopback port, and their logs."""

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
class Server:
    """A server process: its URL, and the file its stdout and stderr go to."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def wait_until_up(self, http: httpx.Client) -> None:
        """Poll `/healthz` until it answers 200; a process that exits or is slow to start fails with its log."""
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = self.log.read_text(errors="replace")[-2_000:]
                raise RuntimeError(f"{self.name} did not come up on {self.url}:\n{tail}")
            try:
                if http.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)

    def logged_errors(self) -> list[str]:
        """The lines of its log that report an error (uvicorn's access log shows every request's status too)."""
        lines = self.log.read_text(errors="replace").splitlines()
        return [line for line in lines if any(word in line for word in ("ERROR", "Traceback", "Error:"))]


@contextmanager
def served(name: str, command: Sequence[str], env: dict[str, str], log: Path) -> Iterator[Server]:
    """Run a server command with `--port` on a free loopback port; terminated (then killed) on exit."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen([*command, "--port", str(port)], cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        yield Server(name, f"http://127.0.0.1:{port}", process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
