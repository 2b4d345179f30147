"""The SQLModel tables: tenants, candidates and their identities, applications, history, and the plumbing."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import JSON, Column, DateTime, Index, MetaData, Table, Text, UniqueConstraint, false
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

# A naming convention makes constraint names stable, which SQLite batch migrations need.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata


def table(model: type[SQLModel]) -> Table:
    """The Core table of a model, for set-based statements (typed: SQLModel does not declare `__table__`)."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on both backends (SQLite stores naive text; we restore the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; pass an aware datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def ts(nullable: bool = False, index: bool = False, default_now: bool = False) -> Any:
    """A UTC timestamp column."""
    kwargs: dict[str, Any] = {"default_factory": utcnow} if default_now else {"default": None}
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable, index=index), **kwargs)


def json_col(default: Any = None) -> Any:
    factory = dict if default is None else (lambda: copy.deepcopy(default))  # never one shared list
    return Field(default_factory=factory, sa_column=Column(JSON, nullable=False))


class WorkState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"


class OutboxState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"


class IdentityKind(StrEnum):
    LINKEDIN = "linkedin"  # normalized public profile URL
    LINKEDIN_MEMBER = "linkedin_member"  # urn:li:person:...
    EMAIL = "email"
    PHONE = "phone"  # E.164
    ATS = "ats"  # the ATS candidate id (Greenhouse) or contact id (Lever)


class Tenant(SQLModel, table=True):
    """A client account: one ATS connection, its LinkedIn customer and channels (mirrors the config)."""

    id: str = Field(primary_key=True, max_length=64)
    name: str
    ats: str = Field(max_length=32)
    created_at: datetime = ts(default_now=True)


class Candidate(SQLModel, table=True):
    """A person as HireBridge knows them in one tenant."""

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(foreign_key="tenant.id", index=True, max_length=64)
    first_name: str = ""
    last_name: str = ""
    headline: str | None = None
    company: str | None = None
    title: str | None = None
    location: str | None = None
    source: str | None = None
    ats_candidate_id: str | None = Field(default=None, index=True)
    ats_url: str | None = None
    profile_url: str | None = None  # the clean LinkedIn URL, for people to click
    owner: str | None = None
    # pending: keys claimed and an ATS create may be under way (intent_at says since when); synced: linked
    sync_status: str = Field(default="synced", max_length=16)
    intent_at: datetime | None = ts(nullable=True)
    claimed_by: str | None = Field(default=None, max_length=255)  # the work item syncing a pending candidate
    linkedin_pushed_at: datetime | None = ts(nullable=True)  # last written to LinkedIn (the In-ATS indicator)
    created_at: datetime = ts(default_now=True)
    updated_at: datetime = ts(default_now=True)
    last_activity_at: datetime | None = ts(nullable=True, index=True)


