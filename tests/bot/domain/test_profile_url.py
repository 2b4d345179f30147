"""LinkedIn profile URL keys: equivalent URLs share a key, different people never do, bad links say why."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.profile_url import (
    NotAProfile,
    NotMappable,
    ProfileKey,
    ProfileUrlError,
    find_linkedin_urls,
    normalize_linkedin_url,
)

# Properties write no example database into the shared tree.
PROPERTY = settings(database=None, max_examples=200)

MEMBER = "ACoAABcdEfGhIjKlMnOpQrStUvWxYz0123456789"
SALES_MEMBER = "ACwAABcdEfGhIjKlMnOpQrStUvWxYz0123456789"
VANITY_KEY = "linkedin.com/in/sample-person-1a2b3c"

SAME_VANITY = {
    "canonical": "https://www.linkedin.com/in/sample-person-1a2b3c",
    "http": "http://www.linkedin.com/in/sample-person-1a2b3c",
    "no-scheme": "linkedin.com/in/sample-person-1a2b3c",
    "no-scheme-www": "www.linkedin.com/in/sample-person-1a2b3c",
    "scheme-relative": "//www.linkedin.com/in/sample-person-1a2b3c",
    "no-www": "https://linkedin.com/in/sample-person-1a2b3c",
    "trailing-slash": "https://www.linkedin.com/in/sample-person-1a2b3c/",
    "country-uk": "https://uk.linkedin.com/in/sample-person-1a2b3c",
    "country-de": "http://de.linkedin.com/in/sample-person-1a2b3c/",
    "mobile-m": "https://m.linkedin.com/in/sample-person-1a2b3c",
    "mobile-host": "https://mobile.linkedin.com/in/sample-person-1a2b3c",
    "query-trk": "https://www.linkedin.com/in/sample-person-1a2b3c?trk=public_profile_browsemap",
    "query-subdomain": "https://www.linkedin.com/in/sample-person-1a2b3c/?originalSubdomain=fr",
    "fragment": "https://www.linkedin.com/in/sample-person-1a2b3c#experience",
    "locale-path": "https://www.linkedin.com/in/sample-person-1a2b3c/fr",
    "locale-query": "https://www.linkedin.com/in/sample-person-1a2b3c/?locale=de_DE",
    "details-page": "https://www.linkedin.com/in/sample-person-1a2b3c/details/experience/",
    "activity-page": "https://www.linkedin.com/in/sample-person-1a2b3c/recent-activity/all/",
    "contact-overlay": "https://www.linkedin.com/in/sample-person-1a2b3c/overlay/contact-info/",
    "upper-vanity": "https://www.linkedin.com/in/Sample-Person-1A2B3C",
    "upper-everything": "HTTPS://WWW.LINKEDIN.COM/IN/SAMPLE-PERSON-1A2B3C/",
    "whitespace": "  \thttps://www.linkedin.com/in/sample-person-1a2b3c \n",
    "slack-labelled": "<https://www.linkedin.com/in/sample-person-1a2b3c|linkedin.com/in/sample-person-1a2b3c>",
    "slack-bare": "<https://www.linkedin.com/in/sample-person-1a2b3c/>",
    "slack-escaped-query": "<https://www.linkedin.com/in/sample-person-1a2b3c?trk=a&amp;lipi=b>",
    "email-notification": "https://www.linkedin.com/comm/in/sample-person-1a2b3c?midToken=x",
    "lite-mobile": "https://www.linkedin.com/mwlite/in/sample-person-1a2b3c",
    "port": "https://www.linkedin.com:443/in/sample-person-1a2b3c",
    "host-trailing-dot": "https://www.linkedin.com./in/sample-person-1a2b3c",
    "double-slashes": "https://www.linkedin.com//in//sample-person-1a2b3c",
}

SAME_ACCENTED = {
    "percent-encoded": "https://www.linkedin.com/in/caf%C3%A9-cr%C3%A8me",
    "percent-encoded-upper": "https://www.linkedin.com/in/CAF%C3%89-CR%C3%88ME/",
    "raw-composed": "https://www.linkedin.com/in/café-crème",
    "raw-decomposed": "https://www.linkedin.com/in/cafe\u0301-cre\u0300me",
}

SAME_MEMBER = {
    "in-path": f"https://www.linkedin.com/in/{MEMBER}",
    "in-path-noise": f"uk.linkedin.com/in/{MEMBER}/?trk=people-guest&originalSubdomain=uk",
    "profile-view": f"https://www.linkedin.com/profile/view?id={MEMBER}&authType=NAME_SEARCH",
    "profile-view-slack": f"<https://www.linkedin.com/profile/view?authType=name&amp;id={MEMBER}>",
}

SAME_PUB = {
    "pub": "https://www.linkedin.com/pub/sample-person/a7/576/b50",
    "pub-noise": "http://sy.linkedin.com/pub/Sample-Person/A7/576/B50/?trk=biz_employee_pub",
    "pub-leading-zeros": "linkedin.com/pub/sample-person/0a7/576/b50",
    "pub-locale": "https://uk.linkedin.com/pub/sample-person/a7/576/b50/fr",
}

DIFFERENT_PEOPLE = {
    "suffix": ("linkedin.com/in/sample-person", "linkedin.com/in/sample-person-2"),
    "hyphen": ("linkedin.com/in/sample-person", "linkedin.com/in/sampleperson"),
    "member-case": (f"linkedin.com/in/{MEMBER}", f"linkedin.com/in/{MEMBER[:-1]}X"),
    "member-vs-lowered": (f"linkedin.com/in/{MEMBER}", f"linkedin.com/in/{MEMBER.lower()}"),
    "aco-vs-acw": (f"linkedin.com/in/{MEMBER}", f"linkedin.com/in/{SALES_MEMBER}"),
    "pub-vs-in": ("linkedin.com/pub/sample-person/a7/576/b50", "linkedin.com/in/sample-person-b50576a7"),
    "pub-ids": ("linkedin.com/pub/sample-person/a7/576/b50", "linkedin.com/pub/sample-person/a7/576/b51"),
    "numeric-vs-token": ("linkedin.com/profile/view?id=12345678", f"linkedin.com/in/{MEMBER}"),
}

NOT_MAPPABLE = {
    "recruiter-talent": "https://www.linkedin.com/talent/profile/AEMAAABcdEfGhIjKl?project=123",
    "recruiter-hire": "https://www.linkedin.com/talent/hire/123/discover/recruiterSearch/profile/AEMAAAB",
    "recruiter-legacy": "https://www.linkedin.com/recruiter/profile/12345,abc,CAP",
    "sales-people": f"https://www.linkedin.com/sales/people/{SALES_MEMBER},NAME_SEARCH,abcd",
    "sales-lead": f"https://www.linkedin.com/sales/lead/{SALES_MEMBER},NAME_SEARCH,abcd",
    "short-link": "https://lnkd.in/dAbCdEf",
    "china": "https://www.linkedin.cn/in/sample-person",
}

NOT_A_PROFILE = {
    "company": "https://www.linkedin.com/company/example-corp/",
    "school": "https://www.linkedin.com/school/example-university/",
    "showcase": "https://www.linkedin.com/showcase/example-product/",
    "jobs": "https://www.linkedin.com/jobs/view/1234567890/",
    "posts": "https://www.linkedin.com/posts/sample-person_activity-7000000000000000000-abcd",
    "feed": "https://www.linkedin.com/feed/update/urn:li:activity:7000000000000000000/",
    "groups": "https://www.linkedin.com/groups/12345/",
    "pulse": "https://www.linkedin.com/pulse/an-article-sample-person/",
    "people-directory": "https://www.linkedin.com/pub/dir/sample/person",
    "people-directory-hex-like": "https://www.linkedin.com/pub/dir/bea/dee/fab",
    "home": "https://www.linkedin.com/",
    "in-without-id": "https://www.linkedin.com/in/",
    "profile-view-without-id": "https://www.linkedin.com/profile/view?trk=x",
    "pub-not-hex": "https://www.linkedin.com/pub/sample-person/zz/576/b50",
    "pub-too-short": "https://www.linkedin.com/pub/sample-person/a7",
    "space-in-id": "https://www.linkedin.com/in/sample%20person",
    "encoded-slash": "https://www.linkedin.com/in/sample%2Fperson",
    "other-site": "https://example.com/in/sample-person",
    "lookalike-suffix": "https://www.linkedin.com.example.net/in/sample-person",
    "lookalike-prefix": "https://notlinkedin.com/in/sample-person",
    "userinfo-trick": "https://www.linkedin.com@example.net/in/sample-person",
    "other-subdomain": "https://learning.linkedin.com/in/sample-person",
    "ftp": "ftp://www.linkedin.com/in/sample-person",
    "mailto": "mailto:someone@example.com",
    "empty": "",
    "blank": "   ",
    "words": "see my profile",
    "broken-ipv6-host": "https://[::1/in/sample-person",
}


@pytest.mark.parametrize("url", SAME_VANITY.values(), ids=SAME_VANITY.keys())
def test_normalize_linkedin_url_gives_one_vanity_key_for_equivalent_urls(url: str) -> None:
    key = normalize_linkedin_url(url)

    assert key == ProfileKey(VANITY_KEY, "vanity", f"https://www.{VANITY_KEY}")


@pytest.mark.parametrize("url", SAME_ACCENTED.values(), ids=SAME_ACCENTED.keys())
def test_normalize_linkedin_url_decodes_and_composes_accented_vanity_ids(url: str) -> None:
    key = normalize_linkedin_url(url)

    assert key.value == "linkedin.com/in/café-crème"
    assert key.url == "https://www.linkedin.com/in/caf%C3%A9-cr%C3%A8me"


@pytest.mark.parametrize("url", SAME_MEMBER.values(), ids=SAME_MEMBER.keys())
def test_normalize_linkedin_url_keeps_the_case_of_member_ids(url: str) -> None:
    key = normalize_linkedin_url(url)

    assert key == ProfileKey(f"linkedin.com/in/{MEMBER}", "member", f"https://www.linkedin.com/in/{MEMBER}")


def test_normalize_linkedin_url_reads_a_lower_cased_member_token_as_a_vanity_id() -> None:
    key = normalize_linkedin_url(f"linkedin.com/in/{MEMBER.lower()}")

    assert (key.kind, key.value) == ("vanity", f"linkedin.com/in/{MEMBER.lower()}")


def test_normalize_linkedin_url_keeps_numeric_member_ids_in_their_own_form() -> None:
    key = normalize_linkedin_url("http://www.linkedin.com/profile/view?id=12345678&trk=tab_pro")

    assert key == ProfileKey(
        "linkedin.com/profile/view?id=12345678", "member", "https://www.linkedin.com/profile/view?id=12345678"
    )


@pytest.mark.parametrize("url", SAME_PUB.values(), ids=SAME_PUB.keys())
def test_normalize_linkedin_url_keeps_legacy_pub_links_as_pub_keys(url: str) -> None:
    key = normalize_linkedin_url(url)

    assert key == ProfileKey(
        "linkedin.com/pub/sample-person/a7/576/b50",
        "legacy_pub",
        "https://www.linkedin.com/pub/sample-person/a7/576/b50",
    )


@pytest.mark.parametrize(("first", "second"), DIFFERENT_PEOPLE.values(), ids=DIFFERENT_PEOPLE.keys())
def test_normalize_linkedin_url_gives_different_people_different_keys(first: str, second: str) -> None:
    assert normalize_linkedin_url(first).value != normalize_linkedin_url(second).value


@pytest.mark.parametrize("url", NOT_MAPPABLE.values(), ids=NOT_MAPPABLE.keys())
def test_normalize_linkedin_url_refuses_seat_private_links_and_says_what_to_paste(url: str) -> None:
    with pytest.raises(NotMappable) as raised:
        normalize_linkedin_url(url)

    assert "linkedin.com/in/" in raised.value.reason
    assert str(raised.value) == raised.value.reason


@pytest.mark.parametrize("url", NOT_A_PROFILE.values(), ids=NOT_A_PROFILE.keys())
def test_normalize_linkedin_url_refuses_what_is_not_a_profile(url: str) -> None:
    with pytest.raises(NotAProfile) as raised:
        normalize_linkedin_url(url)

    assert "linkedin.com/in/" in raised.value.reason


def test_profile_url_errors_are_value_errors() -> None:
    assert issubclass(NotMappable, ProfileUrlError)
    assert issubclass(NotAProfile, ProfileUrlError)
    assert issubclass(ProfileUrlError, ValueError)


FOUND = {
    "greenhouse-social-no-scheme": (["linkedin.com/in/sample-person"], ["linkedin.com/in/sample-person"]),
    "lever-links": (
        ["https://github.com/sample", "https://www.linkedin.com/in/sample-person/"],
        ["https://www.linkedin.com/in/sample-person/"],
    ),
    "website-with-www": (["www.linkedin.com/in/sample-person"], ["www.linkedin.com/in/sample-person"]),
    "sentence-punctuation": (
        ["Profile: linkedin.com/in/sample-person. Portfolio (https://example.com)"],
        ["linkedin.com/in/sample-person"],
    ),
    "in-parentheses": (
        ["(https://uk.linkedin.com/in/sample-person)"],
        ["https://uk.linkedin.com/in/sample-person"],
    ),
    "several-in-one-text": (
        ["https://linkedin.com/in/first-person, https://linkedin.com/in/second-person"],
        ["https://linkedin.com/in/first-person", "https://linkedin.com/in/second-person"],
    ),
    "repeats-once": (
        ["linkedin.com/in/sample-person", "linkedin.com/in/sample-person"],
        ["linkedin.com/in/sample-person"],
    ),
    "slack-markup": (
        ["<https://www.linkedin.com/in/sample-person|profile>"],
        ["https://www.linkedin.com/in/sample-person"],
    ),
    "skips-company-and-jobs": (
        ["https://www.linkedin.com/company/example-corp", "https://www.linkedin.com/jobs/view/1"],
        [],
    ),
    "keeps-recruiter-links-to-report": (
        ["https://www.linkedin.com/talent/profile/AEMAAAB"],
        ["https://www.linkedin.com/talent/profile/AEMAAAB"],
    ),
    "skips-lookalike-hosts": (["notlinkedin.com/in/sample-person", "someone@linkedin.com"], []),
    "nothing": (["", "no links here"], []),
}


@pytest.mark.parametrize(("texts", "expected"), FOUND.values(), ids=FOUND.keys())
def test_find_linkedin_urls_picks_profile_links_out_of_ats_fields(texts: list[str], expected: list[str]) -> None:
    assert find_linkedin_urls(texts) == expected


VANITY_IDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-éüñ", min_size=3, max_size=40)
MEMBER_IDS = st.from_regex(r"AC[ow]AA[A-Za-z0-9_-]{20,40}", fullmatch=True)
PUB_PARTS = st.tuples(VANITY_IDS, *[st.from_regex(r"[0-9a-f]{1,3}", fullmatch=True)] * 3)
PROFILE_URLS = st.one_of(
    VANITY_IDS.map(lambda vanity: f"https://www.linkedin.com/in/{vanity}"),
    MEMBER_IDS.map(lambda member: f"linkedin.com/in/{member}/"),
    MEMBER_IDS.map(lambda member: f"https://www.linkedin.com/profile/view?id={member}"),
    st.from_regex(r"[0-9]{1,12}", fullmatch=True).map(lambda num: f"linkedin.com/profile/view?id={num}"),
    PUB_PARTS.map(lambda parts: "https://uk.linkedin.com/pub/" + "/".join(parts)),
)


@PROPERTY
@given(url=PROFILE_URLS)
def test_normalize_linkedin_url_is_idempotent_through_its_clean_url(url: str) -> None:
    key = normalize_linkedin_url(url)

    assert normalize_linkedin_url(key.url) == key
    assert normalize_linkedin_url(key.value) == key


@PROPERTY
@given(
    vanity=VANITY_IDS,
    www=st.booleans(),
    slash=st.booleans(),
    tracking=st.none() | st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", max_size=20),
    upper=st.booleans(),
    encoded=st.booleans(),
)
def test_normalize_linkedin_url_ignores_host_slash_tracking_and_case(
    vanity: str, www: bool, slash: bool, tracking: str | None, upper: bool, encoded: bool
) -> None:
    written = vanity.upper() if upper else vanity
    url = "".join(
        [
            "https://",
            "www." if www else "",
            "linkedin.com/in/",
            quote(written) if encoded else written,
            "/" if slash else "",
            f"?trk={tracking}" if tracking is not None else "",
        ]
    )

    assert normalize_linkedin_url(url) == normalize_linkedin_url(f"linkedin.com/in/{vanity}")


@PROPERTY
@given(text=st.text() | st.text().map(lambda tail: f"https://www.linkedin.com/{tail}"))
def test_normalize_linkedin_url_gives_a_key_or_a_profile_url_error_for_any_text(text: str) -> None:
    try:
        key = normalize_linkedin_url(text)
    except ProfileUrlError as error:
        assert error.reason
    else:
        assert key.value.startswith("linkedin.com/")
