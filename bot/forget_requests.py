"""`/candidate forget`: an admin's erasure request, kept in the database until they confirm or cancel it.

The Confirm and Cancel buttons carry a random request id, never the email or URL that was typed: a button's
value travels to Slack and back and is stored in the message. The request itself (the normalized key, who asked,
where to answer) is a work item keyed `forget:<id>` that runs only when nobody decided in time: it then
expires, says so in the message, and keeps nothing of the person. Deciding takes the item out of the queue
with a conditional update (`queued → done`), so a double click, a Slack retry or two servers decide it once;
the decision replaces its payload, so the typed key is not kept either.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select, update
from sqlmodel import Session

from bot.erasure import Subject
from storage.db import transaction
from storage.models import WorkItem, WorkState, table, utcnow
from storage.outbox import add_message
from storage.queue import Claimed, Priority, enqueue

FORGET = "person.forget"
#: how long a request waits for its Confirm (Slack's response_url lives 30 minutes)
TTL = timedelta(minutes=15)
WORK = table(WorkItem)


@dataclass(frozen=True)
class ForgetRequest:
    """A request taken out of the queue by a click: whom to erase and where the answer goes."""

    request_id: str
    subject: Subject
    requested_by: str
    response_url: str | None


@dataclass
class ForgetRequests:
    engine: Engine
    clock: Callable[[], datetime] = utcnow
    ttl: timedelta = TTL

    def open(self, subject: Subject, requested_by: str, response_url: str | None) -> str:
        """Keep a request until it is decided or expires; returns its id (the buttons' value)."""
        request_id = secrets.token_urlsafe(12)
        payload = {"subject": {"kind": subject.kind, "value": subject.value}, "requested_by": requested_by,
                   "response_url": response_url}
        now = self.clock()
        with transaction(self.engine) as session:
            enqueue(session, FORGET, payload, dedupe_key=_key(request_id), priority=Priority.INTERACTIVE,
                    run_after=now + self.ttl, now=now)
        return request_id

    def take(self, request_id: str, decided_by: str, decision: str) -> ForgetRequest | None:
        """Decide a waiting request, once: the request, or None when it was decided before or has expired."""
        now = self.clock()
        w = WORK.c
        with transaction(self.engine) as session:
            query = select(w.id, w.payload).where(w.dedupe_key == _key(request_id), w.kind == FORGET,
                                                  w.state == WorkState.QUEUED)
            row = session.execute(query.with_for_update()).first()
            if row is None:
                return None
            taken = session.execute(update(WORK).where(w.id == row.id, w.state == WorkState.QUEUED).values(
                state=WorkState.DONE, finished_at=now, updated_at=now,
                payload={"decision": decision, "decided_by": decided_by}))
            if not getattr(taken, "rowcount", 0):
                return None
        p = row.payload
        return ForgetRequest(request_id, Subject(p["subject"]["kind"], p["subject"]["value"]), p["requested_by"],
                             p.get("response_url"))

    def __call__(self, session: Session, item: Claimed) -> None:
        """Nobody decided in time: the request lapses, its message says so, and its payload is emptied."""
        url = item.payload.get("response_url")
        if url:
            add_message(session, dedupe_key=f"{item.dedupe_key}:expired", channel="response_url", now=self.clock(),
                        payload={"text": "This erasure request expired before it was confirmed; nothing was "
                                         "erased. Run `/candidate forget` again if it is still wanted.",
                                 "replace_original": True, "response_url": url})
        session.execute(update(WORK).where(WORK.c.id == item.id).values(payload={"decision": "expired"}))


def _key(request_id: str) -> str:
    return f"forget:{request_id}"
