"""Duplicate matching: every normalization and rule, table by table, then blocking, clustering and pairs."""

from __future__ import annotations

import pytest

from bot.domain.employers import EmployerLevel, compare_employers, normalize_employer, prepare_employer
from bot.domain.matching import (
    APART_BELOW,
    Confidence,
    Match,
    MatchRun,
    PersonRecord,
    blocking_keys,
    cluster,
    compare,
    compare_each,
    find_matches,
    proposed_pairs,
)
from bot.domain.names import NameLevel, compare_names, fold, prepare_name, skeleton, split_full_name
from bot.domain.nicknames import canonical_given_name, same_given_name

R = PersonRecord

# --- emails -------------------------------------------------------------------------------------------------

SAME_MAILBOX = {
    "case": ("Jane.Doe@Example.COM", "jane.doe@example.com"),
    "gmail-dots": ("jane.doe@gmail.com", "janedoe@gmail.com"),
    "gmail-moved-dot": ("ja.nedoe@gmail.com", "jane.doe@gmail.com"),
    "gmail-plus-tag": ("jane.doe+jobs@gmail.com", "jane.doe@gmail.com"),
    "googlemail": ("jane.doe@googlemail.com", "janedoe@gmail.com"),
    "gmail-all-at-once": ("JANE.DOE+LinkedIn@GoogleMail.com", "janedoe@gmail.com"),
    "mailto": ("mailto:Jane@Example.com", "jane@example.com"),
    "display-name": ("Jane Doe <jane@example.com>", "jane@example.com"),
    "whitespace": ("  jane@example.com ", "jane@example.com"),
}
OTHER_MAILBOX = {
    "dots-count-elsewhere": ("jane.doe@example.com", "janedoe@example.com"),
    "tags-count-elsewhere": ("jane+jobs@example.com", "jane@example.com"),
    "other-domain": ("jane@example.com", "jane@example.org"),
}


@pytest.mark.parametrize(("a", "b"), SAME_MAILBOX.values(), ids=SAME_MAILBOX.keys())
def test_emails_that_reach_one_mailbox_are_the_same_email(a: str, b: str) -> None:
    match = compare(R("1", "Jane", "Doe", emails=(a,)), R("2", "Jane", "Doe", emails=(b,)))

    assert match is not None and match.confidence is Confidence.CERTAIN
    assert "same email" in match.reasons
    assert blocking_keys(R("1", emails=(a,))) == blocking_keys(R("2", emails=(b,)))


@pytest.mark.parametrize(("a", "b"), OTHER_MAILBOX.values(), ids=OTHER_MAILBOX.keys())
def test_emails_of_other_mailboxes_are_not_the_same_email(a: str, b: str) -> None:
    match = compare(R("1", "Jane", "Doe", emails=(a,)), R("2", "Mark", "Lane", emails=(b,)))

    assert match is None
    assert blocking_keys(R("1", emails=(a,))).isdisjoint(blocking_keys(R("2", emails=(b,))))


@pytest.mark.parametrize("bad", ["jane@", "@example.com", "not an email", "jane@example", ""])
def test_a_malformed_email_is_ignored_not_an_error(bad: str) -> None:
    record = R("1", "Jane", "Doe", emails=(bad, "jane@example.com"))

    assert blocking_keys(record) >= {"em:jane@example.com"}
    assert not any(key.startswith("em:") and key != "em:jane@example.com" for key in blocking_keys(record))


# --- phones -------------------------------------------------------------------------------------------------

PHONES = {
    "us-parentheses": ("(415) 555-0134", "US", "+14155550134"),
    "us-dashes": ("415-555-0134", "US", "+14155550134"),
    "us-dots": ("415.555.0134", "US", "+14155550134"),
    "us-spaces": ("415 555 0134", "US", "+14155550134"),
    "us-digits": ("4155550134", "US", "+14155550134"),
    "us-trunk-one": ("1-415-555-0134", "US", "+14155550134"),
    "us-international": ("+1 415 555 0134", "US", "+14155550134"),
    "us-international-parentheses": ("+1 (415) 555-0134", "US", "+14155550134"),
    "us-e164": ("+14155550134", "GB", "+14155550134"),
    "us-tel-uri": ("tel:+1-415-555-0134", "US", "+14155550134"),
    "gb-national": ("020 7946 0958", "GB", "+442079460958"),
    "gb-international": ("+44 20 7946 0958", "US", "+442079460958"),
    "de-national": ("030 901820", "DE", "+4930901820"),
    "de-international": ("+49 30 901820", "US", "+4930901820"),
    "de-dashes": ("+49-30-901820", "US", "+4930901820"),
}


@pytest.mark.parametrize(("raw", "region", "e164"), PHONES.values(), ids=PHONES.keys())
def test_phones_in_any_format_become_e164_keys(raw: str, region: str, e164: str) -> None:
    assert f"ph:{e164}" in blocking_keys(R("1", "Jane", "Doe", phones=(raw,)), region=region)


@pytest.mark.parametrize("bad", ["12345", "not a phone", "+1 000 000 0000", "020 7946 0958", "+" + "9" * 70])
def test_a_malformed_phone_is_ignored_not_an_error(bad: str) -> None:
    keys = blocking_keys(R("1", "Jane", "Doe", phones=(bad,)), region="US")

    assert not any(key.startswith("ph:") for key in keys)


