"""The ATS mirror: pull ATS people incrementally into the local identity index, so look-ups stay local.

It also catches people LinkedIn's native connector dropped into the ATS (source "LinkedIn (Prospecting)",
no email, the profile URL among their links): their URL becomes a key like any other, so a later export of
the same person is matched instead of created again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from bot.config_model import AppConfig, Tenant
from bot.similar import refresh_blocks
from bot.sync import person_keys
from integrations.ats import AtsClient, AtsPerson, batches
from storage.candidates import add_keys, first_owner, read_cursor, upsert_application, write_cursor
from storage.db import transaction
from storage.models import Candidate, IdentityKind, utcnow
from storage.queue import Claimed, Priority, enqueue

MIRROR = "ats.mirror"
CURSOR = "ats_mirror"
OVERLAP = timedelta(minutes=2)  # re-read a little: the ATS's clock and ours disagree, and re-reading is idempotent
CHUNK = 200  # people absorbed per transaction: a few hundred milliseconds of the write lock at most


@dataclass
class MirrorReport:
    seen: int = 0
    added: int = 0
    adopted: int = 0  # pending create intents matched to the person an interrupted attempt created


@dataclass
class Mirror:
    engine: Engine
    config: AppConfig
    ats_for: Callable[[str], AtsClient]
    clock: Callable[[], datetime] = utcnow
    on_synced: Callable[[Session, str], None] | None = None  # e.g. schedule the push back to LinkedIn

    def enqueue(self, session: Session, tenant_id: str, run: str) -> int | None:
        return enqueue(session, MIRROR, {"tenant": tenant_id}, dedupe_key=f"mirror:{tenant_id}:{run}",
                       tenant_id=tenant_id, priority=Priority.POLL)

    def handle(self, session: Session, item: Claimed) -> None:
        self.pull(session, self.config.tenant(item.payload["tenant"]))

    def pull(self, session: Session, tenant: Tenant) -> MirrorReport:
        """Absorb every person changed since the last pull; the cursor moves in `session`, after the last one.

        No transaction is open while the ATS is read. The people are absorbed a chunk at a time, each chunk in a
        short transaction of its own, between pages. On SQLite a transaction holds the only write lock, and a pull
        of thousands of changed people used to hold it past the busy timeout of every other writer (the web
        app's inbox among them). Absorbing is idempotent, so chunks written before a crash are simply read again,
        because the cursor has not moved. `session` must not have begun yet (a worker's item session has not).
        """
        started = self.clock()
        with Session(self.engine) as s:
            cursor = read_cursor(s, tenant.id, CURSOR)
        since = datetime.fromisoformat(cursor) - OVERLAP if cursor else None
        report = MirrorReport()
        for chunk in batches(self.ats_for(tenant.id).changed_since(since), CHUNK):
            with transaction(self.engine) as s:
                for person in chunk:
                    self._absorb(s, tenant, person, report)
        write_cursor(session, tenant.id, CURSOR, started.isoformat())
        if report.seen and self.on_synced is not None:
            self.on_synced(session, tenant.id)
        return report

    def absorb(self, session: Session, tenant: Tenant, person: AtsPerson) -> None:
        """Take one person read from the ATS into the local index (e.g. first seen in a webhook)."""
        self._absorb(session, tenant, person, MirrorReport())

    def _absorb(self, session: Session, tenant: Tenant, person: AtsPerson, report: MirrorReport) -> None:
        report.seen += 1
        ats_key = (IdentityKind.ATS.value, person.person_id)
        keys = [ats_key, *person_keys(person, self.config.phone_region(tenant.id))]
        owner = first_owner(session, tenant.id, keys)
        row = session.get(Candidate, owner) if owner is not None else None
        if row is not None and row.ats_candidate_id not in (None, person.person_id):
            row = None  # the same keys on two ATS records: an ATS-side duplicate, kept apart for the dedupe scan
        if row is None:
            row = self._new(tenant, person)
            session.add(row)
            session.flush()
            report.added += 1
        elif row.sync_status == "pending":
            report.adopted += 1
        self._update(row, person)
        session.add(row)
        add_keys(session, tenant.id, row.id or 0, keys)
        refresh_blocks(session, row, self.config.phone_region(tenant.id))
        for app in person.applications:
            job = tenant.job(app.job_id)
            upsert_application(session, tenant.id, row.id or 0, app.application_id, job_id=app.job_id,
                               job_name=job.name if job else None, stage_id=app.stage_id,
                               stage_name=app.stage_name, status=app.status)

    def _new(self, tenant: Tenant, person: AtsPerson) -> Candidate:
        now = self.clock()
        return Candidate(tenant_id=tenant.id, first_name=person.first_name, last_name=person.last_name,
                         company=person.company, title=person.title, source=person.source,
                         created_at=person.created_at or now, updated_at=now)

    def _update(self, row: Candidate, person: AtsPerson) -> None:
        row.ats_candidate_id, row.ats_url = person.person_id, person.url or row.ats_url
        row.sync_status, row.intent_at, row.claimed_by = "synced", None, None
        row.company, row.title = row.company or person.company, row.title or person.title
        row.last_activity_at = person.updated_at or row.last_activity_at
        row.updated_at = self.clock()
