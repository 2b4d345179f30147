"""Identity keys: emails, phones and member URNs normalized; keys ordered, de-duplicated, rejections kept."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.identity import (
    EMAIL,
    LINKEDIN,
    LINKEDIN_MEMBER,
    PHONE,
    IdentityKey,
    KeyResult,
    Rejection,
    email_alias_key,
    identity_keys,
    normalize_email,
    normalize_member_urn,
    normalize_phone,
)

MEMBER = "ACoAABcdEfGhIjKlMnOpQrStUvWxYz0123456789"

EMAILS = {
    "case": ("Someone@Example.COM", "someone@example.com"),
    "whitespace": ("  someone@example.com\t", "someone@example.com"),
    "mailto": ("mailto:someone@example.com", "someone@example.com"),
    "mailto-upper-with-query": ("MAILTO:Someone@Example.com?subject=Hello", "someone@example.com"),
    "mailto-encoded": ("mailto:someone%40example.com", "someone@example.com"),
    "slack-mailto": ("<mailto:someone@example.com|someone@example.com>", "someone@example.com"),
    "display-name": ("Sample Person <Someone@Example.com>", "someone@example.com"),
    "gmail-alias-kept": ("First.Last+jobs@Gmail.com", "first.last+jobs@gmail.com"),
    "subdomain": ("someone@mail.example.co.uk", "someone@mail.example.co.uk"),
    "unicode": ("ÜSER@EXAMPLE.DE", "üser@example.de"),
    "punycode-tld": ("someone@example.xn--p1ai", "someone@example.xn--p1ai"),
}

NOT_EMAILS = {
    "empty": "",
    "words": "not an email",
    "no-domain": "someone@",
    "no-local": "@example.com",
    "no-tld": "someone@example",
    "one-letter-tld": "someone@example.c",
    "space": "some one@example.com",
    "two-ats": "someone@@example.com",
    "double-dot-domain": "someone@example..com",
    "leading-dot": ".someone@example.com",
    "trailing-dot-local": "someone.@example.com",
    "hyphen-label": "someone@-example.com",
    "local-too-long": "a" * 65 + "@example.com",
    "url": "https://www.linkedin.com/in/sample-person",
}


@pytest.mark.parametrize(("raw", "expected"), EMAILS.values(), ids=EMAILS.keys())
def test_normalize_email_strips_and_folds_case(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize("raw", NOT_EMAILS.values(), ids=NOT_EMAILS.keys())
def test_normalize_email_rejects_what_is_not_an_address(raw: str) -> None:
    assert normalize_email(raw) is None


ALIASES = {
    "gmail-dots-and-tag": ("First.Last+jobs@gmail.com", "firstlast@gmail.com"),
    "googlemail": ("firstlast@GoogleMail.com", "firstlast@gmail.com"),
    "gmail-plain": ("firstlast@gmail.com", "firstlast@gmail.com"),
    "other-domain-unchanged": ("First.Last+jobs@example.com", "first.last+jobs@example.com"),
    "tag-only-kept": ("+jobs@gmail.com", "+jobs@gmail.com"),
}


@pytest.mark.parametrize(("raw", "expected"), ALIASES.values(), ids=ALIASES.keys())
def test_email_alias_key_folds_gmail_dots_and_tags_only(raw: str, expected: str) -> None:
    assert email_alias_key(raw) == expected


def test_email_alias_key_rejects_what_is_not_an_address() -> None:
    with pytest.raises(ValueError, match="not an email address"):
        email_alias_key("not an email")


PHONES = {
    "us-national": ("(415) 555-2671", "US", "+14155552671"),
    "us-dots": ("415.555.2671", "US", "+14155552671"),
    "us-trunk-prefix": ("1-415-555-2671", "US", "+14155552671"),
    "us-international": ("+1 415 555 2671", "US", "+14155552671"),
    "us-extension": ("415-555-2671 ext. 12", "US", "+14155552671"),
    "us-extension-x": ("+1 415 555 2671 x12", "US", "+14155552671"),
    "tel-uri": ("tel:+1-415-555-2671", "US", "+14155552671"),
    "slack-tel": ("<tel:+14155552671|+1 415 555 2671>", "US", "+14155552671"),
    "lower-case-region": ("415 555 2671", "us", "+14155552671"),
    "foreign-in-us": ("+44 20 7946 0958", "US", "+442079460958"),
    "us-exit-code": ("011 44 20 7946 0958", "US", "+442079460958"),
    "de-national": ("030 1234567", "DE", "+49301234567"),
    "de-exit-code": ("0049 30 1234567", "DE", "+49301234567"),
    "de-trunk-in-brackets": ("+49 (0)30 1234567", "DE", "+49301234567"),
    "de-mobile": ("0151 23456789", "DE", "+4915123456789"),
    "us-in-de": ("+1 415 555 2671", "DE", "+14155552671"),
    "same-digits-read-in-de": ("415-555-2671", "DE", "+494155552671"),
    "gb-national": ("020 7946 0958", "GB", "+442079460958"),
    "already-e164": ("+442079460958", "FR", "+442079460958"),
}

NOT_PHONES = {
    "empty": ("", "US"),
    "words": ("call me", "US"),
    "too-short": ("555-1234", "US"),
    "too-short-de": ("+49 30", "DE"),
    "one-digit-short": ("(415) 555-267", "US"),
    "unassigned-area": ("+1 000 000 0000", "US"),
    "zeros": ("0000000000", "US"),
    "de-number-in-gb": ("030 1234567", "GB"),
    "absurdly-long": ("12" * 200, "US"),
}


@pytest.mark.parametrize(("raw", "region", "expected"), PHONES.values(), ids=PHONES.keys())
def test_normalize_phone_gives_e164_in_the_default_region(raw: str, region: str, expected: str) -> None:
    assert normalize_phone(raw, region) == expected


@pytest.mark.parametrize(("raw", "region"), NOT_PHONES.values(), ids=NOT_PHONES.keys())
def test_normalize_phone_rejects_invalid_numbers(raw: str, region: str) -> None:
    assert normalize_phone(raw, region) is None


@pytest.mark.parametrize("region", ["ZZ", "", "USA"])
def test_normalize_phone_refuses_an_unknown_region(region: str) -> None:
    with pytest.raises(ValueError, match="unknown phone region"):
        normalize_phone("+1 415 555 2671", region)


URNS = {
    "plain": ("urn:li:person:AbC-12_x", "urn:li:person:AbC-12_x"),
    "prefix-case": ("URN:LI:Person:AbC", "urn:li:person:AbC"),
    "whitespace": (" urn:li:person:AbC ", "urn:li:person:AbC"),
    "other-entity": ("urn:li:organization:1035", None),
    "no-id": ("urn:li:person:", None),
    "bare-id": ("AbC", None),
}


@pytest.mark.parametrize(("raw", "expected"), URNS.values(), ids=URNS.keys())
def test_normalize_member_urn_keeps_the_case_of_the_id(raw: str, expected: str | None) -> None:
    assert normalize_member_urn(raw) == expected


def test_identity_keys_orders_profile_member_email_phone() -> None:
    result = identity_keys(
        phones=["(415) 555-2671"],
        emails=["Someone@Example.com"],
        member_urns=["urn:li:person:AbC"],
        profile_urls=["uk.linkedin.com/in/Sample-Person/"],
    )

    assert result == KeyResult(
        keys=(
            IdentityKey(LINKEDIN, "linkedin.com/in/sample-person"),
            IdentityKey(LINKEDIN_MEMBER, "urn:li:person:AbC"),
            IdentityKey(EMAIL, "someone@example.com"),
            IdentityKey(PHONE, "+14155552671"),
        ),
        rejected=(),
    )


def test_identity_keys_drops_equivalent_inputs_keeping_the_first() -> None:
    result = identity_keys(
        profile_urls=["https://www.linkedin.com/in/sample-person", "linkedin.com/in/SAMPLE-PERSON/?trk=x"],
        emails=["someone@example.com", "SOMEONE@example.com", "other@example.com"],
        phones=["+1 415 555 2671", "(415) 555-2671 x9"],
    )

    assert [key.value for key in result.keys] == [
        "linkedin.com/in/sample-person",
        "someone@example.com",
        "other@example.com",
        "+14155552671",
    ]


def test_identity_keys_reports_rejected_values_with_reasons() -> None:
    result = identity_keys(
        profile_urls=["https://www.linkedin.com/talent/profile/AEMAAAB", "https://www.linkedin.com/company/x"],
        member_urns=["urn:li:organization:1"],
        emails=["not an email"],
        phones=["555-1234"],
    )

    assert result.keys == ()
    assert [value for value, _ in result.rejected] == [
        "https://www.linkedin.com/talent/profile/AEMAAAB",
        "https://www.linkedin.com/company/x",
        "urn:li:organization:1",
        "not an email",
        "555-1234",
    ]
    assert "Recruiter" in result.rejected[0].reason
    assert "not a member profile" in result.rejected[1].reason
    assert result.rejected[3] == Rejection("not an email", "not an email address")


def test_identity_keys_keeps_good_keys_beside_rejections() -> None:
    result = identity_keys(profile_urls=["https://lnkd.in/abc"], emails=["someone@example.com"])

    assert result.keys == (IdentityKey(EMAIL, "someone@example.com"),)
    assert [value for value, _ in result.rejected] == ["https://lnkd.in/abc"]


def test_identity_keys_skips_blank_values_without_rejecting_them() -> None:
    result = identity_keys(profile_urls=["", "  "], member_urns=[""], emails=[" "], phones=["\t"])

    assert result == KeyResult(keys=(), rejected=())


def test_identity_keys_gives_member_urls_linkedin_keys_apart_from_urns() -> None:
    result = identity_keys(profile_urls=[f"linkedin.com/in/{MEMBER}"], member_urns=[f"urn:li:person:{MEMBER}"])

    assert result.keys == (
        IdentityKey(LINKEDIN, f"linkedin.com/in/{MEMBER}"),
        IdentityKey(LINKEDIN_MEMBER, f"urn:li:person:{MEMBER}"),
    )


def test_identity_keys_leaves_gmail_aliases_for_duplicate_matching() -> None:
    result = identity_keys(emails=["first.last@gmail.com", "firstlast@gmail.com"])

    assert len(result.keys) == 2


def test_identity_keys_reads_national_phones_in_the_default_region() -> None:
    result = identity_keys(phones=["030 1234567"], default_region="DE")

    assert result.keys == (IdentityKey(PHONE, "+49301234567"),)


def test_identity_keys_refuses_an_unknown_region_even_without_phones() -> None:
    with pytest.raises(ValueError, match="unknown phone region"):
        identity_keys(emails=["someone@example.com"], default_region="ZZ")


@settings(database=None, max_examples=200)
@given(texts=st.lists(st.text(), max_size=4))
def test_identity_keys_never_raises_on_arbitrary_text(texts: list[str]) -> None:
    result = identity_keys(profile_urls=texts, member_urns=texts, emails=texts, phones=texts)

    assert len(set(result.keys)) == len(result.keys)
    assert all(value in texts and value.strip() for value, _ in result.rejected)
