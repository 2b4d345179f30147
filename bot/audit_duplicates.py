"""`hirebridge audit-duplicates FILE.csv`: the pre-launch data audit — which records of an export are one person.

The file is a CSV export with a header row, in UTF-8 (with or without a byte-order mark; UTF-16 with its mark is
read too). Columns are recognized by name, case-insensitively (spaces and dashes count as underscores); the
separator is whichever of `,` `;` or tab makes the header's columns recognizable. Other columns are ignored.
Blank cells are absence, and a value that is not an email, a phone or a LinkedIn profile URL is ignored for that
row only. Without a record id column, records are numbered by row from 0.

The audit writes one row per proposed duplicate pair (`PAIR_COLUMNS`): every two records of a cluster, then
the possible matches outside clusters, with the score, the confidence band and the reasons; see
bot/domain/matching.py for what the bands mean. Comparing is spread over two processes on a machine with two
cores or more when the file is large; the result is the same either way.
"""

from __future__ import annotations

import codecs
import csv
import gc
import io
import multiprocessing
import os
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Final, TextIO, TypeVar

from bot.domain.matching import (
    Confidence,
    Match,
    MatchRun,
    PersonRecord,
    cluster,
    find_matches,
    identities,
    proposed_pairs,
)
from bot.domain.names import split_full_name

__all__ = ["COLUMNS", "PAIR_COLUMNS", "Audit", "AuditError", "Table", "audit", "audit_file", "parse_table",
           "read_table", "write_pairs"]

#: accepted header names for each field (compared after lower-casing, spaces and dashes as underscores)
COLUMNS: Final = {
    "record_id": ("record_id", "id", "recordid"),
    "first_name": ("first_name", "firstname", "given_name", "first"),
    "last_name": ("last_name", "lastname", "surname", "family_name", "last"),
    "name": ("name", "full_name", "fullname", "candidate_name"),
    "email": ("email", "emails", "email_address", "e_mail", "email_addresses"),
    "phone": ("phone", "phones", "phone_number", "phone_numbers", "mobile", "telephone"),
    "employer": ("employer", "company", "current_company", "company_name"),
    "title": ("title", "job_title", "current_title"),
    "location": ("location", "city"),
    "linkedin_url": ("linkedin_url", "linkedin", "linkedin_profile", "linkedin_profile_url", "profile_url"),
    "source": ("source",),
}
#: the columns that say who a record is: a file needs at least one of them
IDENTITY_FIELDS: Final = ("first_name", "last_name", "name", "email", "phone", "linkedin_url")
PAIR_COLUMNS: Final = ("record_id_a", "record_id_b", "score", "confidence", "reasons", "cluster_id")
#: from this many records, a second process (when there are two cores) does half the work
PARALLEL_FROM: Final = 20_000
_SEPARATORS: Final = (",", ";", "\t")
_LARGEST_CELL: Final = 16 * 2**20
_SPLIT_VALUES: Final = re.compile(r"[;,]")
_SPLIT_URLS: Final = re.compile(r"[;,\s]+")
_ALIASES: Final = {alias: column for column, aliases in COLUMNS.items() for alias in aliases}


class AuditError(Exception):
    """The input cannot be audited; the message names the file and says what is wrong, in one line."""


@dataclass
class Table:
    """The records read from a file, and what was made of its columns."""

    records: list[PersonRecord]
    columns: dict[str, list[str]]  # field -> the header names it was read from
    ignored: list[str]  # header names not used
    renamed_ids: int = 0  # records whose id repeated an earlier one and got a suffix


@dataclass
class Audit:
    """What an audit found: the proposed pairs (each with its cluster id, None outside clusters)."""

    records: int
    pairs: list[tuple[Match, int | None]]
    clusters: dict[str, int]  # record id -> cluster id
    seconds: float = 0.0
    by_confidence: Counter[str] = field(default_factory=Counter)

    @property
    def cluster_count(self) -> int:
        return len(set(self.clusters.values()))


# --- reading ------------------------------------------------------------------------------------------------

