"""Recruiting KPIs of one tenant over a window, read from the store (PRODUCT point 11: measure success).

Each figure is None when there is nothing to measure — "no data", never a made-up 0 — and comes with the
counts behind it, so a reader can judge it (100% of 2 is not 100% of 2,000). Counting is done by SQL
aggregates; only the durations a percentile needs are read, at most `SAMPLE` of them. The window is
half-open, `since <= t < until`, so consecutive windows never count a row twice.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, distinct, func, not_, or_, select
from sqlmodel import Session

from bot.config_model import AppConfig
from bot.sync import IMPORT_MATCHED, SYNC
from storage.models import (
    Application,
    AuditEntry,
    Candidate,
    CandidateIdentity,
    DuplicateProposal,
    IdentityKind,
    ProposalState,
    StageEvent,
    WorkItem,
    WorkState,
    table,
)

STATS_DAYS = 30  # the window of `/candidate stats` and `hirebridge stats`
SAMPLE = 50_000  # at most this many durations are read for a percentile (the most recent ones)
#: StageEvent sources of the first stage an export gives an application (bot/sync.py `_stage_event`)
EXPORT_SOURCES = ("linkedin", "slack")
#: the fields profile completeness looks at, in the order they are shown
FIELDS = ("name", "email", "phone", "linkedin", "company", "title", "location")
WEEK = timedelta(days=7)

CANDIDATES, IDENTITIES, APPLICATIONS = table(Candidate).c, table(CandidateIdentity).c, table(Application).c
EVENTS, PROPOSALS = table(StageEvent).c, table(DuplicateProposal).c
WORK, AUDIT = table(WorkItem).c, table(AuditEntry).c


@dataclass(frozen=True)
class TimeToReview:
    """From an application's export to its first stage change after the one the export gave it."""

    exported: int  # applications exported from LinkedIn (or `/candidate export`) in the window
    reviewed: int  # of those, moved on from their first stage before the window's end
    median_hours: float | None
    p90_hours: float | None


@dataclass(frozen=True)
class DuplicateRate:
    """Duplicate pairs found in the window against the tenant's records."""

    records: int  # the tenant's candidate records linked to an ATS record, created before the window's end
    found: int  # duplicate proposals made in the window (scan or import), "not a duplicate" ones excepted
    percent: float | None


@dataclass(frozen=True)
class Prevented:
    """Imports that found the person already on file and linked them instead of creating a record."""

    imports: int  # sync work items done in the window (each one incoming person)
    prevented: int  # of those, matched to an existing record (bot/sync.py audits `import.matched`)


@dataclass(frozen=True)
class Completeness:
    """How much of a usable profile the tenant's records carry: per field, and the mean over the fields."""

    records: int  # as in DuplicateRate
    percent: float | None  # the mean of the fields' percentages
    by_field: Mapping[str, float | None]  # FIELDS -> percent of records having it


@dataclass(frozen=True)
class SourceAccuracy:
    """Of the people exported from LinkedIn in the window, the share their record credits to LinkedIn."""

    linkedin_sourced: int
    credited: int
    percent: float | None


@dataclass(frozen=True)
class SyncLag:
    """From an incoming person being queued to their sync being done."""

    syncs: int  # sync work items done in the window
    p50_seconds: float | None
    p95_seconds: float | None


@dataclass(frozen=True)
class Adoption:
    """Slash commands per user per week. Install-wide: a command's audit entry names no tenant, so every
    tenant of an install shows the same figure."""

    commands: int  # `/candidate` commands run (Slack's retries of one command counted once)
    users: int  # distinct Slack users who ran them
    refused: int  # commands refused for want of a role, or not understood: counted apart, not in `commands`
    weeks: float
    per_user_per_week: float | None


