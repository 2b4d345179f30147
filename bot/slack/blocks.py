"""Block Kit builders: pure functions from values to Slack message payloads, within Slack's limits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
TRUNCATED = "… (truncated)"

Message = dict[str, Any]


class HealthRow(Protocol):
    integration: str
    consecutive_failures: int
    last_success_at: datetime | None
    last_error: str | None


def truncate(text: str, limit: int) -> str:
    """Cut `text` to `limit` characters with a visible marker, so Slack never rejects it."""
    return text if len(text) <= limit else text[: limit - len(TRUNCATED)] + TRUNCATED


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, MAX_SECTION_TEXT)}}


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(text, 2000)}]}


def message(text: str, blocks: Sequence[dict[str, Any]]) -> Message:
    """A message payload: `text` is the notification fallback; blocks are capped at Slack's 50."""
    kept = list(blocks)
    if len(kept) > MAX_BLOCKS:
        kept = [*kept[: MAX_BLOCKS - 1], context(f"{len(blocks) - MAX_BLOCKS + 1} more not shown {TRUNCATED}")]
    return {"text": truncate(text, 3000), "blocks": kept}


LABELS = {"greenhouse": "Greenhouse", "lever": "Lever", "linkedin": "LinkedIn Recruiter", "slack": "Slack"}


def health_line(row: HealthRow) -> str:
    label = LABELS.get(row.integration, row.integration)
    if row.consecutive_failures == 0 and row.last_success_at:
        return f":white_check_mark: *{label}* connected (checked {row.last_success_at:%H:%M} UTC)"
    failures = f"{row.consecutive_failures} failed check(s) in a row"
    return f":x: *{label}* not working: {failures} — `{truncate(row.last_error or 'unknown error', 300)}`"


def health_report(tenant_name: str, rows: Sequence[HealthRow]) -> Message:
    """The ops-channel summary of a tenant's integrations."""
    healthy = all(r.consecutive_failures == 0 for r in rows)
    title = f"HireBridge connection check for {tenant_name}: " + ("all connected" if healthy else "problems")
    lines = [health_line(r) for r in rows] or ["no integration has been checked yet"]
    return message(title, [section(f"*{title}*"), section("\n".join(lines))])
