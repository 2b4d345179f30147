"""`/candidate check`: who a LinkedIn URL, email or name is in each tenant's ATS, read from the local copy only."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlmodel import Session

from bot.config_model import AppConfig, Tenant
from bot.domain.identity import ProfileUrlError, normalize_email, normalize_linkedin_url
from bot.domain.profile_url import strip_slack_link
from storage.models import (
    Application,
    AttentionItem,
    Candidate,
    CandidateIdentity,
    IdentityKind,
    Note,
    StageEvent,
    table,
    utcnow,
)

QueryKind = Literal["url", "email", "name"]

C, IDS, APPS, EVENTS, NOTES = (table(m).c for m in (Candidate, CandidateIdentity, Application, StageEvent, Note))
MIN_NAME, MAX_QUERY, MAX_TOKENS = 2, 200, 6
_URLISH = re.compile(r"^[a-z][a-z0-9+.-]*://|^www\.|linkedin\.|lnkd\.in|/", re.IGNORECASE)
# Letters NFKD leaves whole; casefold already turns ß into ss.
_LIGATURES = str.maketrans({"æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"})
_WORD = re.compile(r"\w+")
# SQL lower() folds only ASCII on SQLite, so names holding other characters are folded in Python instead.
_NON_ASCII = "[^ -~]"


@dataclass(frozen=True)
class ApplicationView:
    """One candidacy: job, stage, status (active | rejected | hired | archived) and since when it is there."""

    job: str
    stage: str | None
    status: str
    since: datetime | None

    @property
    def is_current(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True)
class StageChange:
    """The last stage move the bridge saw, from its own history (the ATS APIs keep none)."""

    to_stage: str
    source: str
    actor: str | None
    at: datetime


@dataclass(frozen=True)
class InMailView:
    """When the last InMail was recorded and its first line only: the rest is personal correspondence."""

    at: datetime
    first_line: str


@dataclass(frozen=True)
class PersonView:
    """What a recruiter needs before outreach about one candidate record in one tenant."""

    tenant_id: str
    tenant_name: str
    ats: str
    candidate_id: int  # the local record, for audit entries that must not hold the query itself
    name: str
    company: str | None
    title: str | None
    ats_id: str | None
    ats_url: str | None
    linkedin_url: str | None
    owner: str | None
    created_at: datetime
    last_activity_at: datetime | None
    applications: tuple[ApplicationView, ...]
    last_stage_change: StageChange | None
    last_inmail: InMailView | None
    pending: bool  # claimed locally, the ATS record not linked yet
    attention: str | None  # why the record needs a person, if it does

    @property
    def current(self) -> tuple[ApplicationView, ...]:
        return tuple(a for a in self.applications if a.is_current)

    @property
    def earlier(self) -> tuple[ApplicationView, ...]:
        return tuple(a for a in self.applications if not a.is_current)

    @property
    def is_rediscovered(self) -> bool:
        """Known from earlier candidacies that all ended: worth a fresh look, not a cold contact."""
        return bool(self.applications) and not self.current


@dataclass(frozen=True)
class Lookup:
    """The answer to one check: who matched `query`, or the problem with it."""

    query: str
    kind: QueryKind
    term: str  # what was searched for: the normalized key, or the folded name
    as_of: datetime
    tenants: tuple[str, ...] = ()  # names of the tenants searched
    people: list[PersonView] = field(default_factory=list)
    problem: str | None = None
    truncated: bool = False  # more people matched than were loaded


def find_people(session: Session, config: AppConfig, query: str, tenant_ids: Sequence[str] | None = None,
                limit: int = 10, now: datetime | None = None) -> Lookup:
    """Look a person up by LinkedIn URL, email or name in the allowed tenants (None: every tenant)."""
    allowed = [t for t in config.tenants if tenant_ids is None or t.id in set(tenant_ids)]
    kind, term, problem = classify(query)
    base = Lookup(query=query, kind=kind, term=term, as_of=now or utcnow(),
                  tenants=tuple(t.name for t in allowed), problem=problem)
    if problem is not None:
        return base
    if not allowed:
        return replace(base, problem="There is no tenant you may search.")
    ids = [t.id for t in allowed]
    found = _by_name(session, ids, term) if kind == "name" else _by_key(session, ids, kind, term)
    people = _people(session, {t.id: t for t in allowed}, found[:limit])
    return replace(base, people=people, truncated=len(found) > limit)


def classify(query: str) -> tuple[QueryKind, str, str | None]:
    """Return what the query is, the term to search and a recruiter-facing problem (None if usable)."""
    text = strip_slack_link(query)
    if "@" in text and "/" not in text:  # profile URLs have a path; an address at linkedin.com is still email
        email = normalize_email(text)
        return "email", email or text, None if email else f"“{text}” is not an email address."
    if _URLISH.search(text):
        try:
            return "url", normalize_linkedin_url(text).value, None
        except ProfileUrlError as error:
            return "url", text, error.reason
    name = " ".join(fold(text).split())
    if not MIN_NAME <= len(name) <= MAX_QUERY or not _WORD.search(name):
        return "name", name, f"Give a LinkedIn profile URL, an email, or {MIN_NAME}–{MAX_QUERY} letters of a name."
    return "name", name, None


def fold(text: str) -> str:
    """Return text case- and accent-folded, so "Jürgen", "JURGEN" and "jurgen" compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_LIGATURES)