@dataclass(frozen=True)
class Kpis:
    """A tenant's recruiting KPIs over `[since, until)`."""

    tenant_id: str
    since: datetime
    until: datetime
    review: TimeToReview
    duplicates: DuplicateRate
    prevented: Prevented
    completeness: Completeness
    source: SourceAccuracy
    sync_lag: SyncLag
    adoption: Adoption

    def figures(self) -> dict[str, Any]:
        """The KPIs as JSON (aggregates only: no names, no ids but the tenant's), for snapshots and `--json`."""
        figures = asdict(self)
        figures["since"], figures["until"] = self.since.isoformat(), self.until.isoformat()
        figures["completeness"]["by_field"] = dict(self.completeness.by_field)
        return figures

    @classmethod
    def from_figures(cls, figures: Mapping[str, Any]) -> Kpis | None:
        """KPIs read back from `figures()`; None if they were written in a shape this version cannot read."""
        try:
            return cls(
                tenant_id=figures["tenant_id"], since=datetime.fromisoformat(figures["since"]),
                until=datetime.fromisoformat(figures["until"]), review=TimeToReview(**figures["review"]),
                duplicates=DuplicateRate(**figures["duplicates"]), prevented=Prevented(**figures["prevented"]),
                completeness=Completeness(**figures["completeness"]), source=SourceAccuracy(**figures["source"]),
                sync_lag=SyncLag(**figures["sync_lag"]), adoption=Adoption(**figures["adoption"]))
        except (KeyError, TypeError, ValueError):
            return None


def compute_kpis(session: Session, config: AppConfig, tenant_id: str, *, since: datetime,
                 until: datetime) -> Kpis:
    """The tenant's KPIs over `[since, until)`; raises KeyError for a tenant the config does not name."""
    config.tenant(tenant_id)
    if until <= since:
        raise ValueError(f"the window ends ({until.isoformat()}) before it starts ({since.isoformat()})")
    records = _records(session, tenant_id, until)
    lag = _sync_lag(session, tenant_id, since, until)
    return Kpis(tenant_id=tenant_id, since=since, until=until,
                review=_time_to_review(session, tenant_id, since, until),
                duplicates=_duplicate_rate(session, tenant_id, since, until, records),
                prevented=Prevented(lag.syncs, _prevented(session, tenant_id, since, until)),
                completeness=_completeness(session, tenant_id, until),
                source=_source_accuracy(session, tenant_id, since, until), sync_lag=lag,
                adoption=_adoption(session, since, until))


# --- the figures -----------------------------------------------------------------------------------------------

def _time_to_review(session: Session, tenant_id: str, since: datetime, until: datetime) -> TimeToReview:
    """Exported: applications whose first export event (no `from_stage`, source LinkedIn or Slack: what
    bot/sync.py records when an export creates or adds an application) falls in the window. Reviewed: those
    with a later stage event (one with a `from_stage`, from the ATS or LinkedIn) before `until`."""
    exports = (select(EVENTS.application_id, func.min(EVENTS.occurred_at).label("exported_at"))
               .where(EVENTS.tenant_id == tenant_id, EVENTS.from_stage.is_(None),
                      EVENTS.source.in_(EXPORT_SOURCES))
               .group_by(EVENTS.application_id).subquery())
    later = table(StageEvent).alias("later")
    firsts = (select(exports.c.application_id, exports.c.exported_at,
                     func.min(later.c.occurred_at).label("reviewed_at"))
              .select_from(exports.outerjoin(later, and_(
                  later.c.application_id == exports.c.application_id, later.c.from_stage.is_not(None),
                  later.c.occurred_at >= exports.c.exported_at, later.c.occurred_at < until)))
              .where(exports.c.exported_at >= since, exports.c.exported_at < until)
              .group_by(exports.c.application_id, exports.c.exported_at).subquery())
    exported, reviewed = session.execute(select(func.count(), func.count(firsts.c.reviewed_at))).one()
    rows = session.execute(select(firsts.c.exported_at, firsts.c.reviewed_at)
                           .where(firsts.c.reviewed_at.is_not(None))
                           .order_by(firsts.c.exported_at.desc()).limit(SAMPLE)).all()
    hours = [(r.reviewed_at - r.exported_at).total_seconds() / 3600 for r in rows]
    return TimeToReview(int(exported), int(reviewed), percentile(hours, 50), percentile(hours, 90))


def _is_record() -> ColumnElement[bool]:
    """A candidate counted as a record: linked to an ATS person (a pending import is not one yet)."""
    return CANDIDATES.ats_candidate_id.is_not(None)


def _records(session: Session, tenant_id: str, until: datetime) -> int:
    return int(session.execute(select(func.count()).where(
        CANDIDATES.tenant_id == tenant_id, _is_record(), CANDIDATES.created_at < until)).scalar_one())


