"""`/candidate check` look-ups against people exported through the simulators, on every database backend."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select

from bot.lookup import Lookup, classify, find_people
from storage.models import Application
from tests.bot.world import SEATS, World, now_ms

pytestmark = pytest.mark.slow

JANE = {"firstName": "Jane", "lastName": "Doe", "profileUrl": "https://www.linkedin.com/in/jane-doe-42"}
JANE_ROE = {"firstName": "Jane", "lastName": "Roe", "profileUrl": "https://www.linkedin.com/in/jane-roe",
            "emailAddresses": ["jane.roe@example.com"]}
JURGEN = {"firstName": "Jürgen", "lastName": "Müller", "profileUrl": "https://www.linkedin.com/in/juergen-mueller"}
LIN = {"firstName": "Lin", "lastName": "Zhou", "profileUrl": "https://www.linkedin.com/in/lin-zhou",
       "emailAddresses": ["lin.zhou@example.com"]}


@pytest.fixture
def known(world: World) -> World:
    """Four people in Acme (Jane Doe on two jobs), Lin also in Northwind."""
    world.export("acme", [JANE, JANE_ROE, JURGEN, LIN], job="4401")
    world.export("northwind", [LIN], job="post-nw-platform")
    world.drain()
    world.export("acme", [JANE], job="4402")  # a second job: the bridge records this stage change
    world.drain()
    return world


def check(world: World, query: str, **kwargs: Any) -> Lookup:
    with Session(world.rt.engine) as session:
        return find_people(session, world.rt.app_config(), query, **kwargs)


def names(lookup: Lookup) -> list[tuple[str, str]]:
    return [(p.tenant_id, p.name) for p in lookup.people]


@pytest.mark.parametrize(("query", "kind", "term"), [
    ("<https://www.linkedin.com/in/Jane-Doe-42/|Jane>", "url", "linkedin.com/in/jane-doe-42"),
    ("uk.linkedin.com/in/jane-doe-42/de", "url", "linkedin.com/in/jane-doe-42"),
    ("recruiting@linkedin.com", "email", "recruiting@linkedin.com"),
    ("mailto:Jane@Example.com", "email", "jane@example.com"),
    ("  Ñúñez   O'Brien ", "name", "nunez o'brien"),
])
def test_classify_tells_urls_emails_and_names_apart(query: str, kind: str, term: str) -> None:
    assert classify(query) == (kind, term, None)


def test_find_people_by_any_form_of_the_profile_url(known: World) -> None:
    variants = [
        "https://www.linkedin.com/in/jane-doe-42",
        "https://linkedin.com/in/jane-doe-42/",
        "linkedin.com/in/jane-doe-42",
        "www.linkedin.com/in/jane-doe-42?trk=public_profile_browsemap",
        "HTTPS://WWW.LINKEDIN.COM/IN/JANE-DOE-42",
        "<https://www.linkedin.com/in/jane-doe-42/|linkedin.com/in/jane-doe-42>",
        "<https://www.linkedin.com/in/jane-doe-42>",
    ]
    for query in variants:
        lookup = check(known, query)
        assert (lookup.kind, lookup.problem) == ("url", None), query
        assert names(lookup) == [("acme", "Jane Doe")], query


def test_a_found_person_carries_applications_stage_change_and_links(known: World) -> None:
    (jane,) = check(known, "linkedin.com/in/jane-doe-42").people
    assert (jane.tenant_name, jane.ats, jane.pending, jane.attention) == ("Acme", "greenhouse", False, None)
    assert jane.ats_id and jane.ats_url and jane.ats_id in jane.ats_url
    assert jane.linkedin_url == "https://www.linkedin.com/in/jane-doe-42"
    assert sorted((a.job, a.status) for a in jane.applications) == [
        ("Data Engineer", "active"), ("Senior Backend Engineer", "active")]
    assert jane.applications[0].job == "Data Engineer", "the application moved last comes first"
    assert jane.applications[0].since is not None
    assert jane.last_stage_change is not None and jane.last_stage_change.source == "linkedin"
    assert jane.last_activity_at == jane.last_stage_change.at


def test_find_people_by_email_ignores_case_and_slack_mailto_links(known: World) -> None:
    for query in ("LIN.ZHOU@Example.COM", "<mailto:lin.zhou@example.com|lin.zhou@example.com>"):
        lookup = check(known, query)
        assert lookup.kind == "email" and lookup.term == "lin.zhou@example.com", query
        assert sorted(names(lookup)) == [("acme", "Lin Zhou"), ("northwind", "Lin Zhou")], query


@pytest.mark.parametrize("query", ["Jane Doe", "doe jane", "JANE DOE", "Doe"])
def test_find_people_by_name_in_any_order_and_case(known: World, query: str) -> None:
    lookup = check(known, query)
    assert lookup.kind == "name"
    assert names(lookup) == [("acme", "Jane Doe")]


def test_find_people_by_name_ignores_accents(known: World) -> None:
    for query in ("Jurgen", "jurgen muller", "MÜLLER", "Jürg"):
        assert names(check(known, query)) == [("acme", "Jürgen Müller")], query


def test_an_ambiguous_name_lists_everyone_it_matches(known: World) -> None:
    lookup = check(known, "jane")
    assert sorted(names(lookup)) == [("acme", "Jane Doe"), ("acme", "Jane Roe")]
    assert not lookup.truncated
    first = check(known, "jane", limit=1)
    assert len(first.people) == 1 and first.truncated


def test_strangers_are_not_found(known: World) -> None:
    for query in ("https://www.linkedin.com/in/somebody-else", "nobody@example.com", "Nobody Known", "Janet"):
        lookup = check(known, query)
        assert (lookup.people, lookup.problem) == ([], None), query


@pytest.mark.parametrize(("query", "says"), [
    ("https://www.linkedin.com/talent/profile/AEMAAABcd123", "LinkedIn Recruiter link"),
    ("https://www.linkedin.com/company/initech", "not a member profile"),
    ("jane@", "not an email address"),
    ("J", "letters of a name"),
    ("  ", "letters of a name"),
])
def test_unusable_queries_get_a_problem_and_no_search(known: World, query: str, says: str) -> None:
    lookup = check(known, query)
    assert lookup.problem is not None and says in lookup.problem
    assert lookup.people == []


def test_only_the_allowed_tenants_are_searched(known: World) -> None:
    url = "https://www.linkedin.com/in/lin-zhou"
    assert names(check(known, url, tenant_ids=["northwind"])) == [("northwind", "Lin Zhou")]
    assert names(check(known, "Lin Zhou", tenant_ids=["globex"])) == []
    assert len(check(known, url).people) == 2, "None means every configured tenant"
    assert check(known, url, tenant_ids=[]).problem is not None


def test_closed_applications_make_a_rediscovered_candidate(known: World) -> None:
    with Session(known.rt.engine) as session, session.begin():
        for app in session.exec(select(Application)).all():
            app.status = "rejected"
            session.add(app)
    (roe,) = check(known, "jane.roe@example.com").people
    assert roe.is_rediscovered and roe.current == ()
    assert [(a.job, a.status) for a in roe.earlier] == [("Senior Backend Engineer", "rejected")]


def test_the_last_inmail_shows_its_date_and_first_line_only(known: World) -> None:
    (jane,) = check(known, "linkedin.com/in/jane-doe-42").people
    assert jane.last_inmail is None
    member = member_of(known, "Jane", "Doe")
    known.inmails("acme", [
        {"recipients": [member], "subject": "Backend role", "text": "Hi Jane, interested?",
         "createdAt": now_ms() - 60_000},
        {"author": member, "recipients": [SEATS["acme"]], "subject": "RE: Backend role", "text": "Yes!",
         "createdAt": now_ms() - 30_000},
    ])
    with Session(known.rt.engine) as session, session.begin():
        known.rt.inmail().enqueue(session, "acme", "lookup")
    known.drain()
    (jane,) = check(known, "jane doe").people
    assert jane.last_inmail is not None
    assert jane.last_inmail.first_line.startswith("InMail reply from Jane Doe")
    assert "Yes!" not in jane.last_inmail.first_line, "the message itself is not repeated"
    assert jane.last_activity_at is not None and jane.last_activity_at >= jane.last_inmail.at


def member_of(world: World, first: str, last: str) -> str:
    """The LinkedIn member URN the simulator gave an exported person."""
    exports = world.sims.states["linkedin"].exports.values()  # type: ignore[attr-defined]
    return next(str(e["candidate"]["member"]) for export in exports for e in export.elements
                if (e["candidate"]["firstName"], e["candidate"]["lastName"]) == (first, last))