def name_matches(first: str, last: str, term: str) -> bool:
    """True when every word of `term` starts a word of the name, in any order ("Doe Jane" finds Jane Doe)."""
    words = _WORD.findall(fold(f"{first} {last}"))
    return all(any(w.startswith(t) for w in words) for t in _WORD.findall(term))


def _by_key(session: Session, tenant_ids: list[str], kind: QueryKind, value: str) -> list[int]:
    """Candidates holding the key in any allowed tenant: one query on the (tenant, kind, value) index."""
    key_kind = IdentityKind.LINKEDIN if kind == "url" else IdentityKind.EMAIL
    query = select(IDS.candidate_id).join(Candidate, C.id == IDS.candidate_id).where(
        IDS.tenant_id.in_(tenant_ids), IDS.kind == key_kind.value, IDS.value == value).order_by(*_recent())
    return [int(i) for i in session.execute(query).scalars()]


def _by_name(session: Session, tenant_ids: list[str], term: str) -> list[int]:
    """Candidates whose name matches: SQL narrows by ASCII substring, Python decides with the accent fold."""
    tokens = _WORD.findall(term)[:MAX_TOKENS]
    ascii_match = and_(*(or_(func.lower(C.first_name).contains(t, autoescape=True),
                             func.lower(C.last_name).contains(t, autoescape=True)) for t in tokens))
    maybe_accented = or_(C.first_name.regexp_match(_NON_ASCII), C.last_name.regexp_match(_NON_ASCII))
    query = select(C.id, C.first_name, C.last_name).where(
        C.tenant_id.in_(tenant_ids), or_(ascii_match, maybe_accented)).order_by(*_recent())
    rows = [r for r in session.execute(query) if name_matches(r.first_name, r.last_name, term)]
    # Whole-name matches ("Jane Doe" for Jane Doe, not for Jane Doerr) come first; sort keeps recency within.
    rows.sort(key=lambda r: set(_WORD.findall(fold(f"{r.first_name} {r.last_name}"))) != set(tokens))
    return [int(r.id) for r in rows]


def _recent() -> list[ColumnElement[Any]]:
    return [func.coalesce(C.last_activity_at, C.created_at).desc(), C.id.desc()]


def _people(session: Session, tenants: dict[str, Tenant], ids: list[int]) -> list[PersonView]:
    """Load everything the answer shows for these candidates, a few batched queries in all."""
    if not ids:
        return []
    rows = {r.id: r for r in session.execute(select(Candidate).where(C.id.in_(ids))).scalars()}
    apps = _applications(session, ids)
    events = _last_events(session, [a.id for group in apps.values() for a in group if a.id is not None])
    inmails = _last_inmails(session, ids)
    links = _linkedin_keys(session, ids)
    attention = _attention(session, list(rows.values()))
    return [_view(tenants[r.tenant_id], r, apps.get(i, []), events, inmails.get(i), links.get(i),
                  attention.get(i)) for i in ids if (r := rows.get(i)) is not None]


def _applications(session: Session, ids: list[int]) -> dict[int, list[Application]]:
    groups: dict[int, list[Application]] = {}
    for app in session.execute(select(Application).where(APPS.candidate_id.in_(ids)).order_by(APPS.id)).scalars():
        groups.setdefault(app.candidate_id, []).append(app)
    return groups


