"""Scale-out: four `hirebridge worker` processes plus two more running the scheduled jobs, on one store, for
half a minute of real work → each work item done exactly once, each scheduled occurrence run exactly once.

The proof is what the processes did, read from their own logs (a line per item done, a line per occurrence
run), not only what the store's unique keys allow: a double claim would show as one item or occurrence in two
logs. The pull and watch intervals are set to their minimum (10 s) so that each job has several occurrences
to compete for.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlmodel import Session, select

from bot.demo.world import write_config
from bot.domain.prospect import Prospect
from bot.mirror import MIRROR
from bot.sync import SYNC
from storage.models import JobRun, WorkItem
from tests.bot.world import World, sync_states
from tests.conftest import BACKENDS, Database

pytestmark = pytest.mark.timeout(300)
ROOT = Path(__file__).resolve().parents[2]
PEOPLE = 400
WORKERS, SCHEDULERS = 4, 2
WINDOW = 30.0  # seconds the schedulers run: three occurrences of the 10-s jobs, two of queue.reclaim
ITEM_DONE = re.compile(r"item (\d+) \(\S+\) done")
JOB_RAN = re.compile(r"scheduled job (\S+) ran for (\S+)")


def start(env: dict[str, str], log: Path, *, scheduler: bool) -> subprocess.Popen[bytes]:
    args = ["worker", "--poll", "0.1", *([] if scheduler else ["--no-scheduler"])]
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "bot.cli", *args], cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONPATH": str(ROOT), **env, "HIREBRIDGE_LOG_LEVEL": "INFO",
                                     "PYTHONFAULTHANDLER": "1"})


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGTERM)  # finish the item in hand, then stop
    stuck = []
    for proc in procs:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            stuck.append(proc.args)
            proc.send_signal(signal.SIGABRT)  # PYTHONFAULTHANDLER: every thread's stack goes to its log
            proc.wait()
    assert not stuck, f"still running a minute after SIGTERM (stacks in their logs): {stuck}"


@pytest.mark.parametrize("db", [b for b in BACKENDS if b.id == "postgres"], indirect=True)  # as the issue asks
def test_four_workers_and_two_schedulers_do_everything_exactly_once(
        world: World, db: Database, tmp_path: Path) -> None:
    config_path = tmp_path / "sandbox.toml"
    env = world.cli_env(db, config_path)
    config = world.rt.app_config()
    fast = config.bot.model_copy(update={"sync_interval_seconds": 10, "watch_interval_seconds": 10})
    write_config(config.model_copy(update={"bot": fast}), config_path)
    before = len(world.people("acme"))
    with Session(world.rt.engine) as s, s.begin():
        for n in range(PEOPLE):
            world.rt.sync_service().enqueue(s, "acme", Prospect(
                source="csv", source_id=f"scale:{n}", first_name=f"Scale{n}", last_name="Out",
                profile_url=f"https://linkedin.com/in/scale-{n}-out", job_id="4401"))
    world.sims.states["greenhouse"].faults.latency_ms = 20  # so the work lasts and every process gets a share

    logs = [tmp_path / f"process-{n}.log" for n in range(WORKERS + SCHEDULERS)]
    workers = [start(env, log, scheduler=False) for log in logs[:WORKERS]]
    schedulers = [start(env, log, scheduler=True) for log in logs[WORKERS:]]
    try:
        time.sleep(WINDOW)
        stop(schedulers)  # no occurrence after this: what they queued is left to the workers
        deadline = time.monotonic() + 120
        while world.rt.queue.counts()["queued"] + world.rt.queue.counts()["running"]:
            assert all(p.poll() is None for p in workers), "a worker exited by itself"
            assert time.monotonic() < deadline, world.rt.queue.counts()
            time.sleep(0.1)
    finally:
        stop(workers + schedulers)
    world.sims.states["greenhouse"].faults.latency_ms = 0
    texts = [log.read_text(errors="replace") for log in logs]

    people = [p for p in world.people("acme") if p.last_name == "Out"]
    assert len(people) == PEOPLE and len({p.first_name for p in people}) == PEOPLE, "everyone in the ATS once"
    assert len(world.people("acme")) == before + PEOPLE
    assert sync_states(world) == {"done": PEOPLE}

    done_by = [Counter(ITEM_DONE.findall(text)) for text in texts]
    done = sum(done_by, Counter[str]())
    with Session(world.rt.engine) as s:
        items = {str(item.id): item for item in s.exec(select(WorkItem)).all()}
        runs = Counter((run.job, run.scheduled_for) for run in s.exec(select(JobRun)).all())
    assert {item.state for item in items.values()} == {"done"}, "nothing left queued, running or dead"
    assert set(done) == set(items), "every item done by one of the processes"
    assert set(done.values()) == {1}, f"an item was done twice: {[k for k, n in done.items() if n > 1]}"
    assert all(items[key].attempts == 1 for key in done), "and claimed once"
    assert sum(1 for by in done_by if by) == WORKERS + SCHEDULERS, "every process did a share of the work"
    assert {items[key].kind for key in done} >= {SYNC, MIRROR}, "the scheduled pulls' work too"

    ran = Counter(occurrence for text in texts for occurrence in JOB_RAN.findall(text))
    assert set(ran.values()) == {1}, f"an occurrence ran twice: {[o for o, n in ran.items() if n > 1]}"
    per_job = Counter(job.split("@")[0] for job, _ in ran)
    assert per_job["sync.pull"] >= 2 and per_job["ops.watch"] >= 2 and per_job["queue.reclaim"] >= 1, per_job
    assert sum(1 for text in texts[WORKERS:] if JOB_RAN.search(text)) >= 1
    assert set(runs.values()) == {1} and len(runs) >= len(ran), "each occurrence claimed once in the store"
