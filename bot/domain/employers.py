"""Employer names compared through legal suffixes, punctuation and initialisms (Acme, Inc. = ACME; IBM).

"Acme Robotics GmbH", "ACME Robotics" and "Acme-Robotics, Inc." are one employer once the legal form is dropped;
"International Business Machines" and "IBM" are one employer because the short name spells the long one's
initials. A longer name that starts with a shorter one ("Acme" / "Acme Robotics") is a similar employer, as is
a near-identical spelling; anything else is a different employer, which says little on its own: people change
jobs, so a different employer never rules a match out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Final

from rapidfuzz.distance import OSA

from bot.domain.names import to_ascii

__all__ = ["EmployerLevel", "PreparedEmployer", "compare_employers", "normalize_employer", "prepare_employer"]

# Legal forms, written as they are once dots are dropped ("S.A." -> "sa", "B.V." -> "bv"); removed at the end.
_LEGAL_FORMS: Final = frozenset({
    "inc", "incorporated", "llc", "llp", "lp", "lllp", "pllc", "ltd", "limited", "plc", "corp", "corporation",
    "co", "company", "gmbh", "mbh", "ag", "kg", "kgaa", "ohg", "ug", "ev", "se", "sa", "sas", "sasu", "sarl",
    "sca", "sprl", "bv", "nv", "vof", "oy", "oyj", "ab", "publ", "as", "asa", "aps", "spa", "srl", "sl", "slu",
    "sau", "lda", "kk", "pty", "pte", "pvt", "private", "bhd", "sdn", "tbk", "cv", "sab", "de", "rl",
})
# Small words an initialism leaves out (Bank of America -> BoA, but also BA).
_JOINING: Final = frozenset({"of", "and", "the", "for", "de", "du", "der", "und", "et", "y"})
_SPLIT: Final = re.compile(r"[\s/,;:()\[\]+|-]+")
_DROPPED: Final = re.compile(r"['’`.]")
_AND: Final = {"und": "and", "et": "and", "en": "and", "och": "and", "og": "and"}
#: edit similarity (transpositions count once) of two employers' letters from which they are one name misspelt
EMPLOYER_SIMILAR: Final = 0.85


class EmployerLevel(StrEnum):
    SAME = "same"
    SIMILAR = "similar"
    DIFFERENT = "different"
    UNKNOWN = "unknown"  # a side names no employer


@dataclass(frozen=True, slots=True)
class PreparedEmployer:
    words: tuple[str, ...]  # folded, legal form dropped: ("international", "business", "machines")
    compact: str  # the words run together: "internationalbusinessmachines"
    compacts: frozenset[str]  # the compact form of every spelling ("muller", "mueller")
    initials: frozenset[str]  # initialisms of the first two or more words: {"ib", "ibm"}

    @property
    def key(self) -> str:
        """A short key to group records by employer ("acmerobo")."""
        return self.compact[:8]


def normalize_employer(raw: str) -> str:
    """Return the employer's name folded, without punctuation or legal form ("Acme, Inc." -> "acme")."""
    prepared = prepare_employer(raw)
    return " ".join(prepared.words) if prepared else ""


@lru_cache(maxsize=65536)
def prepare_employer(raw: str) -> PreparedEmployer | None:
    """Fold an employer name once; None when nothing is left (blank, or only a legal form)."""
    words = _words(raw, spelled_out=False)
    if not words:
        return None
    compacts = {"".join(words)}
    if not raw.isascii():  # "Müller" is also written "Mueller"
        compacts.add("".join(_words(raw, spelled_out=True)))
    return PreparedEmployer(tuple(words), "".join(words), frozenset(compacts), _initialisms(words))


def _words(raw: str, *, spelled_out: bool) -> list[str]:
    text = to_ascii(raw.strip(), spelled_out=spelled_out).replace("&", " and ").replace("@", " at ")
    words = [re.sub(r"[^a-z0-9]", "", word) for word in _SPLIT.split(_DROPPED.sub("", text))]
    words = [_AND.get(word, word) for word in words if word]
    while len(words) > 1 and (words[-1] in _LEGAL_FORMS or words[-1] in ("and", "cie")):
        words.pop()  # "Acme GmbH & Co. KG", "Smith & Co."
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    if len(words) == 1 and words[0] in _LEGAL_FORMS and len(raw.strip()) <= 5:
        return []
    return words


def compare_employers(a: PreparedEmployer | None, b: PreparedEmployer | None) -> EmployerLevel:
    """Same (equal, or one the other's initials), similar (a longer form, a misspelling), or different."""
    if a is None or b is None:
        return EmployerLevel.UNKNOWN
    if not a.compacts.isdisjoint(b.compacts) or a.compact in b.initials or b.compact in a.initials:
        return EmployerLevel.SAME
    short, long = sorted((a, b), key=lambda e: len(e.words))
    if len(short.compact) >= 4 and long.words[: len(short.words)] == short.words:
        return EmployerLevel.SIMILAR  # "Acme" / "Acme Robotics"
    short, long = sorted((a, b), key=lambda e: len(e.compact))
    if len(short.compact) >= 6 and long.compact.startswith(short.compact):
        return EmployerLevel.SIMILAR  # "Price Waterhouse" / "PricewaterhouseCoopers"
    if min(len(a.compact), len(b.compact)) >= 5 and \
            OSA.normalized_similarity(a.compact, b.compact) >= EMPLOYER_SIMILAR:
        return EmployerLevel.SIMILAR
    return EmployerLevel.DIFFERENT


def _initialisms(words: list[str]) -> frozenset[str]:
    """Initials of the first k >= 2 words, with and without joining words (Hewlett Packard Enterprise: hp, hpe)."""
    found: set[str] = set()
    for chosen in (words, [w for w in words if w not in _JOINING]):
        letters = "".join(word[0] for word in chosen)
        found.update(letters[:k] for k in range(2, len(letters) + 1))
    return frozenset(found)
