"""LinkedIn → ATS sync end to end: signed pushes, the queue, the adapters, the simulators over HTTP."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import event
from sqlmodel import Session, select

import bot.mirror as mirror_module
from bot.domain.identity import find_linkedin_urls, normalize_linkedin_url
from bot.domain.prospect import Prospect
from bot.mirror import Mirror
from integrations.ats import AtsClient, AtsPerson, NewCandidate
from storage.candidates import read_cursor, write_cursor
from storage.db import build_engine, transaction
from storage.models import AttentionItem, Candidate, Note, utcnow
from tests.bot.world import SEATS, World, now_ms
from tests.conftest import Database

pytestmark = pytest.mark.slow

JANE = {"firstName": "Jane", "lastName": "Doe", "profileUrl": "https://www.linkedin.com/in/jane-doe-42"}
OMAR = {"firstName": "Omar", "lastName": "Haddad", "profileUrl": "https://www.linkedin.com/in/omar-haddad"}
LIN = {"firstName": "Lin", "lastName": "Zhou", "profileUrl": "https://www.linkedin.com/in/lin-zhou",
       "emailAddresses": ["lin.zhou@example.com"]}


def profile_keys(people: list[AtsPerson]) -> Counter[str]:
    return Counter(normalize_linkedin_url(url).value for p in people for url in find_linkedin_urls(p.links))


def test_exported_candidates_land_once_on_the_chosen_job(world: World) -> None:
    before = len(world.people("acme"))
    world.export("acme", [JANE, OMAR, LIN], job="4401")
    world.drain()
    people = world.people("acme")
    assert len(people) == before + 3
    keys = profile_keys(people)
    assert all(keys[f"linkedin.com/in/{slug}"] == 1 for slug in ("jane-doe-42", "omar-haddad", "lin-zhou"))
    jane = next(p for p in people if p.first_name == "Jane")
    assert [(a.job_id, a.stage_name) for a in jane.applications] == [("4401", "Application Review")]


def test_replayed_push_and_a_second_sync_change_nothing(world: World) -> None:
    answer = world.export("acme", [JANE], job="4401")
    world.drain()
    first = world.people("acme")
    world.export("acme", [JANE], job="4401")  # a new export of the same person
    world.drain()
    assert len(world.people("acme")) == len(first)
    assert answer["attempts"] == 1
    with Session(world.rt.engine) as s:
        assert len([c for c in s.exec(select(Candidate)).all() if c.first_name == "Jane"]) == 1


def test_person_already_in_the_ats_is_matched_by_url_alone(world: World) -> None:
    ats = world.rt.connections().ats_adapter("acme")
    # LinkedIn's native connector put her in the ATS earlier: no email, the URL written its own way
    ats.create_candidate(NewCandidate(first_name="Jane", last_name="Doe", job_id="4402",
                                      links=("linkedin.com/in/Jane-Doe-42/",), source="LinkedIn (Prospecting)"))
    with Session(world.rt.engine) as s, s.begin():
        world.rt.mirror().pull(s, world.rt.app_config().tenant("acme"))
    before = len(world.people("acme"))
    world.export("acme", [JANE], job="4401")
    world.drain()
    people = world.people("acme")
    assert len(people) == before, "no duplicate created"
    jane = next(p for p in people if p.first_name == "Jane")
    assert sorted(a.job_id for a in jane.applications) == ["4401", "4402"]


def test_person_already_in_the_ats_is_matched_by_email(world: World) -> None:
    ats = world.rt.connections().ats_adapter("acme")
    ats.create_candidate(NewCandidate(first_name="Lin", last_name="Zhou", job_id="4402",
                                      emails=("LIN.ZHOU@example.com",)))
    before = len(world.people("acme"))
    world.export("acme", [LIN], job="4401")
    world.drain()
    people = world.people("acme")
    assert len(people) == before
    lin = next(p for p in people if p.first_name == "Lin")
    assert any("lin-zhou" in link for link in lin.links), "the LinkedIn URL was written to the ATS record"


def test_person_already_in_the_ats_is_matched_by_phone(world: World) -> None:
    ats = world.rt.connections().ats_adapter("acme")
    ats.create_candidate(NewCandidate(first_name="Omar", last_name="Haddad", job_id="4402",
                                      phones=("(415) 555-0142",)))
    with Session(world.rt.engine) as s, s.begin():
        world.rt.mirror().pull(s, world.rt.app_config().tenant("acme"))
    before = len(world.people("acme"))
    with Session(world.rt.engine) as s, s.begin():
        world.rt.sync_service().enqueue(s, "acme", Prospect(
            source="csv", source_id="f:2", first_name="Omar", last_name="Haddad", phones=("+1 415-555-0142",),
            job_id="4401"))
    world.drain()
    assert len(world.people("acme")) == before


def test_lever_exports_land_once_and_email_matches_the_contact(world: World) -> None:
    before = len(world.people("northwind"))
    world.export("northwind", [JANE, LIN], job="post-nw-platform")
    world.drain()
    world.export("northwind", [LIN], job="post-nw-sre")
    world.drain()
    people = world.people("northwind")
    assert len(people) == before + 2
    lin = next(p for p in people if p.first_name == "Lin")
    assert sorted(a.job_id for a in lin.applications) == ["post-nw-platform", "post-nw-sre"]


def test_a_record_without_a_last_name_needs_attention_and_creates_nothing(world: World) -> None:
    before = len(world.people("acme"))
    world.export("acme", [{"firstName": "Prince", "lastName": "", "profileUrl": "https://linkedin.com/in/prince"}],
                 job="4401")
    world.drain()
    assert len(world.people("acme")) == before
    with Session(world.rt.engine) as s:
        (item,) = s.exec(select(AttentionItem)).all()
    assert "no last name" in item.reason and item.detail["first_name"] == "Prince"


def test_an_unmapped_export_needs_attention(world: World) -> None:
    world.export("acme", [OMAR])  # LinkedIn said neither project nor job
    world.drain()
    with Session(world.rt.engine) as s:
        (item,) = s.exec(select(AttentionItem)).all()
    assert "choose a job" in item.reason


def test_each_inmail_becomes_one_note(world: World) -> None:
    answer = world.export("acme", [JANE], job="4401")
    world.drain()
    export = world.sims.states["linkedin"].exports[answer["requestId"]]  # type: ignore[attr-defined]
    member = export.elements[0]["candidate"]["member"]
    world.inmails("acme", [
        {"recipients": [member], "subject": "Backend role", "text": "Hi Jane, interested?",
         "createdAt": now_ms() - 60_000},
        {"author": member, "recipients": [SEATS["acme"]], "subject": "RE: Backend role", "text": "Yes!",
         "createdAt": now_ms() - 30_000},
    ])
    for run in ("a", "b"):
        with Session(world.rt.engine) as s, s.begin():
            world.rt.inmail().enqueue(s, "acme", run)
        world.drain()
    jane = next(p for p in world.people("acme") if p.first_name == "Jane")
    notes = world.rt.connections().ats_adapter("acme").list_notes(jane.person_id)
    assert len(notes) == 2
    assert any("InMail reply from Jane Doe" in body and "Yes!" in body for _, body in notes)
    with Session(world.rt.engine) as s:
        assert len(s.exec(select(Note)).all()) == 2


def test_synced_people_are_pushed_back_to_linkedin_in_batches(world: World) -> None:
    world.export("acme", [JANE, OMAR, LIN], job="4401")
    world.drain()
    li_state = world.sims.states["linkedin"]
    puts_before = li_state.recorder.count("PUT", "/v2/atsCandidates")
    world.rt.queue.clock = lambda: utcnow() + timedelta(minutes=2)  # the push waits for its window to close
    world.drain()
    org = "urn:li:organization:1001"
    pushed = {c["linkedInProfileUrl"]: c for (o, _), c in li_state.candidates.items() if o == org}  # type: ignore[attr-defined]
    assert {"https://www.linkedin.com/in/jane-doe-42", "https://www.linkedin.com/in/lin-zhou"} <= set(pushed)
    assert pushed["https://www.linkedin.com/in/lin-zhou"]["emailAddresses"] == ["lin.zhou@example.com"]
    apps = [a for (o, _), a in li_state.applications.items() if o == org]  # type: ignore[attr-defined]
    assert len(apps) == 3 and all(a["atsJobPostingName"] == "Senior Backend Engineer" for a in apps)
    assert li_state.recorder.count("PUT", "/v2/atsCandidates") - puts_before == 1, "one batch for all three"
    world.drain()
    assert li_state.recorder.count("PUT", "/v2/atsCandidates") - puts_before == 1, "nothing pushed twice"


def test_a_candidate_changed_after_its_push_is_pushed_again(world: World) -> None:
    world.export("acme", [JANE], job="4401")
    world.drain()
    tenant = world.rt.app_config().tenant("acme")
    with Session(world.rt.engine) as s, s.begin():
        assert world.rt.push_back().push(s, tenant) == 1
    with Session(world.rt.engine) as s, s.begin():
        assert world.rt.push_back().push(s, tenant) == 0, "nothing changed since the push"
        jane = s.exec(select(Candidate).where(Candidate.first_name == "Jane")).one()
        jane.title, jane.updated_at = "Staff Engineer", utcnow() + timedelta(seconds=1)
        s.add(jane)
    with Session(world.rt.engine) as s, s.begin():
        assert world.rt.push_back().push(s, tenant) == 1


def test_a_reply_stub_adds_contact_details_to_the_known_person(world: World) -> None:
    answer = world.export("acme", [JANE], job="4401")
    world.drain()
    export = world.sims.states["linkedin"].exports[answer["requestId"]]  # type: ignore[attr-defined]
    member = export.elements[0]["candidate"]["member"]
    stubs = [{"member": member, "firstName": "Jane", "lastName": "Doe", "emailAddress": "jane.doe@example.com",
              "phoneNumber": "+1 415 555 0199", "profileUrl": JANE["profileUrl"]},
             {"firstName": "Stranger", "lastName": "Person", "emailAddress": "s@example.com"}]
    httpx.post(f"{world.sims.url('linkedin')}/_sandbox/mail_stubs", json={"seat": SEATS["acme"], "stubs": stubs},
               timeout=10).raise_for_status()
    with Session(world.rt.engine) as s, s.begin():
        world.rt.inmail().enqueue(s, "acme", "stubs")
    world.drain()
    jane = next(p for p in world.people("acme") if p.first_name == "Jane")
    assert "jane.doe@example.com" in [e.lower() for e in jane.emails]
    assert len([p for p in world.people("acme") if p.first_name == "Jane"]) == 1
    with Session(world.rt.engine) as s:
        (item,) = s.exec(select(AttentionItem)).all()
    assert item.detail["first_name"] == "Stranger" and "choose a job" in item.reason


class WritesMidListing:
    """The tenant's real ATS adapter; another writer writes each time the listing yields a person."""

    def __init__(self, ats: AtsClient, write: Callable[[], None]) -> None:
        self.ats, self.write = ats, write

    def changed_since(self, since: datetime | None, *, applications: bool = True) -> Iterator[AtsPerson]:
        for person in self.ats.changed_since(since, applications=applications):
            self.write()
            yield person


