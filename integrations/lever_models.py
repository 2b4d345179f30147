"""Lever Data API wire models: camelCase JSON read as snake_case, validated once at the edge."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel


class LeverModel(BaseModel):
    """Lever's camelCase wire fields, read as snake_case; unknown fields are ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


class LeverUser(LeverModel):
    id: str
    name: str = ""
    email: str | None = None


class LeverStage(LeverModel):
    id: str
    text: str


class LeverPosting(LeverModel):
    id: str
    text: str
    state: str | None = None


class LeverPhone(LeverModel):
    type: str | None = None
    value: str


class LeverArchived(LeverModel):
    archived_at: int | None = None
    reason: str | None = None


class LeverApplication(LeverModel):
    """An opportunity's application (at most one): a bare id, or the object `expand=applications` gives."""

    id: str
    posting: str | None = None  # the posting (job) id
    type: str | None = None  # posting | user | referral
    created_at: int | None = None


class LeverStageChange(LeverModel):
    to_stage_id: str
    to_stage_index: int | None = None
    user_id: str | None = None
    updated_at: int | None = None


class LeverOpportunity(LeverModel):
    """One candidacy; `contact` is the person across opportunities (Lever: use it as the person id)."""

    id: str
    contact: str
    name: str = ""
    headline: str | None = None
    emails: list[str] = []
    phones: list[LeverPhone] = []
    links: list[str] = []
    stage: str | None = None
    stage_changes: list[LeverStageChange] = []
    archived: LeverArchived | None = None
    owner: str | None = None
    origin: str | None = None
    sources: list[str] = []
    tags: list[str] = []
    applications: list[LeverApplication] = []
    location: str | None = None
    urls: dict[str, str] = {}  # `show` is the profile page of this opportunity
    created_at: int | None = None
    updated_at: int | None = None

    @field_validator("applications", mode="before")
    @classmethod
    def _application_ids(cls, value: Any) -> Any:
        # ids unless `expand=applications` was asked for (reference 3.1)
        return [{"id": v} if isinstance(v, str) else v for v in value] if isinstance(value, list) else value

    @property
    def posting_id(self) -> str | None:
        return next((a.posting for a in self.applications if a.posting), None)

    @model_validator(mode="before")
    @classmethod
    def _top_level_archive(cls, value: Any) -> Any:
        # The docs' sample also shows top-level archivedAt/archiveReason (reference 3.2): parse both.
        if isinstance(value, dict) and value.get("archived") is None and value.get("archiveReason"):
            return {**value, "archived": {"archivedAt": value.get("archivedAt"), "reason": value["archiveReason"]}}
        return value


class CreatedOpportunity(LeverModel):
    """The create response: the opportunity, and whether Lever put it under an existing contact."""

    opportunity: LeverOpportunity = Field(alias="data")
    deduped: bool = False

    @property
    def contact_id(self) -> str:
        return self.opportunity.contact


class LeverNoteField(LeverModel):
    type: str | None = None
    text: str | None = None
    value: Any = None


class LeverNote(LeverModel):
    """A note (reference 3.3): the text is the `value` of its `note` field; `text` is the fallback."""

    id: str
    text: str | None = None
    fields: list[LeverNoteField] = []
    created_at: int | None = None

    @property
    def body(self) -> str:
        values = [f.value for f in self.fields if f.type == "note" and isinstance(f.value, str)]
        return values[0] if values else self.text or ""


class LeverLocation(LeverModel):
    name: str | None = None


class LeverContact(LeverModel):
    """The person behind opportunities, as `GET /contacts/:contact` returns it (see `get_contact`)."""

    id: str
    name: str = ""
    headline: str | None = None
    location: LeverLocation | None = None
    emails: list[str] = []
    phones: list[LeverPhone] = []


class LeverPage(LeverModel):
    """One page of a list: `data`, and the `next` offset while `hasNext`."""

    data: list[dict[str, Any]]
    has_next: bool = False
    next: str | None = None


class CreatedNote(LeverModel):
    note_id: str
