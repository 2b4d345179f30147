"""A scheduler process for the multi-process test: `python -m tests.bot.scheduler_proc URL SCHEMA SECONDS`.

It runs the worker's scheduler with one job every second whose every run records an effect row (an audit entry
naming the occurrence, no unique key), for SECONDS, then stops.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta

from bot.scheduler import JobSpec, Scheduler, holder_name
from storage.db import build_engine, transaction
from storage.models import AuditEntry


def main(url: str, schema: str, seconds: float) -> None:
    engine = build_engine(url, schema=schema or None)
    me = holder_name()

    def tick(due: datetime) -> None:
        with transaction(engine) as session:
            session.add(AuditEntry(actor=me, action="test.tick", subject=due.isoformat()))

    scheduler = Scheduler(engine, [JobSpec("test.tick", timedelta(seconds=1), tick)], holder=me)
    scheduler.start()
    time.sleep(seconds)
    scheduler.shutdown()
    engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
