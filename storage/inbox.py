"""The webhook inbox: one row per provider event id, so a replay or a vendor retry changes nothing."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from storage.models import InboxEvent, table, utcnow

INBOX = table(InboxEvent)
#: longest provider event id (or token) a webhook route accepts: the inbox keeps 255 characters, and a work item's
#: dedupe key adds a prefix and the tenant (at most 64) to it
MAX_EVENT_ID = 150


def storable_id(text: str) -> bool:
    """Whether a provider's event id (or token) can key an inbox row and a work item on every backend: not empty,
    at most MAX_EVENT_ID characters, no NUL (PostgreSQL text cannot hold one)."""
    return 0 < len(text) <= MAX_EVENT_ID and "\x00" not in text


def record_event(session: Session, *, provider: str, tenant_id: str, event_id: str, body: str,
                 action: str | None = None, status: str = "accepted", now: datetime | None = None) -> int | None:
    """Store the event in the caller's transaction; its id, or None when this event id was seen before."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    if action is not None:  # the vendor's name for the event, kept for ops: PostgreSQL text has no NUL
        action = action.replace("\x00", "\ufffd")
    stmt = insert(InboxEvent).values(
        provider=provider, tenant_id=tenant_id, event_id=event_id, body=body, action=action, status=status,
        received_at=now or utcnow(),
    ).on_conflict_do_nothing(index_elements=["provider", "tenant_id", "event_id"]).returning(INBOX.c.id)
    return session.execute(stmt).scalar_one_or_none()


def record_invalid(session: Session, *, provider: str, tenant_id: str, raw_body: bytes, error: str) -> int | None:
    """Keep a signed but unreadable body for ops, once per distinct body (keyed by its digest)."""
    digest = hashlib.sha256(raw_body).hexdigest()
    text = raw_body.decode("utf-8", "replace").replace("\x00", "\ufffd")[:100_000]  # PostgreSQL text has no NUL
    return record_event(session, provider=provider, tenant_id=tenant_id, event_id=f"invalid:{digest}", body=text,
                        action=error[:200], status="invalid")