class CandidateIdentity(SQLModel, table=True):
    """One match key of a candidate; unique per tenant so an import-time lookup is one indexed query."""

    __table_args__ = (UniqueConstraint("tenant_id", "kind", "value"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(foreign_key="tenant.id", max_length=64)
    candidate_id: int = Field(foreign_key="candidate.id", index=True)
    kind: str = Field(max_length=32)
    value: str = Field(max_length=512)
    created_at: datetime = ts(default_now=True)


class CandidateBlock(SQLModel, table=True):
    """A name key of a candidate (bot.domain.matching's blocking keys): who to compare a newcomer with.

    Identity keys (LinkedIn, email, phone) find the same person exactly; these find the similar ones, so an
    import-time look-up for likely duplicates is one indexed query, however many candidates the tenant has.
    """

    __table_args__ = (Index("ix_candidateblock_lookup", "tenant_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(foreign_key="tenant.id", max_length=64)
    candidate_id: int = Field(foreign_key="candidate.id", index=True)
    key: str = Field(max_length=64)


class Application(SQLModel, table=True):
    """A candidacy for one ATS job; `stage_id` is the last stage seen (Greenhouse webhooks omit the previous)."""

    __table_args__ = (UniqueConstraint("tenant_id", "ats_application_id"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(foreign_key="tenant.id", max_length=64)
    candidate_id: int = Field(foreign_key="candidate.id", index=True)
    ats_application_id: str = Field(max_length=128)
    job_id: str = Field(max_length=128)
    job_name: str | None = None
    stage_id: str | None = None
    stage_name: str | None = None
    status: str = "active"
    created_at: datetime = ts(default_now=True)
    updated_at: datetime = ts(default_now=True)


class StageEvent(SQLModel, table=True):
    """One stage change of an application, kept because the ATS APIs do not keep history."""

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(foreign_key="tenant.id", max_length=64)
    application_id: int = Field(foreign_key="application.id", index=True)
    event_key: str = Field(unique=True, max_length=255)
    from_stage: str | None = None
    to_stage: str
    source: str = Field(max_length=32)  # ats | linkedin | slack
    actor: str | None = None
    occurred_at: datetime = ts()
    recorded_at: datetime = ts(default_now=True)


class Note(SQLModel, table=True):
    """A note written to the ATS, keyed by its source id so it is written once."""

    __table_args__ = (UniqueConstraint("tenant_id", "source_id"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(foreign_key="tenant.id", max_length=64)
    candidate_id: int = Field(foreign_key="candidate.id", index=True)
    source_id: str = Field(max_length=255)
    ats_note_id: str | None = None
    body: str = Field(sa_column=Column(Text, nullable=False))
    author: str | None = None
    created_at: datetime = ts(default_now=True)


class AttentionItem(SQLModel, table=True):
    """A record the bridge could not sync as it is (unmapped project, missing fields): kept, with the reason."""

    __table_args__ = (UniqueConstraint("tenant_id", "source", "source_id"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(max_length=64, index=True)
    source: str = Field(max_length=32)  # export | mail_stub | csv | slack
    source_id: str = Field(max_length=255)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    detail: dict[str, Any] = json_col()
    created_at: datetime = ts(default_now=True)
    resolved_at: datetime | None = ts(nullable=True)


class SyncCursor(SQLModel, table=True):
    """Where an incremental pull left off, per tenant (e.g. the ATS mirror's last `updated_at`)."""

    tenant_id: str = Field(primary_key=True, max_length=64)
    name: str = Field(primary_key=True, max_length=64)
    value: str
    updated_at: datetime = ts(default_now=True)


class WorkItem(SQLModel, table=True):
    """A unit of durable work; see storage/queue.py for its life cycle."""

    __table_args__ = (Index("ix_workitem_claim", "state", "priority", "run_after"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=64, index=True)
    dedupe_key: str = Field(unique=True, max_length=255)
    tenant_id: str | None = Field(default=None, max_length=64)
    payload: dict[str, Any] = json_col()
    priority: int = 50
    state: str = Field(default=WorkState.QUEUED, max_length=16)
    attempts: int = 0
    max_attempts: int = 20
    run_after: datetime = ts(default_now=True)
    locked_until: datetime | None = ts(nullable=True)
    lease_token: str | None = Field(default=None, max_length=64)
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    # how often the dead-letter sweep has given the item another round (a transient failure that outlasted
    # its retries); the sweep stops at `[bot] dead_letter_sweeps`
    revived: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = ts(default_now=True)
    updated_at: datetime = ts(default_now=True)
    finished_at: datetime | None = ts(nullable=True)


class OutboxMessage(SQLModel, table=True):
    """A Slack message to post, written in the same transaction as the change that caused it."""

    __table_args__ = (
        Index("ix_outbox_claim", "state", "next_attempt_at"),
        # The claim's per-channel checks: older unfinished posts and the one in flight; the last post's time.
        Index("ix_outbox_lane", "paced_channel", "state", "id"),
        Index("ix_outbox_lane_sent", "paced_channel", "sent_at"),
        Index("ix_outbox_batch_sent", "batch", "sent_at"),  # recent posts of a kind: /metrics' alert latency
    )

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(unique=True, max_length=255)
    tenant_id: str | None = Field(default=None, max_length=64)
    # a channel id, or for a direct message "@" and the recipient's email (the relay finds their Slack user)
    channel: str = Field(max_length=255)
    # The channel a post is paced in (in order, one per pace); None for answers sent to a `response_url`.
    paced_channel: str | None = Field(default=None, max_length=255)
    # A kind of message the relay may coalesce with others of its kind waiting for the same channel.
    batch: str | None = Field(default=None, max_length=32)
    payload: dict[str, Any] = json_col()
    state: str = Field(default=OutboxState.PENDING, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = ts(default_now=True)
    claimed_until: datetime | None = ts(nullable=True)
    slack_ts: str | None = None
    # An earlier attempt may have reached Slack (its sender died mid-send, or the connection broke):
    # the relay looks for the message in the channel before posting it again.
    maybe_posted: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = ts(default_now=True)
    sent_at: datetime | None = ts(nullable=True)


class InboxEvent(SQLModel, table=True):
    """An inbound webhook, unique on the provider's event id so replays change nothing."""

    __table_args__ = (UniqueConstraint("provider", "tenant_id", "event_id"),)

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=32)
    tenant_id: str = Field(max_length=64)
    event_id: str = Field(max_length=255)
    action: str | None = None
    status: str = Field(default="accepted", max_length=16)  # accepted | ignored | invalid
    body: str = Field(sa_column=Column(Text, nullable=False))
    received_at: datetime = ts(default_now=True)


class JobRun(SQLModel, table=True):
    """One claimed occurrence of a scheduled job; the unique pair makes it run once across processes."""

    __table_args__ = (UniqueConstraint("job", "scheduled_for"),)

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=64)
    scheduled_for: datetime = ts()
    holder: str = Field(max_length=128)
    status: str = Field(default="running", max_length=16)
    started_at: datetime = ts(default_now=True)
    finished_at: datetime | None = ts(nullable=True)
    error: str | None = Field(default=None, sa_column=Column(Text))


class IntegrationHealth(SQLModel, table=True):
    """Per tenant and integration: consecutive failures, last success, request budget used today."""

    tenant_id: str = Field(primary_key=True, max_length=64)
    integration: str = Field(primary_key=True, max_length=32)
    consecutive_failures: int = 0
    last_success_at: datetime | None = ts(nullable=True)
    last_failure_at: datetime | None = ts(nullable=True)
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    budget_day: str | None = None  # YYYY-MM-DD (UTC) the counter below belongs to
    budget_used: int = 0
    # every API call made and every failed one (5xx, 429, 401, unreachable), for /metrics; counted per process
    # and added here now and then (bot.call_health), never per call
    calls_total: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    errors_total: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    updated_at: datetime = ts(default_now=True)


class ProposalState(StrEnum):
    OPEN = "open"  # posted (or waiting to be) with its buttons
    MERGING = "merging"  # someone chose a survivor; the merge work item is under way
    MERGED = "merged"
    DISMISSED = "dismissed"  # "Not a duplicate": never proposed again
    FAILED = "failed"  # the merge gave up; the error is kept
    SUPERSEDED = "superseded"  # one of its records was merged away by another decision


class DuplicateProposal(SQLModel, table=True):
    """A pair of ATS records that may be one person, proposed to ops with its reasons; decided once."""

    __table_args__ = (UniqueConstraint("tenant_id", "pair_key"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(foreign_key="tenant.id", max_length=64)
    pair_key: str = Field(max_length=255)  # both ATS person ids, sorted, "a|b": a pair is never re-proposed
    record_a: str = Field(max_length=128)  # ATS person ids (Greenhouse candidate, Lever contact)
    record_b: str = Field(max_length=128)
    score: float = 0.0
    confidence: str = Field(max_length=16)
    reasons: list[str] = json_col(default=[])
    # each record as the scan saw it (names, contact details, employer, link): what the Slack message shows
    details: dict[str, Any] = json_col()
    origin: str = Field(default="scan", max_length=16)  # scan | import
    status: str = Field(default=ProposalState.OPEN, max_length=16, index=True)
    posted: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    survivor: str | None = Field(default=None, max_length=128)
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = ts(nullable=True)
    error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = ts(default_now=True)
    updated_at: datetime = ts(default_now=True)


class Incident(SQLModel, table=True):
    """A condition ops must know about (a backlog, failing calls…), open until it clears: one message each way.

    `open_key` names the condition ("tenant:kind:integration") while the incident is open and is cleared when
    it resolves; being unique, it lets one incident per condition be open at a time, whoever checks.
    """

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(max_length=64, index=True)
    kind: str = Field(max_length=32)  # backlog | api_errors | auth | budget | dead_letters | unmapped | stale_sync
    integration: str = Field(default="", max_length=32)
    open_key: str | None = Field(default=None, max_length=160, unique=True)
    summary: str = Field(sa_column=Column(Text, nullable=False))
    detail: dict[str, Any] = json_col()
    opened_at: datetime = ts()
    resolved_at: datetime | None = ts(nullable=True)


class KpiSnapshot(SQLModel, table=True):
    """A tenant's KPIs for one week, kept when the weekly digest is posted: aggregates only, no personal data,
    so they outlive the retention purge of the candidates they were computed from."""

    __table_args__ = (UniqueConstraint("tenant_id", "week"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(max_length=64)
    week: str = Field(max_length=10)  # the Monday (UTC) the week starts, YYYY-MM-DD
    figures: dict[str, Any] = json_col()
    created_at: datetime = ts(default_now=True)


class AuditEntry(SQLModel, table=True):
    """Who did what, when, on whom; never holds more personal data than the subject's id."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = ts(default_now=True, index=True)
    actor: str = Field(max_length=128)
    action: str = Field(max_length=64)
    tenant_id: str | None = Field(default=None, max_length=64)
    subject: str | None = Field(default=None, max_length=255)
    detail: dict[str, Any] = json_col()


#: every table that may hold a person's data, all cleaned by an erasure (bot/erasure.py, bot/erasure_scrub.py):
#: the candidate and what hangs off them, then the tables whose free text or JSON may name them. The others
#: (tenant, synccursor, kpisnapshot) hold none; a test keeps every table on one side or the other.
PERSONAL_DATA_TABLES = ("candidate", "candidateidentity", "candidateblock", "application", "stageevent", "note",
                        "attentionitem", "duplicateproposal", "workitem", "outboxmessage", "inboxevent",
                        "auditentry", "incident", "integrationhealth", "jobrun")