def test_the_same_phone_written_two_ways_matches() -> None:
    match = compare(R("1", "Jane", "Doe", phones=("(415) 555-0134",)),
                    R("2", "Jane", "Doe", phones=("+1 415.555.0134",)))

    assert match is not None and match.confidence is Confidence.CERTAIN and "same phone" in match.reasons


def test_an_unknown_phone_region_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="region"):
        blocking_keys(R("1", phones=("415 555 0134",)), region="XX")
    with pytest.raises(ValueError, match="region"):
        find_matches([R("1")], region="XX")


# --- LinkedIn profile URLs ----------------------------------------------------------------------------------

SAME_PROFILE = {
    "canonical": "https://www.linkedin.com/in/jane-doe-42/",
    "no-slash": "https://www.linkedin.com/in/jane-doe-42",
    "no-scheme-tracking": "linkedin.com/in/Jane-Doe-42?trk=public_profile_browsemap",
    "country-host": "http://uk.linkedin.com/in/jane-doe-42",
    "mobile-lite": "https://www.linkedin.com/mwlite/in/jane-doe-42",
    "mobile-host": "https://m.linkedin.com/in/jane-doe-42",
    "subdomain-query": "https://de.linkedin.com/in/jane-doe-42/?originalSubdomain=de",
    "section": "https://www.linkedin.com/in/jane-doe-42/details/experience/",
    "upper-case": "HTTPS://WWW.LINKEDIN.COM/IN/JANE-DOE-42/",
    "www-only": "www.linkedin.com/in/jane-doe-42",
    "slack-link": "<https://www.linkedin.com/in/jane-doe-42|Jane>",
}


@pytest.mark.parametrize("url", SAME_PROFILE.values(), ids=SAME_PROFILE.keys())
def test_every_url_form_of_a_profile_is_the_same_linkedin_profile(url: str) -> None:
    linkedin = R("1", "Jane", "Doe", linkedin_urls=("https://www.linkedin.com/in/jane-doe-42",))
    ats = R("2", "Jane", "Doe", emails=("jane@example.com",), linkedin_urls=(url,))

    match = compare(linkedin, ats)

    assert match is not None and match.confidence is Confidence.CERTAIN
    assert match.reasons[0] == "same LinkedIn profile"
    assert "li:linkedin.com/in/jane-doe-42" in blocking_keys(ats)


@pytest.mark.parametrize("url", ["https://www.linkedin.com/company/acme/", "https://example.com/in/jane-doe-42",
                                 "https://www.linkedin.com/talent/profile/AEMAAAB", "see my profile"])
def test_what_is_not_a_profile_url_is_ignored(url: str) -> None:
    assert not any(key.startswith("li:") for key in blocking_keys(R("1", "Jane", "Doe", linkedin_urls=(url,))))


def test_different_profiles_are_not_the_same_linkedin_profile() -> None:
    one = R("1", "Jane", "Doe", linkedin_urls=("linkedin.com/in/jane-doe-42",))
    two = R("2", "Jane", "Doe", linkedin_urls=("linkedin.com/in/jane-doe-43",))

    assert compare(one, two) is None


# --- names --------------------------------------------------------------------------------------------------