def _last_events(session: Session, app_ids: list[int]) -> dict[int, StageEvent]:
    """Each application's latest stage change."""
    if not app_ids:
        return {}
    query = select(StageEvent).where(EVENTS.application_id.in_(app_ids)).order_by(EVENTS.occurred_at, EVENTS.id)
    return {e.application_id: e for e in session.execute(query).scalars()}


def _last_inmails(session: Session, ids: list[int]) -> dict[int, Note]:
    query = select(Note).where(NOTES.candidate_id.in_(ids), NOTES.source_id.startswith("inmail:", autoescape=True))
    return {n.candidate_id: n for n in session.execute(query.order_by(NOTES.created_at, NOTES.id)).scalars()}


def _linkedin_keys(session: Session, ids: list[int]) -> dict[int, str]:
    """Each candidate's first LinkedIn key, for records the ATS mirror made (they carry no profile URL)."""
    query = select(IDS.candidate_id, IDS.value).where(
        IDS.candidate_id.in_(ids), IDS.kind == IdentityKind.LINKEDIN.value).order_by(IDS.id.desc())
    return {int(r.candidate_id): str(r.value) for r in session.execute(query)}


def _attention(session: Session, rows: list[Candidate]) -> dict[int, str]:
    """Open problems pushing a record to LinkedIn (keyed `<ats id>:<version>` by the push-back)."""
    a = table(AttentionItem).c
    wanted = [and_(a.tenant_id == r.tenant_id, a.source_id.startswith(f"{r.ats_candidate_id}:", autoescape=True))
              for r in rows if r.ats_candidate_id]
    if not wanted:
        return {}
    query = select(a.tenant_id, a.source_id, a.reason).where(
        a.resolved_at.is_(None), a.source == "linkedin_push", or_(*wanted)).order_by(a.id)
    by_key = {(r.tenant_id, r.ats_candidate_id): r.id for r in rows if r.id is not None}
    found = ((by_key.get((x.tenant_id, x.source_id.split(":", 1)[0])), x.reason) for x in session.execute(query))
    return {cid: str(reason) for cid, reason in found if cid is not None}


def _view(tenant: Tenant, row: Candidate, apps: list[Application], events: dict[int, StageEvent],
          inmail: Note | None, linkedin_key: str | None, attention: str | None) -> PersonView:
    mine = [events[a.id] for a in apps if a.id in events]
    last = max(mine, key=lambda e: e.occurred_at, default=None)
    change = StageChange(last.to_stage, last.source, last.actor, last.occurred_at) if last else None
    mail = InMailView(inmail.created_at, inmail.body.strip().split("\n", 1)[0][:200]) if inmail else None
    activity = [t for t in (row.last_activity_at, change.at if change else None, mail.at if mail else None) if t]
    return PersonView(
        tenant_id=tenant.id, tenant_name=tenant.name, ats=tenant.ats, candidate_id=row.id or 0,
        name=" ".join(f"{row.first_name} {row.last_name}".split()), company=row.company, title=row.title,
        ats_id=row.ats_candidate_id, ats_url=row.ats_url,
        linkedin_url=row.profile_url or (f"https://www.{linkedin_key}" if linkedin_key else None),
        owner=row.owner, created_at=row.created_at, last_activity_at=max(activity, default=None),
        applications=_ordered(tenant, apps, events), last_stage_change=change, last_inmail=mail,
        pending=row.sync_status == "pending", attention=attention)


def _ordered(tenant: Tenant, apps: list[Application],
             events: dict[int, StageEvent]) -> tuple[ApplicationView, ...]:
    """Current applications first, then earlier ones; the most recently moved first within each."""
    views = [(_app_view(tenant, a, events.get(a.id or 0)), a.updated_at) for a in apps]
    views.sort(key=lambda v: (not v[0].is_current, -(v[0].since or v[1]).timestamp()))
    return tuple(view for view, _ in views)


def _app_view(tenant: Tenant, app: Application, event: StageEvent | None) -> ApplicationView:
    job = tenant.job(app.job_id)
    name = app.job_name or (job.name if job else f"job {app.job_id}")
    # The event dates the stage only if it moved the application to the stage it is in now.
    since = event.occurred_at if event and event.to_stage in (app.stage_name, app.stage_id) else None
    return ApplicationView(name, app.stage_name, app.status, since)

