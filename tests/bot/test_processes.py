"""`hirebridge serve` and `hirebridge worker` as real processes, against the simulators over loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, select

from bot.config import load_config
from bot.demo.script import EXAMPLE_CONFIG
from bot.demo.world import Simulators, sandbox_config, start_simulators, write_config
from bot.health import CHECK, REPORT
from bot.inmail import POLL
from bot.mirror import MIRROR
from integrations.sandbox.server import free_port
from integrations.sandbox.world import SANDBOX_ENV
from storage.db import build_engine
from storage.migrate import upgrade
from storage.models import JobRun, WorkItem
from storage.outbox import Outbox
from storage.queue import WorkQueue

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sims() -> Iterator[Simulators]:
    running = start_simulators()
    yield running
    running.stop()


def hirebridge(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "bot.cli", *args], cwd=ROOT, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT), **env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0,
             proc: subprocess.Popen[str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc is not None and (proc.poll() is not None or time.monotonic() >= deadline):
            proc.kill()
            raise AssertionError(f"the process stopped or timed out:\n{proc.communicate()[0]}")
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def stop(proc: subprocess.Popen[str]) -> str:
    """SIGTERM, then wait: a clean exit, or (uvicorn) the signal re-raised after a graceful shutdown."""
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode in (0, -signal.SIGTERM), out
    return out


def test_serve_answers_healthz_while_slack_is_unreachable(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'serve.db'}"
    upgrade(build_engine(db_url))
    port = free_port()
    proc = hirebridge(["serve", "--port", str(port)], {
        "HIREBRIDGE_DATABASE_URL": db_url, "HIREBRIDGE_SLACK_API_URL": "http://127.0.0.1:9/api/"})

    def healthy() -> bool:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        except httpx.TransportError:
            return False

    wait_for(healthy)
    assert httpx.get(f"http://127.0.0.1:{port}/healthz").json() == {"status": "ok", "database": "ok"}
    assert "Finished server process" in stop(proc)


def test_worker_runs_checks_and_relays_the_report_to_slack(tmp_path: Path, sims: Simulators) -> None:
    config_path = tmp_path / "sandbox.toml"
    write_config(sandbox_config(load_config(EXAMPLE_CONFIG), sims), config_path)
    db_url = f"sqlite:///{tmp_path / 'worker.db'}"
    engine = build_engine(db_url)
    upgrade(engine)
    queue = WorkQueue(engine)
    queue.enqueue(CHECK, {"tenant": "acme", "integration": "greenhouse"}, dedupe_key="c1", tenant_id="acme")
    queue.enqueue(CHECK, {"tenant": "acme", "integration": "linkedin"}, dedupe_key="c2", tenant_id="acme")
    proc = hirebridge(["worker", "--poll", "0.1", "--no-scheduler"], {
        **SANDBOX_ENV, "HIREBRIDGE_DATABASE_URL": db_url, "HIREBRIDGE_CONFIG": str(config_path),
        "HIREBRIDGE_SLACK_API_URL": f"{sims.url('slack')}/api/"})
    wait_for(lambda: queue.counts()["done"] == 2, proc=proc)
    queue.enqueue(REPORT, {"tenant": "acme"}, dedupe_key="r1", tenant_id="acme")
    wait_for(lambda: Outbox(engine).counts()["sent"] == 1, proc=proc)
    out = stop(proc)
    assert queue.counts()["done"] == 3
    assert "integration.check" in out
    messages = httpx.get(f"{sims.url('slack')}/_sandbox/messages", params={"channel": "C0ACMEOPS"}).json()
    (message,) = messages["messages"]
    assert "*Greenhouse* connected" in str(message["blocks"])


def test_worker_refuses_a_broken_config_naming_the_field(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text(EXAMPLE_CONFIG.read_text().replace('ats = "lever"', 'ats = "gren house"', 1))
    proc = hirebridge(["worker"], {"HIREBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}",
                                   "HIREBRIDGE_CONFIG": str(broken)})
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert 'tenants[1].ats: "gren house" is not one of greenhouse, lever' in out


def test_sandbox_prints_urls_and_writes_a_config_pointing_at_them(tmp_path: Path) -> None:
    config_path = tmp_path / "sandbox.toml"
    proc = hirebridge(["sandbox", "--write-config", str(config_path)], {"COLUMNS": "200"})
    assert proc.stdout is not None
    lines: list[str] = []
    while "Ctrl-C to stop." not in "".join(lines):
        line = proc.stdout.readline()
        assert line, "".join(lines)
        lines.append(line)
    config = load_config(config_path)
    greenhouse_url = str(config.tenant("acme").greenhouse.api_url).rstrip("/")  # type: ignore[union-attr]
    assert greenhouse_url in "".join(lines)
    assert httpx.get(f"{greenhouse_url}/_sandbox/state").status_code == 200
    assert "export HIREBRIDGE_CONFIG=" in "".join(lines)
    stop(proc)


def test_worker_runs_the_scheduled_jobs_and_claims_their_occurrences(tmp_path: Path, sims: Simulators) -> None:
    config_path = tmp_path / "sandbox.toml"
    config = sandbox_config(load_config(EXAMPLE_CONFIG), sims)
    write_config(config.model_copy(update={"bot": config.bot.model_copy(update={"sync_interval_seconds": 10})}),
                 config_path)
    db_url = f"sqlite:///{tmp_path / 'scheduled.db'}"
    engine = build_engine(db_url)
    upgrade(engine)
    proc = hirebridge(["worker", "--poll", "0.1"], {
        **SANDBOX_ENV, "HIREBRIDGE_DATABASE_URL": db_url, "HIREBRIDGE_CONFIG": str(config_path),
        "HIREBRIDGE_SLACK_API_URL": f"{sims.url('slack')}/api/"})

    def pulled() -> bool:
        with Session(engine) as s:
            return any(r.job == "sync.pull" and r.status == "done" for r in s.exec(select(JobRun)))

    wait_for(pulled, proc=proc, timeout=30)
    out = stop(proc)
    assert "scheduled: sync.pull every 10 s, dedupe.scan every 24 h, ops.watch every 1 min" in out
    with Session(engine) as s:
        kinds = {i.kind for i in s.exec(select(WorkItem))}
    assert {MIRROR, POLL} <= kinds
