"""Person names compared the way recruiters read them: accents, transliteration, typos, nicknames, swaps.

Every name is folded once into its plain spellings: "Jürgen" reads as both "jurgen" and "juergen", "Strauß" as
"strauss", "Søren" as "soren" and "soeren". Given names are equivalent through the nickname table
(bot/domain/nicknames.py); other differences are scored with Jaro-Winkler similarity, which forgives the
typos people make in names (a swapped or dropped letter) more than it forgives a different name. A skeleton
(consonants, roughly as they sound) gives the short keys that candidate records are grouped under.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Final, NamedTuple

from rapidfuzz.distance import JaroWinkler

from bot.domain.nicknames import canonical_given_name, group_names, name_groups

__all__ = [
    "FIRST_NAME_SIMILAR",
    "LAST_NAME_SIMILAR",
    "GivenForms",
    "NameLevel",
    "NameMatch",
    "PreparedName",
    "compare_names",
    "fold",
    "prepare_name",
    "skeleton",
    "split_full_name",
    "to_ascii",
]

#: Jaro-Winkler similarity from which two given names / family names count as one name misspelt
FIRST_NAME_SIMILAR: Final = 0.88
LAST_NAME_SIMILAR: Final = 0.88

# Letters that Unicode decomposition does not turn into ASCII.
_PLAIN = str.maketrans({"ß": "ss", "ẞ": "ss", "ø": "o", "Ø": "o", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe",
                        "ł": "l", "Ł": "l", "đ": "d", "Đ": "d", "ð": "d", "Ð": "d", "þ": "th", "Þ": "th",
                        "ı": "i", "ŋ": "n", "ſ": "s"})
# The German and Nordic way of writing them without the mark (Jürgen -> Juergen, Søren -> Soeren).
_SPELLED_OUT = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "ae", "Ö": "oe", "Ü": "ue", "ø": "oe",
                              "Ø": "oe", "å": "aa", "Å": "aa"})
_NOT_LETTER = re.compile(r"[^a-z\s]+")
_APOSTROPHES = re.compile(r"['’`´.]")
# Titles, generational suffixes and credentials that are not part of anyone's name.
_NOT_NAMES: Final = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "jr", "sr", "ii", "iii",
                               "iv", "phd", "md", "mba", "msc", "bsc", "esq", "cpa", "pmp", "pe", "rn"})
# Skeletons: letters that sound alike become one (everywhere), then vowels and soft letters go (after the first).
_SOUNDS: Final = str.maketrans({"c": "k", "q": "k", "z": "s", "x": "ks"})
_SILENT: Final = str.maketrans({"v": "f", "d": "t", "w": None, "h": None, "y": None, "a": None, "e": None,
                                "i": None, "o": None, "u": None})
_REPEATED: Final = re.compile(r"(.)\1+")
_KNOWN_APART: Final = 0.8
_WORTH_A_LOOK: Final = 0.6  # below this, a given name is not compared with the other's nicknames


class NameLevel(StrEnum):
    """How two names relate, from one person's name to plainly different people."""

    SAME = "same"  # equal once folded, nicknames and transliterations included
    SIMILAR = "similar"  # a typo or a spelling apart in the given name, the family name or both
    PARTIAL = "partial"  # the family names agree; one given name is missing or only an initial
    OTHER_LAST = "other_last"  # same given name, different family name (a married name, or another person)
    OTHER_FIRST = "other_first"  # same family name, different given name (a relative, or a new first name)
    DIFFERENT = "different"
    UNKNOWN = "unknown"  # a record without any name


class NameMatch(NamedTuple):
    """How two names compare: the level, and the numbers behind it."""

    level: NameLevel
    similarity: float  # 0..1, of the better reading (as written or swapped)
    swapped: bool = False  # the better reading takes one record's given name as the other's family name
    given: float | None = None  # the given names' similarity, when both records have one (not initials)


@dataclass(frozen=True, slots=True)
class GivenForms:
    """A word read as a given name: its spellings, its nickname groups and their formal names."""

    spellings: tuple[str, ...]
    groups: frozenset[int]
    relatives: tuple[str, ...]  # the other names of its groups: lets a misspelt "Michel" meet "Mike"


@dataclass(frozen=True, slots=True)
class PreparedName:
    """A record's name folded once, ready to be compared many times."""

    first: tuple[str, ...]  # plain spellings of the given name(s), e.g. ("jurgen", "juergen")
    last: tuple[str, ...]  # plain spellings of the family name(s), spaces kept ("van der berg")
    given: GivenForms  # the given name read as one
    family_as_given: GivenForms  # the family name read as a given name (for records with the two swapped)
    initial: bool  # the given name is only an initial ("J." Smith)
    first_key: str  # skeleton of the canonical given name ("bob" -> robert -> "rbrt")
    last_key: str  # skeleton of the family name, spaces and hyphens dropped
    either_way_key: str  # both canonical skeletons, sorted: the same for "Jim Byrne" and "Byrne James"

    @property
    def empty(self) -> bool:
        return not self.first and not self.last


