"""Duplicate matching: which recruiting records are one person, how sure we are, and why (pure).

A record is what an ATS, a LinkedIn export or a CSV row says about someone (`PersonRecord`, raw values). Each
record is normalized once: its LinkedIn profile keys (every URL variant of a profile gives one key), its email
mailboxes (case folded, Gmail dots and +tags folded, googlemail.com = gmail.com), its phones in E.164, its name
folded through accents, transliteration and nicknames (bot/domain/names.py), its employer without legal form
(bot/domain/employers.py), its title and its city. Malformed values are ignored, never errors.

**Blocking.** Records are only compared with records that share a blocking key (`blocking_keys`): each of their
LinkedIn profiles, mailboxes and phones, and four name keys built from sounds-alike skeletons — family name +
start of the given name, given name + start of the family name, both names in either order, family name +
employer — so that a typo, a nickname, a transliteration, a swap or a missing given name still leaves a shared
key (a typo in the first letters of the family name is found only through a shared email, phone or profile).
In a block of more than `MAX_BLOCK` records (a very common name), a record is compared with the members that
also share its employer, and with its `WINDOW` neighbours in name order.

**Comparing** (`compare`) gives a `Match` with a confidence band, a score in the band and its reasons, or None:

- *certain* (0.9–1): a shared LinkedIn profile or mailbox and names that agree (or a given name missing); a
  shared phone and names that agree (families share phones, so a phone alone needs the names).
- *likely* (0.75–0.9): a shared key with names that agree only partly (the profile with a new given name, the
  mailbox with another family name, a phone with a missing given name at the same employer); or no shared key
  but the same or a similar name at the same employer with the same title (and no other city) or in the same
  city (and no other title); or a name that is rare in the data with the same title and city and no employer on
  one side; or a missing given name with a rare family name at the same employer, title or city agreeing.
- *possible* (0.5–0.75): namesakes at the same employer with nothing else in common (never higher; nothing at
  all for a common name), the same rare name, title and city at another employer (a job change, or a
  namesake), a common name where a rare one would be likely, and shared keys between different names. Scores
  below `APART_BELOW` mark conflicting evidence (a shared phone between two given names, two different
  LinkedIn profiles): clustering never joins such a pair, and `proposed_pairs` does not propose it.

`compare` alone cannot know how common a name is, so it neither raises a rare name nor drops a common one;
`find_matches` counts names in the data (`COMMON_NAME`, `COMMON_FAMILY`), ignores a phone or mailbox held by
more than `SHARED_KEY` records (a switchboard, a team inbox), and downgrades to possible the likely links without
a shared key of a record that fits two people who are not themselves matched.

**Clustering** (`cluster`) joins records through certain and likely matches, strongest first. A join never puts
a conflicting pair in one cluster, and a *likely* link joins two groups only when the matches found between
them average at least `JOIN_AVERAGE`: one weak link does not chain two people together.

**Predicted duplicates** (what precision and recall measure in `bench/dedupe.py`): every two records of one
cluster. Possible matches are proposals for review, never predicted duplicates. The thresholds (the name and
employer similarities in names.py and employers.py, `TITLE_SIMILAR`, `GIVEN_CLASH`, `COMMON_NAME`,
`JOIN_AVERAGE`) were set on the benchmark's tuning seeds, not on the seed it reports.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Final

from rapidfuzz import fuzz

from bot.domain.employers import EmployerLevel, PreparedEmployer, compare_employers, prepare_employer
from bot.domain.identity import email_alias_key, normalize_phone
from bot.domain.names import (
    NameLevel,
    NameMatch,
    PreparedName,
    compare_names,
    prepare_name,
    to_ascii,
)
from bot.domain.profile_url import ProfileUrlError, normalize_linkedin_url

__all__ = [
    "APART_BELOW",
    "JOIN_AVERAGE",
    "MAX_BLOCK",
    "WINDOW",
    "Confidence",
    "Identities",
    "Match",
    "MatchRun",
    "PersonRecord",
    "blocking_keys",
    "cluster",
    "compare",
    "compare_each",
    "find_matches",
    "identities",
    "proposed_pairs",
]

#: a block with more records than this is compared by sorted neighbourhood instead of all pairs
MAX_BLOCK: Final = 40
#: how many sorted neighbours each record of an over-large block is compared with
WINDOW: Final = 8
#: a phone or email held by more records than this is a shared line or inbox, not a person's
SHARED_KEY: Final = 6
#: a full name held by more records than this (in one run of find_matches) is common: namesakes are expected
COMMON_NAME: Final = 6
#: a family name held by more records than this is common (for records without a given name)
COMMON_FAMILY: Final = 12
#: scores below this mark a conflicting pair, which no cluster may contain
APART_BELOW: Final = 0.6
#: a likely link joins two groups only when the matches between them average at least this
JOIN_AVERAGE: Final = 0.70
#: largest cluster clustering builds (a guard against pathological data, far above any real person)
MAX_CLUSTER: Final = 60
#: given names this dissimilar (or two different names the nickname table knows) are two people's
GIVEN_CLASH: Final = 0.8
#: token-sort similarity (0..100) of two normalized titles from which they are one title
TITLE_SIMILAR: Final = 85
_MAX_KEY: Final = 64
_MAX_KEYS: Final = 8


class Confidence(StrEnum):
    CERTAIN = "certain"
    LIKELY = "likely"
    POSSIBLE = "possible"


_RANK: Final = {Confidence.CERTAIN: 3, Confidence.LIKELY: 2, Confidence.POSSIBLE: 1}
_BANDS: Final = {Confidence.CERTAIN: (0.9, 1.0), Confidence.LIKELY: (0.75, 0.9), Confidence.POSSIBLE: (0.6, 0.75)}


@dataclass(frozen=True)
class PersonRecord:
    """One record as an ATS, a LinkedIn export or a CSV row gives it: raw values, normalized inside."""

    record_id: str
    first_name: str = ""
    last_name: str = ""
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    employer: str | None = None
    title: str | None = None
    location: str | None = None
    linkedin_urls: tuple[str, ...] = ()
    source: str | None = None


@dataclass(frozen=True)
class Match:
    """Two records that may be one person. `a` is the record that comes first in the input (for `compare`, its
    first argument)."""

    a: str
    b: str
    score: float  # 0..1; below APART_BELOW the evidence conflicts
    confidence: Confidence
    reasons: tuple[str, ...]  # e.g. "same LinkedIn profile", "same email", "similar name + same employer"


def compare(a: PersonRecord, b: PersonRecord, *, region: str = "US") -> Match | None:
    """Compare two records; None when they are not even a possible duplicate. `a` is taken as the earlier."""
    _check_region(region)
    return _judge(_Prepared(0, a, region), _Prepared(1, b, region), _ALONE)


def compare_each(record: PersonRecord, others: Sequence[PersonRecord], *, region: str = "US") -> list[Match]:
    """`record` compared with each of `others`, normalized once (an import-time look-up): each match's `a` is
    the other record, its `b` this one."""
    _check_region(region)
    me = _Prepared(1, record, region)
    return [m for other in others if (m := _judge(_Prepared(0, other, region), me, _ALONE)) is not None]


def blocking_keys(record: PersonRecord, *, region: str = "US") -> frozenset[str]:
    """The keys a record is compared within (at most 8, each at most 64 characters).

    `n1:`…`n4:` are name keys (sounds-alike skeletons of the names, alone or with the employer); `li:`, `em:`,
    `ph:` are the record's LinkedIn profiles, mailboxes and phones, as many as fit, one of each kind first.
    Two records that share no key are never compared.
    """
    _check_region(region)
    return _Prepared(0, record, region).keys


def find_matches(records: Sequence[PersonRecord], *, region: str = "US",
                 progress: Callable[[int], None] | None = None) -> list[Match]:
    """Every possible, likely or certain match among the records, each pair once, `a` before `b` in input order.

    `progress`, when given, is called now and then with how many records are done, ending at len(records):
    the first half of that count is normalizing the records, the second half comparing them.
    Record ids must be unique (ValueError otherwise).
    """
    run = MatchRun(records, region=region, progress=progress)
    return run.finish(run.compare(progress=progress))


class Identities:
    """Records' LinkedIn keys, mailboxes and phones (`identities`): plain strings, cheap to pickle."""

    __slots__ = ("values",)

    def __init__(self, values: list[_IdentityValues]) -> None:
        self.values = values

    def __getstate__(self) -> list[_IdentityValues]:
        return self.values

    def __setstate__(self, state: list[_IdentityValues]) -> None:
        self.values = state


