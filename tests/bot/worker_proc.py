"""A worker process for the multi-process tests: `python -m tests.bot.worker_proc URL SCHEMA MODE [MARKER]`.

Each handled item records an effect row (an audit entry naming the item) in the transaction that completes it.
MODE `drain` works until the queue is empty; MODE `hang` records the effect, touches MARKER and then blocks
forever mid-transaction, so the test can SIGKILL it at a known instant.
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlmodel import Session

from bot.worker import Worker
from storage.db import build_engine
from storage.models import AuditEntry
from storage.queue import Claimed, WorkQueue


def record_effect(session: Session, item: Claimed, worker: str) -> None:
    session.add(AuditEntry(actor=worker, action="test.effect", subject=item.dedupe_key))
    session.flush()


def main(url: str, schema: str, mode: str, marker: str | None = None) -> None:
    engine = build_engine(url, schema=schema or None)
    queue = WorkQueue(engine, lease=timedelta(seconds=30))
    worker = Worker(engine, queue, {})

    def effect(session: Session, item: Claimed) -> None:
        record_effect(session, item, worker.name)
        if mode == "hang":
            Path(marker or "").touch()
            time.sleep(600)
        time.sleep(0.002)  # a little work, so both processes get a share

    worker.handlers = {"test.effect": effect}
    idle_since = None
    while True:
        if worker.run_once() is not None:
            idle_since = None
            continue
        idle_since = idle_since or time.monotonic()
        if time.monotonic() - idle_since > 1.0:
            return
        time.sleep(0.02)


if __name__ == "__main__":
    main(*sys.argv[1:])
