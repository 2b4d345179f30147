"""InMail polling: each message becomes one ATS note; replies' stub profiles are synced as prospects.

A note is claimed locally (unique per tenant and message) before it is written to the ATS, and its body
ends with a reference; if a worker dies between the ATS write and recording it, the retry finds the
reference among the person's ATS notes instead of writing the note again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select
from sqlmodel import Session

from bot.budget import DailyBudget
from bot.config_model import AppConfig, LinkedInEvent, Tenant
from bot.domain.prospect import Prospect
from bot.stage_moves import StageMoves
from bot.sync import SyncService
from integrations.ats import AtsClient
from integrations.linkedin import LinkedInClient
from integrations.linkedin_models import ConversationEvent, MailStub
from storage.candidates import applications_of, first_owner, read_cursor, write_cursor
from storage.db import transaction
from storage.models import Candidate, IdentityKind, Note, table, utcnow
from storage.queue import Claimed, Priority, enqueue

POLL = "linkedin.poll"
FIRST_LOOKBACK = timedelta(days=1)  # how far back the very first poll of a tenant reads
NOTES = table(Note)


def note_ref(event: ConversationEvent) -> str:
    """A short, stable reference for one InMail (ids repeat within a thread, so the whole key is hashed)."""
    digest = hashlib.sha256(repr(event.dedupe_key).encode()).hexdigest()[:12]
    return f"li-inmail-{digest}"


def note_body(event: ConversationEvent, person_name: str) -> str:
    mail = event.mail
    when = datetime.fromtimestamp(event.created_at / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
    direction = f"InMail to {person_name}" if event.is_outbound else f"InMail reply from {person_name}"
    subject = (mail.subject if mail else None) or "(no subject)"
    text = (mail.body.text if mail and mail.body else None) or ""
    return f"{direction}, {when}\nSubject: {subject}\n\n{text.strip()}\n\nref {note_ref(event)}"


@dataclass
class InMailPoller:
    engine: Engine
    config: AppConfig
    linkedin_for: Callable[[str], LinkedInClient]
    ats_for: Callable[[str], AtsClient]
    sync: SyncService
    budget: DailyBudget
    moves: StageMoves | None = None  # LinkedIn → ATS: an InMail sent or answered may move the application
    clock: Callable[[], datetime] = utcnow

    def enqueue(self, session: Session, tenant_id: str, run: str) -> int | None:
        return enqueue(session, POLL, {"tenant": tenant_id}, dedupe_key=f"li-poll:{tenant_id}:{run}",
                       tenant_id=tenant_id, priority=Priority.POLL)

    def handle(self, session: Session, item: Claimed) -> None:
        self.poll(session, self.config.tenant(item.payload["tenant"]))

    def poll(self, session: Session, tenant: Tenant) -> int:
        """Read InMails and mail stubs since the last poll; returns how many notes were written."""
        conn = tenant.linkedin
        if conn is None:
            return 0
        end = self.clock()
        with Session(self.engine) as s:
            cursor = read_cursor(s, tenant.id, "linkedin_poll")
        start = datetime.fromisoformat(cursor) if cursor else end - FIRST_LOOKBACK
        client = self.linkedin_for(tenant.id)
        window = (int(start.timestamp() * 1000), int(end.timestamp() * 1000))
        with self.budget.spending(tenant.id, lambda: client.requests_made):
            events = [e for seat in conn.seats for e in client.conversation_events(seat, *window)]
            stubs = [s for seat in conn.seats for s in client.mail_stubs(conn.contract, seat, *window)]
        # Claims use their own transactions, so the item's session is written only after the last one
        # (on SQLite a session holding the write lock would block the next claim).
        done = [(n, event) for event in events if (n := self._note(tenant, event)) is not None]
        for (note_id, ats_note_id), event in done:
            row = session.get(Note, note_id)
            assert row is not None
            row.ats_note_id = ats_note_id
            session.add(row)
            if self.moves is not None:
                kind: LinkedInEvent = "inmail_sent" if event.is_outbound else "inmail_replied"
                for app in applications_of(session, tenant.id, [row.candidate_id]):
                    self.moves.schedule(session, tenant, app, kind, note_ref(event))
        for stub in stubs:
            self.sync.enqueue(session, tenant.id, stub_prospect(stub))
        write_cursor(session, tenant.id, "linkedin_poll", end.isoformat())
        return len(done)

    def _note(self, tenant: Tenant, event: ConversationEvent) -> tuple[int, str] | None:
        """Write one InMail as a note on the person it concerns, once: (local note id, ATS note id) or None."""
        member = event.recipients[0] if event.is_outbound and event.recipients else event.author
        source_id = f"inmail:{note_ref(event)}"
        with transaction(self.engine) as s:
            owner = first_owner(s, tenant.id, [(IdentityKind.LINKEDIN_MEMBER.value, member)])
            candidate = s.get(Candidate, owner) if owner is not None else None
            if candidate is None or not candidate.ats_candidate_id:
                return None  # not (yet) someone we synced: the next poll after their import picks it up
            note = s.execute(select(Note).where(NOTES.c.tenant_id == tenant.id,
                                                NOTES.c.source_id == source_id)).scalars().first()
            if note is not None and note.ats_note_id:
                return None
            earlier_attempt = note is not None
            if note is None:
                body = note_body(event, f"{candidate.first_name} {candidate.last_name}".strip())
                note = Note(tenant_id=tenant.id, candidate_id=candidate.id or 0, source_id=source_id, body=body,
                            author=event.author)
                s.add(note)
                s.flush()
            note_id, person_id, body = note.id, candidate.ats_candidate_id, note.body
        ats = self.ats_for(tenant.id)
        return note_id or 0, self._write(ats, person_id, body, note_ref(event), earlier_attempt)

    def _write(self, ats: AtsClient, person_id: str, body: str, ref: str, maybe_written: bool) -> str:
        if maybe_written:
            for note_id, text in ats.list_notes(person_id):
                if ref in text:
                    return note_id
        return ats.add_note(person_id, body)


def stub_prospect(stub: MailStub) -> Prospect:
    """A reply's shared contact details; it updates the person we know (a stub names no job)."""
    return Prospect(
        source="mail_stub", source_id=f"{stub.member}:{stub.created_at or 0}",
        first_name=stub.first_name or "", last_name=stub.last_name or "", headline=stub.headline,
        location=stub.location, profile_url=stub.profile_url, member_urn=stub.member,
        emails=(stub.email_address,) if stub.email_address else (),
        phones=(stub.phone_number,) if stub.phone_number else ())