def fold(text: str) -> tuple[str, ...]:
    """Return the plain lower-case ASCII spellings of a name: accents dropped, and spelled out when that differs.

    Apostrophes and dots vanish (O'Brien -> obrien), other punctuation separates words (Anne-Marie -> anne marie).
    """
    if text.isascii():
        return (_clean(text.lower()),)
    plain = _clean(_strip_marks(text.translate(_PLAIN)).lower())
    spelled = _clean(_strip_marks(text.translate(_SPELLED_OUT).translate(_PLAIN)).lower())
    return (plain,) if spelled == plain else (plain, spelled)


def to_ascii(text: str, *, spelled_out: bool = False) -> str:
    """Return text in lower-case ASCII with accents dropped (Zoë -> zoe, Straße -> strasse), or spelled out
    (Müller -> mueller) when asked; digits and punctuation are kept."""
    if text.isascii():
        return text.lower()
    if spelled_out:
        text = text.translate(_SPELLED_OUT)
    return _strip_marks(text.translate(_PLAIN)).encode("ascii", "ignore").decode().lower()


def skeleton(folded: str) -> str:
    """Return a name's consonant skeleton: sounds-alike spellings share it (Jurgen/Juergen, Smith/Smyth)."""
    word = folded.replace(" ", "").replace("-", "")
    if not word:
        return ""
    word = word.replace("sch", "s").replace("ph", "f").replace("ck", "k").translate(_SOUNDS)
    return _REPEATED.sub(r"\1", word[0] + word[1:].translate(_SILENT))


def split_full_name(name: str) -> tuple[str, str]:
    """Split a one-field name into (given, family): "Last, First" when there is a comma, else first word first."""
    text = " ".join(name.split())
    if "," in text:
        last, _, first = text.partition(",")
        if first.strip() and not _only_not_names(first):
            return first.strip(), last.strip()
        text = last
    words = text.split(" ")
    if len(words) == 1:
        return "", words[0]
    return words[0], " ".join(words[1:])


@lru_cache(maxsize=131072)
def prepare_name(first_name: str, last_name: str) -> PreparedName:
    """Fold a record's name once. A full name in the given-name field alone is split first."""
    first_name, last_name = first_name.strip(), last_name.strip()
    if not last_name and " " in first_name:
        first_name, last_name = split_full_name(first_name)
    first = _name_spellings(first_name)
    last = _name_spellings(last_name)
    main = first[0].split(" ")[0] if first else ""
    initial = len(main) == 1
    given, family_as_given = _given_forms(first), _given_forms(last)
    first_key = skeleton(canonical_given_name(main)) if main and not initial else main
    last_key = skeleton(last[0]) if last else ""
    either_way = ""
    if first and last and not initial:
        either_way = "|".join(sorted((first_key[:6], skeleton(canonical_given_name(last[0]))[:6])))
    return PreparedName(first, last, given, family_as_given, initial, first_key, last_key, either_way)


def compare_names(a: PreparedName, b: PreparedName) -> NameMatch:
    """Compare two names as written and with one side's given and family names swapped; keep the better."""
    if a.empty or b.empty:
        return NameMatch(NameLevel.UNKNOWN, 0.0)
    if (a is b or (a.first == b.first and a.last == b.last)) and not a.initial:
        return _SAME_NAME
    straight = _levelled(_given_similarity(a, b), _family_similarity(a.last, b.last))
    if straight.level in (NameLevel.SAME, NameLevel.SIMILAR):
        return straight
    if a.first and a.last and b.first and b.last:
        if a.first[0][0] != b.last[0][0] and a.last[0][0] != b.first[0][0]:
            return straight  # not swapped: a swap keeps at least one initial in place
        # either record may be the swapped one: each cross pair is read as given names (nicknames count)
        one = _given_forms_similarity(a.given, b.family_as_given)
        two = _given_forms_similarity(a.family_as_given, b.given)
        swapped = max(_levelled(one, two), _levelled(two, one), key=_rank)
        if _rank(swapped) > _rank(straight) and swapped.level in (NameLevel.SAME, NameLevel.SIMILAR):
            return NameMatch(swapped.level, swapped.similarity, swapped=True, given=swapped.given)
        return straight
    if straight.level is NameLevel.DIFFERENT:  # one side has a single name: the other's given name may be it
        lone, other = (a, b) if not a.first or not a.last else (b, a)
        alone = lone.last or lone.first
        if other.first and other.last and _plain_similarity(alone, other.first) >= LAST_NAME_SIMILAR \
                and not lone.initial:
            return NameMatch(NameLevel.PARTIAL, 0.8, swapped=True)
    return straight


# --- internals ----------------------------------------------------------------------------------------------

