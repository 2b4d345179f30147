"""The outbox posts each message once; the inbox keeps one row per provider event id."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import Session

from storage.db import build_engine
from storage.inbox import record_event
from storage.models import OutboxState
from storage.outbox import Outbox, Pending, add_message
from tests.conftest import Database

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def add(db: Database, key: str, channel: str = "C1", **payload: Any) -> int | None:
    with Session(db.engine) as session, session.begin():
        return add_message(session, dedupe_key=key, channel=channel, payload={"text": key, **payload}, now=T0)


def texts(messages: list[Pending]) -> list[str]:
    return [m.payload["text"] for m in messages]


def sent(outbox: Outbox, messages: list[Pending]) -> None:
    for message in messages:
        outbox.mark_sent(message, "1700000000.000100")


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


def test_outbox_claim_takes_one_post_per_channel_then_one_per_pace(db: Database) -> None:
    now = [T0]
    outbox = Outbox(db.engine, clock=lambda: now[0])
    for i in range(20):
        add(db, f"busy-{i}", "C1")
    add(db, "quiet", "C2")
    first = outbox.claim(limit=2)
    assert texts(first) == ["busy-0", "quiet"], "a burst in one channel does not hold up another"
    assert outbox.claim() == [], "one post in flight per channel"
    sent(outbox, first)
    now[0] += SECOND / 2
    assert outbox.claim() == [], "the channel was posted to less than a second ago"
    now[0] += SECOND / 2
    second = outbox.claim()
    assert texts(second) == ["busy-1"]
    sent(outbox, second)
    for i in range(2, 20):  # the rest of the burst: one a second, in order
        now[0] += SECOND
        (message,) = outbox.claim()
        assert message.payload["text"] == f"busy-{i}" and message.attempts == 1
        sent(outbox, [message])
    assert outbox.counts()["sent"] == 21


def test_outbox_answers_to_a_response_url_are_not_paced(db: Database) -> None:
    outbox = Outbox(db.engine, clock=lambda: T0)
    add(db, "post", "C1")
    for i in range(3):
        add(db, f"answer-{i}", "C1", response_url=f"https://hooks.slack.test/commands/{i}")
    claimed = outbox.claim()
    assert texts(claimed) == ["post", "answer-0", "answer-1", "answer-2"]
    sent(outbox, claimed)
    add(db, "answer-3", "C1", response_url="https://hooks.slack.test/commands/3")
    add(db, "post-2", "C1")
    assert texts(outbox.claim()) == ["answer-3"], "the channel waits its pace; answers do not"


def test_outbox_a_retry_after_holds_its_channel_only(db: Database) -> None:
    now = [T0]
    outbox = Outbox(db.engine, clock=lambda: now[0])
    add(db, "first", "C1")
    add(db, "second", "C1")
    add(db, "elsewhere", "C2")
    first, elsewhere = outbox.claim()
    outbox.retry(first, "ratelimited", retry_after=30)
    sent(outbox, [elsewhere])
    add(db, "elsewhere-2", "C2")
    now[0] += SECOND
    assert texts(outbox.claim()) == ["elsewhere-2"], "C1 keeps its order: 'second' waits behind 'first'"
    now[0] += 29 * SECOND
    (again,) = outbox.claim()
    assert (again.payload["text"], again.attempts) == ("first", 2)


def test_outbox_message_reclaimed_after_its_lease_is_flagged_maybe_posted(db: Database) -> None:
    now = [T0]
    outbox = Outbox(db.engine, lease=timedelta(seconds=30), clock=lambda: now[0])
    add(db, "m1")
    (fresh,) = outbox.claim()
    assert not fresh.maybe_posted and fresh.created_at == T0
    now[0] += timedelta(seconds=31)  # the relay died mid-send
    (reclaimed,) = outbox.claim()
    assert reclaimed.maybe_posted and reclaimed.attempts == 2
    outbox.retry(reclaimed, "slack: internal_error")  # looked, found nothing, and Slack refused the post
    now[0] += timedelta(hours=1)
    (retried,) = outbox.claim()
    assert not retried.maybe_posted
    outbox.retry(retried, "ReadTimeout", maybe_posted=True)  # no answer: the post may have gone through
    now[0] += timedelta(hours=1)
    assert outbox.claim()[0].maybe_posted


def claim_while_another_relay_claims(db: Database, statement_start: str) -> tuple[list[Pending], list[Pending]]:
    """One relay claims (limit 1); right after it runs the statement starting so, uncommitted, another relay
    (its own engine, as another process) claims too. Returns what each got."""
    first = Outbox(db.engine, clock=lambda: T0)
    other_process = build_engine(db.url, schema=db.schema)
    second = Outbox(other_process, clock=lambda: T0)
    meanwhile: list[list[Pending]] = []

    def claim_meanwhile(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith(statement_start) and not meanwhile:
            meanwhile.append(second.claim())

    event.listen(db.engine, "after_cursor_execute", claim_meanwhile)
    try:
        mine = first.claim(limit=1)
    finally:
        event.remove(db.engine, "after_cursor_execute", claim_meanwhile)
        other_process.dispose()
    assert meanwhile, f"no statement starting {statement_start!r} ran: the test proved nothing"
    return mine, meanwhile[0]


def test_outbox_two_relays_claiming_at_once_never_take_two_posts_of_one_channel(db: Database) -> None:
    if db.backend != "postgresql":
        pytest.skip("SQLite has a single writer: two claims cannot overlap")
    for key, channel in (("c1-a", "C1"), ("c1-b", "C1"), ("c1-c", "C1"), ("c2-a", "C2")):
        add(db, key, channel)
    mine, meanwhile = claim_while_another_relay_claims(db, "WITH picked")  # the first holds its rows
    assert texts(mine) == ["c1-a"]
    assert texts(meanwhile) == ["c2-a"], "the other relay skips C1: its head is taken, the rest wait"


def test_outbox_relays_racing_post_each_channel_once_per_pace(db: Database) -> None:
    if db.backend != "postgresql":
        pytest.skip("SQLite has a single writer: two claims cannot overlap")
    channels = ["C1", "C2", "C3"]
    for i in range(4):
        for channel in channels:
            add(db, f"{channel}-{i}", channel)
    now = [T0]
    engines = [db.engine, build_engine(db.url, schema=db.schema)]
    relays = [Outbox(engine, clock=lambda: now[0]) for engine in engines]
    start = threading.Barrier(len(relays))

    def claim(outbox: Outbox) -> list[Pending]:
        start.wait()
        return outbox.claim()

    try:
        with ThreadPoolExecutor(len(relays)) as pool:
            for round_ in range(4):
                claimed = [m for batch in pool.map(claim, relays) for m in batch]
                assert sorted(m.channel for m in claimed) == channels, f"round {round_}: one post per channel"
                sent(relays[0], claimed)
                now[0] += SECOND
    finally:
        engines[1].dispose()
    assert relays[0].counts()["sent"] == 12


def add_alert(db: Database, key: str, channel: str = "C1") -> int | None:
    with Session(db.engine) as session, session.begin():
        return add_message(session, dedupe_key=key, channel=channel, payload={"text": key}, now=T0,
                           batch="stage_alert")


def parts(message: Pending) -> list[str]:
    return [p.payload["text"] for p in message.parts]


def test_outbox_coalesces_waiting_alerts_of_one_channel_up_to_the_batch_size(db: Database) -> None:
    for i in range(5):
        add_alert(db, f"a{i}")
    add_alert(db, "other-channel", "C2")
    now = [T0]
    outbox = Outbox(db.engine, clock=lambda: now[0], batch_size=3)
    first, other = outbox.claim()
    assert parts(first) == ["a0", "a1", "a2"] and parts(other) == ["other-channel"]
    assert outbox.claim() == [], "the channel is busy while its batch is in flight"
    sent(outbox, [first, other])
    assert outbox.counts()["sent"] == 4
    now[0] += SECOND
    (rest,) = outbox.claim()
    assert parts(rest) == ["a3", "a4"]


def test_outbox_never_coalesces_past_a_message_of_another_kind(db: Database) -> None:
    add_alert(db, "a0")
    add(db, "notice")  # not coalescible: it keeps its place in the channel
    add_alert(db, "a1")
    now = [T0]
    outbox = Outbox(db.engine, clock=lambda: now[0])
    order = []
    for _ in range(3):
        (message,) = outbox.claim()
        order.append(parts(message))
        sent(outbox, [message])
        now[0] += SECOND
    assert order == [["a0"], ["notice"], ["a1"]]


def test_outbox_messages_without_a_kind_are_never_coalesced(db: Database) -> None:
    for key in ("m0", "m1"):
        add(db, key)
    (message,) = Outbox(db.engine, clock=lambda: T0).claim()
    assert parts(message) == ["m0"]


def test_outbox_batch_shares_retries_and_a_429_costs_none_of_its_attempts(db: Database) -> None:
    for i in range(3):
        add_alert(db, f"a{i}")
    now = [T0]
    outbox = Outbox(db.engine, clock=lambda: now[0], max_attempts=2)
    (batch,) = outbox.claim()
    assert outbox.retry(batch, "ratelimited", retry_after=30, count_attempt=False) == OutboxState.PENDING
    now[0] += timedelta(seconds=31)
    (batch,) = outbox.claim()
    assert parts(batch) == ["a0", "a1", "a2"] and [p.attempts for p in batch.parts] == [1, 1, 1]
    outbox.retry(batch, "slack: internal_error")
    now[0] += timedelta(hours=1)
    (batch,) = outbox.claim()
    assert outbox.retry(batch, "slack: internal_error") == OutboxState.DEAD
    assert outbox.counts()["dead"] == 3


def test_outbox_rider_with_attempts_left_outlives_its_spent_head(db: Database) -> None:
    add_alert(db, "a0")
    now = [T0]
    outbox = Outbox(db.engine, clock=lambda: now[0], max_attempts=2)
    (alone,) = outbox.claim()
    outbox.retry(alone, "slack: internal_error")
    add_alert(db, "a1")
    now[0] += timedelta(hours=1)
    (batch,) = outbox.claim()
    assert [p.attempts for p in batch.parts] == [2, 1]
    assert outbox.retry(batch, "slack: internal_error") == OutboxState.DEAD
    assert outbox.counts()["dead"] == 1 and outbox.counts()["pending"] == 1


def test_outbox_batch_left_mid_send_is_due_again_whole_and_flagged(db: Database) -> None:
    for i in range(3):
        add_alert(db, f"a{i}")
    now = [T0]
    outbox = Outbox(db.engine, lease=timedelta(seconds=30), clock=lambda: now[0])
    outbox.claim()  # the relay dies after posting, before recording it
    now[0] += timedelta(seconds=31)
    (again,) = outbox.claim()
    assert parts(again) == ["a0", "a1", "a2"] and all(p.maybe_posted for p in again.parts)


def test_outbox_two_relays_claiming_at_once_never_share_a_batch(db: Database) -> None:
    if db.backend != "postgresql":
        pytest.skip("SQLite has a single writer: two claims cannot overlap")
    for i in range(4):
        add_alert(db, f"c1-{i}")
    add_alert(db, "c2-0", "C2")
    mine, meanwhile = claim_while_another_relay_claims(db, "WITH riders")  # the first holds head and riders
    assert [parts(m) for m in mine] == [["c1-0", "c1-1", "c1-2", "c1-3"]]
    assert [parts(m) for m in meanwhile] == [["c2-0"]]


def test_inbox_records_an_event_id_once_per_provider_and_tenant(db: Database) -> None:
    with Session(db.engine) as session, session.begin():
        first = record_event(session, provider="greenhouse", tenant_id="acme", event_id="e-1", body="{}")
        replay = record_event(session, provider="greenhouse", tenant_id="acme", event_id="e-1", body="{}")
        other_tenant = record_event(session, provider="greenhouse", tenant_id="globex", event_id="e-1", body="{}")
        other_provider = record_event(session, provider="lever", tenant_id="acme", event_id="e-1", body="{}")
    assert first is not None and replay is None
    assert other_tenant is not None and other_provider is not None
