"""Prospects (people LinkedIn, a CSV row or a recruiter hands us) and their mapping to an ATS record."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from bot.domain.identity import IdentityKey, ProfileUrlError, identity_keys, normalize_linkedin_url


@dataclass(frozen=True)
class Prospect:
    """What a source tells us about a person to sync; `source_id` is unique within its source."""

    source: str  # export | mail_stub | csv | slack
    source_id: str
    first_name: str = ""
    last_name: str = ""
    headline: str | None = None
    location: str | None = None
    company: str | None = None
    title: str | None = None
    profile_url: str | None = None
    member_urn: str | None = None
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    project: str | None = None
    job_id: str | None = None  # an explicit ATS job: the export drop-down, `import --job`, Slack export

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> Prospect:
        values = dict(data)
        for name in ("emails", "phones"):
            values[name] = tuple(values.get(name) or ())
        return cls(**values)


@dataclass(frozen=True)
class Mapped:
    """A prospect ready to sync: clean fields, its identity keys, and the ATS jobs it goes to."""

    prospect: Prospect
    keys: tuple[IdentityKey, ...]
    job_ids: tuple[str, ...]
    profile_url: str | None
    emails: tuple[str, ...]
    phones: tuple[str, ...]
    warnings: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class NeedsAttention:
    """Why a prospect cannot be synced as it is; kept and shown to ops, never half-imported or dropped."""

    reason: str


#: sources that may update a person already known without naming a job (a reply to an InMail)
JOB_OPTIONAL = frozenset({"mail_stub"})


def map_prospect(prospect: Prospect, *, known_jobs: Collection[str],
                 jobs_for_project: Callable[[str], list[str]], region: str) -> Mapped | NeedsAttention:
    """Check the fields the ATS needs and the keys duplicate checks need; choose the target jobs.

    A mail stub without a project maps to no job: it may only update a person already known.
    """
    problem = _missing_name(prospect) or _bad_profile_url(prospect)
    if problem:
        return NeedsAttention(problem)
    keys = identity_keys(profile_urls=[prospect.profile_url] if prospect.profile_url else [],
                         member_urns=[prospect.member_urn] if prospect.member_urn else [],
                         emails=prospect.emails, phones=prospect.phones, default_region=region)
    if not keys.keys:
        return NeedsAttention("no LinkedIn URL, email or phone: there is nothing to check for duplicates with")
    jobs = _target_jobs(prospect, known_jobs, jobs_for_project)
    if isinstance(jobs, NeedsAttention):
        return jobs
    clean_url = normalize_linkedin_url(prospect.profile_url).url if prospect.profile_url else None
    return Mapped(
        prospect=prospect, keys=tuple(keys.keys), job_ids=tuple(jobs), profile_url=clean_url,
        emails=tuple(k.value for k in keys.keys if k.kind == "email"),
        phones=tuple(k.value for k in keys.keys if k.kind == "phone"),
        warnings=tuple(f"ignored {value!r}: {why}" for value, why in keys.rejected),
    )


def _missing_name(prospect: Prospect) -> str | None:
    if not prospect.first_name.strip():
        return "no first name: the ATS requires one (LinkedIn sent an empty firstName)"
    if not prospect.last_name.strip():
        return "no last name: the ATS requires one; add it and retry"
    return None


def _bad_profile_url(prospect: Prospect) -> str | None:
    if not prospect.profile_url:
        return None
    try:
        normalize_linkedin_url(prospect.profile_url)
    except ProfileUrlError as exc:
        return f"LinkedIn URL {prospect.profile_url!r} cannot be used: {exc}"
    return None


def _target_jobs(prospect: Prospect, known_jobs: Collection[str],
                 jobs_for_project: Callable[[str], list[str]]) -> list[str] | NeedsAttention:
    if not prospect.job_id and not prospect.project and prospect.source in JOB_OPTIONAL:
        return []
    if prospect.job_id:
        if prospect.job_id not in known_jobs:
            return NeedsAttention(f"job {prospect.job_id!r} is not one of this tenant's jobs")
        return [prospect.job_id]
    if not prospect.project:
        return NeedsAttention("no project or job: LinkedIn did not say where this export goes; choose a job")
    jobs = jobs_for_project(prospect.project)
    if not jobs:
        return NeedsAttention(f"LinkedIn project {prospect.project!r} is not mapped to an ATS job")
    return jobs
