"""Candidate CSV files (`hirebridge import`): columns recognized by name, each row a prospect."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass

from bot.domain.prospect import Prospect

#: accepted header names (case-insensitive, spaces and dashes as underscores) for each field
COLUMNS = {
    "first_name": ("first_name", "firstname", "given_name"),
    "last_name": ("last_name", "lastname", "surname", "family_name"),
    "name": ("name", "full_name"),
    "emails": ("email", "emails", "email_address", "e_mail"),
    "phones": ("phone", "phones", "phone_number", "mobile"),
    "profile_url": ("linkedin_url", "linkedin", "profile_url", "linkedin_profile"),
    "company": ("company", "employer", "current_company"),
    "title": ("title", "job_title", "current_title"),
    "headline": ("headline",),
    "location": ("location",),
    "project": ("project", "linkedin_project"),
    "job_id": ("job", "job_id", "ats_job_id"),
}
_SPLIT = re.compile(r"[;,]\s*")


class CsvError(ValueError):
    """The file cannot be read as a candidate CSV (the message says why)."""


@dataclass(frozen=True)
class CsvImport:
    prospects: list[Prospect]
    columns: dict[str, str]  # field -> the header it was read from
    ignored_columns: list[str]


def _header_key(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _columns(header: list[str]) -> tuple[dict[str, str], list[str]]:
    by_key = {_header_key(h): h for h in header}
    found = {field: by_key[a] for field, aliases in COLUMNS.items() for a in aliases if a in by_key}
    ignored = [h for h in header if h not in found.values()]
    return found, ignored


def _names(row: Mapping[str, str], cols: Mapping[str, str]) -> tuple[str, str]:
    first = row.get(cols.get("first_name", ""), "") or ""
    last = row.get(cols.get("last_name", ""), "") or ""
    if not (first or last) and "name" in cols:
        parts = (row.get(cols["name"]) or "").split()
        first, last = (parts[0], " ".join(parts[1:])) if parts else ("", "")
    return first.strip(), last.strip()


def _cell(row: Mapping[str, str], cols: Mapping[str, str], field: str) -> str | None:
    value = (row.get(cols[field]) or "").strip() if field in cols else ""
    return value or None


def parse_candidates_csv(text: str, *, file_id: str | None = None, job_id: str | None = None) -> CsvImport:
    """Every data row becomes a prospect (problems are found later and reported per row, never dropped)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames:
        raise CsvError("the file is empty or has no header row")
    cols, ignored = _columns(list(reader.fieldnames))
    if not ({"first_name", "name"} & cols.keys()) or not ({"profile_url", "emails", "phones"} & cols.keys()):
        raise CsvError("need a name column (first_name/last_name or name) and a LinkedIn URL, email or phone "
                       f"column; found: {', '.join(reader.fieldnames)}")
    file_id = file_id or hashlib.sha256(text.encode()).hexdigest()[:12]
    prospects = []
    for number, row in enumerate(reader, start=2):  # line 1 is the header
        first, last = _names(row, cols)
        split = {f: tuple(v for v in _SPLIT.split(_cell(row, cols, f) or "") if v) for f in ("emails", "phones")}
        prospects.append(Prospect(
            source="csv", source_id=f"{file_id}:{number}", first_name=first, last_name=last,
            headline=_cell(row, cols, "headline"), location=_cell(row, cols, "location"),
            company=_cell(row, cols, "company"), title=_cell(row, cols, "title"),
            profile_url=_cell(row, cols, "profile_url"), emails=split["emails"], phones=split["phones"],
            project=_cell(row, cols, "project"), job_id=_cell(row, cols, "job_id") or job_id))
    return CsvImport(prospects, cols, ignored)