def identities(records: Sequence[PersonRecord], *, region: str = "US") -> Identities:
    """Normalize the records' identity values: the slow half of normalizing (phones, URLs), done apart."""
    _check_region(region)
    return Identities([_identity_values(record, region) for record in records])


def _normalized(records: Sequence[PersonRecord], region: str, report: Callable[[int], None],
                known: Identities | Callable[[], Identities] | None) -> list[_Prepared]:
    """Every record normalized once. `known`: identity values normalized elsewhere, or a call that waits for
    them; names, employers, titles and cities are folded here first, so that the wait overlaps that work."""
    _check_region(region)
    if known is None:
        prepared = []
        for index, record in enumerate(records):
            prepared.append(_Prepared(index, record, region))
            if index % 2048 == 0:
                report(index // 2)
        return prepared
    for index, record in enumerate(records):  # fill the caches while the identity values are being made
        prepare_name(record.first_name or "", record.last_name or "")
        if record.employer:
            prepare_employer(record.employer)
        if index % 2048 == 0:
            report(index // 4)
    values = known() if callable(known) else known
    if len(values.values) != len(records):
        raise ValueError("the identity values do not cover the records")
    prepared = []
    for index, (record, identity) in enumerate(zip(records, values.values, strict=True)):
        prepared.append(_Prepared(index, record, region, identity))
        if index % 2048 == 0:
            report((len(records) + index) // 4)
    return prepared


class MatchRun:
    """`find_matches` in steps, for a caller that spreads the work over processes.

    Building the run normalizes every record once (taking the identity values from `identities` — or from a call
    that waits for them, made elsewhere meanwhile — when given), groups them into blocks and lists the candidate
    pairs; `compare(start, stop)` judges a slice of those pairs (slices are independent); `finish` takes every
    slice's matches, in slice order, and applies what needs them all (a record that fits two people). The run
    holds only plain values: nothing here starts a process or touches a file.
    """

    def __init__(self, records: Sequence[PersonRecord], *, region: str = "US",
                 progress: Callable[[int], None] | None = None,
                 identities: Identities | Callable[[], Identities] | None = None) -> None:
        report = progress or _ignore
        self.size = len(records)
        prepared = _normalized(records, region, report, identities)
        seen: set[str] = set()
        for p in prepared:
            if p.record_id in seen:
                raise ValueError(f"record id {p.record_id!r} is used twice")
            seen.add(p.record_id)
        blocks: dict[str, list[int]] = {}
        for p in prepared:
            for key in p.keys:
                blocks.setdefault(key, []).append(p.index)
        self._prepared = prepared
        self._context = _context(prepared)
        self._pairs = _candidate_pairs(blocks, prepared)
        report(self.size // 2)

    @property
    def pairs(self) -> int:
        """How many candidate pairs the blocks gave (what `compare` slices)."""
        return len(self._pairs)

    def compare(self, start: int = 0, stop: int | None = None,
                progress: Callable[[int], None] | None = None) -> list[Match]:
        """Judge candidate pairs [start, stop); progress goes from half of len(records) to all of it."""
        report = progress or _ignore
        stop = len(self._pairs) if stop is None else stop
        prepared, context, n = self._prepared, self._context, self.size
        half, span = n // 2, max(stop - start, 1)
        matches: list[Match] = []
        for number in range(start, stop):
            i, j = divmod(self._pairs[number], n)
            match = _judge(prepared[i], prepared[j], context)
            if match is not None:
                matches.append(match)
            if number % 16384 == 0:
                report(half + (n - half) * (number - start) // span)
        report(n)
        return matches

    def finish(self, matches: list[Match]) -> list[Match]:
        """The matches of every slice, with links that fit more than one person downgraded to possible."""
        return _without_ambiguous_links(matches)


def _ignore(done: int) -> None:
    """A progress callback that reports nowhere."""


def cluster(record_ids: Sequence[str], matches: Sequence[Match]) -> dict[str, int]:
    """Record id -> cluster id (1, 2, … in input order) for records joined by certain and likely matches.

    Records in no cluster are left out. Matches are taken strongest first; a join is refused when it would put
    a conflicting pair (score below APART_BELOW) in one cluster, when a likely link's groups average less than
    JOIN_AVERAGE over the matches between them, or when the cluster would outgrow MAX_CLUSTER.
    """
    position = {record_id: index for index, record_id in enumerate(record_ids)}
    scores: dict[tuple[str, str], float] = {}
    for m in matches:
        if m.a in position and m.b in position:
            scores[_pair_key(m.a, m.b)] = m.score
    parent = {record_id: record_id for record_id in record_ids}
    members = {record_id: [record_id] for record_id in record_ids}

    def find(record_id: str) -> str:
        while parent[record_id] != record_id:
            parent[record_id] = parent[parent[record_id]]
            record_id = parent[record_id]
        return record_id

    links = sorted((m for m in matches if m.confidence is not Confidence.POSSIBLE
                    and m.a in position and m.b in position),
                   key=lambda m: (-_RANK[m.confidence], -m.score, position[m.a], position[m.b]))
    for link in links:
        x, y = find(link.a), find(link.b)
        if x == y or len(members[x]) + len(members[y]) > MAX_CLUSTER:
            continue
        between = [scores[key] for key in (_pair_key(u, v) for u in members[x] for v in members[y])
                   if key in scores]
        if min(between) < APART_BELOW:
            continue
        if link.confidence is Confidence.LIKELY and sum(between) / len(between) < JOIN_AVERAGE:
            continue
        if len(members[x]) < len(members[y]):
            x, y = y, x
        parent[y] = x
        members[x].extend(members.pop(y))
    numbers: dict[str, int] = {}
    result: dict[str, int] = {}
    for record_id in record_ids:
        root = find(record_id)
        if len(members[root]) > 1:
            result[record_id] = numbers.setdefault(root, len(numbers) + 1)
    return result


def proposed_pairs(record_ids: Sequence[str], matches: Sequence[Match], clusters: dict[str, int],
                   *, min_confidence: Confidence = Confidence.POSSIBLE) -> list[tuple[Match, int | None]]:
    """The pairs to propose, each with its cluster id (None outside clusters), clusters first.

    Every two records of a cluster are a pair, also when they were not matched directly: such a pair takes the
    weakest link of the strongest path between them, and says which records link them. Possible matches
    between records of different clusters (or none) follow, with no cluster id — except the conflicting ones
    (score below APART_BELOW): those keep clusters apart and are not proposed.
    """
    position = {record_id: index for index, record_id in enumerate(record_ids)}
    direct = {_pair_key(m.a, m.b): m for m in matches}
    by_cluster: dict[int, list[str]] = {}
    for record_id in record_ids:
        if record_id in clusters:
            by_cluster.setdefault(clusters[record_id], []).append(record_id)
    out: list[tuple[Match, int | None]] = []
    for number in sorted(by_cluster):
        for match in _cluster_pairs(by_cluster[number], direct, position):
            if _RANK[match.confidence] >= _RANK[min_confidence]:
                out.append((match, number))
    loose = [m for m in matches if _RANK[m.confidence] >= _RANK[min_confidence] and m.score >= APART_BELOW
             and not (m.a in clusters and clusters[m.a] == clusters.get(m.b))]
    loose.sort(key=lambda m: (position.get(m.a, 0), position.get(m.b, 0)))
    out.extend((m, None) for m in loose)
    return out


# --- one record, normalized once ------------------------------------------------------------------------------

_IdentityValues = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]


def _identity_values(record: PersonRecord, region: str) -> _IdentityValues:
    """A record's LinkedIn keys, the vanity ones among them, its mailboxes and its phones (the slow half)."""
    linkedin: list[str] = []
    vanity: list[str] = []
    for url in record.linkedin_urls:
        profile = _profile(url) if url else None
        if profile is not None and profile[0] not in linkedin:
            linkedin.append(profile[0])
            if profile[1]:
                vanity.append(profile[0])
    emails: list[str] = []
    for raw in record.emails:
        mailbox = _mailbox(raw) if raw else None
        if mailbox is not None and mailbox not in emails:
            emails.append(mailbox)
    phones: list[str] = []
    for raw in record.phones:
        phone = _phone(raw, region) if raw else None
        if phone is not None and phone not in phones:
            phones.append(phone)
    return tuple(linkedin), tuple(vanity), tuple(emails), tuple(phones)


class _Prepared:
    """One record normalized once (plain slots: a hundred thousand of these are built per run)."""

    __slots__ = ("city", "emails", "employer", "ids", "index", "keys", "linkedin", "name", "phones", "record_id",
                 "title", "title_words", "vanity")

    def __init__(self, index: int, record: PersonRecord, region: str,
                 identity: _IdentityValues | None = None) -> None:
        self.index = index
        self.record_id = record.record_id
        self.name: PreparedName = prepare_name(record.first_name or "", record.last_name or "")
        self.employer: PreparedEmployer | None = prepare_employer(record.employer) if record.employer else None
        self.title: str | None = _title(record.title) if record.title else None
        self.title_words: frozenset[str] = frozenset(self.title.split()) if self.title else frozenset()
        self.city: str | None = _city(record.location) if record.location else None
        linkedin, vanity, emails, phones = identity or _identity_values(record, region)
        self.linkedin = frozenset(linkedin)
        self.vanity = frozenset(vanity)  # vanity-URL keys (two different ones are two profiles)
        self.emails = frozenset(emails)
        self.phones = frozenset(phones)
        self.ids = frozenset((*linkedin, *emails, *phones))  # one set to test for anything shared
        self.keys = _keys(self.name, self.employer, linkedin, emails, phones)


@lru_cache(maxsize=131072)
def _profile(url: str) -> tuple[str, bool] | None:
    """The LinkedIn key of a profile URL and whether it is a vanity URL; None for anything else."""
    if not url.strip():
        return None
    try:
        key = normalize_linkedin_url(url)
    except ProfileUrlError:
        return None
    return key.value, key.kind == "vanity"


@lru_cache(maxsize=131072)
def _mailbox(raw: str) -> str | None:
    if not raw.strip():
        return None
    try:
        return email_alias_key(raw)
    except ValueError:
        return None


@lru_cache(maxsize=262144)
def _phone(raw: str, region: str) -> str | None:
    if not raw.strip() or len(raw) > 64:
        return None
    return normalize_phone(raw, region)


def _keys(name: PreparedName, employer: PreparedEmployer | None, linkedin: Sequence[str], emails: Sequence[str],
          phones: Sequence[str]) -> frozenset[str]:
    """Name keys first (at most four), then identity keys, one of each kind before a second one, up to eight."""
    keys = list(_name_keys(name, employer))
    if len(linkedin) + len(emails) + len(phones) <= _MAX_KEYS - len(keys) and len(linkedin) < 2 \
            and len(emails) < 2 and len(phones) < 2:
        identity = [*("li:" + k for k in linkedin), *("em:" + k for k in emails), *("ph:" + k for k in phones)]
    else:
        kinds = [["li:" + k for k in linkedin], ["em:" + k for k in emails], ["ph:" + k for k in phones]]
        identity = [key for rank in range(max(map(len, kinds))) for kind in kinds for key in kind[rank:rank + 1]]
    keys.extend(_short(key) for key in identity[: _MAX_KEYS - len(keys)])
    return frozenset(keys)


@lru_cache(maxsize=131072)
def _name_keys(name: PreparedName, employer: PreparedEmployer | None) -> tuple[str, ...]:
    keys: list[str] = []
    last, given = name.last_key, name.first_key
    if last and given:
        keys.append(f"n1:{last[:6]}|{given[:2]}")  # a misspelt or unknown given name
        keys.append(f"n2:{given[:6]}|{last[:3]}")  # a misspelt family name
        if name.either_way_key:
            keys.append(f"n3:{name.either_way_key}")  # given and family names swapped
    if employer is not None and last:
        keys.append(f"n4:{last[:6]}|{employer.key}")  # no given name, or only an initial
    return tuple(keys)


def _short(key: str) -> str:
    """The key itself, or its kind and a hash when it is longer than a key may be."""
    if len(key) <= _MAX_KEY:
        return key
    return f"{key[:3]}#{hashlib.blake2b(key.encode(), digest_size=16).hexdigest()}"


_TITLE_WORDS: Final = {
    "sr": "senior", "snr": "senior", "jr": "junior", "eng": "engineer", "engr": "engineer", "mgr": "manager",
    "dev": "developer", "swe": "software engineer", "sde": "software development engineer",
    "vp": "vice president", "svp": "senior vice president", "evp": "executive vice president",
    "avp": "assistant vice president", "dir": "director", "assoc": "associate", "asst": "assistant",
    "admin": "administrator", "exec": "executive", "mktg": "marketing", "ops": "operations",
    "hr": "human resources", "&": "and", "acct": "account", "rep": "representative", "coord": "coordinator",
    "spec": "specialist",
}
_TITLE_SPLIT: Final = re.compile(r"[^a-z0-9&+#]+")
_PLACE_NOISE: Final = frozenset({"greater", "area", "metropolitan", "metro", "bay", "region", "the", "city",
                                 "county", "of", "and"})
# Cities people write in their own language or in English, and common short forms (folded to ASCII).
_CITY_NAMES: Final = {
    "munchen": "munich", "koln": "cologne", "nurnberg": "nuremberg", "frankfurt am main": "frankfurt",
    "wien": "vienna", "geneve": "geneva", "genf": "geneva", "praha": "prague",
    "warszawa": "warsaw", "roma": "rome", "milano": "milan", "torino": "turin",
    "napoli": "naples", "firenze": "florence", "lisboa": "lisbon", "bruxelles": "brussels", "brussel": "brussels",
    "antwerpen": "antwerp", "den haag": "hague", "s gravenhage": "hague", "kobenhavn": "copenhagen",
    "goteborg": "gothenburg", "moskva": "moscow", "sankt peterburg": "saint petersburg",
    "kiev": "kyiv", "athina": "athens", "bucuresti": "bucharest", "sevilla": "seville",
    "bombay": "mumbai", "bengaluru": "bangalore", "new york city": "new york", "nyc": "new york",
    "sf": "san francisco", "la": "los angeles", "dc": "washington", "washington dc": "washington",
}
_NOWHERE: Final = frozenset({"remote", "anywhere", "worldwide", "global", "unknown", "n/a", "na", "-"})


@lru_cache(maxsize=65536)
def _title(raw: str) -> str | None:
    words = (_TITLE_WORDS.get(word, word) for word in _TITLE_SPLIT.split(to_ascii(raw)) if word)
    text = " ".join(words)
    return text or None


@lru_cache(maxsize=65536)
def _city(raw: str) -> str | None:
    text = to_ascii(raw).strip()
    if text in _NOWHERE:
        return None
    head = re.split(r"[,;/(]", text, maxsplit=1)[0]
    words = [w for w in re.split(r"[^a-z0-9]+", head) if w and w not in _PLACE_NOISE]
    city = " ".join(words)
    return _CITY_NAMES.get(city, city) or None


# --- blocks -------------------------------------------------------------------------------------------------

def _candidate_pairs(blocks: dict[str, list[int]], prepared: Sequence[_Prepared]) -> list[int]:
    """Pairs (encoded i * n + j, i < j) to compare, each once, sorted.

    A block of up to MAX_BLOCK records gives all its pairs. A larger one (a very common name) gives each record's
    WINDOW neighbours in name order and the pairs that also share the employer (a misspelt name at one
    employer); a rare name's records meet in full in their own small full-name block. A phone or mailbox held by
    more than SHARED_KEY records gives no pairs.
    """
    n = len(prepared)
    pairs: set[int] = set()
    for key, members in blocks.items():
        if len(members) < 2 or (len(members) > SHARED_KEY and key[:3] in ("em:", "ph:")):
            continue  # a phone or inbox many records share is no evidence: their names are compared elsewhere
        _add_pairs(pairs, members, prepared, n, split=True)
    return sorted(pairs)


def _add_pairs(pairs: set[int], members: list[int], prepared: Sequence[_Prepared], n: int, *, split: bool) -> None:
    size = len(members)
    if size <= MAX_BLOCK:
        for x in range(size):
            base = members[x] * n
            pairs.update(base + j for j in members[x + 1:])  # members are in input order
        return
    ordered = sorted(members, key=lambda i: _neighbourhood(prepared[i]))
    for x in range(size):
        i = ordered[x]
        for j in ordered[x + 1: x + 1 + WINDOW]:
            pairs.add(i * n + j if i < j else j * n + i)
    if split:
        parts: dict[str, list[int]] = {}
        for i in members:
            employer = prepared[i].employer
            if employer is not None:
                parts.setdefault(employer.compact, []).append(i)
        for part in parts.values():
            if len(part) > 1:
                _add_pairs(pairs, part, prepared, n, split=False)


def _neighbourhood(p: _Prepared) -> tuple[str, str, str, str, int]:
    """Sort key inside an over-large block: records that could match end up next to each other."""
    name = p.name
    return (name.last_key, name.first_key, name.first[0] if name.first else "",
            p.employer.compact if p.employer else "", p.index)


_NameComparer = Callable[[PreparedName, PreparedName], NameMatch]


@dataclass(frozen=True)
class _Context:
    """What a comparison knows about the whole record set (nothing, for a lone `compare`)."""

    names: _NameComparer
    shared: frozenset[str]  # phones and mailboxes held by more than SHARED_KEY records
    common_names: frozenset[str] | None  # name keys held by more than COMMON_NAME records; None: not known
    common_families: frozenset[str] | None

    def common_name(self, p: PreparedName, q: PreparedName) -> bool | None:
        """Whether the full name is common in the data (None: nobody counted, as for a lone `compare`)."""
        known = self.common_names
        return None if known is None else p.either_way_key in known or q.either_way_key in known

    def common_family(self, p: PreparedName, q: PreparedName) -> bool | None:
        known = self.common_families
        return None if known is None else p.last_key in known or q.last_key in known


_ALONE: Final = _Context(compare_names, frozenset(), None, None)


def _context(prepared: Sequence[_Prepared]) -> _Context:
    holders: dict[str, int] = {}
    for p in prepared:
        for value in (*p.emails, *p.phones):
            holders[value] = holders.get(value, 0) + 1
    full: dict[str, int] = {}
    family: dict[str, int] = {}
    for p in prepared:
        if p.name.either_way_key:
            full[p.name.either_way_key] = full.get(p.name.either_way_key, 0) + 1
        if p.name.last_key:
            family[p.name.last_key] = family.get(p.name.last_key, 0) + 1
    return _Context(_memoized_names(), frozenset(v for v, n in holders.items() if n > SHARED_KEY),
                    frozenset(k for k, n in full.items() if n > COMMON_NAME),
                    frozenset(k for k, n in family.items() if n > COMMON_FAMILY))


def _without_ambiguous_links(matches: list[Match]) -> list[Match]:
    """Downgrade to possible the likely links that rest on names and work alone (no shared key) when one record
    has such links to two records that are not themselves matched: it fits more than one person."""
    strong = {_pair_key(m.a, m.b) for m in matches if m.confidence is not Confidence.POSSIBLE}
    soft: dict[str, list[str]] = {}
    for m in matches:
        if m.confidence is Confidence.LIKELY and m.reasons[0] not in _KEY_REASONS:
            soft.setdefault(m.a, []).append(m.b)
            soft.setdefault(m.b, []).append(m.a)
    ambiguous: dict[str, str] = {}
    for record, partners in soft.items():
        for x, first in enumerate(partners):
            other = next((second for second in partners[x + 1:] if _pair_key(first, second) not in strong), None)
            if other is not None:
                ambiguous[record] = f"fits more than one person (also {first} and {other})"
                break
    if not ambiguous:
        return matches
    out = []
    for m in matches:
        why = ambiguous.get(m.a) or ambiguous.get(m.b)
        if why and m.confidence is Confidence.LIKELY and m.reasons[0] not in _KEY_REASONS:
            low, high = _BANDS[Confidence.POSSIBLE]
            m = Match(m.a, m.b, round(low + (high - low) * 0.5, 3), Confidence.POSSIBLE, (*m.reasons, why))
        out.append(m)
    return out


def _memoized_names() -> _NameComparer:
    """compare_names, remembered per pair of name objects: records with one name share one (prepare_name is
    cached), so the many pairs of a common name are compared once. Valid while the records are alive."""
    seen: dict[tuple[int, int], NameMatch] = {}

    def names(a: PreparedName, b: PreparedName) -> NameMatch:
        key = (id(a), id(b))
        found = seen.get(key)
        if found is None:
            found = seen[key] = compare_names(a, b)
        return found

    return names


# --- judging one pair ---------------------------------------------------------------------------------------

_NAME_PHRASES: Final = {
    NameLevel.SAME: "same name", NameLevel.SIMILAR: "similar name",
    NameLevel.PARTIAL: "same family name (given name missing or an initial)",
    NameLevel.OTHER_LAST: "same given name, different family name",
    NameLevel.OTHER_FIRST: "same family name, different given name",
    NameLevel.DIFFERENT: "different names", NameLevel.UNKNOWN: "no name on one record",
}
_NAME_POINTS: Final = {NameLevel.SAME: 2.0, NameLevel.SIMILAR: 1.5, NameLevel.PARTIAL: 0.5}
_AGREE: Final = (NameLevel.SAME, NameLevel.SIMILAR)
_SOFT: Final = (NameLevel.PARTIAL, NameLevel.UNKNOWN)
_KEY_REASONS: Final = frozenset({"same LinkedIn profile", "same email", "same phone"})
_CANDIDATE_NAMES: Final = frozenset({NameLevel.SAME, NameLevel.SIMILAR, NameLevel.PARTIAL})


def _judge(p: _Prepared, q: _Prepared, context: _Context) -> Match | None:
    if p.ids.isdisjoint(q.ids):
        same_profile = same_email = same_phone = keyed = False
    else:
        shared = context.shared
        same_profile = not p.linkedin.isdisjoint(q.linkedin)
        same_email = any(e in q.emails and e not in shared for e in p.emails)
        same_phone = any(ph in q.phones and ph not in shared for ph in p.phones)
        keyed = same_profile or same_email or same_phone
    name = context.names(p.name, q.name)
    if not keyed and name.level not in _CANDIDATE_NAMES:
        return None
    employer = compare_employers(p.employer, q.employer)
    same_work = employer is EmployerLevel.SAME or employer is EmployerLevel.SIMILAR
    place = _places(p, q)
    if not keyed and not same_work and (place is not True or name.level is NameLevel.PARTIAL):
        return None  # the usual namesake: a name and nothing else
    title = _titles(p, q)
    two_profiles = not same_profile and bool(p.vanity) and bool(q.vanity)
    if keyed:
        band, caveats = _keyed_band(name, same_profile, same_email, same_phone, two_profiles, same_work)
        reasons = [r for ok, r in ((same_profile, "same LinkedIn profile"), (same_email, "same email"),
                                   (same_phone, "same phone")) if ok]
    else:
        if name.level is NameLevel.PARTIAL:
            common = context.common_family(p.name, q.name)
        else:
            common = context.common_name(p.name, q.name)
        unkeyed, caveats = _unkeyed_band(name, employer, title, place, two_profiles, common)
        if unkeyed is None:
            return None
        band, reasons = unkeyed, []
        if employer is EmployerLevel.DIFFERENT:
            caveats.append("different employer (a job change?)")
    agreed = [phrase for ok, phrase in ((employer is EmployerLevel.SAME, "same employer"),
                                        (employer is EmployerLevel.SIMILAR, "similar employer"),
                                        (title == _SAME, "same title"), (place is True, "same location")) if ok]
    reasons.append(" + ".join([_name_phrase(name), *agreed]))
    reasons.extend(caveats)
    points = (4.0 * same_profile + 3.5 * same_email + 3.0 * same_phone + _NAME_POINTS.get(name.level, 0.0)
              + (1.0 if employer is EmployerLevel.SAME else 0.75 if same_work else 0.0)
              + 0.75 * (title == _SAME) + 0.5 * (place is True) - 0.5 * (place is False))
    confidence, apart = band
    return Match(p.record_id, q.record_id, _score(confidence, apart, points), confidence, tuple(reasons))


_Band = tuple[Confidence, bool]  # (confidence, the evidence conflicts)


def _keyed_band(name: NameMatch, profile: bool, email: bool, phone: bool, two_profiles: bool,
                same_work: bool) -> tuple[_Band, list[str]]:
    level, kinds = name.level, profile + email + phone
    caveats: list[str] = []
    if level in _AGREE or (level in _SOFT and (profile or email or kinds > 1)):
        band: _Band = (Confidence.CERTAIN, False)
    elif level in _SOFT:  # a phone, and a given name missing on one side: a relative's, unless more agrees
        band = (Confidence.LIKELY if same_work else Confidence.POSSIBLE, False)
    elif level is NameLevel.OTHER_LAST:  # a married name, or a relative of the same first name
        band = (Confidence.CERTAIN, False) if profile else \
            (Confidence.LIKELY, False) if email or kinds > 1 else (Confidence.POSSIBLE, False)
    elif level is NameLevel.OTHER_FIRST:  # relatives share a home phone; a profile or inbox is one person's
        clash = name.given is None or name.given <= GIVEN_CLASH
        band = (Confidence.LIKELY, False) if profile or email or kinds > 1 else (Confidence.POSSIBLE, clash)
    else:
        band = (Confidence.POSSIBLE, True)
    if two_profiles:
        caveats.append("but different LinkedIn profiles")
        if band[0] is Confidence.CERTAIN:
            band = (Confidence.LIKELY, False)
    return band, caveats


def _unkeyed_band(name: NameMatch, employer: EmployerLevel, title: str | None, place: bool | None,
                  two_profiles: bool, common: bool | None) -> tuple[_Band | None, list[str]]:
    """No shared key: the name has to agree, and the employer, title and city decide how far. `common`: the
    name (or, for a missing given name, the family name) is held by many records, so namesakes are expected;
    None when nobody counted (a lone `compare`): then neither a rare name's boost nor a common one's drop."""
    rare = common is False
    same_work = employer in (EmployerLevel.SAME, EmployerLevel.SIMILAR)
    if two_profiles:  # two LinkedIn profiles: two people, unless they share far more than a name
        if name.level in _AGREE and same_work:
            return (Confidence.POSSIBLE, True), ["but different LinkedIn profiles"]
        return None, []
    if name.level in _AGREE:
        if same_work:
            if (title == _SAME and place is not False) or (place is True and title in (None, _RELATED)):
                return (Confidence.LIKELY, False), []
            # namesakes at one employer stop here; for a common name, a name and an employer are no lead at all
            return (None if common is True else (Confidence.POSSIBLE, False)), []
        if title == _SAME and place is True:
            # no employer on a side: likely for a rare name; another employer: a job change, or a namesake
            if employer is EmployerLevel.UNKNOWN:
                return (Confidence.LIKELY if rare else Confidence.POSSIBLE, False), []
            if common is not True:  # a common name in one trade and town is no lead at all
                return (Confidence.POSSIBLE, False), []
        return None, []
    if name.level is NameLevel.PARTIAL and same_work:  # a given name missing: the rest has to agree
        if rare and ((title == _SAME and place is not False) or (place is True and title != _DIFFERENT)):
            return (Confidence.LIKELY, False), []
        if title == _SAME or place is True:
            return (Confidence.POSSIBLE, False), []
    return None, []


def _name_phrase(name: NameMatch) -> str:
    phrase = _NAME_PHRASES[name.level]
    return f"{phrase} (given and family names swapped)" if name.swapped else phrase


_SAME, _RELATED, _DIFFERENT = "same", "related", "different"


def _titles(p: _Prepared, q: _Prepared) -> str | None:
    """same (one title, or one a longer form of the other), related (the same kind of job: "… engineer"),
    different, or None when a side has no title."""
    if p.title is None or q.title is None:
        return None
    if p.title == q.title:
        return _SAME
    small, large = sorted((p.title_words, q.title_words), key=len)
    if (len(small) >= 2 and small <= large) or fuzz.token_sort_ratio(p.title, q.title) >= TITLE_SIMILAR:
        return _SAME  # "software engineer" / "senior software engineer"
    return _RELATED if p.title.rsplit(" ", 1)[-1] == q.title.rsplit(" ", 1)[-1] else _DIFFERENT


def _places(p: _Prepared, q: _Prepared) -> bool | None:
    if p.city is None or q.city is None:
        return None
    if p.city == q.city:
        return True
    small, large = sorted((p.city.split(), q.city.split()), key=len)
    return set(small) <= set(large)  # "new york" / "new york city"


def _score(confidence: Confidence, apart: bool, points: float) -> float:
    low, high = (0.5, APART_BELOW) if apart else _BANDS[confidence]
    strength = 1.0 - math.exp(-max(points, 0.0) / 5.0)
    return round(low + (high - low) * min(strength, 0.999), 3)


def _pair_key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def _cluster_pairs(ids: list[str], direct: dict[tuple[str, str], Match],
                   position: dict[str, int]) -> Iterable[Match]:
    """Every pair of a cluster: its direct match, or the bottleneck of the best path through the cluster."""
    if len(ids) == 2:  # most clusters: the one match that made them
        only = direct[_pair_key(ids[0], ids[1])]
        yield only if position[only.a] < position[only.b] else \
            Match(only.b, only.a, only.score, only.confidence, only.reasons)
        return
    links: dict[str, list[tuple[str, Match]]] = {i: [] for i in ids}
    for x_index, x in enumerate(ids):
        for y in ids[x_index + 1:]:
            m = direct.get(_pair_key(x, y))
            if m is not None and m.confidence is not Confidence.POSSIBLE:
                links[x].append((y, m))
                links[y].append((x, m))
    for x_index, x in enumerate(ids):
        best = _widest_paths(x, links)
        for y in ids[x_index + 1:]:
            a, b = (x, y) if position[x] < position[y] else (y, x)
            m = direct.get(_pair_key(x, y))
            path = best.get(y)
            if m is not None and (path is None or _RANK[m.confidence] >= _RANK[path[0].confidence]):
                yield Match(a, b, m.score, m.confidence, m.reasons)
            elif path is not None:
                weakest, via = path
                reasons = ("linked through " + ", ".join(via), *(m.reasons if m else ()))
                yield Match(a, b, weakest.score, weakest.confidence, reasons)


def _strength(m: Match) -> tuple[int, float]:
    return _RANK[m.confidence], m.score


def _widest_paths(source: str, links: dict[str, list[tuple[str, Match]]]) -> dict[str, tuple[Match, list[str]]]:
    """For each record reachable from source: the weakest match on the strongest path, and the records between."""
    best: dict[str, tuple[Match, list[str]]] = {}
    frontier: list[tuple[str, Match | None, list[str]]] = [(source, None, [])]
    settled = {source}
    while frontier:
        # pick the strongest frontier edge (clusters are small: a scan beats a heap here)
        candidates = [(node, _min(weak, m), via + ([node] if node != source else []), other)
                      for node, weak, via in frontier for other, m in links[node] if other not in settled]
        if not candidates:
            break
        _, weakest, via, other = max(candidates, key=lambda c: _strength(c[1]))
        settled.add(other)
        best[other] = (weakest, via)
        frontier.append((other, weakest, via))
    return best


def _min(current: Match | None, m: Match) -> Match:
    return m if current is None or _strength(m) < _strength(current) else current


@lru_cache(maxsize=64)
def _check_region(region: str) -> None:
    normalize_phone("+14155550100", region)  # raises ValueError for a region phonenumbers does not know
