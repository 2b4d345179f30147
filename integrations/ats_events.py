"""The neutral ATS webhook event: what a Greenhouse or Lever delivery says, in one shape for the bot."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any, Literal, get_args

AtsVendor = Literal["greenhouse", "lever"]
AtsEventKind = Literal[
    "stage_change", "application_created", "hired", "rejected", "unrejected", "archived", "candidate_updated",
    "merged", "deleted", "ping", "unknown",
]
KINDS: tuple[AtsEventKind, ...] = get_args(AtsEventKind)
#: kinds kept in the inbox for the record but needing no work: the vendor's test call, actions we do not read
IGNORED_KINDS: frozenset[AtsEventKind] = frozenset({"ping", "unknown"})


class InvalidEvent(ValueError):
    """A body that is not a delivery of the vendor's documented shape."""


@dataclass(frozen=True, kw_only=True)
class AtsEvent:
    """One webhook delivery, whatever the vendor; ids are text, whatever the wire type."""

    event_id: str  # the vendor's delivery id: dedupe on it
    vendor: AtsVendor
    action: str  # the vendor's own action / event name, as sent
    kind: AtsEventKind
    person_id: str | None = None  # Greenhouse candidate id; Lever contactId
    application_id: str | None = None  # Greenhouse application id; Lever opportunityId
    job_id: str | None = None  # Greenhouse jobs[0].id; Lever does not say (the opportunity has it)
    to_stage_id: str | None = None
    to_stage_name: str | None = None  # Greenhouse only: Lever sends stage ids
    from_stage_id: str | None = None  # Lever only: Greenhouse's webhook has no previous stage
    status: str | None = None
    actor: str | None = None  # who made the change, when the body says so (neither vendor's example does)
    occurred_at: datetime
    merged_into: str | None = None  # Greenhouse merge_candidate: the winning candidate id
    candidate_name: str | None = None
    owner_email: str | None = None  # Greenhouse: the candidate's recruiter; Lever's webhook does not say
    raw_action_known: bool = True

    @property
    def needs_work(self) -> bool:
        """Whether the event is queued for the bot (pings and unknown actions are only recorded)."""
        return self.kind not in IGNORED_KINDS

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (work item payloads): `occurred_at` as ISO 8601 text."""
        data = asdict(self)
        data["occurred_at"] = self.occurred_at.isoformat()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AtsEvent:
        """The event `to_json` wrote; unknown keys are left out."""
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        values["occurred_at"] = datetime.fromisoformat(str(data["occurred_at"]))
        return cls(**values)


def as_utc(moment: datetime) -> datetime:
    """A timezone-aware UTC datetime (a naive one is taken to be UTC already)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def text_id(value: int | str | None) -> str | None:
    """An id as the bridge keeps it: text (Greenhouse sends integers)."""
    return None if value is None else str(value)


def full_name(first: str | None, last: str | None) -> str | None:
    """`first last`, or None when both are empty."""
    return " ".join(part for part in (first, last) if part) or None
