"""What identifies one person in stored text and JSON, and whether a stored value mentions them.

Erasure cleans tables that keep free text or JSON (work payloads, webhook bodies, Slack messages, audit
details). A SQL `LIKE` narrows the rows (`Traces.patterns`), then Python decides (`Traces.mentions`), because
stored text comes in several spellings: JSON columns keep non-ASCII as `\\uXXXX` escapes (the JSON serializer's
`ensure_ascii`), vendors escape `/` or `<` in webhook bodies, and PostgreSQL `json` keeps the text verbatim.

How sure a match must be depends on what a false positive would cost (`Reach`):
- `LIVE` rows are someone's pending work: only strong keys (email, phone, LinkedIn URL key, member URN) count,
  and an ATS id only where a payload names a person or an application by it (`ID_FIELDS`).
- `RECORD` rows are kept history (webhooks, audit, incidents) and messages waiting to be posted: strong keys
  and ATS ids anywhere (ids are matched whole: 123 is not in 1234).
- `FINISHED` rows are work done and messages sent: the same, plus the person's full name.
A name alone never decides pending work or history: a namesake's would go too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

#: payload fields that name an ATS person or application by id (work items, ATS events, merges)
ID_FIELDS = frozenset({
    "person_id", "ats_candidate_id", "atsCandidateId", "candidate_id", "contact", "contact_id", "survivor",
    "absorbed", "merged_into", "record_a", "record_b", "application", "application_id", "ats_application_id",
    "atsJobApplicationId", "opportunity_id", "opportunityId",
})
#: a local application id is an integer under this field (a queued push of an application's stage history)
LOCAL_APPLICATION_FIELD = "application"
NAME_FIELDS = (("first_name", "last_name"), ("firstName", "lastName"))
LIKE_ESCAPE = "!"

_ESCAPED = re.compile(r"\\u([0-9a-fA-F]{4})|\\/")
_SPACES = re.compile(r"\s+")


class Reach(StrEnum):
    """How sure a match must be before a row is deleted or redacted (see the module docstring)."""

    LIVE = "live"
    RECORD = "record"
    FINISHED = "finished"


@dataclass(frozen=True)
class Traces:
    """Everything that names one person (or several, for a retention batch), lower-cased.

    `emails`, `phones` (E.164), `linkedin` (URL keys such as `linkedin.com/in/ada`) and `members`
    (`urn:li:person:…`) are strong keys; `ids` are ATS person and application ids; `names` are full names
    ("first last"); `local_applications` are local application ids (a queued stage push names one).
    """

    emails: frozenset[str] = frozenset()
    phones: frozenset[str] = frozenset()
    linkedin: frozenset[str] = frozenset()
    members: frozenset[str] = frozenset()
    ids: frozenset[str] = frozenset()
    names: frozenset[str] = frozenset()
    local_applications: frozenset[int] = field(default_factory=frozenset)

    @staticmethod
    def of(*, emails: Iterable[str] = (), phones: Iterable[str] = (), linkedin: Iterable[str] = (),
           members: Iterable[str] = (), ids: Iterable[str] = (), names: Iterable[tuple[str, str]] = (),
           local_applications: Iterable[int] = ()) -> Traces:
        """Traces from raw values: blanks dropped, text lower-cased, names joined as "first last".

        Lower-cased, not case-folded: the `LIKE` patterns must keep "weiß" as stored (case-folding makes
        "weiss"); the Python check case-folds both sides.
        """
        return Traces(_lowered(emails), _lowered(phones), _lowered(linkedin), _lowered(members), _lowered(ids),
                      _lowered(full_name(first, last) for first, last in names), frozenset(local_applications))

    def __or__(self, other: Traces) -> Traces:
        return Traces(self.emails | other.emails, self.phones | other.phones, self.linkedin | other.linkedin,
                      self.members | other.members, self.ids | other.ids, self.names | other.names,
                      self.local_applications | other.local_applications)

    def __bool__(self) -> bool:
        return bool(self.strong or self.ids or self.names or self.local_applications)

    @property
    def strong(self) -> frozenset[str]:
        """The values that name this person and nobody else, wherever they appear."""
        return self.emails | self.phones | self.linkedin | self.members

    def patterns(self, reach: Reach) -> list[str]:
        """`LIKE` patterns (lower-case, `!` escapes, `%` around) catching every row `mentions` could accept.

        Each value in its raw and JSON-escaped spellings, non-ASCII characters as wildcards (`_spellings`). A
        full name is narrowed by its longest word: JSON often keeps first and last names in separate fields.
        """
        return self._patterns[reach]

    @cached_property
    def _patterns(self) -> dict[Reach, list[str]]:
        return {reach: self._patterns_for(reach) for reach in Reach}

    def _patterns_for(self, reach: Reach) -> list[str]:
        values = self.emails | self.linkedin | self.members | {p.removeprefix("+") for p in self.phones} | self.ids
        if reach is Reach.FINISHED:
            values |= {max(name.split(), key=len) for name in self.names}
        patterns = {f"%{p}%" for value in values for p in _spellings(value)}
        if reach is Reach.LIVE:  # `{"application": 12}` as the JSON serializer writes it, spaced or not
            patterns |= {f'%"{LOCAL_APPLICATION_FIELD}":{space}{n}{end}%' for n in self.local_applications
                         for space in ("", " ") for end in (",", "}")}
        return sorted(patterns)

    def mentions(self, value: Any, reach: Reach) -> bool:
        """Whether a stored value names this person, as sure as `reach` asks: text (JSON columns may be given
        as their text, parsed only when a match needs the structure) or parsed JSON."""
        if value is None:
            return False
        text = unescape(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)).casefold()
        if self._strong_in(text):
            return True
        named_by_id = self._ids is not None and self._ids.search(text)
        if reach is Reach.LIVE:  # an id counts only in a field naming a person or an application
            return (named_by_id or self._local_in(text)) and any(
                self._by_id(node, key) for key, node in _walk(_parsed(value)))
        if named_by_id:
            return True
        if reach is not Reach.FINISHED or self._names is None:
            return False
        if self._names.search(_SPACES.sub(" ", text)):
            return True
        return self._name_words.search(text) and any(  # first and last name in fields of their own
            self._names.fullmatch(full_name(*pair).casefold()) for pair in _name_pairs(_parsed(value)))

    def may_mention(self, text: str) -> bool:
        """A quick test all `mentions` pass: some value of the person's appears in `text` (several columns of a
        row may be given at once, so most rows are passed over in one test)."""
        folded = unescape(text).casefold()
        return self._strong_in(folded) or any(finder.search(folded) for finder in self._weak)

    def _by_id(self, node: Any, key: str | None) -> bool:
        if isinstance(node, bool):
            return False
        if isinstance(node, int) and key == LOCAL_APPLICATION_FIELD and node in self.local_applications:
            return True
        return key in ID_FIELDS and isinstance(node, (str, int)) and str(node).lower() in self.ids

    def _local_in(self, text: str) -> bool:
        return self._local is not None and self._local.search(text)

    def _strong_in(self, text: str) -> bool:
        return any(regex.search(text) for regex in self._strong)

    # One regex per kind of value, each a trie of the values (a branch per next character), so a search costs
    # about the same for one person as for a retention batch of hundreds. The boundaries keep ada@x.io from
    # matching xada@x.io, linkedin.com/in/ada from /in/ada-lovelace, and id 123 from 1234.

    @cached_property
    def _strong(self) -> list[_Finder]:
        phones = {p.removeprefix("+") for p in self.phones}
        kinds = [(self.emails, r"[\w.+-]", r"[\w-]|\.\w"), (phones, r"\d", r"\d"),
                 (self.linkedin, r"[\w-]", r"[\w%-]"), (self.members, r"\w", r"[\w-]")]
        return [_bounded(values, before, after) for values, before, after in kinds if values]

    @cached_property
    def _ids(self) -> _Finder | None:
        return _bounded(self.ids, r"[\w.-]", r"[\w-]|\.\d") if self.ids else None

    @cached_property
    def _names(self) -> _Finder | None:
        return _bounded(self.names, r"\w", r"\w") if self.names else None

    @cached_property
    def _name_words(self) -> _Finder:
        return _bounded({word for name in self.names for word in name.split()}, r"\w", r"\w")

    @cached_property
    def _weak(self) -> list[_Finder]:
        return [f for f in (self._ids, self._local, self._name_words if self.names else None) if f is not None]

    @cached_property
    def _local(self) -> _Finder | None:
        numbers = {str(n) for n in self.local_applications}
        return _bounded(numbers, r"\d", r"\d") if numbers else None


def full_name(first: str | None, last: str | None) -> str:
    """"first last" with its spaces collapsed (what a full-name match compares)."""
    return _SPACES.sub(" ", f"{first or ''} {last or ''}").strip()


def unescape(text: str) -> str:
    """Text with JSON's `\\uXXXX` and `\\/` escapes decoded, so one search covers every spelling."""
    def decode(match: re.Match[str]) -> str:
        code = match.group(1)
        return "/" if code is None else chr(int(code, 16))

    return _ESCAPED.sub(decode, text)


def like_escape(text: str) -> str:
    """`text` made literal inside a `LIKE … ESCAPE '!'` pattern."""
    return text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", "!%").replace("_", "!_")


def _spellings(value: str) -> set[str]:
    """`LIKE` spellings of a value: raw, JSON-escaped (`\\uXXXX`), and JSON-escaped with `\\/`; lower-case.

    A non-ASCII character is a wildcard in each (`_` raw, `\\u____` escaped): SQL `lower()` folds ASCII only,
    and "Å" escapes as `\\u00c5` where "å" is `\\u00e5`. The Python check that follows is exact.
    """
    raw, escaped = [], []
    for c in value.lower():
        if c.isascii():
            raw.append(like_escape(c))
            escaped.append(like_escape(json.dumps(c)[1:-1]))
        else:
            raw.append("_")
            escaped.append("\\u____" * (1 if ord(c) < 0x10000 else 2))  # astral: a surrogate pair
    plain, coded = "".join(raw), "".join(escaped)
    return {plain, coded, coded.replace("/", "\\/")}


def _bounded(values: Iterable[str], before: str, after: str) -> _Finder:
    """Any of `values` (case-folded) where it stands alone: not preceded by `before` nor followed by `after`."""
    trie = _trie({v.casefold() for v in values})
    return _Finder(re.compile(f"(?:{trie})(?!{after})"), re.compile(before))