NAMES = {
    # accents and transliteration
    "umlaut-dropped": (("Jürgen", "Müller"), ("Jurgen", "Muller"), NameLevel.SAME),
    "umlaut-spelled-out": (("Jürgen", "Müller"), ("Juergen", "Mueller"), NameLevel.SAME),
    "two-plain-spellings": (("Juergen", "Mueller"), ("Jurgen", "Muller"), NameLevel.SIMILAR),
    "sharp-s": (("Anna", "Strauß"), ("Anna", "Strauss"), NameLevel.SAME),
    "o-slash": (("Søren", "Øvergaard"), ("Soren", "Overgaard"), NameLevel.SAME),
    "o-slash-spelled-out": (("Søren", "Øvergaard"), ("Soeren", "Oevergaard"), NameLevel.SAME),
    "acute": (("José", "García"), ("Jose", "Garcia"), NameLevel.SAME),
    "diaeresis": (("Zoë", "Lefèvre"), ("Zoe", "Lefevre"), NameLevel.SAME),
    "l-stroke": (("Łukasz", "Wiśniewski"), ("Lukasz", "Wisniewski"), NameLevel.SAME),
    "case": (("JANE", "DOE"), ("jane", "doe"), NameLevel.SAME),
    "apostrophe": (("Sean", "O'Brien"), ("Sean", "OBrien"), NameLevel.SAME),
    "particle-spacing": (("Eva", "van der Berg"), ("Eva", "Vanderberg"), NameLevel.SAME),
    "titles-and-suffixes": (("Dr. John", "Smith Jr."), ("John", "Smith"), NameLevel.SAME),
    # nicknames and spellings of one given name
    "bob": (("Bob", "Smith"), ("Robert", "Smith"), NameLevel.SAME),
    "liz": (("Liz", "Smith"), ("Elizabeth", "Smith"), NameLevel.SAME),
    "bill": (("Bill", "Smith"), ("William", "Smith"), NameLevel.SAME),
    "alex": (("Alex", "Smith"), ("Alexander", "Smith"), NameLevel.SAME),
    "kate": (("Kate", "Smith"), ("Katherine", "Smith"), NameLevel.SAME),
    "mike": (("Mike", "Smith"), ("Michael", "Smith"), NameLevel.SAME),
    "jim": (("Jim", "Smith"), ("James", "Smith"), NameLevel.SAME),
    "peggy": (("Peggy", "Smith"), ("Margaret", "Smith"), NameLevel.SAME),
    "tony": (("Tony", "Smith"), ("Anthony", "Smith"), NameLevel.SAME),
    "two-nicknames": (("Bobby", "Smith"), ("Rob", "Smith"), NameLevel.SAME),
    "catherine-katherine": (("Catherine", "Smith"), ("Katherine", "Smith"), NameLevel.SAME),
    "sasha": (("Sasha", "Ivanov"), ("Aleksandr", "Ivanov"), NameLevel.SAME),
    # typos
    "given-transposed": (("Micheal", "Brown"), ("Michael", "Brown"), NameLevel.SIMILAR),
    "family-transposed": (("John", "Smtih"), ("John", "Smith"), NameLevel.SIMILAR),
    "letter-dropped": (("Jennifer", "Lopez"), ("Jenifer", "Lopez"), NameLevel.SIMILAR),
    "letter-doubled": (("Anthony", "Wagner"), ("Anthony", "Wagnner"), NameLevel.SIMILAR),
    "misspelt-nickname": (("Michel", "Brown"), ("Mike", "Brown"), NameLevel.SIMILAR),
    "middle-name-placement": (("Mary Ann", "Smith"), ("Mary", "Ann Smith"), NameLevel.SIMILAR),
    # swapped given and family names
    "swapped": (("Smith", "John"), ("John", "Smith"), NameLevel.SAME),
    "swapped-nickname": (("Byrne", "Jim"), ("James", "Byrne"), NameLevel.SAME),
    "swapped-typo": (("Rossi", "Nocholas"), ("Nicholas", "Rossi"), NameLevel.SIMILAR),
    # missing or shortened given names
    "given-missing": (("", "Smith"), ("John", "Smith"), NameLevel.PARTIAL),
    "given-initial": (("J.", "Smith"), ("John", "Smith"), NameLevel.PARTIAL),
    "given-missing-swapped": (("", "Hall"), ("Hall", "Joseph"), NameLevel.PARTIAL),
    # different people
    "other-given-name": (("John", "Smith"), ("Mary", "Smith"), NameLevel.OTHER_FIRST),
    "known-different-names": (("Alexander", "Smith"), ("Alexandra", "Smith"), NameLevel.OTHER_FIRST),
    "francis-frances": (("Francis", "Lee"), ("Frances", "Lee"), NameLevel.OTHER_FIRST),
    "clashing-initial": (("M.", "Smith"), ("John", "Smith"), NameLevel.OTHER_FIRST),
    "two-initials": (("D.", "Tanaka"), ("D.", "Tanaka"), NameLevel.PARTIAL),
    "other-family-name": (("John", "Smith"), ("John", "Brown"), NameLevel.OTHER_LAST),
    "different": (("John", "Smith"), ("Mary", "Brown"), NameLevel.DIFFERENT),
    "no-name": (("", ""), ("John", "Smith"), NameLevel.UNKNOWN),
}


@pytest.mark.parametrize(("a", "b", "level"), NAMES.values(), ids=NAMES.keys())
def test_names_compare_through_accents_nicknames_typos_and_swaps(
        a: tuple[str, str], b: tuple[str, str], level: NameLevel) -> None:
    assert compare_names(prepare_name(*a), prepare_name(*b)).level is level
    assert compare_names(prepare_name(*b), prepare_name(*a)).level is level, "the comparison is symmetric"


FOLDS = {
    "umlauts": ("Jürgen Müller", ("jurgen muller", "juergen mueller")),
    "sharp-s": ("Strauß", ("strauss",)),
    "o-slash": ("Søren", ("soren", "soeren")),
    "ae": ("Ærø", ("aero", "aeroe")),
    "accents": ("François Lefèvre", ("francois lefevre",)),
    "hyphen": ("Anne-Marie", ("anne marie",)),
    "apostrophe": ("O'Brien", ("obrien",)),
}


@pytest.mark.parametrize(("raw", "spellings"), FOLDS.values(), ids=FOLDS.keys())
def test_fold_gives_plain_spellings(raw: str, spellings: tuple[str, ...]) -> None:
    assert fold(raw) == spellings


SKELETONS = {
    "umlaut-spelled-out": ("juergen", "jurgen"),
    "y-for-i": ("smyth", "smith"),
    "german-spelling": ("schmidt", "smith"),
    "c-for-k": ("catherine", "katherine"),
    "ph-for-f": ("stephen", "stefen"),
    "doubled": ("phillips", "philips"),
}


@pytest.mark.parametrize(("a", "b"), SKELETONS.values(), ids=SKELETONS.keys())
def test_sounds_alike_spellings_share_a_skeleton(a: str, b: str) -> None:
    assert skeleton(a) == skeleton(b)


SPLITS = {
    "first-last": ("John Smith", ("John", "Smith")),
    "last-comma-first": ("Smith, John", ("John", "Smith")),
    "middle-name": ("Mary Ann Smith", ("Mary", "Ann Smith")),
    "one-word": ("Cher", ("", "Cher")),
    "credential-after-comma": ("John Smith, PhD", ("John", "Smith")),
    "extra-spaces": ("  John   Smith ", ("John", "Smith")),
}


