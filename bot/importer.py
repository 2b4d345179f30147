"""`hirebridge import FILE.csv`: queue every row as a prospect and sync them here, reporting each outcome."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session

from bot.domain.csv_rows import CsvError, CsvImport, parse_candidates_csv
from bot.domain.prospect import NeedsAttention, Prospect
from bot.runtime import Runtime
from bot.sync import SYNC, Outcome
from storage.queue import Claimed

#: how a sync item the rate limit handed back to the queue ends its attempt (bot.worker records `Type: message`)
RATE_LIMITED = ("RateLimited:", "WriteRefused:")


@dataclass
class ImportReport:
    rows: int
    queued: int  # new items (a row imported before is not queued again)
    outcomes: Counter[str] = field(default_factory=Counter)  # created | known | email | recovered
    attention: list[tuple[str, str]] = field(default_factory=list)  # (row, reason)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (row, error): retried by the worker later
    deferred: int = 0  # rows the ATS rate limit held back: the worker syncs them once the window allows
    ats_calls: int = 0


def read_csv(path: Path, job_id: str | None) -> CsvImport:
    """Parse the file, turning unreadable input into a CsvError that names the file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CsvError(f"cannot read {path}: {exc}") from None
    return parse_candidates_csv(text, job_id=job_id)


def import_csv(rt: Runtime, parsed: CsvImport, tenant_id: str,
               progress: Callable[[int], None] = lambda n: None) -> ImportReport:
    """Queue the rows (once per file and row) and run the sync for them in this process."""
    sync = rt.sync_service()
    with Session(rt.engine) as s, s.begin():
        queued = sum(sync.enqueue(s, tenant_id, p) is not None for p in parsed.prospects)
    report = ImportReport(rows=len(parsed.prospects), queued=queued)
    ats = rt.connections().ats_adapter(tenant_id)
    calls_before = ats.api_calls

    def run(session: Session, item: Claimed) -> None:
        row = Prospect.from_payload(item.payload["prospect"]).source_id.rsplit(":", 1)[-1]
        result = sync.sync(session, rt.app_config().tenant(item.payload["tenant"]),
                           Prospect.from_payload(item.payload["prospect"]), owner=item.dedupe_key)
        if isinstance(result, NeedsAttention):
            report.attention.append((row, result.reason))
        elif isinstance(result, Outcome):
            report.outcomes[result.how] += 1

    worker = rt.worker({SYNC: run}, name="import")
    seen: set[int] = set()
    failed: dict[int, tuple[str, str]] = {}  # per item, its last attempt's error: a later success clears it
    for outcome in iter(worker.run_once, None):
        if outcome.error:
            failed[outcome.item.id] = (outcome.item.payload["prospect"]["source_id"].rsplit(":", 1)[-1],
                                       outcome.error)
        else:
            failed.pop(outcome.item.id, None)
        seen.add(outcome.item.id)
        progress(len(seen))
    report.failed = [(row, error) for row, error in failed.values() if not error.startswith(RATE_LIMITED)]
    report.deferred = len(failed) - len(report.failed)
    report.ats_calls = ats.api_calls - calls_before
    return report
