"""LinkedIn RSC wire models: what the API sends and takes, validated once at the edge."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

MAIL_CONTENT = "com.linkedin.messaging.events.MailContent"


def _as_list(value: Any) -> Any:
    """Accept a bare string where a list is documented (LinkedIn changed some email fields' type)."""
    return [value] if isinstance(value, str) else value


class Wire(BaseModel):
    """LinkedIn's camelCase JSON with snake_case attributes; unknown fields are ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class TokenResponse(BaseModel):
    """The OAuth answer, in snake_case on the wire."""

    access_token: str
    expires_in: float = 1800.0  # documented as a number, sampled once as "1800": pydantic accepts both


class Address(Wire):
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    geographic_area: str | None = None
    geographic_area_type: str | None = None
    postal_code: str | None = None
    country: str | None = None


class PhoneNumber(Wire):
    number: str
    extension: str | None = None


class AtsCandidate(Wire):
    """A candidate written to LinkedIn; `ats_candidate_id` forms the key, the rest is the entity."""

    ats_candidate_id: str = Field(exclude=True)
    ats_created_at: int
    ats_last_modified_at: int
    first_name: str
    last_name: str | None = None
    email_addresses: list[str] = Field(default_factory=list)
    phone_numbers: list[PhoneNumber] = Field(default_factory=list)  # required on the wire, may be []
    addresses: list[Address] = Field(default_factory=list)  # required on the wire, may be []
    current_company_name: str | None = None
    current_job_title: str | None = None
    external_profile_url: str | None = None
    linked_in_profile_url: str | None = None
    do_not_contact: bool | None = None


class AtsApplication(Wire):
    """An application; LinkedIn replaces the whole record, so no field has a default: None is sent as null."""

    ats_job_application_id: str = Field(exclude=True)
    ats_candidate_id: str | None
    ats_created_at: int
    ats_last_modified_at: int
    ats_job_posting_id: str
    ats_job_posting_name: str
    candidate_email: str | None
    first_name: str | None
    last_name: str | None
    source: str | None
    disposition_reason: str | None


class AtsStage(Wire):
    """One entry of an application's stage history; free text, mapped by Recruiter admins."""

    stage_id: str = Field(exclude=True)
    ats_created_at: int
    stage: str


class Education(Wire):
    school_name: str | None = None
    degree_name: str | None = None


class StubProfile(Wire):
    member: str
    first_name: str
    last_name: str
    profile_url: str
    current_employer_names: list[str] = Field(default_factory=list)
    email_addresses: Annotated[list[str], BeforeValidator(_as_list)] = Field(default_factory=list)
    headline: str | None = None
    location: str | None = None
    years_of_experience: str | None = None
    skills: list[str] = Field(default_factory=list)
    positions: list[dict[str, Any]] = Field(default_factory=list)  # Position schema: reference [not found]
    educations: list[Education] = Field(default_factory=list)


class ExportedCandidate(Wire):
    candidate: StubProfile
    integration_context: str
    external_job_posting_id: str | None = None  # reference: field name unconfirmed (third-party only)


class MailBody(Wire):
    text: str | None = None


class MailContent(Wire):
    subject: str | None = None
    body: MailBody | None = None


class ConversationEvent(Wire):
    """An InMail sent or received by a seat; `content` is a Rest.li union keyed by the full type name."""

    id: str
    author: str
    created_at: int
    recipients: list[str] = Field(default_factory=list)
    thread_urn: str | None = None
    content: dict[str, MailContent] = Field(default_factory=dict)

    @property
    def mail(self) -> MailContent | None:
        return self.content.get(MAIL_CONTENT)

    @property
    def is_outbound(self) -> bool:
        """Seats are recruiters, people are prospects: the author's URN type gives the direction."""
        return self.author.startswith("urn:li:seat:")

    @property
    def dedupe_key(self) -> tuple[str, int, str]:
        """Ids repeat across events of one thread, so identity is (id, createdAt, author)."""
        return self.id, self.created_at, self.author


class MailStub(Wire):
    """A prospect who shared contact details in an InMail reply (element shape: reference Decision)."""

    owner: str
    member: str
    contract: str | None = None
    created_at: int | None = None
    first_name: str | None = None
    last_name: str | None = None
    headline: str | None = None
    location: str | None = None
    profile_url: str | None = None
    email_address: str | None = None
    phone_number: str | None = None


class Seat(Wire):
    model_config = ConfigDict(coerce_numbers_to_str=True)

    id: str | None = None  # absent from the documented sample's opening part, though V4 says it is returned
    member: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    contract: str | None = None
    state: str | None = None
    seat_roles: list[str] = Field(default_factory=list)

    @property
    def urn(self) -> str | None:
        """reference: unconfirmed whether `id` is the bare number or the seat URN; accept both."""
        if self.id is None:
            return None
        return self.id if self.id.startswith("urn:") else f"urn:li:seat:{self.id}"


class PushEvent(Wire):
    """A push notification: the id to fetch with, its type, and an optional expiry (epoch ms)."""

    id: str = Field(validation_alias=AliasChoices("id", "requestId"))
    type: str
    expires_at: int | None = None