def _duplicate_rate(session: Session, tenant_id: str, since: datetime, until: datetime,
                    records: int) -> DuplicateRate:
    """Proposals of the window that ops did not dismiss (open, merged, failed or superseded alike)."""
    found = int(session.execute(select(func.count()).where(
        PROPOSALS.tenant_id == tenant_id, PROPOSALS.status != ProposalState.DISMISSED.value,
        PROPOSALS.created_at >= since, PROPOSALS.created_at < until)).scalar_one())
    return DuplicateRate(records, found, _percent(found, records))


def _prevented(session: Session, tenant_id: str, since: datetime, until: datetime) -> int:
    return int(session.execute(select(func.count()).where(
        AUDIT.tenant_id == tenant_id, AUDIT.action == IMPORT_MATCHED, AUDIT.at >= since, AUDIT.at < until)
    ).scalar_one())


def _filled(column: ColumnElement[Any]) -> ColumnElement[bool]:
    return func.coalesce(func.trim(column), "") != ""


def _completeness(session: Session, tenant_id: str, until: datetime) -> Completeness:
    """Over the records existing at `until`: a first and a last name, an email, a phone and a LinkedIn profile
    (identity keys), and an employer, a title and a location."""

    def has(*kinds: IdentityKind) -> Any:
        return func.max(case((IDENTITIES.kind.in_([k.value for k in kinds]), 1), else_=0))

    keys = (select(IDENTITIES.candidate_id, has(IdentityKind.EMAIL).label("email"),
                   has(IdentityKind.PHONE).label("phone"),
                   has(IdentityKind.LINKEDIN, IdentityKind.LINKEDIN_MEMBER).label("linkedin"))
            .where(IDENTITIES.tenant_id == tenant_id).group_by(IDENTITIES.candidate_id).subquery())
    c = CANDIDATES
    flags: dict[str, ColumnElement[Any]] = {
        "name": case((and_(_filled(c.first_name), _filled(c.last_name)), 1), else_=0),
        "email": func.coalesce(keys.c.email, 0), "phone": func.coalesce(keys.c.phone, 0),
        "linkedin": func.coalesce(keys.c.linkedin, 0), "company": case((_filled(c.company), 1), else_=0),
        "title": case((_filled(c.title), 1), else_=0), "location": case((_filled(c.location), 1), else_=0)}
    row = session.execute(
        select(func.count(c.id), *(func.sum(flags[name]) for name in FIELDS))
        .select_from(table(Candidate).outerjoin(keys, keys.c.candidate_id == c.id))
        .where(c.tenant_id == tenant_id, _is_record(), c.created_at < until)).one()
    records = int(row[0])
    by_field = {name: _percent(int(row[i + 1] or 0), records) for i, name in enumerate(FIELDS)}
    mean = sum(int(row[i + 1] or 0) for i in range(len(FIELDS))) / len(FIELDS)
    return Completeness(records, _percent(mean, records), by_field)


def _source_accuracy(session: Session, tenant_id: str, since: datetime, until: datetime) -> SourceAccuracy:
    """LinkedIn-sourced: candidates given an application by a LinkedIn export (or `/candidate export`) in the
    window. Credited: their `source` names LinkedIn — the bridge's "linkedin:<channel>" on a record it created
    (it creates them with the ATS source "LinkedIn Recruiter"), or the ATS's own source ("LinkedIn
    (Prospecting)", "Referral"…) on a record first read from the ATS, which the export then linked to."""
    exported = (select(APPLICATIONS.candidate_id)
                .join_from(table(StageEvent), table(Application), APPLICATIONS.id == EVENTS.application_id)
                .where(EVENTS.tenant_id == tenant_id, EVENTS.from_stage.is_(None),
                       EVENTS.source.in_(EXPORT_SOURCES), EVENTS.occurred_at >= since, EVENTS.occurred_at < until))
    credited = case((func.lower(func.coalesce(CANDIDATES.source, "")).like("%linkedin%"), 1), else_=0)
    sourced, with_credit = session.execute(select(func.count(), func.sum(credited)).where(
        CANDIDATES.tenant_id == tenant_id, CANDIDATES.id.in_(exported))).one()
    return SourceAccuracy(int(sourced), int(with_credit or 0), _percent(int(with_credit or 0), int(sourced)))