@pytest.mark.parametrize(("raw", "parts"), SPLITS.values(), ids=SPLITS.keys())
def test_split_full_name(raw: str, parts: tuple[str, str]) -> None:
    assert split_full_name(raw) == parts


def test_nickname_table() -> None:
    assert canonical_given_name("bob") == "robert"
    assert canonical_given_name("alex") == "alexander"
    assert canonical_given_name("unknown") == "unknown"
    assert same_given_name("alex", "alexandra") and same_given_name("alex", "alexander")
    assert not same_given_name("alexander", "alexandra")


# --- employers ----------------------------------------------------------------------------------------------

LEGAL_FORMS = ["Acme Inc.", "Acme Inc", "Acme, Inc.", "Acme LLC", "Acme Ltd.", "Acme Ltd", "Acme GmbH", "Acme AG",
               "Acme S.A.", "Acme SAS", "Acme B.V.", "Acme Co.", "Acme Corp.", "Acme Corporation", "Acme Limited",
               "Acme plc", "ACME", "The Acme Company", "Acme GmbH & Co. KG"]


@pytest.mark.parametrize("written", LEGAL_FORMS)
def test_employers_compare_without_their_legal_form(written: str) -> None:
    assert normalize_employer(written) == "acme"
    assert compare_employers(prepare_employer(written), prepare_employer("Acme")) is EmployerLevel.SAME


EMPLOYERS = {
    "initialism": ("International Business Machines Corporation", "IBM", EmployerLevel.SAME),
    "hyphenated-initialism": ("Hewlett-Packard", "HP", EmployerLevel.SAME),
    "initialism-of-three": ("Hewlett Packard Enterprise", "HPE", EmployerLevel.SAME),
    "initialism-skipping-of": ("Bank of America", "BoA", EmployerLevel.SAME),
    "ampersand": ("AT&T Inc.", "AT and T", EmployerLevel.SAME),
    "punctuation": ("Acme-Robotics, Inc.", "Acme Robotics GmbH", EmployerLevel.SAME),
    "german-spelled-out": ("Müller & Söhne GmbH", "Mueller und Soehne", EmployerLevel.SAME),
    "longer-name": ("Acme", "Acme Robotics", EmployerLevel.SIMILAR),
    "run-together": ("Price Waterhouse", "PricewaterhouseCoopers", EmployerLevel.SIMILAR),
    "misspelt": ("Microsoft", "Microsfot", EmployerLevel.SIMILAR),
    "different": ("Acme", "Globex", EmployerLevel.DIFFERENT),
    "initials-of-another": ("IBM", "Initech Business Machines Ltd", EmployerLevel.SAME),
    "short-and-unrelated": ("HP", "Acme", EmployerLevel.DIFFERENT),
}


@pytest.mark.parametrize(("a", "b", "level"), EMPLOYERS.values(), ids=EMPLOYERS.keys())
def test_employers_compare_through_initialisms_and_spellings(a: str, b: str, level: EmployerLevel) -> None:
    assert compare_employers(prepare_employer(a), prepare_employer(b)) is level
    assert compare_employers(prepare_employer(b), prepare_employer(a)) is level


@pytest.mark.parametrize("blank", ["", "   ", "Inc."])
def test_an_employer_with_no_name_left_is_unknown(blank: str) -> None:
    assert prepare_employer(blank) is None
    assert compare_employers(prepare_employer(blank), prepare_employer("Acme")) is EmployerLevel.UNKNOWN


# --- matching rules -----------------------------------------------------------------------------------------

LINKEDIN = "https://www.linkedin.com/in/jane-doe-42/"
WORK = {"employer": "Acme Robotics GmbH", "title": "Senior Software Engineer", "location": "Berlin, Germany"}

