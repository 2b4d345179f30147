"""Block Kit for the recruiting KPIs: the `/candidate stats` answer and the weekly digest in the ops channel.

Both show every KPI in the words of `bot.kpis.describe` (so Slack and `hirebridge stats` say the same thing);
the digest adds, where last week's snapshot exists, how each headline number moved since.
"""

from __future__ import annotations

from bot.kpis import Figure, Kpis, describe
from bot.slack.blocks import Message, context, esc, message, section

NOTE = ("Adoption counts `/candidate` commands of the whole install (commands are not tied to a tenant). "
        "“no data” means there was nothing to measure.")


def _window(k: Kpis) -> str:
    return f"{k.since:%Y-%m-%d %H:%M} – {k.until:%Y-%m-%d %H:%M} UTC"


def _change(now: Figure, before: Figure | None) -> str:
    """How a headline number moved since last week ("" when there is no last week to compare with)."""
    if before is None:
        return ""
    if now.value is None or before.value is None:
        was = "no data" if before.value is None else f"{before.value:.{before.digits}f}{before.unit}"
        return f" _(last week: {was})_"
    delta = now.value - before.value
    return f" _({'+' if delta >= 0 else '−'}{abs(delta):.{now.digits}f}{now.unit} vs last week)_"


def _lines(k: Kpis, previous: Kpis | None = None) -> str:
    before = {f.key: f for f in describe(previous)} if previous is not None else {}
    return "\n".join(f"• *{esc(f.label)}*: {esc(f.text)}{_change(f, before.get(f.key))}" for f in describe(k))


def stats_answer(tenant_name: str, k: Kpis) -> Message:
    """The ephemeral answer to `/candidate stats`: every KPI of the tenant over the window, with its counts."""
    days = round((k.until - k.since).total_seconds() / 86_400)
    title = f"Recruiting KPIs for {tenant_name}, last {days} days"
    return message(title, [section(f":bar_chart: *{esc(title)}*"), section(_lines(k)),
                           context(f"{_window(k)}. {NOTE}")])


def weekly_digest(tenant_name: str, week: str, k: Kpis, previous: Kpis | None) -> Message:
    """The weekly digest for the tenant's ops channel: the week's KPIs and their change since last week."""
    title = f"Weekly recruiting digest for {tenant_name}, week of {week}"
    compared = "Compared with the week before." if previous is not None else "No earlier week to compare with."
    return message(title, [section(f":calendar: *{esc(title)}*"), section(_lines(k, previous)),
                           context(f"{_window(k)}. {compared} {NOTE}")])
