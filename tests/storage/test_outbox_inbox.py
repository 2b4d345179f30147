"""The outbox posts each message once; the inbox keeps one row per provider event id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from storage.inbox import record_event
from storage.models import OutboxState
from storage.outbox import Outbox, add_message
from tests.conftest import Database

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def add(db: Database, key: str, channel: str = "C1") -> int | None:
    with Session(db.engine) as session, session.begin():
        return add_message(session, dedupe_key=key, channel=channel, payload={"text": key}, now=T0)


def test_outbox_same_dedupe_key_is_queued_once(db: Database) -> None:
    assert add(db, "stage:app-1:7003:C1") is not None
    assert add(db, "stage:app-1:7003:C1") is None
    assert Outbox(db.engine).counts()["pending"] == 1


def test_outbox_claimed_message_is_not_claimed_again_until_its_lease_expires(db: Database) -> None:
    now = [T0]
    outbox = Outbox(db.engine, lease=timedelta(seconds=30), clock=lambda: now[0])
    add(db, "m1")
    assert [p.payload["text"] for p in outbox.claim()] == ["m1"]
    assert outbox.claim() == []
    now[0] += timedelta(seconds=31)  # the relay died mid-send
    assert [p.attempts for p in outbox.claim()] == [2]


def test_outbox_sent_message_is_never_claimed_again(db: Database) -> None:
    now = [T0]
    outbox = Outbox(db.engine, clock=lambda: now[0])
    add(db, "m1")
    (message,) = outbox.claim()
    outbox.mark_sent(message, "1700000000.000100")
    now[0] += timedelta(days=1)
    assert outbox.claim() == []
    assert outbox.counts()["sent"] == 1


def test_outbox_retry_waits_for_retry_after_then_dead_letters_when_out_of_attempts(db: Database) -> None:
    now = [T0]
    outbox = Outbox(db.engine, max_attempts=2, clock=lambda: now[0])
    add(db, "m1")
    (message,) = outbox.claim()
    assert outbox.retry(message, "ratelimited", retry_after=7) == OutboxState.PENDING
    now[0] += timedelta(seconds=6)
    assert outbox.claim() == []
    now[0] += timedelta(seconds=1)
    (again,) = outbox.claim()
    assert outbox.retry(again, "ratelimited") == OutboxState.DEAD


def test_inbox_records_an_event_id_once_per_provider_and_tenant(db: Database) -> None:
    with Session(db.engine) as session, session.begin():
        first = record_event(session, provider="greenhouse", tenant_id="acme", event_id="e-1", body="{}")
        replay = record_event(session, provider="greenhouse", tenant_id="acme", event_id="e-1", body="{}")
        other_tenant = record_event(session, provider="greenhouse", tenant_id="globex", event_id="e-1", body="{}")
        other_provider = record_event(session, provider="lever", tenant_id="acme", event_id="e-1", body="{}")
    assert first is not None and replay is None
    assert other_tenant is not None and other_provider is not None