RULES: dict[str, tuple[PersonRecord, PersonRecord, Confidence | None, str]] = {
    "profile-and-name": (R("1", "Jane", "Doe", linkedin_urls=(LINKEDIN,)),
                         R("2", "Jane", "Doe", linkedin_urls=("linkedin.com/in/JANE-DOE-42?trk=x",)),
                         Confidence.CERTAIN, "same LinkedIn profile"),
    "profile-new-given-name": (R("1", "Kevin", "Wang", linkedin_urls=(LINKEDIN,)),
                               R("2", "Xiaoming", "Wang", linkedin_urls=(LINKEDIN,)),
                               Confidence.LIKELY, "same LinkedIn profile"),
    "profile-other-person-entirely": (R("1", "Kevin", "Wang", linkedin_urls=(LINKEDIN,)),
                                      R("2", "Maria", "Lopez", linkedin_urls=(LINKEDIN,)),
                                      Confidence.POSSIBLE, "different names"),
    "email-alias-and-nickname": (R("1", "Bob", "Smith", emails=("bob.smith@gmail.com",)),
                                 R("2", "Robert", "Smith", emails=("BobSmith+jobs@googlemail.com",)),
                                 Confidence.CERTAIN, "same email"),
    "email-given-name-missing": (R("1", "", "Smith", emails=("jsmith@example.com",)),
                                 R("2", "John", "Smith", emails=("jsmith@example.com",)),
                                 Confidence.CERTAIN, "same email"),
    "email-married-name": (R("1", "Jane", "Smith", emails=("jane@example.com",)),
                           R("2", "Jane", "Doe", emails=("jane@example.com",)),
                           Confidence.LIKELY, "same given name, different family name"),
    "phone-and-name": (R("1", "Jane", "Doe", phones=("(415) 555-0134",)),
                       R("2", "Jane", "Doe", phones=("+1 415 555 0134",)),
                       Confidence.CERTAIN, "same phone"),
    "phone-relatives": (R("1", "John", "Smith", phones=("(415) 555-0134",)),
                        R("2", "Mary", "Smith", phones=("4155550134",)),
                        Confidence.POSSIBLE, "same family name, different given name"),
    "phone-given-missing": (R("1", "", "Smith", phones=("(415) 555-0134",)),
                            R("2", "John", "Smith", phones=("4155550134",)),
                            Confidence.POSSIBLE, "same phone"),
    "phone-given-missing-same-work": (R("1", "", "Smith", phones=("(415) 555-0134",), employer="Acme"),
                                      R("2", "John", "Smith", phones=("4155550134",), employer="Acme Inc."),
                                      Confidence.LIKELY, "same phone"),
    "email-and-phone-typo-nickname": (R("1", "Mikke", "Williams", emails=("mw@example.com",),
                                        phones=("4155550134",)),
                                      R("2", "Michael", "Williams", emails=("mw@example.com",),
                                        phones=("4155550134",)),
                                      Confidence.CERTAIN, "similar name"),
    "job-change-keeps-the-email": (R("1", "Jane", "Doe", emails=("jane@example.com",), employer="Globex"),
                                   R("2", "Jane", "Doe", emails=("jane@example.com",), employer="Acme"),
                                   Confidence.CERTAIN, "same email"),
    "email-but-two-profiles": (R("1", "Jane", "Doe", emails=("jane@example.com",), linkedin_urls=(LINKEDIN,)),
                               R("2", "Jane", "Doe", emails=("jane@example.com",),
                                 linkedin_urls=("linkedin.com/in/jane-doe-99",)),
                               Confidence.LIKELY, "but different LinkedIn profiles"),
    "transliteration-same-work": (R("1", "Jürgen", "Müller", linkedin_urls=(LINKEDIN,), **WORK),
                                  R("2", "Juergen", "Mueller", emails=("jm@example.com",),
                                    employer="ACME ROBOTICS", title="Sr. Software Engineer", location="Berlin"),
                                  Confidence.LIKELY, "same name + same employer + same title + same location"),
    "typo-same-employer-and-title": (R("1", "Jennifer", "Lopez", employer="Acme", title="Data Scientist"),
                                     R("2", "Jenifer", "Lopez", employer="Acme, Inc.", title="Data Scientist"),
                                     Confidence.LIKELY, "similar name + same employer + same title"),
    "swapped-same-work": (R("1", "Smith", "John", **WORK), R("2", "John", "Smith", **WORK),
                          Confidence.LIKELY, "(given and family names swapped)"),
    "initialism-employer": (R("1", "Jane", "Doe", employer="International Business Machines",
                              location="Austin, TX"),
                            R("2", "Jane", "Doe", employer="IBM", location="Austin, Texas Metropolitan Area"),
                            Confidence.LIKELY, "same name + same employer + same location"),
    "namesakes-at-one-employer": (R("1", "John", "Smith", employer="Acme", title="Sales Manager",
                                    location="Boston, MA"),
                                  R("2", "John", "Smith", employer="Acme Inc.", title="Software Engineer",
                                    location="Denver, CO"),
                                  Confidence.POSSIBLE, "same name + same employer"),
    "namesakes-with-two-profiles": (R("1", "John", "Smith", employer="Acme", title="Software Engineer",
                                      linkedin_urls=("linkedin.com/in/john-smith-1",)),
                                    R("2", "John", "Smith", employer="Acme", title="Software Engineer",
                                      linkedin_urls=("linkedin.com/in/john-smith-2",)),
                                    Confidence.POSSIBLE, "but different LinkedIn profiles"),
    "common-name-elsewhere": (R("1", "John", "Smith", employer="Acme", title="Sales Manager", location="Boston"),
                              R("2", "John", "Smith", employer="Globex", title="Nurse", location="Denver"),
                              None, ""),
    "job-change-same-trade-and-town": (R("1", "Jane", "Doe", employer="Globex", **{k: WORK[k] for k in
                                                                                    ("title", "location")}),
                                       R("2", "Jane", "Doe", **WORK),
                                       Confidence.POSSIBLE, "different employer (a job change?)"),
    "no-employer-same-title-and-town": (R("1", "Jane", "Doe", title="Data Scientist", location="Paris"),
                                        R("2", "Jane", "Doe", employer="Acme", title="Data Scientist",
                                          location="Paris, France"),
                                        Confidence.POSSIBLE, "same name + same title + same location"),
    "given-missing-same-work": (R("1", "", "Quintero", **WORK), R("2", "Samuel", "Quintero", **WORK),
                                Confidence.POSSIBLE, "same family name (given name missing or an initial)"),
    "name-only": (R("1", "Jane", "Doe"), R("2", "Jane", "Doe"), None, ""),
    "nothing-alike": (R("1", "Jane", "Doe", **WORK), R("2", "Mark", "Lane", **WORK), None, ""),
}


