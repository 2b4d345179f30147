"""The neutral ATS protocol: plain records and the calls the bridge makes, whatever the vendor."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

T = TypeVar("T")

#: the words `AtsApplication.status` uses, whatever the vendor says
STATUSES = ("active", "rejected", "hired", "archived")


@dataclass(frozen=True)
class AtsApplication:
    """One candidacy: Greenhouse application, Lever opportunity."""

    application_id: str
    job_id: str
    stage_id: str | None
    stage_name: str | None
    status: str  # one of STATUSES


@dataclass(frozen=True)
class AtsPerson:
    """One person as the ATS holds them, with their applications."""

    person_id: str  # Greenhouse candidate id; Lever contact id (the person across opportunities)
    first_name: str
    last_name: str
    emails: tuple[str, ...]
    phones: tuple[str, ...]
    links: tuple[str, ...]  # social/website URLs as stored (a LinkedIn URL often has no scheme)
    company: str | None
    title: str | None
    source: str | None  # e.g. "LinkedIn (Prospecting)"
    url: str | None  # the record in the ATS UI
    created_at: datetime | None
    updated_at: datetime | None
    applications: tuple[AtsApplication, ...]


@dataclass(frozen=True)
class MergeOutcome:
    """What `AtsClient.merge_people` left behind."""

    survivor: AtsPerson  # the surviving person as the ATS holds it after the merge (applications included)
    already_merged: bool  # the absorbed record was already gone/merged before this call (a retry after a crash)
    actions: tuple[str, ...]  # what was done, human-readable, for the audit log


@dataclass(frozen=True)
class NewCandidate:
    """A person to create, with their first application."""

    first_name: str
    last_name: str
    job_id: str
    stage_id: str | None = None  # None: the job's first stage
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    links: tuple[str, ...] = ()
    company: str | None = None
    title: str | None = None
    headline: str | None = None
    location: str | None = None
    source: str = "LinkedIn Recruiter"
    tags: tuple[str, ...] = ()


class AtsClient(Protocol):
    """What the bridge asks of an ATS; one adapter module per vendor implements it.

    Every method raises only `integrations.errors.IntegrationError` subclasses.
    """

    @property
    def kind(self) -> str:
        """The vendor: "greenhouse" or "lever"."""

    @property
    def api_calls(self) -> int:
        """HTTP requests made so far, token requests included (for budgets and benchmarks)."""

    def ping(self) -> None:
        """Check credentials and reachability."""

    def find_by_email(self, email: str) -> list[AtsPerson]:
        """People with this email (exact, case-insensitive)."""

    def get_person(self, person_id: str) -> AtsPerson | None:
        """One person with their applications, or None."""

    def create_candidate(self, new: NewCandidate) -> tuple[AtsPerson, AtsApplication]:
        """Create a person on a job in one API call where the vendor allows it."""

    def add_application(self, person_id: str, job_id: str, stage_id: str | None = None) -> AtsApplication:
        """Put an existing person on another job."""

    def update_person(self, person_id: str, *, add_emails: Sequence[str] = (), add_phones: Sequence[str] = (),
                      add_links: Sequence[str] = ()) -> None:
        """Append contact details the person lacks; never replace or drop what is there."""

    def add_note(self, person_id: str, body: str, *, application_id: str | None = None) -> str:
        """Add a note; returns its id."""

    def list_notes(self, person_id: str) -> list[tuple[str, str]]:
        """Every note on the person as (note id, body), to reconcile after a crash."""

    def move_stage(self, application_id: str, to_stage_id: str, from_stage_id: str | None = None) -> None:
        """Move an application; with `from_stage_id`, a move from a stage it has left is Rejected."""

    def job_stages(self, job_id: str) -> list[tuple[str, str]]:
        """(stage id, name) in pipeline order."""

    def owner_email(self, application_id: str) -> str | None:
        """The email of the user who owns the candidacy (its recruiter), when the ATS can say."""

    def merge_people(self, survivor_id: str, absorbed_id: str, *, note: str) -> MergeOutcome:
        """Merge the absorbed person into the survivor, irreversibly, losing nothing.

        Every candidacy and contact detail of the absorbed person ends up on the survivor (how depends on
        the vendor: Greenhouse merges the records, Lever links through the contact and archives the
        duplicate opportunities), and `note` is left on the records for people reading the ATS, with a
        `merge_marker` line appended that names both records.

        Safe to call again after a crash at any point: a repeat finishes what is left and writes nothing
        that is already there (the marker is how it recognises its own notes); when the absorbed person was
        already merged, `already_merged` says so. A survivor that cannot be found, the same id twice, or a
        vendor configuration the merge needs and lacks is Rejected before anything is written.
        """

    def changed_since(self, since: datetime | None, *, applications: bool = True) -> Iterator[AtsPerson]:
        """People created or updated at or after `since` (everyone when None), applications included.

        `applications=False` reads the people alone (their keys, no applications): the cheapest scan,
        for reconciling an interrupted create.
        """


# --- helpers the adapters share ---------------------------------------------------------------------------

def email_key(value: str) -> str:
    return value.strip().casefold()


def phone_key(value: str) -> str:
    return re.sub(r"\D", "", value)


def link_key(value: str) -> str:
    """A URL without scheme, `www.`, trailing slash or case: `linkedin.com/in/x` equals `https://www.…/x/`."""
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", value.strip().casefold())
    return text.removeprefix("www.").rstrip("/")


def missing(existing: Iterable[str], additions: Iterable[str], key: Callable[[str], str]) -> list[str]:
    """The additions not already present by `key`, in order, each once.

    Coarse on purpose: it only avoids writing a value the ATS already holds; identity matching is the
    bot's domain logic.
    """
    seen = {key(v) for v in existing}
    fresh: list[str] = []
    for value in additions:
        if value.strip() and key(value) not in seen:
            seen.add(key(value))
            fresh.append(value.strip())
    return fresh


def merge_marker(survivor_id: str, absorbed_id: str) -> str:
    """The line every merge note ends with: names both records, and lets a repeat find the notes it wrote."""
    return f"[HireBridge merge: {absorbed_id} into {survivor_id}]"


def merge_note(note: str, survivor_id: str, absorbed_id: str) -> str:
    return f"{note.rstrip()}\n\n{merge_marker(survivor_id, absorbed_id)}"


def batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most `size` items."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch

