"""Whether stored text or JSON names a person: every spelling, whole values only, as sure as the row asks."""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain.traces import Reach, Traces, unescape

ADA = Traces.of(emails=["Ada@Example.com"], phones=["+14155550100"], linkedin=["linkedin.com/in/ada-l"],
                members=["urn:li:person:AbC"], ids=["53000001", "69000001"], names=[("Jürgen", "Weiß")],
                local_applications=[5])
LIVE, RECORD, FINISHED = Reach.LIVE, Reach.RECORD, Reach.FINISHED


@pytest.mark.parametrize(("value", "reach", "named"), [
    ("mailto:ADA@example.com", RECORD, True),
    ("xada@example.com", RECORD, False),  # another address ending the same way
    ("ada@example.com.au", RECORD, False),
    ("xada@example.com and ada@example.com", RECORD, True),
    ("https://uk.linkedin.com/in/ada-l/?trk=x", RECORD, True),
    ("https:\\/\\/www.linkedin.com\\/in\\/ada-l", RECORD, True),  # a vendor escaping slashes
    ("linkedin.com/in/ada-lovelace", RECORD, False),
    ("tel:14155550100", RECORD, True),
    ("+141555501001", RECORD, False),
    ('{"id": 53000001}', RECORD, True),
    ('{"id": 530000011}', RECORD, False),
    ('{"pair": "53000001|42"}', RECORD, True),
    ("J\\u00fcrgen Wei\\u00df moved to Onsite", RECORD, False),  # a name alone is not enough for history
    ("J\\u00fcrgen Wei\\u00df moved to Onsite", FINISHED, True),  # ... but it is for a message sent
    ("JÜRGEN   WEISS moved", FINISHED, True),
    ("AJürgen Weiß", FINISHED, False),
    ({"first_name": "JÜRGEN", "last_name": "weiß"}, FINISHED, True),  # first and last name apart, in JSON
    ('{"first_name": "J\\u00dcRGEN", "last_name": "WEISS"}', FINISHED, True),
    ({"first_name": "Jürgen", "last_name": "Weißer"}, FINISHED, False),
    ({"person_id": "53000001"}, LIVE, True),  # pending work: an id counts where it names a person
    ('{"person_id": 53000001}', LIVE, True),
    ({"found": 53000001}, LIVE, False),
    ({"application": 5}, LIVE, True),  # a queued push of their (local) application
    ({"application": 55}, LIVE, False),
    ({"prospect": {"emails": ["ada@example.com"]}}, LIVE, True),
    ({"prospect": {"first_name": "Jürgen", "last_name": "Weiß"}}, LIVE, False),  # a namesake's work stays
    ("sync:acme:export:r1:urn:li:person:abc", LIVE, True),
    ("urn:li:person:abcd", LIVE, False),
    (None, RECORD, False),
])
def test_traces_name_a_person_as_sure_as_the_row_asks(value: Any, reach: Reach, named: bool) -> None:
    assert ADA.mentions(value, reach) is named
    if named and isinstance(value, str):
        assert ADA.may_mention(value), "the quick test lets every match through"


def test_traces_like_patterns_cover_every_spelling_of_every_value() -> None:
    patterns = ADA.patterns(FINISHED)
    for expected in ("%ada@example.com%", "%14155550100%", "%linkedin.com/in/ada-l%",
                     "%linkedin.com\\/in\\/ada-l%", "%urn:li:person:abc%", "%53000001%", "%j_rgen%",
                     "%j\\u____rgen%"):
        assert expected in patterns
    assert not any("j_rgen" in p for p in ADA.patterns(RECORD)), "names narrow only finished rows"
    assert '%"application": 5}%' in ADA.patterns(LIVE)


def test_traces_of_many_people_are_searched_as_one() -> None:
    many = Traces.of(emails=[f"p{i}@example.org" for i in range(500)],
                     ids=[str(53_000_000 + i) for i in range(500)])
    assert many.mentions('{"emails": ["p499@example.org"]}', RECORD)
    assert not many.mentions('{"emails": ["p4990@example.org"], "id": 530000001}', RECORD)
    assert (ADA | many).mentions("ada@example.com", RECORD)


def test_unescape_decodes_json_escapes() -> None:
    assert unescape("J\\u00fcrgen \\u003cb\\u003e https:\\/\\/x") == "Jürgen <b> https://x"