def _sync_lag(session: Session, tenant_id: str, since: datetime, until: datetime) -> SyncLag:
    """Sync work items done in the window: `finished_at - created_at` (waiting, retries and the work)."""
    done = and_(WORK.kind == SYNC, WORK.tenant_id == tenant_id, WORK.state == WorkState.DONE.value,
                WORK.finished_at >= since, WORK.finished_at < until)
    syncs = int(session.execute(select(func.count()).where(done)).scalar_one())
    rows = session.execute(select(WORK.created_at, WORK.finished_at).where(done)
                           .order_by(WORK.finished_at.desc()).limit(SAMPLE)).all()
    seconds = [(r.finished_at - r.created_at).total_seconds() for r in rows]
    return SyncLag(syncs, percentile(seconds, 50), percentile(seconds, 95))


def _adoption(session: Session, since: datetime, until: datetime) -> Adoption:
    """`/candidate` audit entries of the window (bot/slack/commands.py: actor "slack:<user>", action
    "command.<name>"). A Slack retry of one invocation is audited again with `slack_retry`: left out."""
    refused = or_(AUDIT.action == "command.invalid", AUDIT.action.like("command.%.refused"))
    first_delivery = AUDIT.detail["slack_retry"].as_integer().is_(None)
    used, by = and_(not_(refused), first_delivery), and_(refused, first_delivery)
    commands, users, refusals = session.execute(
        select(func.count(case((used, 1))), func.count(distinct(case((used, AUDIT.actor)))),
               func.count(case((by, 1))))
        .where(AUDIT.actor.like("slack:%"), AUDIT.action.like("command.%"), AUDIT.at >= since, AUDIT.at < until)
    ).one()
    weeks = (until - since) / WEEK
    per_user = commands / users / weeks if users else None
    return Adoption(int(commands), int(users), int(refusals), weeks, per_user)


# --- arithmetic ------------------------------------------------------------------------------------------------

def _percent(part: float, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0–100), interpolating linearly between the nearest ranks; None without values.

    The same method as numpy's default and a spreadsheet's PERCENTILE, so people can check the figures.
    """
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


# --- in words ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Figure:
    """One KPI in words, with its headline number (what a week is compared with the one before by)."""

    key: str
    label: str
    text: str
    value: float | None
    unit: str  # after the number: " h", "%", " s", ""
    digits: int = 1  # decimals the number is shown with (0 for a count)


def _num(value: float | None, unit: str, digits: int = 1) -> str:
    return "no data" if value is None else f"{value:.{digits}f}{unit}"


def describe(k: Kpis) -> list[Figure]:
    """Every KPI in plain words (no markup), for the CLI table and the Slack answers alike."""
    r, d, p, c, s, lag, a = (k.review, k.duplicates, k.prevented, k.completeness, k.source, k.sync_lag,
                             k.adoption)
    review = (f"median {_num(r.median_hours, ' h')}, p90 {_num(r.p90_hours, ' h')} — {r.reviewed} of "
              f"{r.exported} exported application(s) reviewed" if r.reviewed else
              f"no data — none of {r.exported} exported application(s) reviewed yet" if r.exported else
              "no data — no application exported in this period")
    rate = "no data" if a.per_user_per_week is None else f"{a.per_user_per_week:.1f} command(s) per user per week"
    fields = ", ".join(f"{name} {_num(c.by_field[name], '%', 0)}" for name in FIELDS)
    return [
        Figure("time_to_review", "Time to review", review, r.median_hours, " h"),
        Figure("duplicate_rate", "Duplicate records",
               f"{_num(d.percent, '%')} — {d.found} pair(s) found among {d.records} record(s)", d.percent, "%"),
        Figure("prevented", "Duplicates prevented at import",
               f"{p.prevented} of {p.imports} import(s) linked to an existing record", float(p.prevented), "", 0),
        Figure("completeness", "Profile completeness",
               f"{_num(c.percent, '%')} on average over {c.records} record(s)"
               + (f" — {fields}" if c.records else ""), c.percent, "%"),
        Figure("source_accuracy", "Source accuracy",
               f"{_num(s.percent, '%')} — {s.credited} of {s.linkedin_sourced} LinkedIn-sourced record(s) "
               "credited to LinkedIn", s.percent, "%"),
        Figure("sync_lag", "Sync lag",
               f"p50 {_num(lag.p50_seconds, ' s')}, p95 {_num(lag.p95_seconds, ' s')} over {lag.syncs} sync(s)",
               lag.p50_seconds, " s"),
        Figure("adoption", "Adoption", f"{rate} — {a.commands} command(s) by {a.users} user(s), {a.refused} "
               "refused (install-wide)", a.per_user_per_week, ""),
    ]
