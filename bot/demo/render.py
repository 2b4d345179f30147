"""Show what the bot sent to Slack, readably, in a terminal."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.text import Text

EMOJI = {
    ":white_check_mark:": "✅", ":x:": "❌", ":warning:": "⚠️ ", ":rotating_light:": "🚨",
    ":tada:": "🎉", ":mag:": "🔎", ":link:": "🔗", ":bust_in_silhouette:": "👤",
    ":busts_in_silhouette:": "👥", ":large_green_circle:": "🟢", ":recycle:": "♻️ ",
    ":hourglass_flowing_sand:": "⏳", ":arrow_forward:": "▶️ ", ":no_entry_sign:": "🚫",
}


def mrkdwn(text: str) -> Text:
    """Slack mrkdwn to rich text: emoji shortcodes, *bold*, `code`, <url|label> links."""
    for code, glyph in EMOJI.items():
        text = text.replace(code, glyph)
    text = re.sub(r"<([^|>]+)\|([^>]+)>", r"\2 (\1)", text)
    out = Text()
    for part in re.split(r"(\*[^*\n]+\*|`[^`\n]+`)", text):
        if part.startswith("*") and part.endswith("*") and len(part) > 2:
            out.append(part[1:-1], style="bold")
        elif part.startswith("`") and part.endswith("`") and len(part) > 2:
            out.append(part[1:-1], style="cyan")
        else:
            out.append(part)
    return out


def block_text(block: Mapping[str, Any]) -> list[Text]:
    kind = block.get("type")
    if kind in ("section", "header"):
        lines = [mrkdwn(block.get("text", {}).get("text", ""))]
        lines += [mrkdwn(f.get("text", "")) for f in block.get("fields", [])]
        return lines
    if kind == "context":
        return [Text.assemble(mrkdwn(e.get("text", "")), style="dim") for e in block.get("elements", [])]
    if kind == "actions":
        labels = [f"[ {e.get('text', {}).get('text', '?')} ]" for e in block.get("elements", [])]
        return [Text("  ".join(labels), style="bold magenta")]
    if kind == "divider":
        return [Text("─" * 40, style="dim")]
    return []


def message_panel(message: Mapping[str, Any], where: str) -> Panel:
    """One posted message; `where` is "#channel-name" or how a direct message is described."""
    blocks = message.get("blocks") or []
    body = [line for block in blocks for line in block_text(block)] or [mrkdwn(message.get("text", ""))]
    edited = " (edited)" if message.get("edits") else ""
    return Panel(Group(*body), title=f"{where} · HireBridge{edited}", title_align="left",
                 border_style="green")


def show_messages(console: Console, messages: list[Mapping[str, Any]], channels: Mapping[str, str],
                  dms: Mapping[str, str] | None = None) -> None:
    """Each message under its channel's name, or for a DM channel (in `dms`) the person it is with."""
    for message in messages:
        channel = str(message.get("channel", ""))
        dm = (dms or {}).get(channel)
        where = f"direct message to {dm}" if dm else f"#{channels.get(channel, channel)}"
        console.print(message_panel(message, where))
