"""The shape of `hirebridge.toml`: bot options, roles, agencies and tenants, with the look-ups the bot needs."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.config_fields import (
    AtsId,
    ChannelId,
    ContractUrn,
    EnvName,
    HttpUrl,
    MemberId,
    OrganizationUrn,
    PhoneRegion,
    SeatUrn,
    Slug,
    Text,
    invalid,
)

AtsKind = Literal["greenhouse", "lever"]
LinkedInEvent = Literal["exported", "inmail_sent", "inmail_replied"]

#: outcomes both ATSs report outside their stage lists; alert routes may always ask for them
OUTCOMES = ("Hired", "Rejected")


class Role(StrEnum):
    """What a Slack user may do; each role includes the ones below it."""

    ADMIN = "admin"
    OPS = "ops"
    RECRUITER = "recruiter"

    def at_least(self, minimum: Role) -> bool:
        """True when this role includes `minimum` (admin includes ops includes recruiter)."""
        order = list(Role)
        return order.index(self) <= order.index(minimum)


class _Section(BaseModel):
    # strict: TOML already types its values, so "30" where a number belongs is a mistake to report
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class BotConfig(_Section):
    """`[bot]`: install-wide options and the thresholds that raise ops warnings."""

    public_url: HttpUrl = "http://127.0.0.1:8000"
    default_phone_region: PhoneRegion = "US"
    sync_interval_seconds: int = Field(default=60, ge=10)
    dedupe_scan_hours: int = Field(default=24, ge=1)  # how often each tenant's ATS is scanned for duplicates
    backlog_threshold: int = Field(default=30, ge=1)
    stale_sync_minutes: int = Field(default=30, ge=1)  # no successful ATS or LinkedIn call for this long: warn
    watch_interval_seconds: int = Field(default=60, ge=10)  # how often the ops conditions are checked
    budget_warning_percent: int = Field(default=80, ge=1, le=100)  # of linkedin_daily_budget
    consecutive_error_threshold: int = Field(default=10, ge=1)
    linkedin_daily_budget: int = Field(default=500, ge=1)
    retention_days: int = Field(default=365, ge=1)
    # how long finished plumbing (done work items, posted messages, received webhooks, job runs) is kept;
    # their payloads may name candidates, so they are not kept for ever
    plumbing_days: int = Field(default=30, ge=1)
    token_refresh_minutes: int = Field(default=5, ge=1)  # tokens ending within twice this are fetched anew
    dead_letter_sweep_minutes: int = Field(default=60, ge=1)  # transient dead letters get another round
    dead_letter_sweeps: int = Field(default=3, ge=0)  # at most this many rounds per item


class Roles(_Section):
    """`[roles]`: Slack user ids (U…/W…) or user group ids (S…) per role."""

    admin: list[MemberId] = Field(default_factory=list)
    ops: list[MemberId] = Field(default_factory=list)
    recruiter: list[MemberId] = Field(default_factory=list)

    def members(self, role: Role) -> list[str]:
        """The ids listed for one role."""
        return list(getattr(self, role.value))


class Agency(_Section):
    """`[[agencies]]`: an agency operating several client accounts (tenants)."""

    id: Slug
    name: Text
    tenants: list[Slug] = Field(min_length=1)


class GreenhouseConnection(_Section):
    """`[tenants.greenhouse]`: Harvest v3 over OAuth2 client credentials."""

    api_url: HttpUrl = "https://harvest.greenhouse.io"
    auth_url: HttpUrl = "https://auth.greenhouse.io"
    client_id: Text
    client_secret_env: EnvName
    user_id: int = Field(ge=1)  # the token's `sub`: the Greenhouse user the bot acts as
    webhook_secret_env: EnvName


class LeverConnection(_Section):
    """`[tenants.lever]`: the Lever Data API with an API key."""

    api_url: HttpUrl = "https://api.lever.co/v1"  # the API root, version included
    api_key_env: EnvName
    perform_as: Text  # the Lever user id writes are attributed to
    signature_token_env: EnvName
    # the archive reason id a merged duplicate's opportunities are archived with (Lever has no merge);
    # without it, merges in this tenant are refused with that reason
    duplicate_archive_reason: Text | None = None


class LinkedInConnection(_Section):
    """`[tenants.linkedin]`: Recruiter System Connect for one LinkedIn customer."""

    api_url: HttpUrl = "https://api.linkedin.com"
    token_url: HttpUrl = "https://www.linkedin.com/oauth/v2/accessToken"
    client_id: Text
    client_secret_env: EnvName
    organization: OrganizationUrn
    contract: ContractUrn
    seats: list[SeatUrn] = Field(min_length=1)
    daily_budget: int | None = Field(default=None, ge=1)


class Job(_Section):
    """`[[tenants.jobs]]`: an ATS job (Greenhouse) or posting (Lever) the bridge serves."""

    id: AtsId
    name: Text
    department: str = ""


class StageMap(_Section):
    """`[tenants.stage_map]`: ATS stage id (text, as TOML keys are) → the name shown on LinkedIn and in alerts."""

    stages: dict[str, Text] = Field(default_factory=dict)  # account-wide (Lever) or shared ids
    jobs: dict[str, dict[str, Text]] = Field(default_factory=dict)  # per job: its own stages or overrides

    def name(self, stage_id: str, job_id: str | None = None) -> str | None:
        """The stage's name on a job (its override first), or anywhere when no job is given."""
        if job_id is not None:
            return self.jobs.get(job_id, {}).get(stage_id) or self.stages.get(stage_id)
        found = [stages[stage_id] for stages in (self.stages, *self.jobs.values()) if stage_id in stages]
        return found[0] if found else None

    def ids(self, job_id: str | None = None) -> set[str]:
        """Stage ids valid on a job, or on any job when none is given."""
        if job_id is not None:
            return set(self.stages) | set(self.jobs.get(job_id, {}))
        return set(self.stages).union(*self.jobs.values())

    def names(self) -> set[str]:
        """Every stage name the map can produce."""
        return set(self.stages.values()).union(*(set(stages.values()) for stages in self.jobs.values()))