def read_table(path: Path) -> Table:
    """Read a CSV export, or raise AuditError naming the file and the problem."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise AuditError(f"cannot read {path}: no such file") from None
    except IsADirectoryError:
        raise AuditError(f"cannot read {path}: it is a directory, not a CSV file") from None
    except OSError as exc:
        raise AuditError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_table(_decode(data, path), path.name)


def parse_table(text: str, name: str = "the file") -> Table:
    """Turn CSV text (header row first) into records; `name` is how messages call the file."""
    if not text.strip():
        raise AuditError(f"{name} is empty: there is no header row and no data")
    first_line = text.split("\n", 1)[0]
    separator, header = _header(first_line)
    columns = _columns(header)
    if not any(f in columns for f in IDENTITY_FIELDS):
        raise AuditError(_no_columns_message(name, header))
    reader = csv.reader(io.StringIO(text), delimiter=separator)
    limit = csv.field_size_limit(_LARGEST_CELL)  # exports carry whole resumes and notes in a cell
    try:
        next(reader)  # the header, read above
        records, renamed = _records(reader, header, columns)
    except csv.Error as exc:
        raise AuditError(f"{name} is not a readable CSV file (line {reader.line_num}: {exc})") from None
    finally:
        csv.field_size_limit(limit)
    used = {index for indexes in columns.values() for index in indexes}
    ignored = [h for index, h in enumerate(header) if index not in used and h.strip()]
    return Table(records, {f: [header[i] for i in indexes] for f, indexes in columns.items()}, ignored, renamed)


def _decode(data: bytes, path: Path) -> str:
    if not data.strip():
        raise AuditError(f"{path} is empty: there is no header row and no data")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise AuditError(f"{path} is not readable text (a broken UTF-16 file); save it as CSV UTF-8") from None
    if b"\x00" in data[:65536]:
        raise AuditError(f"{path} is not a CSV file: it holds binary data (a spreadsheet or an archive?); "
                         "export it as CSV UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AuditError(f"{path} is not UTF-8 text (byte 0x{data[exc.start]:02x} at position {exc.start}); "
                         "save it as CSV UTF-8") from None


def _header(line: str) -> tuple[str, list[str]]:
    """The separator that makes the most of the header's names recognizable, and the header read with it."""
    best: tuple[int, str, list[str]] | None = None
    for separator in _SEPARATORS:
        try:
            header = next(csv.reader([line.rstrip("\r")], delimiter=separator))
        except (csv.Error, StopIteration):
            continue
        known = sum(_key(h) in _ALIASES for h in header)
        if best is None or known > best[0]:
            best = (known, separator, header)
    if best is None:
        return ",", []
    return best[1], best[2]


def _key(header_name: str) -> str:
    return re.sub(r"[\s\-]+", "_", header_name.strip().strip('"').lower())


def _columns(header: list[str]) -> dict[str, list[int]]:
    columns: dict[str, list[int]] = {}
    for index, header_name in enumerate(header):
        column = _ALIASES.get(_key(header_name))
        if column is not None:
            columns.setdefault(column, []).append(index)
    return columns


def _no_columns_message(name: str, header: list[str]) -> str:
    wanted = "first_name/last_name, name, email, phone or linkedin_url"
    shown = ", ".join(h.strip() for h in header[:8] if h.strip()) + (", …" if len(header) > 8 else "")
    if _looks_like_data(header):
        return f"{name} has no header row (its first line looks like data: {shown}); add a header naming " \
               f"the columns ({wanted})"
    return f"{name} has none of the columns audit-duplicates needs ({wanted}); its header is: {shown or 'blank'}"


def _looks_like_data(cells: list[str]) -> bool:
    return any("@" in c or "linkedin.com" in c.lower() or sum(ch.isdigit() for ch in c) >= 7 for c in cells)


def _records(rows: Iterable[list[str]], header: list[str],
             columns: dict[str, list[int]]) -> tuple[list[PersonRecord], int]:
    width = len(header)
    absent = width  # rows are padded with one blank cell more than the header: absent fields read it

    def index(column: str) -> int:
        found = columns.get(column, [])
        return found[0] if len(found) == 1 else absent

    def joined(row: list[str], column: str, glue: str) -> str:
        found = columns.get(column, [])
        if len(found) == 1:
            return row[found[0]].strip()
        return glue.join(v for v in (row[i].strip() for i in found) if v)

    spread = {c for c, found in columns.items() if len(found) > 1}
    at = {c: index(c) for c in COLUMNS}
    records: list[PersonRecord] = []
    ids: set[str] = set()
    renamed = 0
    padding = [""] * (width + 1)
    for number, row in enumerate(rows):
        if len(row) == width:
            row.append("")  # the blank cell absent fields read
        else:  # short rows read blanks, extra cells are dropped
            row = [*(row + padding)[:width], ""]
        if spread:
            row = row + [joined(row, c, ";" if c in ("email", "phone", "linkedin_url") else " ") for c in spread]
            for offset, column in enumerate(spread):
                at[column] = width + 1 + offset
        if not "".join(row).strip():
            continue  # a blank line
        record_id = row[at["record_id"]].strip() or str(number)
        if record_id in ids:
            renamed += 1
            suffix = 2
            while f"{record_id}#{suffix}" in ids:
                suffix += 1
            record_id = f"{record_id}#{suffix}"
        ids.add(record_id)
        first, last = row[at["first_name"]].strip(), row[at["last_name"]].strip()
        if not (first or last):
            full = row[at["name"]].strip()
            first, last = split_full_name(full) if full else ("", "")
        emails, phones, urls = row[at["email"]], row[at["phone"]], row[at["linkedin_url"]]
        records.append(PersonRecord(
            record_id=record_id, first_name=first, last_name=last,
            emails=tuple(v.strip() for v in _SPLIT_VALUES.split(emails) if v.strip()) if emails else (),
            phones=tuple(v.strip() for v in _SPLIT_VALUES.split(phones) if v.strip()) if phones else (),
            employer=row[at["employer"]].strip() or None, title=row[at["title"]].strip() or None,
            location=row[at["location"]].strip() or None,
            linkedin_urls=tuple(u for u in _SPLIT_URLS.split(urls) if u) if urls.strip() else (),
            source=row[at["source"]].strip() or None))
    return records, renamed


