"""The Greenhouse simulator's list endpoints: query filters and cursor pagination."""

from __future__ import annotations

import base64
import binascii
import json
import operator
from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from integrations.sandbox.greenhouse_records import Account, Invalid, Json

Predicate = Callable[[Json], bool]

IDS_MAX = 50  # `ids` and each `*_ids` filter take at most 50 values (reference 2.1)
STATUS_FILTER = {"active": "in_process", "rejected": "rejected", "hired": "hired", "converted": "converted"}
DATE_OPS = {"gte": operator.ge, "gt": operator.gt, "lte": operator.le, "lt": operator.lt}
PER_PAGE_DEFAULT, PER_PAGE_MAX = 100, 500


# --- list filters ----------------------------------------------------------------

def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _any(row: Json) -> bool:
    return True


def _ids(filters: dict[str, str], param: str, column: str) -> Predicate:
    if param not in filters:
        return _any
    try:
        wanted = {int(v) for v in filters[param].split(",") if v.strip()}
    except ValueError:
        raise Invalid({param: "must be a comma-separated list of integer ids"}) from None
    if len(wanted) > IDS_MAX:
        raise Invalid({param: f"takes at most {IDS_MAX} ids"})
    return lambda row: row.get(column) in wanted


def _email(filters: dict[str, str], param: str) -> Predicate:
    wanted = filters.get(param, "").strip().lower()
    if not wanted:
        return _any
    # candidates carry `email_addresses`, users `primary_email` and `emails`; exact, case-insensitive
    return lambda row: wanted in {e.lower() for e in [*(a["value"] for a in row.get("email_addresses", [])),
                                                      *row.get("emails", [])]}


def _dates(filters: dict[str, str]) -> list[Predicate]:
    if "created_at" in filters and "updated_at" in filters:  # reference 2.1 (third-party): not both at once
        raise Invalid("Do not combine created_at and updated_at in one request")
    return [_date(filters[name], name) for name in ("created_at", "updated_at") if name in filters]


def _date(value: str, column: str) -> Predicate:
    # `gte|2026-08-01T00:00:00Z`; two-sided `gte|…|lte|…` is accepted too (reference 2.1: Airbyte sends it,
    # unconfirmed whether the vendor accepts it)
    parts = value.split("|")
    try:
        bounds = [(DATE_OPS[op], _parse_time(text)) for op, text in zip(parts[::2], parts[1::2], strict=True)]
    except (KeyError, ValueError):
        raise Invalid({column: "must look like gte|2026-08-01T00:00:00Z (gte, gt, lte, lt)"}) from None
    return lambda row: all(op(_parse_time(row[column]), when) for op, when in bounds)


def _status(filters: dict[str, str]) -> Predicate:
    if "status" not in filters:
        return _any
    stored = STATUS_FILTER.get(filters["status"])  # filter words differ from response words (reference 3.3)
    if stored is None:
        raise Invalid({"status": f"`{filters['status']}` is not one of: active, rejected, hired, converted"})
    return lambda row: row["status"] == stored


LIST_FILTERS: dict[str, Callable[[dict[str, str]], list[Predicate]]] = {
    "candidates": lambda f: [_ids(f, "ids", "id"), _email(f, "email"), *_dates(f)],
    # created_at/updated_at are in V3's standard filter set for list endpoints (reference 2.1)
    "applications": lambda f: [_ids(f, "ids", "id"), _ids(f, "candidate_ids", "candidate_id"),
                               _ids(f, "job_ids", "job_id"), _status(f), *_dates(f)],
    "notes": lambda f: [_ids(f, "ids", "id"), _ids(f, "candidate_ids", "candidate_id")],
    "jobs": lambda f: [_ids(f, "ids", "id"), (lambda r: r["status"] == f["status"]) if "status" in f else _any],
    "job_interview_stages": lambda f: [_ids(f, "ids", "id"), _ids(f, "job_ids", "job_id")],
    "users": lambda f: [_ids(f, "ids", "id"), _email(f, "primary_email")],
}


def select_records(account: Account, resource: str, filters: dict[str, str]) -> list[Json]:
    """The records of a list endpoint that pass its filters, by id; bad filters raise Invalid."""
    tests = LIST_FILTERS[resource](filters)
    rows = (r for r in account.tables()[resource].values() if all(test(r) for test in tests))
    return sorted(rows, key=lambda r: int(r["id"]))


# --- cursor pagination ----------------------------------------------------------------------------------

def _per_page(text: str | None) -> int:
    try:
        value = PER_PAGE_DEFAULT if text is None else int(text)
    except ValueError:
        raise Invalid({"per_page": f"`{text}` is not an integer"}) from None
    if value > PER_PAGE_MAX:
        raise Invalid({"per_page": f"`{value}` number is greater than: {PER_PAGE_MAX}"})
    if value < 1:
        raise Invalid({"per_page": f"`{value}` number is less than: 1"})
    return value


def _encode_cursor(filters: dict[str, str], after: int, per_page: int) -> str:
    raw = json.dumps({"f": filters, "a": after, "n": per_page}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(text: str) -> tuple[dict[str, str], int, int]:
    try:
        data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        return {str(k): str(v) for k, v in data["f"].items()}, int(data["a"]), int(data["n"])
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
        raise Invalid("The cursor is not valid") from None


def list_page(request: Request, account: Account, resource: str) -> Response:
    """One page of a list: a bare JSON array, `Link: <…?cursor=…>; rel="next"` unless it is the last."""
    query = request.query_params.multi_items()
    if any(key == "cursor" for key, _ in query):
        if len(query) > 1:
            raise Invalid("When passing a cursor, do not include other query params.")
        filters, after, per_page = _decode_cursor(request.query_params["cursor"])
    else:
        filters, after = dict(query), 0
        per_page = _per_page(filters.pop("per_page", None))
    rows = [r for r in select_records(account, resource, filters) if r["id"] > after]
    headers = {}
    if len(rows) > per_page:  # keyset cursor: records created or merged away meanwhile shift nothing
        cursor = _encode_cursor(filters, rows[per_page - 1]["id"], per_page)
        headers["Link"] = f'<{request.url.replace(query=urlencode({"cursor": cursor}))}>; rel="next"'
    return JSONResponse(rows[:per_page], headers=headers)
