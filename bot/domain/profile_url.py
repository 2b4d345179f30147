"""Canonical keys for LinkedIn profile URLs: one person, one key, however the URL was pasted."""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, quote, unquote, urlsplit

ProfileKind = Literal["vanity", "member", "legacy_pub"]

_PASTE_PUBLIC = "paste the public profile URL (linkedin.com/in/…) instead"
# Seat-private products: their ids mean something only inside the recruiter's own seat.
_SEAT_PRIVATE = {
    "talent": f"That is a LinkedIn Recruiter link, private to your seat: open the public profile from it and "
    f"{_PASTE_PUBLIC}.",
    "sales": f"That is a Sales Navigator link, private to your seat: open the lead's LinkedIn profile from it "
    f"and {_PASTE_PUBLIC}.",
}
_SEAT_PRIVATE["recruiter"] = _SEAT_PRIVATE["talent"]
_SHORT_LINK = f"That is a shortened lnkd.in link; open it in a browser and {_PASTE_PUBLIC}."
# linkedin.cn was LinkedIn's China service (closed in 2023, its account data deleted); nothing shows that its
# ids are linkedin.com's, and guessing could merge two people, so we ask for the linkedin.com URL.
_CHINA = f"That is a linkedin.cn (LinkedIn China) link, a closed service; {_PASTE_PUBLIC}."
_NOT_LINKEDIN = f"That is not a LinkedIn address; {_PASTE_PUBLIC}."

_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*://", re.IGNORECASE)
# Country sites (uk., de., fr., …) and the mobile hosts serve the same profiles as www.
_SITE_LABEL = re.compile(r"www|m|mobile|touch|[a-z]{2}")
# Paths that lead to /in/<id>: email notifications use /comm/in/, the lite mobile site /mwlite/in/.
_PATH_PREFIXES = frozenset({"comm", "mwlite"})
# Opaque member tokens are case-sensitive ("ACo…" on the member site, "ACw…" from Sales Navigator). Whether an
# ACo and an ACw token with the same tail name one member is undocumented, so their keys stay apart.
_MEMBER_TOKEN = re.compile(r"AC[ow]AA[A-Za-z0-9_-]{10,}")
_OPAQUE_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
_VANITY = re.compile(r"[\w-]{1,100}")
_PUB_SEGMENT = re.compile(r"[0-9a-f]{1,3}")
_URL_IN_TEXT = re.compile(
    r"(?<![\w.@/-])(?:(?:https?:)?//)?(?:[a-z0-9-]+\.)*linkedin\.com/[^\s<>|\"'`]+", re.IGNORECASE
)
_TRAILING_PUNCTUATION = ".,;:!?)]}"


class ProfileUrlError(ValueError):
    """A URL that cannot become a profile key; `reason` tells the recruiter what to do."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotMappable(ProfileUrlError):
    """A LinkedIn link that names a person only inside a seat or service, not by the public profile."""


class NotAProfile(ProfileUrlError):
    """A URL that is not a LinkedIn member profile (company, school, jobs, posts, other sites)."""


@dataclass(frozen=True)
class ProfileKey:
    """A profile's canonical key (`value`), what kind of id it holds, and a clean URL to show people."""

    value: str
    kind: ProfileKind
    url: str


def normalize_linkedin_url(url: str) -> ProfileKey:
    """Return the canonical key of a LinkedIn profile URL, or raise a ProfileUrlError saying why not."""
    try:
        parts = urlsplit(_with_scheme(strip_slack_link(url)))
    except ValueError as error:  # e.g. an unbalanced "[" read as an IPv6 host
        raise NotAProfile(_NOT_LINKEDIN) from error
    if parts.scheme.lower() not in ("http", "https"):
        raise NotAProfile(_NOT_LINKEDIN)
    _check_host((parts.hostname or "").rstrip("."))
    segments = [segment for segment in parts.path.split("/") if segment]
    return _key_from_path(segments, parts.query)


def strip_slack_link(text: str) -> str:
    """Return the target of Slack link markup (`<url|label>`, `<url>`) or the trimmed text, unescaped."""
    text = text.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].split("|", 1)[0].strip()
    # Slack (and HTML-ish ATS fields) escape &, < and > as entities.
    return html.unescape(text)


def find_linkedin_urls(texts: Iterable[str]) -> list[str]:
    """Return the LinkedIn profile URLs found in free text (ATS link fields), in order, without repeats.

    Seat-private links (Recruiter, Sales Navigator) are returned too, so that `identity_keys` reports them
    as rejected instead of them vanishing; company, school and other non-profile pages are skipped.
    """
    found = (
        match.group().rstrip(_TRAILING_PUNCTUATION) for text in texts for match in _URL_IN_TEXT.finditer(text)
    )
    return list(dict.fromkeys(url for url in found if _names_a_person(url)))


