"""Greenhouse Harvest v3 behind the neutral ATS protocol (`integrations.ats.AtsClient`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime

from integrations.ats import (
    AtsApplication,
    AtsPerson,
    MergeOutcome,
    NewCandidate,
    batches,
    email_key,
    link_key,
    merge_marker,
    merge_note,
    missing,
    phone_key,
)
from integrations.errors import Rejected
from integrations.greenhouse import (
    IDS_MAX,
    INTEGRATION,
    Application,
    Candidate,
    ContactValue,
    GreenhouseClient,
    UnexpectedResponse,
)

# Not in the reference: the candidate profile lives at /people/<id> in the Greenhouse web app.
UI_URL = "https://app.greenhouse.io"
# Reads say in_process|rejected|hired|converted (reference 3.3). A converted prospect application is
# closed, so it counts as archived; anything unknown is shown as active rather than hidden.
STATUS = {"in_process": "active", "rejected": "rejected", "hired": "hired", "converted": "archived"}
EMAIL_TYPE, PHONE_TYPE = "personal", "mobile"  # the types `GreenhouseClient.create_candidate` writes too


class GreenhouseAts:
    """The protocol over a `GreenhouseClient`; `source_ids` maps source names to this org's source ids."""

    kind = "greenhouse"

    def __init__(self, client: GreenhouseClient, *, source_ids: Mapping[str, int] | None = None,
                 ui_url: str = UI_URL) -> None:
        self._client = client
        self._source_ids = dict(source_ids or {})
        self._source_names = {v: k for k, v in self._source_ids.items()}
        self._ui_url = ui_url.rstrip("/")

    @property
    def api_calls(self) -> int:
        return self._client.requests

    def ping(self) -> None:
        """A token (first use) and a one-row users list."""
        self._client.ping()

    def find_by_email(self, email: str) -> list[AtsPerson]:
        """`GET /v3/candidates?email=`, then their applications (one call per 50 people)."""
        return self._people(self._client.find_candidates_by_email(email))

    def get_person(self, person_id: str) -> AtsPerson | None:
        """`GET /v3/candidates?ids=` and `GET /v3/applications?candidate_ids=`."""
        candidate = self._client.get_candidate(_id(person_id))
        return None if candidate is None else self._people([candidate])[0]

    def create_candidate(self, new: NewCandidate) -> tuple[AtsPerson, AtsApplication]:
        """One `POST /v3/candidates` with the application nested (a move only if the stage was ignored)."""
        stage = _opt_id(new.stage_id)
        created = self._client.create_candidate(
            first_name=new.first_name, last_name=new.last_name, job_id=_id(new.job_id), emails=new.emails,
            phones=new.phones, social_urls=new.links, company=new.company, title=new.title, tags=new.tags,
            source_id=self._source_ids.get(new.source), initial_stage_id=stage)
        if created.application is None:
            raise UnexpectedResponse("Greenhouse created the candidate without the application",
                                     integration=INTEGRATION)
        application = self._place(created.application, stage)
        return self._person(created.candidate, [application]), _application(application)

    def _place(self, application: Application, stage: int | None) -> Application:
        """Move a new application to `stage` if the nested create left it on the first one."""
        current = application.job_interview_stage_id
        if stage is None or current is None or current == stage:
            return application
        self._client.move_application(application.id, current, stage)
        return self._client.get_application(application.id) or application

    def add_application(self, person_id: str, job_id: str, stage_id: str | None = None) -> AtsApplication:
        """One `POST /v3/applications`."""
        created = self._client.create_application(_id(person_id), _id(job_id), initial_stage_id=_opt_id(stage_id))
        return _application(created)

    def update_person(self, person_id: str, *, add_emails: Sequence[str] = (), add_phones: Sequence[str] = (),
                      add_links: Sequence[str] = ()) -> None:
        """Read, then PATCH the complete lists: a PATCHed list replaces the whole list (reference 3.2).

        v3 has no conditional update, so an edit landing between the read and the PATCH is lost; the
        window is one round trip. Nothing new to add means no PATCH.
        """
        candidate = self._client.get_candidate(_id(person_id))
        if candidate is None:
            raise Rejected(f"candidate {person_id} was not found", integration=INTEGRATION, status=404)
        fields = _appended(candidate, add_emails, add_phones, add_links)
        if fields:
            self._client.update_candidate(candidate.id, fields)

    def add_note(self, person_id: str, body: str, *, application_id: str | None = None) -> str:
        """One `POST /v3/notes` (private, type NOTE)."""
        note = self._client.add_note(_id(person_id), body, application_id=_opt_id(application_id))
        return str(note.id)

    def list_notes(self, person_id: str) -> list[tuple[str, str]]:
        """`GET /v3/notes?candidate_ids=`."""
        return [(str(n.id), n.body) for n in self._client.list_notes(_id(person_id))]

    def move_stage(self, application_id: str, to_stage_id: str, from_stage_id: str | None = None) -> None:
        """`POST /v3/applications/{id}/move`; without `from_stage_id` the current stage is read first."""
        app_id, to = _id(application_id), _id(to_stage_id)
        if from_stage_id is not None:
            self._client.move_application(app_id, _id(from_stage_id), to)
            return
        current = self._client.get_application(app_id)
        if current is None or current.job_interview_stage_id is None:
            raise Rejected(f"application {application_id} was not found", integration=INTEGRATION, status=404)
        if current.job_interview_stage_id != to:  # already there: nothing to do, and no stage-change emails
            self._client.move_application(app_id, current.job_interview_stage_id, to)

    def job_stages(self, job_id: str) -> list[tuple[str, str]]:
        """`GET /v3/job_interview_stages?job_ids=`, active stages by `sort_order`."""
        return [(str(s.id), s.name) for s in self._client.list_job_stages(_id(job_id)) if s.active]

    def owner_email(self, application_id: str) -> str | None:
        """None: Greenhouse's webhooks carry the candidate's recruiter with an email (the event has it), while
        the reference shows Harvest's candidate `recruiter` without one, so no read here would find it."""
        return None

    def merge_people(self, survivor_id: str, absorbed_id: str, *, note: str) -> MergeOutcome:
        """Read both (`GET /v3/candidates?ids=a,b` and their applications), merge, note the survivor, re-read.

        Greenhouse moves the absorbed candidate's applications, notes and contact details to the survivor and
        deletes the absorbed one. A repeat finds the absorbed candidate gone and reports `already_merged`
        without a merge call; it still adds the note if a crash came between the merge and the note (the
        survivor's notes are read for the marker). v3 cannot tell "merged away" from "deleted": an absorbed
        id that is not there at all also reads as already merged.
        """
        survivor, absorbed = _id(survivor_id), _id(absorbed_id)
        if survivor == absorbed:
            raise Rejected(f"cannot merge candidate {survivor_id} into itself", integration=INTEGRATION)
        found = {p.person_id: p for p in self._people(self._client.get_candidates([survivor, absorbed]))}
        if survivor_id not in found:
            raise Rejected(f"survivor candidate {survivor_id} was not found", integration=INTEGRATION,
                           status=404)
        before = found.get(absorbed_id)
        actions: list[str] = []
        if before is None:
            actions.append(f"candidate {absorbed_id} was already gone (merged before): no merge call")
        else:
            self._client.merge_candidates(survivor, absorbed)
            moved = ", ".join(a.application_id for a in before.applications) or "none"
            actions.append(f"merged Greenhouse candidate {absorbed_id} into {survivor_id} "
                           f"(applications moved: {moved})")
        marker = merge_marker(survivor_id, absorbed_id)
        wrote = before is not None
        if before is not None or not any(marker in n.body for n in self._client.list_notes(survivor)):
            note_id = self._client.add_note(survivor, merge_note(note, survivor_id, absorbed_id)).id
            actions.append(f"added note {note_id} on candidate {survivor_id}")
            wrote = True
        person = self.get_person(survivor_id) if wrote else found[survivor_id]  # unchanged: read just now
        if person is None:  # only if someone deleted the survivor meanwhile
            raise Rejected(f"survivor candidate {survivor_id} vanished during the merge", integration=INTEGRATION,
                           status=404)
        kept = {a.application_id for a in person.applications}
        lost = [a.application_id for a in (before.applications if before else ()) if a.application_id not in kept]
        if lost:  # the merge cannot be undone: say so in the audit log rather than fail
            actions.append(f"applications not on the survivor after the merge: {', '.join(lost)}")
        return MergeOutcome(person, before is None, tuple(actions))

    def changed_since(self, since: datetime | None, *, applications: bool = True) -> Iterator[AtsPerson]:
        """Candidates with `updated_at=gte|…`, then those whose applications changed, 50 people per batch.

        Applications are pulled too because no source says a stage move bumps the candidate's `updated_at`.
        Without `applications`, one paged candidates list and nothing more.
        """
        window = {} if since is None else {"updated_at": f"gte|{_stamp(since)}"}
        if not applications:
            yield from (self._person(c, []) for c in self._client.iter_candidates(window))
            return
        seen: set[int] = set()
        for batch in batches(self._client.iter_candidates(window), IDS_MAX):
            seen.update(c.id for c in batch)
            yield from self._people(batch)
        if since is None:
            return
        moved = {a.candidate_id for a in self._client.iter_applications(window)} - seen
        for ids in batches(sorted(moved), IDS_MAX):
            yield from self._people(self._client.get_candidates(ids))

    # --- mapping ---

    def _people(self, candidates: Iterable[Candidate]) -> list[AtsPerson]:
        """People with their applications: one applications request per 50 candidates."""
        people: list[AtsPerson] = []
        for batch in batches(candidates, IDS_MAX):
            applications = self._client.applications_for([c.id for c in batch])
            people += [self._person(c, [a for a in applications if a.candidate_id == c.id]) for c in batch]
        return people

    def _person(self, c: Candidate, applications: Sequence[Application]) -> AtsPerson:
        ordered = sorted(applications, key=lambda a: a.id)
        return AtsPerson(
            person_id=str(c.id), first_name=c.first_name, last_name=c.last_name,
            emails=tuple(e.value for e in c.email_addresses), phones=tuple(p.value for p in c.phone_numbers),
            links=tuple(u.value for u in [*c.social_media_addresses, *c.website_addresses]),
            company=c.company, title=c.title, source=self._source_name(ordered),
            url=f"{self._ui_url}/people/{c.id}", created_at=c.created_at, updated_at=c.updated_at,
            applications=tuple(_application(a) for a in ordered))

    def _source_name(self, applications: Sequence[Application]) -> str | None:
        """The first application's source, by name (v3 applications carry only `source_id`)."""
        ids = [a.source_id for a in applications if a.source_id is not None]
        return self._source_names.get(ids[0]) if ids else None


