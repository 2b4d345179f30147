"""The one error tree every adapter raises; callers catch `IntegrationError`, never httpx's."""

from __future__ import annotations


class IntegrationError(Exception):
    """A call to an outside system failed; `integration` names it, `status` is the HTTP status if any."""

    #: whether retrying the same call later can succeed
    retryable: bool = True

    def __init__(self, message: str, *, integration: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.integration = integration
        self.status = status


class Unavailable(IntegrationError):
    """The service is down, timing out or answering 5xx: retry with backoff."""


class RateLimited(IntegrationError):
    """429: wait `retry_after` seconds (None when the vendor does not say) and retry."""

    def __init__(self, message: str, *, integration: str = "", status: int | None = 429,
                 retry_after: float | None = None) -> None:
        super().__init__(message, integration=integration, status=status)
        self.retry_after = retry_after


class WriteRefused(RateLimited):
    """A create the vendor's rate limit stopped before it happened: answered 429 (which the vendor did not
    process) or never sent into a spent window. Nothing was written; retry it as it is."""


class AuthFailed(IntegrationError):
    """Credentials were refused (401 after a token refresh): ops must fix them; retrying will not help."""

    retryable = False


class Rejected(IntegrationError):
    """A permanent 4xx: the request itself is wrong (validation, not found, forbidden)."""

    retryable = False