@dataclass(frozen=True)
class _Finder:
    """Words standing alone in a text. The boundary before a hit is checked apart: a regex starting with a
    look-behind is tried at every position, one starting with the trie's characters is not (~50× faster)."""

    regex: re.Pattern[str]
    before: re.Pattern[str]

    def search(self, text: str) -> bool:
        at = 0
        while (hit := self.regex.search(text, at)) is not None:
            if hit.start() == 0 or not self.before.match(text, hit.start() - 1):
                return True
            at = hit.start() + 1
        return False

    def fullmatch(self, text: str) -> bool:
        return self.regex.fullmatch(text) is not None


def _trie(words: Iterable[str]) -> str:
    """A regex matching any of `words`, built as a trie so that matching follows one branch per character."""
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}
    return _branches(root)


def _branches(node: dict[str, Any]) -> str:
    branches = [re.escape(char) + _branches(child) for char, child in sorted(node.items()) if char]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if "" in node else body


def _lowered(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.strip().lower() for v in values if v and v.strip())


def _parsed(value: Any) -> Any:
    """JSON given as text, parsed (None when it is not JSON); anything else as it is."""
    if not isinstance(value, str):
        return value
    if not value.lstrip().startswith(("{", "[")):
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def _walk(value: Any, key: str | None = None) -> Iterator[tuple[str | None, Any]]:
    """Every leaf of parsed JSON with the key it sits under (a list passes its key on to its items)."""
    if isinstance(value, dict):
        for name, child in value.items():
            yield from _walk(child, str(name))
    elif isinstance(value, list):
        for child in value:
            yield from _walk(child, key)
    else:
        yield key, value


def _name_pairs(value: Any) -> Iterator[tuple[str, str]]:
    """(first, last) of every JSON object holding both, such as a prospect or a webhook's candidate."""
    if isinstance(value, dict):
        for first, last in NAME_FIELDS:
            if isinstance(value.get(first), str) and isinstance(value.get(last), str):
                yield value[first], value[last]
        for child in value.values():
            yield from _name_pairs(child)
    elif isinstance(value, list):
        for child in value:
            yield from _name_pairs(child)