def _application(a: Application) -> AtsApplication:
    stage = None if a.job_interview_stage_id is None else str(a.job_interview_stage_id)
    job = "" if a.job_id is None else str(a.job_id)  # a prospect application may have no job
    return AtsApplication(str(a.id), job, stage, a.stage_name, STATUS.get(a.status, "active"))


def _appended(c: Candidate, emails: Sequence[str], phones: Sequence[str],
              links: Sequence[str]) -> dict[str, list[dict[str, str]]]:
    """The list fields to PATCH, each complete (what is there plus what is new); unchanged ones left out."""
    known_links = [u.value for u in [*c.social_media_addresses, *c.website_addresses]]
    plan = {
        "email_addresses": (c.email_addresses, missing([e.value for e in c.email_addresses], emails, email_key),
                            EMAIL_TYPE),
        "phone_numbers": (c.phone_numbers, missing([p.value for p in c.phone_numbers], phones, phone_key),
                          PHONE_TYPE),
        "social_media_addresses": (c.social_media_addresses, missing(known_links, links, link_key), None),
    }
    return {name: _entries(current, new, kind) for name, (current, new, kind) in plan.items() if new}


def _entries(current: list[ContactValue], new: list[str], kind: str | None) -> list[dict[str, str]]:
    """Entries as PATCH wants them: `{value, type}`, or `{value}` for social media (reference 3.2)."""
    def entry(value: str, type_: str | None) -> dict[str, str]:
        return {"value": value} if kind is None else {"value": value, "type": type_ or "other"}

    return [entry(e.value, e.type) for e in current] + [entry(v, kind) for v in new]


def _stamp(moment: datetime) -> str:
    """ISO UTC to the second, rounded down: `gte` then returns a superset, never misses a change."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _id(value: str) -> int:
    """Greenhouse ids are integers on the wire; anything else cannot name a record."""
    if not value.isdigit():
        raise Rejected(f"{value!r} is not a Greenhouse id", integration=INTEGRATION)
    return int(value)


def _opt_id(value: str | None) -> int | None:
    return None if value is None else _id(value)