@pytest.mark.parametrize(("a", "b", "confidence", "reason"), RULES.values(), ids=RULES.keys())
def test_compare_gives_the_confidence_and_says_why(a: PersonRecord, b: PersonRecord, confidence: Confidence | None,
                                                   reason: str) -> None:
    match = compare(a, b)
    backwards = compare(b, a)

    if confidence is None:
        assert match is None and backwards is None
        return
    assert match is not None and backwards is not None
    assert (match.a, match.b) == ("1", "2") and (backwards.a, backwards.b) == ("2", "1")
    assert match.confidence is confidence and backwards.confidence is confidence
    assert any(reason in r for r in match.reasons), match.reasons
    low, high = {Confidence.CERTAIN: (0.9, 1.0), Confidence.LIKELY: (0.75, 0.9),
                 Confidence.POSSIBLE: (0.5, 0.75)}[confidence]
    assert low <= match.score <= high


CONFLICTS = ["phone-relatives", "profile-other-person-entirely", "namesakes-with-two-profiles"]


@pytest.mark.parametrize("case", CONFLICTS)
def test_conflicting_evidence_scores_below_the_apart_line(case: str) -> None:
    a, b, _, _ = RULES[case]
    match = compare(a, b)

    assert match is not None and match.score < APART_BELOW


def test_namesakes_at_one_employer_are_at_most_possible_whatever_else_is_missing() -> None:
    base = {"first_name": "John", "last_name": "Smith", "employer": "Acme Inc."}
    for extra in ({}, {"title": "Sales Manager"}, {"location": "Boston"}):
        match = compare(R("1", **base, **extra), R("2", **{**base, "employer": "ACME"}, title="Nurse",
                                                   location="Denver"))
        assert match is not None and match.confidence is Confidence.POSSIBLE


CITIES = {
    "state-suffix": ("Boston, MA", "Boston, Massachusetts, United States"),
    "metro-area": ("Greater Seattle Area", "Seattle, WA"),
    "bay-area": ("San Francisco Bay Area", "San Francisco, CA"),
    "city-in-longer-name": ("New York, NY", "New York City Metropolitan Area"),
    "exonym": ("München, Bayern, Deutschland", "Munich, Bavaria, Germany"),
    "article": ("Den Haag", "The Hague, Netherlands"),
}


@pytest.mark.parametrize(("a", "b"), CITIES.values(), ids=CITIES.keys())
def test_one_city_written_two_ways_is_the_same_location(a: str, b: str) -> None:
    match = compare(R("1", "Jane", "Doe", employer="Acme", location=a), R("2", "Jane", "Doe", employer="Acme",
                                                                          location=b))

    assert match is not None and "same location" in match.reasons[0]


TITLES = {
    "seniority": ("Software Engineer", "Senior Software Engineer"),
    "abbreviation": ("Sr. Software Engineer", "Senior Software Engineer"),
    "initialism": ("SWE", "Software Engineer"),
    "vice-president": ("VP Engineering", "Vice President, Engineering"),
    "level": ("Software Engineer II", "Software Engineer"),
}


@pytest.mark.parametrize(("a", "b"), TITLES.values(), ids=TITLES.keys())
def test_one_title_written_two_ways_is_the_same_title(a: str, b: str) -> None:
    match = compare(R("1", "Jane", "Doe", employer="Acme", title=a), R("2", "Jane", "Doe", employer="Acme",
                                                                       title=b))

    assert match is not None and match.confidence is Confidence.LIKELY and "same title" in match.reasons[0]


def test_different_jobs_are_not_the_same_title() -> None:
    match = compare(R("1", "Jane", "Doe", employer="Acme", title="Engineer"),
                    R("2", "Jane", "Doe", employer="Acme", title="Sales Manager"))

    assert match is not None and match.confidence is Confidence.POSSIBLE and "same title" not in match.reasons[0]


# --- blocking -----------------------------------------------------------------------------------------------

def test_blocking_keys_are_few_and_short() -> None:
    crowded = R("1", "Jane", "Doe", emails=tuple(f"jane{i}@example.com" for i in range(5)),
                phones=("4155550134", "4155550135", "4155550136"),
                linkedin_urls=(LINKEDIN, "linkedin.com/in/" + "x" * 90), employer="Acme")

    keys = blocking_keys(crowded)

    assert 1 <= len(keys) <= 8
    assert all(len(key) <= 64 for key in keys)
    assert {"li:linkedin.com/in/jane-doe-42", "em:jane0@example.com", "ph:+14155550134"} <= keys


def test_a_record_with_nothing_to_go_by_has_no_keys() -> None:
    assert blocking_keys(R("1")) == frozenset()


SHARE_A_KEY = {
    "nickname": (R("1", "Bob", "Smith"), R("2", "Robert", "Smith")),
    "transliteration": (R("1", "Jürgen", "Müller"), R("2", "Juergen", "Mueller")),
    "given-typo": (R("1", "Mcihael", "Brown"), R("2", "Michael", "Brown")),
    "family-typo": (R("1", "Anna", "Schmdit"), R("2", "Anna", "Schmidt")),
    "swapped": (R("1", "Smith", "John"), R("2", "John", "Smith")),
    "swapped-nickname": (R("1", "Byrne", "Jim"), R("2", "James", "Byrne")),
    "given-missing-same-employer": (R("1", "", "Smith", employer="Acme Inc."), R("2", "John", "Smith",
                                                                                 employer="ACME")),
    "initial-same-employer": (R("1", "J.", "Smith", employer="Acme"), R("2", "John", "Smith", employer="Acme")),
}