class LinkedInEvents(_Section):
    """`[tenants.linkedin_events]`: the ATS stage a LinkedIn event moves a candidate to (one id per job)."""

    exported: list[AtsId] = Field(default_factory=list)
    inmail_sent: list[AtsId] = Field(default_factory=list)
    inmail_replied: list[AtsId] = Field(default_factory=list)


class AlertRoute(_Section):
    """`[[tenants.alerts]]`: post stage changes of matching jobs to a channel."""

    channel: ChannelId
    stages: list[Text] = Field(min_length=1)
    jobs: list[AtsId] = Field(default_factory=list)  # empty: every job
    departments: list[Text] = Field(default_factory=list)  # empty: every department
    dm_recruiter: bool = False

    def matches(self, job: Job, stage_name: str) -> bool:
        """True when a candidate reaching `stage_name` on `job` belongs on this route."""
        return (
            stage_name in self.stages
            and (not self.jobs or job.id in self.jobs)
            and (not self.departments or job.department in self.departments)
        )


class Tenant(_Section):
    """`[[tenants]]`: one client account with its ATS, LinkedIn customer, jobs, maps and channels."""

    id: Slug
    name: Text
    ats: AtsKind
    ops_channel: ChannelId
    recruiter_channel: ChannelId
    default_phone_region: PhoneRegion | None = None
    conflict_winner: Literal["ats", "linkedin"] = "ats"
    greenhouse: GreenhouseConnection | None = None
    lever: LeverConnection | None = None
    linkedin: LinkedInConnection | None = None
    jobs: list[Job] = Field(default_factory=list)
    projects: dict[str, Annotated[list[AtsId], Field(min_length=1)]] = Field(default_factory=dict)
    stage_map: StageMap = Field(default_factory=StageMap)
    linkedin_events: LinkedInEvents = Field(default_factory=LinkedInEvents)
    alerts: list[AlertRoute] = Field(default_factory=list)
    retention_days: int | None = Field(default=None, ge=1)
    # Erasure requests (`hirebridge erase`, `/candidate forget`) always erase locally; these say whether the
    # person is also deleted outside. In the ATS (Greenhouse only: Lever documents no delete) it is off by
    # default, as the ATS is the customer's system of record; LinkedIn's In-ATS record is ours to withdraw.
    erase_in_ats: bool = False
    erase_in_linkedin: bool = True

    def job(self, job_id: str) -> Job | None:
        """The listed job with this id."""
        return next((job for job in self.jobs if job.id == job_id), None)

    def jobs_for_project(self, project_name: str) -> list[Job]:
        """The jobs a LinkedIn Recruiter project maps to (names compared ignoring case and spacing)."""
        wanted = project_key(project_name)
        ids = next((ids for name, ids in self.projects.items() if project_key(name) == wanted), [])
        return [job for job in (self.job(job_id) for job_id in ids) if job is not None]

    def stage_name(self, stage_id: str, job_id: str | None = None) -> str | None:
        """The name shown for an ATS stage, or None for an unmapped stage."""
        return self.stage_map.name(stage_id, job_id)

    def event_stage_id(self, event: LinkedInEvent, job_id: str) -> str | None:
        """The ATS stage a LinkedIn event moves an application on `job_id` to, if one is mapped."""
        valid = self.stage_map.ids(job_id)
        return next((stage for stage in getattr(self.linkedin_events, event) if stage in valid), None)

    def alert_routes(self, job_id: str, stage_name: str) -> list[AlertRoute]:
        """The alert routes that want a candidate reaching `stage_name` on `job_id`."""
        job = self.job(job_id)
        return [route for route in self.alerts if job is not None and route.matches(job, stage_name)]

    def channels(self) -> set[str]:
        """Every Slack channel this tenant posts to: ops, recruiters and its alert routes."""
        return {self.ops_channel, self.recruiter_channel, *(route.channel for route in self.alerts)}

    def secret_env_fields(self) -> list[tuple[str, str]]:
        """(path within the tenant, variable name) for every secret the tenant names."""
        sections = {"greenhouse": self.greenhouse, "lever": self.lever, "linkedin": self.linkedin}
        return [
            (f"{section}.{field}", value)
            for section, model in sections.items()
            if model is not None
            for field in type(model).model_fields
            if field.endswith("_env")
            for value in [getattr(model, field)]
        ]

    def secret_env_names(self) -> list[str]:
        """The environment variables holding this tenant's secrets."""
        return [name for _, name in self.secret_env_fields()]


