"""Reading Harvest v3 answers: statuses into IntegrationErrors, bodies into models, rate-limit and token expiry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from integrations.errors import IntegrationError, RateLimited, Rejected, Unavailable

INTEGRATION = "greenhouse"
DEFAULT_TOKEN_TTL_SECONDS = 3600.0  # reference 1.2: fall back to one hour when no expiry is given

M = TypeVar("M", bound=BaseModel)


class UnexpectedResponse(IntegrationError):
    """Greenhouse answered in a shape this client does not understand; retrying will not change it."""

    retryable = False


@dataclass(frozen=True)
class RateLimit:
    """The last `X-RateLimit-*` headers seen; `reset` is epoch seconds."""

    limit: int | None = None
    remaining: int | None = None
    reset: float | None = None


def token_expiry(data: Mapping[str, Any], now: float) -> float:
    """Epoch seconds a token expires: `expires_in`, or `expires_at`/`expires` (ISO or epoch), else one hour."""
    if isinstance(data.get("expires_in"), int | float):
        return now + float(data["expires_in"])
    for key in ("expires_at", "expires"):
        value = data.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value) if value > 1e9 else now + float(value)  # an epoch, else seconds from now
        if isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    return now + DEFAULT_TOKEN_TTL_SECONDS


def raise_for_status(response: httpx.Response) -> None:
    """Map a 4xx/5xx to RateLimited, Unavailable or Rejected; a success passes through."""
    status = response.status_code
    if status < 400:
        return
    message = f"HTTP {status}: {vendor_message(response)}"
    if status == 429:
        retry_after = _number(response.headers.get("Retry-After"))
        raise RateLimited(message, integration=INTEGRATION, retry_after=retry_after)
    if status >= 500:
        raise Unavailable(message, integration=INTEGRATION, status=status)
    if status == 403:  # a missing scope or a `sub` without permission, not bad credentials (reference 1.3)
        message += " (missing scope or the acting user lacks permission)"
    raise Rejected(message, integration=INTEGRATION, status=status)


def vendor_message(response: httpx.Response) -> str:
    """`message` (or OAuth `error`) and the flattened `errors` of the vendor envelope."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    if not isinstance(body, dict):
        return response.reason_phrase
    parts = [str(body.get("message") or body.get("error") or response.reason_phrase)]
    for error in body.get("errors") or []:
        parts.append(", ".join(f"{k}: {v}" for k, v in error.items()) if isinstance(error, dict) else str(error))
    return "; ".join(parts)


def json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise UnexpectedResponse(f"HTTP {response.status_code} body is not JSON", integration=INTEGRATION) from exc


def json_object(response: httpx.Response) -> dict[str, Any]:
    data = json_body(response)
    if not isinstance(data, dict):
        raise UnexpectedResponse("expected a JSON object", integration=INTEGRATION)
    return data


def parse_model(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise UnexpectedResponse(f"{model.__name__} did not validate: {exc.error_count()} error(s)",
                                 integration=INTEGRATION) from exc


def rate_limit_from(headers: httpx.Headers) -> RateLimit:
    limit, remaining = _number(headers.get("X-RateLimit-Limit")), _number(headers.get("X-RateLimit-Remaining"))
    return RateLimit(None if limit is None else int(limit), None if remaining is None else int(remaining),
                     _number(headers.get("X-RateLimit-Reset")))


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None
