"""Lever Data API behind the neutral ATS protocol: a person is a contact, an application an opportunity."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
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
from integrations.lever import INTEGRATION, LeverClient, LeverOpportunity, LeverPhone

# Posting (job) ids live on the application object, which only `expand=applications` inlines (reference 3.1).
EXPAND = {"expand": "applications"}
# Repeated `contact_id` values are a union (the Go client's notes on the list filters); 50 per request
# keeps URLs short: our choice, not a documented limit.
CONTACTS_PER_REQUEST = 50


class LeverAts:
    """The protocol over a `LeverClient`; stage names are cached from `GET /stages` (ping loads them).

    `duplicate_archive_reason` is the account's archive reason id that `merge_people` archives a duplicate
    opportunity with (Lever's archive reasons are per account; without one, merges are refused).
    """

    kind = "lever"

    def __init__(self, client: LeverClient, *, duplicate_archive_reason: str | None = None) -> None:
        self._client = client
        self._duplicate_archive_reason = duplicate_archive_reason
        self._stages: dict[str, str] | None = None
        self._user_emails: dict[str, str | None] | None = None

    @property
    def api_calls(self) -> int:
        return self._client.requests

    def ping(self) -> None:
        """`GET /stages`: proves the key works and refreshes the stage names later answers use."""
        self._load_stages()

    def find_by_email(self, email: str) -> list[AtsPerson]:
        """One `GET /opportunities?email=` (Lever matches the canonicalized address), grouped by contact."""
        return self._group(self._client.iter_opportunities({"email": email, **EXPAND}))

    def get_person(self, person_id: str) -> AtsPerson | None:
        """One `GET /opportunities?contact_id=`: the contact's data rides on each of its opportunities."""
        people = self._group(self._opportunities(person_id))
        return people[0] if people else None

    def create_candidate(self, new: NewCandidate) -> tuple[AtsPerson, AtsApplication]:
        """One `POST /opportunities` with `postings=[job]`; one read more only when Lever deduped by email.

        Lever keeps no company or title, only a free-text `headline`: the headline, else the company.
        """
        created = self._client.create_opportunity(
            name=f"{new.first_name} {new.last_name}".strip(), emails=new.emails, phones=new.phones,
            links=new.links, headline=new.headline or new.company, posting_id=new.job_id, stage_id=new.stage_id,
            sources=(new.source,), tags=new.tags, origin="sourced", location=new.location)
        opportunity = created.opportunity
        application = self._application(opportunity, new.job_id)  # the create answer does not expand
        if created.deduped:  # an existing contact: its other opportunities belong in the answer too
            person = self.get_person(opportunity.contact)
            if person is not None:
                return person, application
        return replace(self._person([opportunity]), applications=(application,)), application

    def add_application(self, person_id: str, job_id: str, stage_id: str | None = None) -> AtsApplication:
        """One `POST /opportunities` with `contact`: a new opportunity for the same person (reference 3.3)."""
        created = self._client.create_opportunity(name="", contact_id=person_id, posting_id=job_id,
                                                  stage_id=stage_id, origin="sourced")
        return self._application(created.opportunity, job_id)

    def update_person(self, person_id: str, *, add_emails: Sequence[str] = (), add_phones: Sequence[str] = (),
                      add_links: Sequence[str] = ()) -> None:
        """Links by `addLinks`; emails and phones by reading and writing back the whole contact.

        Lever's documented writes (reference 3.3) add links only. A create with `contact` would also add
        emails and phones, but it opens a new opportunity, so it is not used. The Go client the reference
        names also has `GET`/`PUT /contacts/:contact`; whether PUT merges or replaces the arrays is not
        documented, so the complete lists are sent, which is right either way. Like Greenhouse, an edit
        landing between the read and the write is lost.
        """
        if add_emails or add_phones:
            self._add_contact_details(person_id, add_emails, [LeverPhone(value=p) for p in add_phones])
        if add_links:
            self._add_links(person_id, add_links)

    def _add_contact_details(self, person_id: str, emails: Sequence[str], phones: Sequence[LeverPhone]) -> None:
        """Read the contact, then PUT it back whole with the emails and phones it lacks (phone types kept)."""
        contact = self._client.get_contact(person_id)
        new_emails = missing(contact.emails, emails, email_key)
        new_values = missing([p.value for p in contact.phones], [p.value for p in phones], phone_key)
        new_phones = [next(p for p in phones if p.value.strip() == value) for value in new_values]
        if new_emails or new_phones:
            self._client.update_contact(contact.model_copy(update={
                "emails": [*contact.emails, *new_emails], "phones": [*contact.phones, *new_phones]}))

    def _add_links(self, person_id: str, links: Sequence[str]) -> None:
        opportunities = self._existing(person_id)
        new = missing(opportunities[0].links, links, link_key)  # contact data: the same on each opportunity
        if new:
            self._client.add_links(_latest(opportunities).id, new)

    def add_note(self, person_id: str, body: str, *, application_id: str | None = None) -> str:
        """`POST /opportunities/:id/notes`: notes belong to an opportunity, the latest one unless given."""
        opportunity = application_id or _latest(self._existing(person_id)).id
        return self._client.add_note(opportunity, body)

    def list_notes(self, person_id: str) -> list[tuple[str, str]]:
        """The contact's opportunities, then `GET /opportunities/:id/notes` for each."""
        return [(n.id, n.body) for o in self._opportunities(person_id) for n in self._client.list_notes(o.id)]

    def move_stage(self, application_id: str, to_stage_id: str, from_stage_id: str | None = None) -> None:
        """`PUT /opportunities/:id/stage`. Lever has no stale-move guard like Greenhouse's `from_stage_id`,
        so with one given the opportunity is read first: this narrows the race, it cannot close it."""
        if from_stage_id is not None:
            current = self._client.get_opportunity(application_id).stage
            if current != from_stage_id:
                raise Rejected(f"opportunity {application_id} is in stage {current}, not {from_stage_id}",
                               integration=INTEGRATION)
        self._client.change_stage(application_id, to_stage_id)

    def job_stages(self, job_id: str) -> list[tuple[str, str]]:
        """`GET /stages`: Lever's stages belong to the account, the same for every posting."""
        return self._load_stages()

    def owner_email(self, application_id: str) -> str | None:
        """The opportunity's `owner` (`GET /opportunities/:id`) by email (`GET /users`, read again on a miss)."""
        owner = self._client.get_opportunity(application_id).owner
        if owner is None:
            return None
        if self._user_emails is None or owner not in self._user_emails:
            self._user_emails = {u.id: u.email for u in self._client.list_users()}
        return self._user_emails.get(owner)

    def merge_people(self, survivor_id: str, absorbed_id: str, *, note: str) -> MergeOutcome:
        """Lever has no merge endpoint (reference 3.3): link through the contact, archive the duplicates.

        Each step reads before it writes, so a repeat after a crash anywhere carries on where it stopped:
        1. the emails, phones and links of the absorbed contact that the survivor lacks are added to it;
        2. each live absorbed opportunity on a posting the survivor has no opportunity for (archived ones
           count: a closed candidacy is not revived) is created again under the survivor's contact, with
           the same posting, stage, owner, origin, sources and tags, so no candidacy is lost;
        3. every absorbed opportunity gets the note unless one of its notes has the marker, and each live
           one is archived with `duplicate_archive_reason`;
        4. last, the survivor's latest live opportunity gets a note naming the absorbed contact.
        Since the survivor's note comes last, "no absorbed opportunity live, and the survivor's notes carry
        the marker" means an earlier call finished: `already_merged`, and nothing is written. A contact with
        no opportunities reads the same way (Lever cannot tell it from one that never existed).

        The absorbed contact stays (the API cannot delete or merge contacts), its opportunities archived;
        opportunities archived before the merge keep their reason. Notes stay on the absorbed opportunities.
        """
        reason = self._duplicate_archive_reason
        if reason is None:
            raise Rejected("merging Lever people needs an archive reason id for duplicates: set "
                           "`duplicate_archive_reason` in the tenant's Lever config", integration=INTEGRATION)
        if survivor_id == absorbed_id:
            raise Rejected(f"cannot merge contact {survivor_id} into itself", integration=INTEGRATION)
        survivor = self._opportunities(survivor_id)
        if not survivor:
            raise Rejected(f"survivor contact {survivor_id} has no opportunities", integration=INTEGRATION,
                           status=404)
        absorbed = self._opportunities(absorbed_id)
        if not absorbed:
            return MergeOutcome(self._person(survivor), True,
                                (f"contact {absorbed_id} has no opportunities: nothing left to merge",))
        marker = merge_marker(survivor_id, absorbed_id)
        live = [o for o in absorbed if o.archived is None]
        survivor_noted = self._noted(survivor, marker)
        if not live and survivor_noted:
            return MergeOutcome(self._person(survivor), True,
                                (f"contact {absorbed_id} was already merged into {survivor_id}: nothing to do",))
        actions = self._copy_details(survivor_id, survivor, absorbed)
        actions += self._carry_over(survivor_id, survivor, live)
        absorbed_note = merge_note(f"{note.rstrip()}\n\nMerged into Lever contact {survivor_id}.",
                                   survivor_id, absorbed_id)
        for opportunity in absorbed:
            if not self._noted([opportunity], marker):
                note_id = self._client.add_note(opportunity.id, absorbed_note)
                actions.append(f"added note {note_id} on absorbed opportunity {opportunity.id}")
            if opportunity.archived is None:
                self._client.archive_opportunity(opportunity.id, reason)
                actions.append(f"archived opportunity {opportunity.id} with reason {reason}")
        if not survivor_noted:
            main = _latest([o for o in survivor if o.archived is None] or survivor)
            merged_in = ", ".join(o.id for o in absorbed)
            text = merge_note(f"{note.rstrip()}\n\nMerged in Lever contact {absorbed_id} "
                              f"(opportunities {merged_in}).", survivor_id, absorbed_id)
            note_id = self._client.add_note(main.id, text)
            actions.append(f"added note {note_id} on opportunity {main.id} of contact {survivor_id}")
        person = self.get_person(survivor_id)
        if person is None:  # only if the survivor's opportunities were deleted meanwhile
            raise Rejected(f"survivor contact {survivor_id} vanished during the merge", integration=INTEGRATION,
                           status=404)
        return MergeOutcome(person, False, tuple(actions))

    def _noted(self, opportunities: Iterable[LeverOpportunity], marker: str) -> bool:
        """Whether a note of one of these opportunities carries the marker (one notes read each, until found)."""
        return any(marker in n.body for o in opportunities for n in self._client.list_notes(o.id))

    def _copy_details(self, survivor_id: str, survivor: Sequence[LeverOpportunity],
                      absorbed: Sequence[LeverOpportunity]) -> list[str]:
        """Add the absorbed contact's emails, phones and links the survivor lacks (contact data rides on
        every opportunity, so the first of each says it all)."""
        have, give = survivor[0], absorbed[0]
        emails = missing(have.emails, give.emails, email_key)
        phones = missing([p.value for p in have.phones], [p.value for p in give.phones], phone_key)
        links = missing(have.links, give.links, link_key)
        if emails or phones:
            self._add_contact_details(survivor_id, emails, [p for p in give.phones if p.value.strip() in phones])
        if links:
            self._add_links(survivor_id, links)
        added = [f"{kind} {', '.join(values)}" for kind, values in
                 (("emails", emails), ("phones", phones), ("links", links)) if values]
        return [f"added {'; '.join(added)} to contact {survivor_id}"] if added else []

    def _carry_over(self, survivor_id: str, survivor: Sequence[LeverOpportunity],
                    live: Sequence[LeverOpportunity]) -> list[str]:
        """Open, under the survivor's contact, each live candidacy it lacks (one per posting; no posting is
        its own kind, a general lead)."""
        held = {o.posting_id for o in survivor}
        actions: list[str] = []
        for o in live:
            if o.posting_id in held:
                continue
            created = self._client.create_opportunity(
                name="", contact_id=survivor_id, posting_id=o.posting_id, stage_id=o.stage, origin=o.origin,
                sources=o.sources, tags=o.tags, owner=o.owner)
            held.add(o.posting_id)
            actions.append(f"created opportunity {created.opportunity.id} under contact {survivor_id} for "
                           f"posting {o.posting_id or '(none)'} at stage {o.stage} (from opportunity {o.id})")
        return actions

    def changed_since(self, since: datetime | None, *, applications: bool = True) -> Iterator[AtsPerson]:
        """Opportunities with `updated_at_start` (ms, inclusive), then all opportunities of their contacts.

        Without `applications`, the changed opportunities alone, grouped by contact (one paged list).
        """
        if since is not None and not applications:
            yield from self._group(self._client.iter_opportunities({"updated_at_start": _millis(since)}))
            return
        if since is None:
            yield from self._group(self._client.iter_opportunities(EXPAND))
            return
        changed = self._client.iter_opportunities({"updated_at_start": _millis(since)})
        contacts = list(dict.fromkeys(o.contact for o in changed))
        for batch in batches(contacts, CONTACTS_PER_REQUEST):
            yield from self._group(self._client.iter_opportunities({"contact_id": batch, **EXPAND}))

    # --- reads and mapping ---

    def _opportunities(self, contact_id: str) -> list[LeverOpportunity]:
        return list(self._client.iter_opportunities({"contact_id": contact_id, **EXPAND}))

    def _existing(self, contact_id: str) -> list[LeverOpportunity]:
        opportunities = self._opportunities(contact_id)
        if not opportunities:
            raise Rejected(f"contact {contact_id} has no opportunities", integration=INTEGRATION, status=404)
        return opportunities

    def _load_stages(self) -> list[tuple[str, str]]:
        stages = [(s.id, s.text) for s in self._client.list_stages()]
        self._stages = dict(stages)
        return stages

    def _stage_name(self, stage_id: str | None) -> str | None:
        if stage_id is None:
            return None
        if self._stages is None:
            self._load_stages()
        return (self._stages or {}).get(stage_id)

    def _group(self, opportunities: Iterable[LeverOpportunity]) -> list[AtsPerson]:
        """One person per contact, in the order contacts first appear."""
        by_contact: dict[str, list[LeverOpportunity]] = {}
        for opportunity in opportunities:
            by_contact.setdefault(opportunity.contact, []).append(opportunity)
        return [self._person(group) for group in by_contact.values()]

    def _person(self, opportunities: Sequence[LeverOpportunity]) -> AtsPerson:
        ordered = sorted(opportunities, key=lambda o: o.created_at or 0)
        latest = ordered[-1]
        first, last = _split_name(latest.name)
        created = [o.created_at for o in ordered if o.created_at is not None]
        updated = [o.updated_at for o in ordered if o.updated_at is not None]
        return AtsPerson(
            person_id=latest.contact, first_name=first, last_name=last, emails=tuple(latest.emails),
            phones=tuple(p.value for p in latest.phones), links=tuple(latest.links), company=None, title=None,
            source=next((o.sources[0] for o in ordered if o.sources), None), url=latest.urls.get("show"),
            created_at=_from_millis(min(created, default=None)),
            updated_at=_from_millis(max(updated, default=None)),
            applications=tuple(self._application(o) for o in ordered))

    def _application(self, o: LeverOpportunity, job_id: str | None = None) -> AtsApplication:
        # Lever archives hires too (with a reason of type hired); telling them from rejections needs
        # /archive_reasons, which is not read: both show as archived.
        status = "archived" if o.archived is not None else "active"
        return AtsApplication(o.id, job_id or o.posting_id or "", o.stage, self._stage_name(o.stage), status)


def _latest(opportunities: Sequence[LeverOpportunity]) -> LeverOpportunity:
    """The most recently created opportunity; on a tie, the one listed last."""
    return max(reversed(opportunities), key=lambda o: o.created_at or 0)


def _split_name(name: str) -> tuple[str, str]:
    """First word, and the rest: Lever keeps one `name`, so this is a guess (compound first names split)."""
    first, _, last = name.strip().partition(" ")
    return first, last.strip()


def _from_millis(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, UTC)


def _millis(moment: datetime) -> int:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return int(aware.timestamp() * 1000)
