"""Problems found in configuration, and the translation of pydantic's errors into plain words."""

from __future__ import annotations

import difflib
import json
import re
import types
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

#: the error type our own field validators raise; their message is already written for people
CUSTOM_ERROR = "config"

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_BOUNDS = {
    "greater_than_equal": "must be at least {limit}, got {got}",
    "greater_than": "must be more than {limit}, got {got}",
    "less_than_equal": "must be at most {limit}, got {got}",
    "less_than": "must be less than {limit}, got {got}",
}
_SCALAR_NAMES = {str: "string", int: "whole number", bool: "boolean (true or false)", float: "number"}


@dataclass(frozen=True)
class Problem:
    """One thing wrong, located by its path in the file (`tenants[1].ats`) or by a variable name."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def format_loc(loc: Sequence[int | str]) -> str:
    """Render a location as `tenants[0].projects["Backend hires"]`."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _IDENTIFIER.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{json.dumps(part)}]"
    return text


def show_value(value: Any) -> str:
    """Render a TOML value the way the user wrote it, briefly."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        text = json.dumps(value, ensure_ascii=False, default=str)
        return text if len(text) <= 60 else "a list"
    return str(value)


def problems_from(error: ValidationError, root: type[BaseModel]) -> list[Problem]:
    """Translate every error pydantic collected into a `Problem` with a plain message."""
    return [
        Problem(format_loc(detail["loc"]), _message(detail, root)) for detail in error.errors(include_url=False)
    ]


def _message(detail: ErrorDetails, root: type[BaseModel]) -> str:
    kind, ctx, value = detail["type"], detail.get("ctx", {}), detail["input"]
    loc = detail["loc"]
    if kind == CUSTOM_ERROR:
        return detail["msg"]
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        return _unknown_field(str(loc[-1]), annotation_at(root, loc[:-1]))
    if kind in ("literal_error", "enum"):
        allowed = ", ".join(re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
        return f"{show_value(value)} is not one of {allowed}"
    if kind in _BOUNDS:
        return _BOUNDS[kind].format(limit=next(iter(ctx.values())), got=show_value(value))
    if kind == "too_short":
        return "must not be empty" if ctx["min_length"] == 1 else f"must list at least {ctx['min_length']} items"
    if kind == "string_too_short":
        return "must not be empty"
    return f"expected {describe(annotation_at(root, loc))}, got {show_value(value)}"


def _unknown_field(name: str, owner: Any) -> str:
    known = list(owner.model_fields) if _is_model(owner) else []
    if f"{name}_env" in known:
        # `client_secret = "…"`: the value is a secret, so say where it belongs instead of just the spelling
        return f'unknown field: secrets stay in the environment; name the variable holding it in "{name}_env"'
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f'unknown field (did you mean "{close[0]}"?)' if close else "unknown field"


def annotation_at(root: Any, loc: Sequence[int | str]) -> Any:
    """Follow a pydantic location through the model's annotations; None when it cannot be followed."""
    annotation = root
    for part in loc:
        annotation = _unwrap(annotation)
        if _is_model(annotation):
            field = annotation.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            annotation = field.annotation
        elif get_origin(annotation) in (list, dict):
            annotation = get_args(annotation)[-1]
        else:
            return None
    return _unwrap(annotation)


def describe(annotation: Any, plural: bool = False) -> str:
    """Name a type for people: `a list of strings`, `a table`, `a whole number`."""
    annotation = _unwrap(annotation)
    origin = get_origin(annotation)
    if origin is list:
        return ("lists of " if plural else "a list of ") + describe(get_args(annotation)[0], plural=True)
    if origin is dict or _is_model(annotation):
        return "tables" if plural else "a table"
    if origin is Literal:
        return "one of " + ", ".join(str(arg) for arg in get_args(annotation))
    name = _SCALAR_NAMES.get(annotation, "value")
    if plural:
        return name.replace("(", "s (", 1) if "(" in name else name + "s"
    return ("an " if name[0] in "aeiou" else "a ") + name


def _unwrap(annotation: Any) -> Any:
    """Strip `Annotated[...]` and `X | None` down to the type that carries the structure."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            others = [arg for arg in get_args(annotation) if arg is not type(None)]
            annotation = others[0]
        else:
            return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)
