"""LinkedIn → ATS sync of one prospect: local identity index, ATS look-up, create or link — never twice.

Crash safety: before any ATS write, the prospect's identity keys are committed as a *pending* candidate
(the unique index on keys is the lock between workers), and right before the create call the attempt is
stamped (`intent_at`). If a worker dies or the call fails after that stamp, the retry first reconciles with
the ATS (by email, else people changed since the stamp, matched by key) instead of creating again. A create
the rate limit refused (`WriteRefused`) took its stamp back: nothing to look for. One listing answers for every
create that failed in this process before it began, so a retry wave after an outage lists once, not per person.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from bot.config_model import AppConfig, Tenant
from bot.domain.identity import find_linkedin_urls, identity_keys
from bot.domain.prospect import Mapped, NeedsAttention, Prospect, map_prospect
from bot.similar import refresh_blocks
from integrations.ats import AtsApplication, AtsClient, AtsPerson, NewCandidate
from integrations.errors import WriteRefused
from storage.candidates import add_keys, claim_new, first_owner, record_attention, upsert_application
from storage.db import transaction
from storage.models import Application, AuditEntry, Candidate, IdentityKind, StageEvent, table, utcnow
from storage.queue import Claimed, Priority, RetryLater, enqueue, is_running

log = logging.getLogger(__name__)

SYNC = "sync.prospect"
IMPORT_MATCHED = "import.matched"  # audited when an incoming person is linked to a record instead of created
RECONCILE_MARGIN = timedelta(minutes=5)  # clock skew between us and the ATS's created/updated stamps
SHARED_RECONCILE = timedelta(hours=1)  # how far back one reconcile listing reaches for other creates in doubt
STAGE_EVENTS, APPLICATIONS = table(StageEvent), table(Application)
PRIORITY = {"slack": Priority.INTERACTIVE, "export": Priority.PUSH, "mail_stub": Priority.POLL,
            "csv": Priority.BULK}


class Contention(RetryLater):
    """Another worker is importing the same person right now: wait a moment and look again."""


@dataclass(frozen=True)
class Claim:
    candidate_id: int
    person_id: str | None
    pending: bool  # not linked to an ATS record yet
    create_attempted: bool  # an earlier attempt called create: the person may exist unrecorded
    matched_by: str | None


@dataclass
class Outcome:
    """What one sync did, for the demo, benchmarks and KPIs."""

    candidate_id: int
    person_id: str
    how: str  # created | known | email | recovered
    matched_by: str | None = None
    applications_added: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Listing:
    """A reconcile listing of one tenant's ATS: people changed since `since`, read from `started` on."""

    since: datetime
    started: float  # time.monotonic() when the list call began
    people: tuple[AtsPerson, ...]


