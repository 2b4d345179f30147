"""Identity keys (LinkedIn URL, member URN, email, phone) looked up before any ATS create."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Final, NamedTuple
from urllib.parse import unquote

import phonenumbers

from bot.domain.profile_url import (
    NotAProfile,
    NotMappable,
    ProfileKey,
    ProfileUrlError,
    find_linkedin_urls,
    normalize_linkedin_url,
    strip_slack_link,
)

__all__ = [
    "EMAIL",
    "LINKEDIN",
    "LINKEDIN_MEMBER",
    "PHONE",
    "IdentityKey",
    "KeyResult",
    "NotAProfile",
    "NotMappable",
    "ProfileKey",
    "ProfileUrlError",
    "Rejection",
    "email_alias_key",
    "find_linkedin_urls",
    "identity_keys",
    "normalize_email",
    "normalize_linkedin_url",
    "normalize_member_urn",
    "normalize_phone",
]

# The `kind` column of `candidateidentity`. Every profile URL (vanity, member token or legacy pub) is a
# LINKEDIN key: all are URL keys in one space. A member URN comes from the API, a different id space.
LINKEDIN: Final = "linkedin"
LINKEDIN_MEMBER: Final = "linkedin_member"
EMAIL: Final = "email"
PHONE: Final = "phone"

_REASONS = {
    LINKEDIN_MEMBER: "not a LinkedIn member URN (urn:li:person:…)",
    EMAIL: "not an email address",
    PHONE: "not a valid phone number (numbers without +country code are read in the tenant's region)",
}

# URN scheme and namespace are case-insensitive (RFC 8141); the person id is not.
_PERSON_URN = re.compile(r"urn:li:person:([A-Za-z0-9_-]{1,100})", re.IGNORECASE)
_ATOM = r"[\w!#$%&'*+/=?^`{|}~-]+"
_LABEL = r"[^\W_](?:[\w-]*[^\W_])?"
_EMAIL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+(?:[^\W\d_]{{2,}}|xn--[a-z0-9-]+)")
_MAX_LOCAL, _MAX_EMAIL = 64, 254
# Gmail ignores dots and anything after '+' in the local part; googlemail.com is the same mailbox.
_GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})


@dataclass(frozen=True)
class IdentityKey:
    """One indexed identity of a person: a `kind` column value and its normalized `value`."""

    kind: str
    value: str


class Rejection(NamedTuple):
    """An input that yields no key, and why; unpacks as `(value, reason)`."""

    value: str
    reason: str


@dataclass(frozen=True)
class KeyResult:
    """Usable keys in lookup priority order, and the inputs that were rejected."""

    keys: tuple[IdentityKey, ...]
    rejected: tuple[Rejection, ...]


def identity_keys(
    *,
    profile_urls: Iterable[str] = (),
    member_urns: Iterable[str] = (),
    emails: Iterable[str] = (),
    phones: Iterable[str] = (),
    default_region: str = "US",
) -> KeyResult:
    """Return the de-duplicated keys, LinkedIn profile first, then member URN, emails, phones; blanks skipped."""
    _check_region(default_region)
    outcomes = [
        *(_profile_outcome(raw) for raw in _present(profile_urls)),
        *(_keyed(LINKEDIN_MEMBER, raw, normalize_member_urn(raw)) for raw in _present(member_urns)),
        *(_keyed(EMAIL, raw, normalize_email(raw)) for raw in _present(emails)),
        *(_keyed(PHONE, raw, normalize_phone(raw, default_region)) for raw in _present(phones)),
    ]
    keys = dict.fromkeys(outcome for outcome in outcomes if isinstance(outcome, IdentityKey))
    rejected = dict.fromkeys(outcome for outcome in outcomes if isinstance(outcome, Rejection))
    return KeyResult(tuple(keys), tuple(rejected))


def normalize_member_urn(raw: str) -> str | None:
    """Return `urn:li:person:<id>` with the id's case kept, or None if it is not a person URN."""
    match = _PERSON_URN.fullmatch(raw.strip())
    return f"urn:li:person:{match.group(1)}" if match else None


def normalize_email(raw: str) -> str | None:
    """Return the address trimmed and case-folded (no alias folding), or None if it is not one."""
    text = strip_slack_link(raw)
    if text[:7].casefold() == "mailto:":
        text = unquote(text[7:].split("?", 1)[0])
    if "<" in text:  # "Name <address>" as mail clients and some ATS exports write it
        text = parseaddr(text)[1]
    address = unicodedata.normalize("NFC", text.strip()).casefold()
    local, _, _ = address.rpartition("@")
    if len(local) > _MAX_LOCAL or len(address) > _MAX_EMAIL or not _EMAIL.fullmatch(address):
        return None
    return address


def email_alias_key(email: str) -> str:
    """Return the mailbox an address delivers to: Gmail dots and +tags folded, other domains unchanged."""
    address = normalize_email(email)
    if address is None:
        raise ValueError(f"not an email address: {email!r}")
    local, _, domain = address.rpartition("@")
    if domain not in _GMAIL_DOMAINS:
        return address
    mailbox = local.split("+", 1)[0].replace(".", "")
    return f"{mailbox or local}@gmail.com"


def normalize_phone(raw: str, default_region: str) -> str | None:
    """Return the number in E.164 (extension dropped), reading national numbers in `default_region`; else None.

    Raises ValueError for an unknown region: that is a tenant configuration error, not a bad number.
    """
    region = _check_region(default_region)
    try:  # phonenumbers reads RFC 3966 `tel:` URIs itself
        number = phonenumbers.parse(strip_slack_link(raw), region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _profile_outcome(raw: str) -> IdentityKey | Rejection:
    """Return the LINKEDIN key of a profile URL, or its rejection with the recruiter-facing reason."""
    try:
        return IdentityKey(LINKEDIN, normalize_linkedin_url(raw).value)
    except ProfileUrlError as error:
        return Rejection(raw, error.reason)


def _keyed(kind: str, raw: str, value: str | None) -> IdentityKey | Rejection:
    """Return the key for a normalized value, or a rejection when normalization gave None."""
    if value is not None:
        return IdentityKey(kind, value)
    return Rejection(raw, _REASONS[kind])


def _present(values: Iterable[str]) -> list[str]:
    """Return the values that are not blank: empty ATS fields are absence, not errors."""
    return [value for value in values if value.strip()]


def _check_region(region: str) -> str:
    """Return the region code upper-cased, or raise ValueError if phonenumbers does not know it."""
    code = region.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown phone region: {region!r}")
    return code