_SAME_NAME: Final = NameMatch(NameLevel.SAME, 1.0, given=1.0)
_LEVEL_RANK: Final = {NameLevel.SAME: 6, NameLevel.SIMILAR: 5, NameLevel.PARTIAL: 4, NameLevel.OTHER_LAST: 3,
                      NameLevel.OTHER_FIRST: 2, NameLevel.DIFFERENT: 1, NameLevel.UNKNOWN: 0}


def _rank(match: NameMatch) -> tuple[int, float]:
    return _LEVEL_RANK[match.level], match.similarity


def _strip_marks(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _clean(text: str) -> str:
    text = _NOT_LETTER.sub(" ", _APOSTROPHES.sub("", text))
    return " ".join(word for word in text.split() if word not in _NOT_NAMES)


def _only_not_names(text: str) -> bool:
    return not any(_clean(text.lower()).split())


@lru_cache(maxsize=65536)
def _name_spellings(raw: str) -> tuple[str, ...]:
    return tuple(spelling for spelling in fold(raw) if spelling) if raw else ()


def _levelled(given: float | None, family: float | None) -> NameMatch:
    """Turn given/family similarities (None: missing on a side, -1: initials that agree) into a level."""
    if family is None:  # a side without a family name: the given names decide, weakly
        if given is not None and given >= FIRST_NAME_SIMILAR:
            return NameMatch(NameLevel.PARTIAL, given * 0.8)
        return NameMatch(NameLevel.DIFFERENT, 0.0)
    if given is None or given < 0:  # a side without a given name, or only initials that agree
        level = NameLevel.PARTIAL if family >= LAST_NAME_SIMILAR else NameLevel.DIFFERENT
        return NameMatch(level, family * 0.8)
    if given >= FIRST_NAME_SIMILAR and family >= LAST_NAME_SIMILAR:
        level = NameLevel.SAME if given == 1.0 and family == 1.0 else NameLevel.SIMILAR
    elif given >= FIRST_NAME_SIMILAR:
        level = NameLevel.OTHER_LAST
    elif family >= LAST_NAME_SIMILAR:
        level = NameLevel.OTHER_FIRST
    else:
        level = NameLevel.DIFFERENT
    return NameMatch(level, (given + family) / 2, given=given)


def _given_similarity(a: PreparedName, b: PreparedName) -> float | None:
    """1.0 for the same name or a nickname of it, -1 for agreeing initials, 0 for a clashing initial."""
    if not a.first or not b.first:
        return None
    if a.initial or b.initial:
        return -1.0 if a.first[0][0] == b.first[0][0] else 0.0
    return _given_forms_similarity(a.given, b.given)


def _given_forms_similarity(a: GivenForms, b: GivenForms) -> float:
    if not a.groups.isdisjoint(b.groups):
        return 1.0
    similarity = _plain_similarity(a.spellings, b.spellings)
    if similarity >= 1.0:
        return similarity
    if a.groups and b.groups:
        # both are names the table knows, in different groups: Alexander and Alexandra are two people
        return min(similarity, _KNOWN_APART)
    if similarity >= _WORTH_A_LOOK and (a.groups or b.groups):
        # a misspelt name against a nickname of it: "Michel" / "Mike" (Michael), "Mile" (Mike) / "Michael"
        known, unknown = (a, b) if a.groups else (b, a)
        similarity = max(similarity, _plain_similarity(unknown.spellings, known.relatives))
    return similarity


def _given_forms(spellings: tuple[str, ...]) -> GivenForms:
    words = tuple(dict.fromkeys(s.split(" ")[0] for s in spellings))
    groups = frozenset().union(*(name_groups(word) for word in words)) if words else frozenset()
    relatives = tuple(name for name in group_names(groups) if name not in words)
    return GivenForms(spellings, groups, relatives)


def _family_similarity(a: tuple[str, ...], b: tuple[str, ...]) -> float | None:
    if not a or not b:
        return None
    return _plain_similarity(a, b)


def _plain_similarity(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    """The best similarity between any spelling of a and any of b; one name inside a longer one scores 0.95."""
    if len(a) == 1 and len(b) == 1:
        return _similarity(a[0], b[0])
    best = 0.0
    for x in a:
        for y in b:
            best = max(best, _similarity(x, y))
            if best == 1.0:
                return best
    return best


def _similarity(x: str, y: str) -> float:
    if x == y:
        return 1.0
    if " " not in x and " " not in y:
        return JaroWinkler.normalized_similarity(x, y)
    if x.replace(" ", "") == y.replace(" ", ""):
        return 1.0
    score = JaroWinkler.normalized_similarity(x, y)
    if score < 0.95 and _words_within(x, y):
        return 0.95  # "mary ann" / "mary", "garcia lopez" / "garcia"
    return score


def _words_within(x: str, y: str) -> bool:
    short, long = sorted((x.split(" "), y.split(" ")), key=len)
    return set(short) <= set(long) and any(len(word) > 1 for word in short)