def project_key(name: str) -> str:
    """How project names compare: LinkedIn users type them, so case and spacing do not count."""
    return " ".join(name.split()).casefold()


class TenantUnclear(ValueError):
    """A command could not be tied to one tenant; the message says what would make it clear."""


class AppConfig(_Section):
    """The whole config file."""

    bot: BotConfig = Field(default_factory=BotConfig)
    roles: Roles = Field(default_factory=Roles)
    agencies: list[Agency] = Field(default_factory=list)
    tenants: list[Tenant]

    @field_validator("tenants")
    @classmethod
    def _at_least_one_tenant(cls, tenants: list[Tenant]) -> list[Tenant]:
        if not tenants:
            raise invalid("at least one [[tenants]] table is required")
        return tenants

    def tenant(self, tenant_id: str) -> Tenant:
        """The tenant with this id; KeyError for an unknown one."""
        for tenant in self.tenants:
            if tenant.id == tenant_id:
                return tenant
        raise KeyError(tenant_id)

    def resolve_tenant(self, *, channel: str | None = None, tenant_id: str | None = None,
                       job_id: str | None = None) -> Tenant:
        """The tenant a Slack command is about: named, owning the job, owning the channel, or the only one.

        Raises `TenantUnclear` saying what to add when the answer is not unique.
        """
        if tenant_id is not None:
            try:
                return self.tenant(tenant_id)
            except KeyError:
                known = self._ids(self.tenants)
                raise TenantUnclear(f"there is no tenant {tenant_id!r} (tenants: {known})") from None
        candidates = self.tenants
        in_channel = [t for t in candidates if channel and channel in t.channels()]
        if job_id is not None:
            candidates = [t for t in candidates if t.job(job_id) is not None]
            if not candidates:
                raise TenantUnclear(f"{job_id!r} is not a job HireBridge serves; `/candidate mapping` lists them")
            candidates = [t for t in candidates if t in in_channel] or candidates
        elif in_channel:
            candidates = in_channel
        if len(candidates) == 1:
            return candidates[0]
        raise TenantUnclear(f"this channel belongs to several tenants or none ({self._ids(candidates)}): run "
                            "the command in a tenant's channel, or name a job")

    @staticmethod
    def _ids(tenants: Iterable[Tenant]) -> str:
        return ", ".join(t.id for t in tenants)

    def agency_of(self, tenant_id: str) -> Agency | None:
        """The agency operating a tenant, if any."""
        return next((agency for agency in self.agencies if tenant_id in agency.tenants), None)

    def role_of(self, user_id: str, user_groups: Iterable[str] = ()) -> Role | None:
        """The highest role a user holds directly or through one of their user groups."""
        ids = {user_id, *user_groups}
        return next((role for role in Role if ids & set(self.roles.members(role))), None)

    def phone_region(self, tenant_id: str) -> str:
        """The region used to read phone numbers written without a country code."""
        return self.tenant(tenant_id).default_phone_region or self.bot.default_phone_region

    def retention_days(self, tenant_id: str) -> int:
        """How long a tenant's candidate data is kept."""
        return self.tenant(tenant_id).retention_days or self.bot.retention_days

    def linkedin_daily_budget(self, tenant_id: str) -> int:
        """The daily LinkedIn request budget for a tenant."""
        linkedin = self.tenant(tenant_id).linkedin
        return (linkedin.daily_budget if linkedin else None) or self.bot.linkedin_daily_budget