def _names_a_person(url: str) -> bool:
    """Tell whether a URL is a profile link, usable or seat-private."""
    try:
        normalize_linkedin_url(url)
    except NotMappable:
        return True
    except NotAProfile:
        return False
    return True


def _with_scheme(text: str) -> str:
    """Return the text as an absolute URL, adding https:// to bare `linkedin.com/…` forms."""
    if not text:
        raise NotAProfile(f"The link is empty; {_PASTE_PUBLIC}.")
    if text.startswith("//"):
        return f"https:{text}"
    return text if _SCHEME.match(text) else f"https://{text}"


def _check_host(host: str) -> None:
    """Raise unless the host is linkedin.com or one of its country or mobile sites."""
    if host == "lnkd.in":
        raise NotMappable(_SHORT_LINK)
    if host == "linkedin.cn" or host.endswith(".linkedin.cn"):
        raise NotMappable(_CHINA)
    labels = host.split(".")
    if labels[-2:] != ["linkedin", "com"] or not all(_SITE_LABEL.fullmatch(label) for label in labels[:-2]):
        raise NotAProfile(_NOT_LINKEDIN)


def _key_from_path(segments: list[str], query: str) -> ProfileKey:
    """Return the key named by a LinkedIn path; trailing locale and sub-page segments are ignored."""
    if segments[:1] and segments[0].lower() in _PATH_PREFIXES:
        segments = segments[1:]
    match [segment.lower() for segment in segments[:2]]:
        case ["in", _]:
            return _in_key(segments[1])
        case ["pub", name] if name != "dir" and len(segments) >= 5:
            return _pub_key(segments[1], segments[2:5])
        case ["profile", "view"]:
            return _profile_view_key(query)
        case [section, *_] if section in _SEAT_PRIVATE:
            raise NotMappable(_SEAT_PRIVATE[section])
    page = "/".join(["linkedin.com", *segments[:1], "…"])
    raise NotAProfile(f"That LinkedIn page ({page}) is not a member profile; {_PASTE_PUBLIC}.")


def _in_key(raw_id: str) -> ProfileKey:
    """Return the key for /in/<id>: an opaque member token keeps its case, a vanity id is folded."""
    decoded = unquote(raw_id)
    if _MEMBER_TOKEN.fullmatch(decoded):
        return _member_key(f"in/{decoded}")
    # LinkedIn treats vanity ids case-insensitively; NFC makes composed and decomposed accents equal.
    vanity = _fold(decoded)
    if not _VANITY.fullmatch(vanity):
        raise NotAProfile(f"'{decoded}' is not a LinkedIn profile id; {_PASTE_PUBLIC}.")
    return ProfileKey(f"linkedin.com/in/{vanity}", "vanity", f"https://www.linkedin.com/in/{quote(vanity)}")


def _pub_key(raw_name: str, raw_ids: list[str]) -> ProfileKey:
    """Return the key for a legacy /pub/<name>/<x>/<y>/<z> link, kept in its own `pub/…` form.

    Such links redirect to an /in/ URL. A third-party library derives it as `<name>-<z><y><x>` with
    zero-padding, from two observed examples; LinkedIn never documented it, and a member who later chose
    a custom URL is redirected there instead. A wrong guess would merge two people, so we keep the pub key.
    """
    name = _fold(unquote(raw_name))
    ids = [raw.lower() for raw in raw_ids]
    if not _VANITY.fullmatch(name) or not all(_PUB_SEGMENT.fullmatch(part) for part in ids):
        raise NotAProfile(f"That /pub/ link is not a LinkedIn profile; {_PASTE_PUBLIC}.")
    # The parts are hex numbers, which LinkedIn writes without leading zeros.
    hex_ids = "/".join(format(int(part, 16), "x") for part in ids)
    url = f"https://www.linkedin.com/pub/{quote(name)}/{hex_ids}"
    return ProfileKey(f"linkedin.com/pub/{name}/{hex_ids}", "legacy_pub", url)


def _profile_view_key(query: str) -> ProfileKey:
    """Return the member key of an old `profile/view?id=…` link."""
    member_id = next(iter(parse_qs(query).get("id", [])), "").strip()
    if _MEMBER_TOKEN.fullmatch(member_id):
        return _member_key(f"in/{member_id}")
    if not _OPAQUE_ID.fullmatch(member_id):
        raise NotAProfile(f"That profile link has no member id; {_PASTE_PUBLIC}.")
    # Numeric and older opaque ids live in their own space: never folded into an /in/ key.
    return _member_key(f"profile/view?id={member_id}")


def _member_key(path: str) -> ProfileKey:
    """Return a member-id key; its value keeps the id's case."""
    return ProfileKey(f"linkedin.com/{path}", "member", f"https://www.linkedin.com/{path}")


def _fold(text: str) -> str:
    """Return text composed (NFC) and lower-cased, the canonical form of a vanity id."""
    return unicodedata.normalize("NFC", text).lower()
