"""Block Kit limits the Slack simulator enforces (reference 5.6): Slack's `invalid_blocks` reasons."""

from __future__ import annotations

from typing import Any

BLOCK_TYPES = {"section", "actions", "context", "divider", "header", "image", "input", "rich_text", "markdown",
               "file", "video"}
MAX_BLOCKS = 50  # per message; 100 only in modals and the Home tab


def _too_long(value: Any, limit: int, pointer: str) -> list[str]:
    if isinstance(value, str) and len(value) > limit:
        return [f"must be less than {limit + 1} characters [json-pointer:{pointer}]"]
    return []


def _too_many(value: Any, limit: int, pointer: str) -> list[str]:
    if isinstance(value, list) and len(value) > limit:
        return [f"no more than {limit} items allowed [json-pointer:{pointer}]"]
    return []


def _text_errors(obj: Any, limit: int, pointer: str) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn") or not obj.get("text"):
        return [f"must provide a text object [json-pointer:{pointer}]"]
    return _too_long(obj["text"], limit, f"{pointer}/text")


def _element_errors(element: Any, pointer: str) -> list[str]:
    if not isinstance(element, dict) or not isinstance(element.get("type"), str):
        return [f"must provide an element type [json-pointer:{pointer}]"]
    errors = _too_long(element.get("action_id"), 255, f"{pointer}/action_id")
    if element["type"] == "button":
        errors += _text_errors(element.get("text"), 75, f"{pointer}/text")
        errors += _too_long(element.get("value"), 2000, f"{pointer}/value")
        errors += _too_long(element.get("url"), 3000, f"{pointer}/url")
    return errors


def _block_errors(block: Any, pointer: str) -> list[str]:
    if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
        return [f"failed to match all allowed schemas [json-pointer:{pointer}]"]
    kind, errors = block["type"], _too_long(block.get("block_id"), 255, f"{pointer}/block_id")
    if kind == "section":
        if "text" in block or "fields" not in block:
            errors += _text_errors(block.get("text"), 3000, f"{pointer}/text")
        fields = block.get("fields") or []
        errors += _too_many(fields, 10, f"{pointer}/fields")
        errors += [e for i, f in enumerate(fields) for e in _text_errors(f, 2000, f"{pointer}/fields/{i}")]
        if "accessory" in block:
            errors += _element_errors(block["accessory"], f"{pointer}/accessory")
    elif kind == "header":
        errors += _text_errors(block.get("text"), 150, f"{pointer}/text")
    elif kind in ("actions", "context"):
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            return [*errors, f"must provide elements [json-pointer:{pointer}/elements]"]
        errors += _too_many(elements, 25 if kind == "actions" else 10, f"{pointer}/elements")
        if kind == "actions":
            errors += [e for i, el in enumerate(elements) for e in _element_errors(el, f"{pointer}/elements/{i}")]
    return errors


def block_errors(blocks: Any) -> list[str]:
    """Slack's `invalid_blocks` reasons for a message's blocks (empty when they are valid)."""
    if not isinstance(blocks, list):
        return ["must be an array [json-pointer:/blocks]"]
    errors = _too_many(blocks, MAX_BLOCKS, "/blocks")
    return errors + [e for i, block in enumerate(blocks) for e in _block_errors(block, f"/blocks/{i}")]