# --- auditing -----------------------------------------------------------------------------------------------

def audit(records: Sequence[PersonRecord], *, region: str = "US",
          min_confidence: Confidence = Confidence.POSSIBLE,
          progress: Callable[[int], None] | None = None) -> Audit:
    """Match, cluster and list the proposed pairs (the in-process work of the command, no file I/O)."""
    started = time.perf_counter()
    collecting = gc.isenabled()
    gc.disable()  # a hundred thousand long-lived records: the collector would rescan them again and again
    try:
        matches = _find_matches(records, region, progress)
        record_ids = [r.record_id for r in records]
        clusters = cluster(record_ids, matches)
        pairs = proposed_pairs(record_ids, matches, clusters, min_confidence=min_confidence)
    finally:
        if collecting:
            gc.enable()
    result = Audit(len(records), pairs, clusters, time.perf_counter() - started)
    result.by_confidence.update(m.confidence.value for m, _ in pairs)
    return result


def audit_file(path: Path, out: Path | None, *, region: str = "US",
               min_confidence: Confidence = Confidence.POSSIBLE, stdout: TextIO | None = None,
               progress: Callable[[int], None] | None = None,
               on_read: Callable[[int], None] | None = None) -> tuple[Table, Audit]:
    """The whole command: read, audit, write the pairs to `out` (or to `stdout`). Raises AuditError; on an error
    nothing is written."""
    if out is not None and not out.parent.is_dir():
        raise AuditError(f"cannot write {out}: the folder {out.parent} does not exist")
    table = read_table(path)
    if on_read is not None:
        on_read(len(table.records))
    result = audit(table.records, region=region, min_confidence=min_confidence, progress=progress)
    if out is None:
        write_pairs(stdout or sys.stdout, result.pairs)
    else:
        try:
            with out.open("w", encoding="utf-8", newline="") as stream:
                write_pairs(stream, result.pairs)
        except OSError as exc:
            raise AuditError(f"cannot write {out}: {exc.strerror or exc}") from None
    return table, result


def write_pairs(stream: TextIO, pairs: Iterable[tuple[Match, int | None]]) -> None:
    """The pairs as CSV (PAIR_COLUMNS), reasons joined with "; "."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(PAIR_COLUMNS)
    writer.writerows((m.a, m.b, f"{m.score:.3f}", m.confidence.value, "; ".join(m.reasons),
                      "" if number is None else number) for m, number in pairs)


# --- two processes for large files --------------------------------------------------------------------------

_T = TypeVar("_T")


def _find_matches(records: Sequence[PersonRecord], region: str,
                  progress: Callable[[int], None] | None) -> list[Match]:
    """find_matches, with a forked helper normalizing the identity values and doing half of the comparing."""
    if len(records) < PARALLEL_FROM or not _can_fork():
        return find_matches(records, region=region, progress=progress)
    # the helper normalizes the phones, URLs and emails while this process folds the names and employers
    keys = _in_helper(lambda: identities(records, region=region))
    run = MatchRun(records, region=region, progress=progress, identities=keys)
    half = run.pairs // 2
    theirs = _in_helper(lambda: run.compare(half, run.pairs))
    mine = run.compare(0, half, progress)
    return run.finish(mine + theirs())


def _in_helper(work: Callable[[], _T]) -> Callable[[], _T]:
    """Start `work` in a forked process (it inherits the data, nothing is pickled but the result); returns the
    call that waits for the result. Should the helper die, the work is done here instead."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    helper = context.Process(target=_send_result, args=(send, work), daemon=True)
    helper.start()
    send.close()

    def result() -> _T:
        try:
            value: _T = receive.recv()
        except (EOFError, OSError):
            value = work()
        finally:
            receive.close()
            helper.join()
        return value

    return result


def _send_result(send: Connection, work: Callable[[], object]) -> None:
    send.send(work())
    send.close()


def _can_fork() -> bool:
    """Fork only where it is cheap and safe: two usable cores, fork available, and no other thread running."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return cores >= 2 and "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1