@dataclass
class SyncService:
    engine: Engine
    config: AppConfig
    ats_for: Callable[[str], AtsClient]
    clock: Callable[[], datetime] = utcnow
    on_synced: Callable[[Session, str], None] | None = None  # e.g. schedule the push back to LinkedIn
    #: a person was created in the ATS (tenant, local candidate id): e.g. propose merges with likely duplicates
    on_created: Callable[[Session, Tenant, int], object] | None = None
    # A reconcile listing is shared: it answers for every create that failed in this process before it began
    # (a retry wave after an outage lists once, not once per person: no retry storm)
    _listings: dict[str, _Listing] = field(default_factory=dict, repr=False)
    _failed_creates: dict[int, float] = field(default_factory=dict, repr=False)  # candidate id → when it ended
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def enqueue(self, session: Session, tenant_id: str, prospect: Prospect) -> int | None:
        """Queue a prospect in the caller's transaction; the same source record is queued once."""
        return enqueue(session, SYNC, {"tenant": tenant_id, "prospect": prospect.to_payload()},
                       dedupe_key=f"sync:{tenant_id}:{prospect.source}:{prospect.source_id}", tenant_id=tenant_id,
                       priority=PRIORITY.get(prospect.source, Priority.NORMAL))

    def handle(self, session: Session, item: Claimed) -> None:
        tenant = self.config.tenant(item.payload["tenant"])
        self.sync(session, tenant, Prospect.from_payload(item.payload["prospect"]), owner=item.dedupe_key)

    def sync(self, session: Session, tenant: Tenant, prospect: Prospect,
             owner: str | None = None) -> Outcome | NeedsAttention:
        """Import one prospect; `session` is the work item's transaction (recording happens there).

        `owner` is the work item's key: a pending candidate names the item syncing it, so another item
        waits while that one runs, and takes over once it has stopped (crashed, or waiting to retry).
        """
        owner = owner or f"direct:{prospect.source}:{prospect.source_id}"
        mapped = map_prospect(prospect, known_jobs={j.id for j in tenant.jobs},
                              jobs_for_project=lambda name: [j.id for j in tenant.jobs_for_project(name)],
                              region=self.config.phone_region(tenant.id))
        if isinstance(mapped, NeedsAttention):
            record_attention(session, tenant_id=tenant.id, source=prospect.source, source_id=prospect.source_id,
                             reason=mapped.reason, detail=prospect.to_payload(), now=self.clock())
            return mapped
        if not mapped.job_ids and not self._known(tenant.id, mapped):
            reason = "replied to an InMail but is in no mapped project and not in the ATS yet: choose a job"
            record_attention(session, tenant_id=tenant.id, source=prospect.source, source_id=prospect.source_id,
                             reason=reason, detail=prospect.to_payload(), now=self.clock())
            return NeedsAttention(reason)
        claim = self._claim(tenant.id, mapped, owner)
        ats = self.ats_for(tenant.id)
        person, how = self._find_or_create(ats, tenant, claim, mapped)
        applications, added = self._ensure_applications(ats, tenant, person, mapped)
        if how == "created":  # the first application came with the person: its stage history starts now too
            added = [a.application_id for a in applications]
        self._ensure_keys_in_ats(ats, person, mapped)
        self._record(session, tenant, claim, person, applications, added, mapped)
        if how in ("known", "email"):  # a duplicate prevented: counted by the KPIs (bot/kpis.py); no personal data
            session.add(AuditEntry(at=self.clock(), actor=f"sync:{prospect.source}", action=IMPORT_MATCHED,
                                   tenant_id=tenant.id, subject=f"candidate:{claim.candidate_id}",
                                   detail={"how": how, "matched_by": claim.matched_by}))
        if how == "created" and self.on_created is not None:  # likely duplicates become merge proposals
            self.on_created(session, tenant, claim.candidate_id)
        return Outcome(claim.candidate_id, person.person_id, how, claim.matched_by, added)

    def _known(self, tenant_id: str, mapped: Mapped) -> bool:
        with Session(self.engine) as s:
            return first_owner(s, tenant_id, [(k.kind, k.value) for k in mapped.keys]) is not None

    # --- phase 1: claim the person locally (own transaction, committed before any ATS write) ---

    def _claim(self, tenant_id: str, mapped: Mapped, me: str) -> Claim:
        keys = [(k.kind, k.value) for k in mapped.keys]
        try:
            with transaction(self.engine) as s:
                owner = first_owner(s, tenant_id, keys)
                if owner is not None:
                    return self._existing(s, tenant_id, owner, keys, me)
                p = mapped.prospect
                row = claim_new(s, tenant_id, keys, self.clock(), first_name=p.first_name, last_name=p.last_name,
                                headline=p.headline, company=p.company, title=p.title, location=p.location,
                                source=f"linkedin:{p.source}", profile_url=mapped.profile_url, claimed_by=me)
                return Claim(row.id or 0, None, pending=True, create_attempted=False, matched_by=None)
        except IntegrityError:
            with Session(self.engine) as s:
                if first_owner(s, tenant_id, keys) is None:
                    raise  # not a key taken by someone else: a real error, shown as it is
            raise Contention("another worker is importing this person; retrying shortly") from None

    def _existing(self, s: Session, tenant_id: str, owner: int, keys: list[tuple[str, str]], me: str) -> Claim:
        row = s.get(Candidate, owner)
        assert row is not None
        if row.sync_status == "pending" and row.claimed_by != me:
            if row.claimed_by and is_running(s, row.claimed_by, self.clock()):
                raise Contention("another work item is importing this person; waiting for it")
            row.claimed_by = me  # its owner stopped: this item takes the sync over (reconciling if needed)
            s.add(row)
        owners = {k for k in keys if first_owner(s, tenant_id, [k]) == owner}
        matched_by = next((kind for kind, value in keys if (kind, value) in owners), None)
        add_keys(s, tenant_id, owner, keys)
        return Claim(owner, row.ats_candidate_id, row.sync_status == "pending",
                     create_attempted=row.intent_at is not None, matched_by=matched_by)

    # --- phase 2: the ATS (HTTP; nothing local is written here) ---

    def _find_or_create(self, ats: AtsClient, tenant: Tenant, claim: Claim,
                        mapped: Mapped) -> tuple[AtsPerson, str]:
        if claim.person_id:
            person = ats.get_person(claim.person_id)
            if person is not None:
                return person, "known"
        found = self._by_email(ats, mapped)
        if found is not None:
            return found, "recovered" if claim.create_attempted else "email"
        if claim.pending and claim.create_attempted:
            recovered = self._reconcile(ats, tenant.id, claim, mapped)
            if recovered is not None:
                self._failed_creates.pop(claim.candidate_id, None)
                return recovered, "recovered"
        stamped = self._stamp_create(claim.candidate_id)
        try:
            created = self._create(ats, tenant, mapped)
        except WriteRefused:  # the create never happened: a retry may create without reconciling first
            if stamped:
                self._stamp_create(claim.candidate_id, undo=True)
            raise
        except BaseException:
            with self._lock:
                if len(self._failed_creates) > 100_000:  # bounded: forgetting only costs a listing of its own
                    self._failed_creates.clear()
                self._failed_creates[claim.candidate_id] = time.monotonic()
            raise
        self._failed_creates.pop(claim.candidate_id, None)
        return created, "created"

    def _by_email(self, ats: AtsClient, mapped: Mapped) -> AtsPerson | None:
        for email in mapped.emails:
            found = ats.find_by_email(email)
            if found:
                return max(found, key=lambda p: p.updated_at.timestamp() if p.updated_at else 0.0)
        return None

    def _stamp_create(self, candidate_id: int, *, undo: bool = False) -> bool:
        """Commit that a create is about to be called: from then on a retry reconciles before creating.
        True when this call stamped (an earlier attempt had not); `undo` takes this call's stamp back.

        Even a 503 may follow a create that happened (a create can take several calls), so a failed
        attempt is assumed to have created nothing only when the vendor says so (`WriteRefused`).
        """
        with transaction(self.engine) as s:
            row = s.get(Candidate, candidate_id)
            if row is None or (row.intent_at is not None) != undo:
                return False
            row.intent_at = None if undo else self.clock()
            s.add(row)
            return True

    def _reconcile(self, ats: AtsClient, tenant_id: str, claim: Claim, mapped: Mapped) -> AtsPerson | None:
        """Find a person an earlier attempt may have created: changed since its stamp, sharing a key."""
        with Session(self.engine) as s:
            row = s.get(Candidate, claim.candidate_id)
            stamp = row.intent_at if row and row.intent_at else self.clock()
            # a fresh listing reaches back to the other creates of the last hour still in doubt, so that it
            # answers for them too, whatever order their retries come in
            doubtful = s.execute(select(func.min(col(Candidate.intent_at))).where(
                col(Candidate.tenant_id) == tenant_id, col(Candidate.sync_status) == "pending",
                col(Candidate.intent_at) >= stamp - SHARED_RECONCILE)).scalar_one_or_none()
        since = stamp - RECONCILE_MARGIN
        wanted = {(k.kind, k.value) for k in mapped.keys}
        people = self._changed_since(ats, tenant_id, since, min(since, (doubtful or stamp) - RECONCILE_MARGIN),
                                     self._failed_creates.get(claim.candidate_id))
        match = next((p for p in people if wanted & set(person_keys(p, self._region()))), None)
        return ats.get_person(match.person_id) if match is not None else None

    def _changed_since(self, ats: AtsClient, tenant_id: str, since: datetime, reach: datetime,
                       attempt_ended: float | None) -> tuple[AtsPerson, ...]:
        """People changed since `since`: the last listing when it covers that and began after the failed
        attempt ended (this process saw it end), else one paged list, from `reach` on, read now."""
        with self._lock:
            last = self._listings.get(tenant_id)
        if last is not None and attempt_ended is not None and last.since <= since and last.started > attempt_ended:
            return last.people
        started = time.monotonic()
        people = tuple(ats.changed_since(reach, applications=False))  # keys are all we compare
        with self._lock:
            self._listings[tenant_id] = _Listing(reach, started, people)
        return people

    def _region(self) -> str:
        return self.config.bot.default_phone_region

    def _create(self, ats: AtsClient, tenant: Tenant, mapped: Mapped) -> AtsPerson:
        p, job = mapped.prospect, mapped.job_ids[0]
        person, application = ats.create_candidate(NewCandidate(
            first_name=p.first_name.strip(), last_name=p.last_name.strip(), job_id=job,
            stage_id=tenant.event_stage_id("exported", job), emails=mapped.emails, phones=mapped.phones,
            links=(mapped.profile_url,) if mapped.profile_url else (), company=p.company, title=p.title,
            headline=p.headline, location=p.location))
        if all(a.application_id != application.application_id for a in person.applications):
            person = _with_applications(person, (*person.applications, application))
        return person

    def _ensure_applications(self, ats: AtsClient, tenant: Tenant, person: AtsPerson,
                             mapped: Mapped) -> tuple[list[AtsApplication], list[str]]:
        """Every target job gets an application; one the person already has is never added again."""
        applications = list(person.applications)
        have = {a.job_id for a in applications}
        added = []
        for job in mapped.job_ids:
            if job not in have:
                app = ats.add_application(person.person_id, job, tenant.event_stage_id("exported", job))
                applications.append(app)
                added.append(app.application_id)
        return applications, added

    def _ensure_keys_in_ats(self, ats: AtsClient, person: AtsPerson, mapped: Mapped) -> None:
        """Write the LinkedIn URL (and contact details) the ATS lacks, so its own dedupe and users see them."""
        present = set(person_keys(person, self._region()))
        links = [mapped.profile_url] if mapped.profile_url and not any(
            k[0] == IdentityKind.LINKEDIN for k in present & {(k.kind, k.value) for k in mapped.keys}) else []
        emails = [e for e in mapped.emails if (IdentityKind.EMAIL.value, e) not in present]
        phones = [p for p in mapped.phones if (IdentityKind.PHONE.value, p) not in present]
        if links or emails or phones:
            ats.update_person(person.person_id, add_emails=emails, add_phones=phones, add_links=links)

    # --- phase 3: record (in the work item's transaction) ---

    def _record(self, session: Session, tenant: Tenant, claim: Claim, person: AtsPerson,
                applications: list[AtsApplication], added: list[str], mapped: Mapped) -> None:
        row = session.get(Candidate, claim.candidate_id)
        assert row is not None
        row.ats_candidate_id, row.ats_url = person.person_id, person.url or row.ats_url
        row.sync_status, row.intent_at, row.claimed_by, row.updated_at = "synced", None, None, self.clock()
        session.add(row)
        keys = [(IdentityKind.ATS.value, person.person_id), *person_keys(person, self._region())]
        conflicts = add_keys(session, tenant.id, claim.candidate_id, keys)
        refresh_blocks(session, row, self._region())
        if conflicts:
            log.info("candidate %s shares keys with another record: %s", claim.candidate_id, conflicts)
        for app in applications:
            job = tenant.job(app.job_id)
            upsert_application(session, tenant.id, claim.candidate_id, app.application_id, job_id=app.job_id,
                               job_name=job.name if job else None, stage_id=app.stage_id,
                               stage_name=app.stage_name, status=app.status)
        for app in (a for a in applications if a.application_id in added):
            self._stage_event(session, tenant, app, mapped.prospect)
        if self.on_synced is not None:
            self.on_synced(session, tenant.id)

    def _stage_event(self, session: Session, tenant: Tenant, app: AtsApplication, prospect: Prospect) -> None:
        key = f"{prospect.source}:{prospect.source_id}:{app.application_id}"
        if session.execute(select(STAGE_EVENTS.c.id).where(STAGE_EVENTS.c.event_key == key)).first():
            return
        a = APPLICATIONS.c
        origin = "slack" if prospect.source == "slack" else "linkedin"  # `/candidate export` vs LinkedIn's own
        local_id = session.execute(select(a.id).where(
            a.tenant_id == tenant.id, a.ats_application_id == app.application_id)).scalar_one()
        session.add(StageEvent(tenant_id=tenant.id, application_id=local_id, event_key=key, from_stage=None,
                               to_stage=app.stage_name or app.stage_id or "?", source=origin,
                               actor="/candidate export" if origin == "slack" else f"linkedin:{prospect.source}",
                               occurred_at=self.clock()))


def person_keys(person: AtsPerson, region: str) -> list[tuple[str, str]]:
    """The identity keys an ATS record carries (its LinkedIn links, emails, phones)."""
    result = identity_keys(profile_urls=find_linkedin_urls(person.links), emails=person.emails,
                           phones=person.phones, default_region=region)
    return [(k.kind, k.value) for k in result.keys]


def _with_applications(person: AtsPerson, applications: tuple[AtsApplication, ...]) -> AtsPerson:
    return replace(person, applications=applications)
