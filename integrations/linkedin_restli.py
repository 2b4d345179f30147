"""Rest.li conventions LinkedIn speaks: keys (protocol 1.0 and 2.0), batch verdicts, paging, error answers."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote, unquote

import httpx
from pydantic import BaseModel, ValidationError

from integrations.errors import AuthFailed, RateLimited, Rejected, Unavailable

#: a Rest.li resource key: a compound key's fields, or a simple key's text
Key = Mapping[str, str] | str
M = TypeVar("M", bound=BaseModel)
_INTEGRATION = "linkedin"

# `:` stays readable in 1.0 keys, as in LinkedIn's Postman examples; `&`, `=` and `%` must be escaped.
_V1_SAFE = ":"


def encode_key_v1(fields: Mapping[str, str]) -> str:
    """A compound key in protocol 1.0 form, fields sorted: `a=x&b=urn:li:organization:1`."""
    return "&".join(f"{quote(k, safe='')}={quote(v, safe=_V1_SAFE)}" for k, v in sorted(fields.items()))


def encode_key_v2(fields: Mapping[str, str]) -> str:
    """A compound key in protocol 2.0 form, fields sorted, values escaped: `(a:x,b:urn%3Ali%3A1)`."""
    return "(" + ",".join(f"{k}:{quote(v, safe='')}" for k, v in sorted(fields.items())) + ")"


def parse_key(text: str) -> Key:
    """Decode a key written in either protocol: `(a:x,b:y)`, `a=x&b=y`, or a simple key."""
    if text.startswith("(") and text.endswith(")"):
        pairs = (item.partition(":") for item in text[1:-1].split(",") if item)
        return {name: unquote(value) for name, _, value in pairs}
    if "=" in text:
        pairs = (item.partition("=") for item in text.split("&") if item)
        return {unquote(name): unquote(value) for name, _, value in pairs}
    return unquote(text)


def canonical_key(key: Key) -> tuple[tuple[str, str], ...] | str:
    """A hashable form of a key, the same whichever protocol wrote it."""
    return key if isinstance(key, str) else tuple(sorted(key.items()))


def batch_ids_v1(keys: Sequence[Key]) -> list[tuple[str, str]]:
    """Query parameters naming batch keys, 1.0 style: `ids[0].a=x&ids[0].b=y…` or `ids=S1&ids=S2`."""
    params: list[tuple[str, str]] = []
    for index, key in enumerate(keys):
        if isinstance(key, str):
            params.append(("ids", key))
        else:
            params.extend((f"ids[{index}].{name}", value) for name, value in sorted(key.items()))
    return params


@dataclass(frozen=True)
class RecordFailure:
    """One record LinkedIn refused inside a batch; `status` is None when it went unanswered."""

    id: str
    status: int | None
    message: str


@dataclass
class BatchResult:
    """Per-record verdicts of batch writes: a 200 answer can still refuse some records."""

    ok: list[str] = field(default_factory=list)
    failed: list[RecordFailure] = field(default_factory=list)

    @property
    def all_ok(self) -> bool:
        return not self.failed

    def extend(self, other: BatchResult) -> None:
        self.ok.extend(other.ok)
        self.failed.extend(other.failed)


def read_batch_result(body: Any, sent: Mapping[str, str]) -> BatchResult:
    """Match a BATCH_UPDATE answer to what was sent (`sent` maps each key string to its record id)."""
    errors, results = _by_canonical_key(body, "errors"), _by_canonical_key(body, "results")
    result = BatchResult()
    for key_text, record_id in sent.items():
        key = canonical_key(parse_key(key_text))
        answer = errors.get(key, results.get(key))
        if answer is None:
            result.failed.append(RecordFailure(record_id, None, "record missing from the batch answer"))
            continue
        # an entry under `results` without a status is a success; one under `errors` never is
        status = answer.get("status", None if key in errors else 204)
        if key not in errors and isinstance(status, int) and 200 <= status < 300:
            result.ok.append(record_id)
        else:
            code = status if isinstance(status, int) else None
            result.failed.append(RecordFailure(record_id, code, str(answer.get("message", ""))))
    return result


def _by_canonical_key(body: Any, section: str) -> dict[Any, dict[str, Any]]:
    """One section of a batch answer re-keyed canonically, since the server may echo another encoding."""
    entries = body.get(section) if isinstance(body, dict) else None
    if not isinstance(entries, dict):
        return {}
    return {canonical_key(parse_key(k)): v if isinstance(v, dict) else {} for k, v in entries.items()}


def iter_pages(fetch: Callable[[int, int], list[Any]], count: int, max_pages: int = 1000) -> Iterator[Any]:
    """Every element of a `start`/`count` paged finder; a short page ends it (`paging.total` is unreliable)."""
    for number in range(max_pages):
        page = fetch(number * count, count)
        yield from page
        if len(page) < count:
            return
    # a server that ignores `start` would otherwise keep a worker paging forever
    raise Unavailable(f"LinkedIn paging did not end after {max_pages} pages", integration=_INTEGRATION)


def time_windows(start_ms: int, end_ms: int, size_ms: int) -> Iterator[tuple[int, int]]:
    """Split `[start_ms, end_ms)` into consecutive half-open windows no longer than `size_ms`."""
    low = start_ms
    while low < end_ms:
        high = min(low + size_ms, end_ms)
        yield low, high
        low = high


def json_or_raise(response: httpx.Response) -> Any:
    """The JSON body of a success; a failure status becomes the matching `IntegrationError`."""
    status = response.status_code
    if status < 400:
        return _json(response) if response.content else None
    message = f"LinkedIn answered {status}: {_error_message(response)}"
    if status == 429:
        raise RateLimited(message, integration=_INTEGRATION, retry_after=_retry_after(response))
    if status >= 500:
        raise Unavailable(message, integration=_INTEGRATION, status=status)
    if status == 401:
        raise AuthFailed(message, integration=_INTEGRATION, status=status)
    raise Rejected(message, integration=_INTEGRATION, status=status)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise Unavailable("LinkedIn answered with malformed JSON", integration=_INTEGRATION,
                          status=response.status_code) from exc


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("message") or body.get("error_description") or body) if isinstance(body, dict) else ""


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds from `Retry-After` if sent (LinkedIn documents no such header); None otherwise."""
    try:
        return max(0.0, float(response.headers["retry-after"]))
    except (KeyError, ValueError):
        return None


def parse_model(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Unavailable(f"LinkedIn answered an unexpected {model.__name__} shape",
                          integration=_INTEGRATION) from exc


def parse_elements(body: Any, model: type[M]) -> list[M]:
    elements = body.get("elements", []) if isinstance(body, dict) else None
    if not isinstance(elements, list):
        raise Unavailable("LinkedIn answered without an `elements` list", integration=_INTEGRATION)
    return [parse_model(model, element) for element in elements]