@pytest.mark.parametrize(("a", "b"), SHARE_A_KEY.values(), ids=SHARE_A_KEY.keys())
def test_variants_of_one_name_share_a_blocking_key(a: PersonRecord, b: PersonRecord) -> None:
    assert not blocking_keys(a).isdisjoint(blocking_keys(b))


# --- find_matches -------------------------------------------------------------------------------------------

def test_find_matches_lists_each_pair_once_earlier_record_first() -> None:
    records = [R("z", "Jane", "Doe", emails=("jane@example.com",)), R("a", "Jane", "Doe", phones=("4155550134",)),
               R("m", "Jane", "Doe", emails=("JANE@example.com",), phones=("415 555 0134",))]

    matches = find_matches(records)

    assert sorted((m.a, m.b) for m in matches) == [("a", "m"), ("z", "m")]


def test_find_matches_reports_progress_up_to_the_record_count() -> None:
    seen: list[int] = []
    records = [R(str(i), "Jane", "Doe", emails=(f"j{i % 3}@example.com",)) for i in range(10)]

    find_matches(records, progress=seen.append)

    assert seen and seen[-1] == 10 and seen == sorted(seen)


def test_find_matches_refuses_repeated_record_ids() -> None:
    with pytest.raises(ValueError, match="used twice"):
        find_matches([R("1", "Jane", "Doe"), R("1", "Mark", "Lane")])


def test_a_phone_shared_by_many_records_is_a_switchboard_not_a_person() -> None:
    records = [R(str(i), first, "Smith", phones=("+1 415 555 0100",))
               for i, first in enumerate(["John", "Mary", "Anna", "Peter", "Lena", "Omar", "Wei"])]

    matches = find_matches(records)

    assert all("same phone" not in m.reasons for m in matches)


def test_find_matches_knows_a_rare_name_from_a_common_one() -> None:
    rare = [R("1", "Xanthe", "Quellmore", title="Data Scientist", location="Paris"),
            R("2", "Xanthe", "Quellmore", employer="Acme", title="Data Scientist", location="Paris")]
    common = [R(str(i), "John", "Smith", employer=f"Employer {i}", title="Data Scientist", location="Paris")
              for i in range(3, 12)]
    common[0] = R("3", "John", "Smith", title="Data Scientist", location="Paris")

    matches = {(m.a, m.b): m for m in find_matches(rare + common)}

    assert matches[("1", "2")].confidence is Confidence.LIKELY, "a rare name, same title and town"
    assert all(m.confidence is Confidence.POSSIBLE for key, m in matches.items() if "3" in key)


def test_namesakes_of_a_common_name_at_one_employer_are_not_even_proposed() -> None:
    cities = ["Boston", "Denver", "Austin", "Seattle", "Chicago", "Miami", "Dallas", "Tampa"]
    common = [R(f"s{i}", "John", "Smith", employer="Acme", title=f"Role {i}", location=city)
              for i, city in enumerate(cities)]
    rare = [R("q1", "Xanthe", "Quellmore", employer="Acme", title="Nurse", location="Boston"),
            R("q2", "Xanthe", "Quellmore", employer="Acme", title="Buyer", location="Denver")]

    matches = find_matches(common + rare)

    assert [(m.a, m.b, m.confidence) for m in matches] == [("q1", "q2", Confidence.POSSIBLE)]


def test_a_record_that_fits_two_people_is_not_a_likely_match_of_either() -> None:
    work = {"employer": "Acme", "location": "Oslo"}
    records = [R("john", "John", "Vantorsk", title="Engineer", linkedin_urls=("linkedin.com/in/jv-1",), **work),
               R("anna", "Anna", "Vantorsk", title="Designer", linkedin_urls=("linkedin.com/in/av-2",), **work),
               R("who", "", "Vantorsk", emails=("v@example.com",), **work)]

    matches = find_matches(records)

    about_who = [m for m in matches if "who" in (m.a, m.b)]
    assert len(about_who) == 2
    assert all(m.confidence is Confidence.POSSIBLE and "fits more than one person" in m.reasons[-1]
               for m in about_who)


def test_match_run_slices_give_what_find_matches_gives() -> None:
    records = [R(str(i), name, "Doe", emails=(f"{name.lower()}@example.com",), employer="Acme", title="Engineer",
                 location="Oslo") for i, name in enumerate(["Jane", "Jane", "Jan", "Janet", "John", "Joan"])]
    run = MatchRun(records)
    middle = run.pairs // 2

    assert run.finish(run.compare(0, middle) + run.compare(middle, run.pairs)) == find_matches(records)


# --- clustering ---------------------------------------------------------------------------------------------

def m(a: str, b: str, score: float, confidence: Confidence = Confidence.CERTAIN) -> Match:
    return Match(a, b, score, confidence, ("test",))


