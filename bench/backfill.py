"""What `bulk` and `memory` share: a backfill's people, its CSV, the bot's processes and what /proc says of them.

The people are new to the ATS, each with a LinkedIn URL of their own and no email (as a LinkedIn export or a
sourcing CSV mostly has them), under fictitious names drawn from `dedupe_data`'s lists (seeded), so their name
keys spread as a real pool's do. `people.population` names everyone "Sample Candidate NNNNN": one name key for
the whole pool, which turns the import-time similar-people look-up (bot/similar.py, at most 50 compared but all
sharers grouped) into a scan of every candidate so far — a property of that population, not of a real backfill.
"""

from __future__ import annotations

import csv
import os
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from bench.dedupe_data import _FAMILY, _GIVEN, _RARE_FAMILY
from bench.people import Kind, Person
from bot.sync import SYNC
from storage.models import WorkItem, WorkState, table

SEED = 8  # issue 8
HEADER = ("first_name", "last_name", "linkedin_url")
CLK_TCK = os.sysconf("SC_CLK_TCK")
BOT = [sys.executable, "-m", "bot.cli"]


@dataclass(frozen=True)
class Newcomer(Person):
    """A person new to the ATS, under a fictitious name (the URL slug stays unique: `sample-candidate-N`)."""

    given: str = ""
    family: str = ""

    def exported(self) -> dict[str, Any]:
        """The person as LinkedIn's export stub carries them: names and the profile URL."""
        return {"firstName": self.given, "lastName": self.family, "profileUrl": self.profile_url}

    def row(self) -> tuple[str, str, str]:
        """The person as a CSV line: names and the profile URL (the columns `hirebridge import` reads)."""
        return self.given, self.family, self.profile_url


def newcomers(size: int, seed: int = SEED) -> list[Newcomer]:
    """`size` new people; given and family names drawn at random (a few namesakes, as in any pool)."""
    rng = random.Random(seed)
    given = [name for name, _ in _GIVEN]
    family = [*_FAMILY, *_RARE_FAMILY]
    return [Newcomer(i, Kind.NEW, rng.choice(given), rng.choice(family)) for i in range(1, size + 1)]


def write_csv(path: Path, people: Sequence[Newcomer]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        writer.writerows(p.row() for p in people)
    return path


def syncs_left(engine: Engine) -> int:
    """Sync items not finished yet: queued (due now or later) or running."""
    t = table(WorkItem).c
    query = select(func.count()).where(t.kind == SYNC, t.state.in_([WorkState.QUEUED, WorkState.RUNNING]))
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def sync_states(engine: Engine) -> dict[str, int]:
    t = table(WorkItem).c
    query = select(t.state, func.count()).where(t.kind == SYNC).group_by(t.state)
    with engine.connect() as conn:
        return {str(state): int(n) for state, n in conn.execute(query).all()}


def wait_until_synced(engine: Engine, timeout: float, on_poll: object = None, poll: float = 0.25) -> bool:
    """Until no sync item is queued or running; False at the deadline."""
    deadline = time.monotonic() + timeout
    while syncs_left(engine):
        if time.monotonic() > deadline:
            return False
        if callable(on_poll):
            on_poll()
        time.sleep(poll)
    return True


def load_average() -> float:
    """The machine's 1-minute load average: other work on it slows every process a benchmark runs."""
    return os.getloadavg()[0]


def load_note(before: float, after: float) -> str:
    return (f"The machine's 1-minute load average was {before:.1f} at the start and {after:.1f} at the end "
            f"({os.cpu_count()} cores; this run's own processes count in it).")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process so far (/proc/<pid>/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def memory_kib(pid: int) -> dict[str, int]:
    """`VmRSS` (now) and `VmHWM` (the peak since the process started) of a live process, in KiB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0])
    return found