def test_mirror_pull_leaves_the_database_writable_while_it_reads_the_ats(
        world: World, db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another writer (the web app's inbox, say) waiting at most 1 s is never kept out by a pull reading pages
    of people: on SQLite the pull holds the only write lock for a chunk's writes, never across an ATS request."""
    monkeypatch.setattr(mirror_module, "CHUNK", 2)  # several chunks, so the writer runs between them too
    other = build_engine(db.url, schema=db.schema)
    if db.backend == "sqlite":
        event.listen(other, "connect", lambda conn, _: conn.execute("PRAGMA busy_timeout=1000"))
    writes: list[int] = []

    def write() -> None:
        with transaction(other) as s:
            write_cursor(s, "acme", "another_writer", str(len(writes)))
        writes.append(1)

    ats = world.rt.connections().ats_adapter("acme")
    for n in range(5):
        ats.create_candidate(NewCandidate(first_name="Pat", last_name=f"Reader{n}", job_id="4401",
                                          emails=(f"pat.reader{n}@example.com",)))
    mirror = Mirror(engine=world.rt.engine, config=world.rt.app_config(),
                    ats_for=lambda tenant: WritesMidListing(ats, write))
    try:
        with Session(world.rt.engine) as s, s.begin():
            report = mirror.pull(s, world.rt.app_config().tenant("acme"))
    finally:
        other.dispose()
    everyone = len(world.people("acme"))
    assert everyone == 5 and report.seen == everyone == len(writes)
    with Session(world.rt.engine) as s:
        assert read_cursor(s, "acme", "ats_mirror") is not None
        ids = s.exec(select(Candidate.ats_candidate_id).where(Candidate.tenant_id == "acme")).all()
        assert len(set(ids) - {None}) == everyone