def test_cluster_numbers_clusters_in_input_order_and_leaves_singletons_out() -> None:
    ids = ["a", "b", "c", "d", "e"]
    matches = [m("d", "e", 0.95), m("a", "c", 0.95), m("b", "c", 0.6, Confidence.POSSIBLE)]

    assert cluster(ids, matches) == {"a": 1, "c": 1, "d": 2, "e": 2}


def test_cluster_follows_certain_links_through_several_records() -> None:
    matches = [m("a", "b", 0.95), m("b", "c", 0.93), m("c", "d", 0.91)]

    assert cluster(list("abcd"), matches) == dict.fromkeys("abcd", 1)


def test_cluster_never_joins_records_whose_own_match_conflicts() -> None:
    # b shares a phone with a and an email with c, but a and c are two people (a conflicting pair)
    matches = [m("a", "b", 0.95), m("b", "c", 0.94), m("a", "c", 0.55, Confidence.POSSIBLE)]

    clusters = cluster(list("abc"), matches)

    assert clusters == {"a": 1, "b": 1}


def test_one_weak_link_does_not_chain_two_people() -> None:
    # two people of three records each, and one likely link between them that nothing else supports
    matches = [m("a1", "a2", 0.95), m("a2", "a3", 0.95), m("a1", "a3", 0.95),
               m("b1", "b2", 0.95), m("b2", "b3", 0.95), m("b1", "b3", 0.95),
               m("a3", "b1", 0.76, Confidence.LIKELY), m("a2", "b1", 0.65, Confidence.POSSIBLE),
               m("a1", "b2", 0.65, Confidence.POSSIBLE)]

    clusters = cluster(["a1", "a2", "a3", "b1", "b2", "b3"], matches)

    assert clusters["a1"] == clusters["a3"] != clusters["b1"] == clusters["b3"]


def test_a_likely_link_joins_when_the_rest_agrees() -> None:
    matches = [m("a1", "a2", 0.95), m("a2", "b", 0.8, Confidence.LIKELY), m("a1", "b", 0.7, Confidence.POSSIBLE)]

    assert cluster(["a1", "a2", "b"], matches) == {"a1": 1, "a2": 1, "b": 1}


def test_possible_matches_alone_make_no_cluster() -> None:
    assert cluster(["a", "b"], [m("a", "b", 0.7, Confidence.POSSIBLE)]) == {}


def test_relatives_sharing_a_home_phone_stay_apart_end_to_end() -> None:
    home = "+1 617 555 0188"
    records = [R("1", "John", "Okafor", emails=("john@example.com",), phones=(home,)),
               R("2", "John", "Okafor", emails=("john@example.com",), employer="Acme"),
               R("3", "Mary", "Okafor", phones=(home,), emails=("mary@example.com",)),
               R("4", "Mary", "Okafor", emails=("mary@example.com",), employer="Globex"),
               R("5", "", "Okafor", phones=(home,))]

    matches = find_matches(records)
    clusters = cluster([r.record_id for r in records], matches)

    assert clusters["1"] == clusters["2"] != clusters["3"] == clusters["4"]
    assert "5" not in clusters or clusters["5"] in (clusters["1"], clusters["3"])


# --- proposed pairs -----------------------------------------------------------------------------------------

def test_proposed_pairs_cover_every_two_records_of_a_cluster_and_say_what_links_them() -> None:
    records = [R("li", "Jim", "Okafor", linkedin_urls=(LINKEDIN,)),
               R("ats", "James", "Okafor", linkedin_urls=("linkedin.com/in/jane-doe-42",),
                 emails=("j@example.com",)),
               R("old", "J.", "Okafor", emails=("J@Example.com",)),
               R("far", "James", "Okafor", employer="Acme")]
    matches = find_matches(records)
    ids = [r.record_id for r in records]
    clusters = cluster(ids, matches)

    pairs = proposed_pairs(ids, matches, clusters)

    in_cluster = {(p.a, p.b): p for p, number in pairs if number is not None}
    assert set(in_cluster) == {("li", "ats"), ("li", "old"), ("ats", "old")}
    assert in_cluster[("li", "old")].reasons[0] == "linked through ats"
    assert in_cluster[("li", "old")].confidence is Confidence.CERTAIN
    assert all(number == 1 for _, number in pairs if number is not None)


def test_proposed_pairs_can_leave_out_the_possible_ones() -> None:
    records = [R("1", "John", "Smith", employer="Acme", title="Nurse"),
               R("2", "John", "Smith", employer="Acme", title="Sales Manager")]
    matches = find_matches(records)

    assert [p.confidence for p, _ in proposed_pairs(["1", "2"], matches, {})] == [Confidence.POSSIBLE]
    assert proposed_pairs(["1", "2"], matches, {}, min_confidence=Confidence.LIKELY) == []


def test_compare_each_is_compare_with_the_record_normalized_once() -> None:
    me = PersonRecord("new", "Kate", "Novak", employer="Brightline", title="Staff Engineer")
    others = [PersonRecord("1", "Katherine", "Novak", employer="Brightline Inc.", title="Staff Engineer"),
              PersonRecord("2", "Daniel", "Kim", employer="Brightline"),
              PersonRecord("3", "Kate", "Novak", employer="Harbor Labs", title="Designer")]
    expected = [m for other in others if (m := compare(other, me)) is not None]
    assert compare_each(me, others) == expected
    assert [m.a for m in expected][:1] == ["1"] and all(m.b == "new" for m in expected)
