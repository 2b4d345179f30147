"""The outbox relay against the Slack simulator over real HTTP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import httpx
import pytest
from slack_sdk import WebClient
from sqlmodel import Session, select

from bot.slack import blocks
from bot.slack.notifier import HISTORY_PAGE, Notifier
from integrations.sandbox import slack as slack_sim
from integrations.sandbox.server import RunningServer
from integrations.sandbox.world import SLACK
from storage.models import OutboxMessage, OutboxState
from storage.outbox import Outbox, Pending, add_message
from tests.conftest import Database

BUSY, QUIET = "C0ACMEOPS", "C0ACMEENG"


class Clock:
    def __init__(self) -> None:
        # A few seconds after the messages are queued; whole seconds, so the simulator's float clock
        # (its rate limiter, its ts) steps exactly.
        self.now = datetime.fromtimestamp(int(datetime.now(UTC).timestamp()) + 5, UTC)

    def __call__(self) -> datetime:
        return self.now

    def seconds(self) -> float:
        """The same clock for the Slack simulator (its rate limiter and message ts)."""
        return self.now.timestamp()


@pytest.fixture
def slack(serve: Callable[..., RunningServer]) -> tuple[RunningServer, slack_sim.SlackState]:
    app = slack_sim.create_app()
    return serve(app, "slack"), app.state.sim


SlackFixture = tuple[RunningServer, slack_sim.SlackState]


def notifier(db: Database, server: RunningServer, clock: Clock) -> Notifier:
    client = WebClient(token=SLACK.bot_token, base_url=f"{server.url}/api/")
    return Notifier(Outbox(db.engine, clock=clock, max_attempts=3), client)


def queue_message(db: Database, key: str, channel: str = "C0ACMEOPS") -> None:
    with Session(db.engine) as session, session.begin():
        add_message(session, dedupe_key=key, channel=channel, payload={"text": f"hello {key}"})


def row(db: Database) -> OutboxMessage:
    with Session(db.engine) as session:
        return session.exec(select(OutboxMessage)).one()


def rows(db: Database) -> list[OutboxMessage]:
    with Session(db.engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())  # type: ignore[arg-type]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def strict_slack(serve: Callable[..., RunningServer], clock: Clock) -> SlackFixture:
    """The simulator on the test's clock, allowing no burst: one post per channel per second, else 429."""
    state = slack_sim.seed_sandbox(slack_sim.SlackState(post_burst=1, clock=clock.seconds))
    return serve(slack_sim.create_app(state), "slack"), state


def calls(state: slack_sim.SlackState, method: str) -> list[int]:
    """The HTTP status of each call of a Web API method the simulator answered."""
    return [r.status for r in state.recorder.items() if r.path == f"/api/{method}"]


class Killed(BaseException):
    """The relay process dies (nothing in it catches this)."""


class CrashAfterPosting(Outbox):
    """A relay process killed between Slack's answer and the write that records it."""

    def mark_sent(self, message: Pending, slack_ts: str | None) -> None:
        raise Killed


def relay_dies_after_posting(db: Database, server: RunningServer, clock: Clock) -> None:
    """One relay pass whose process is killed once Slack has taken what it claimed."""
    client = WebClient(token=SLACK.bot_token, base_url=f"{server.url}/api/")
    with pytest.raises(Killed):
        Notifier(CrashAfterPosting(db.engine, clock=clock), client).relay_once()


def test_relay_posts_once_and_stores_the_ts(db: Database, slack: SlackFixture) -> None:
    server, _ = slack
    clock = Clock()
    relay = notifier(db, server, clock)
    queue_message(db, "m1")
    queue_message(db, "m1")  # the same change twice: one message
    assert relay.relay_once().sent == 1
    clock.now += timedelta(hours=1)
    assert relay.relay_once().sent == 0
    saved = row(db)
    assert saved.state == OutboxState.SENT and saved.slack_ts
    posted = server_messages(server)
    assert [m["text"] for m in posted] == ["hello m1"]


def server_messages(server: RunningServer) -> list[dict[str, object]]:
    import httpx

    return list(httpx.get(f"{server.url}/_sandbox/messages").json()["messages"])


def test_relay_waits_for_retry_after_on_429(db: Database, slack: SlackFixture) -> None:
    server, state = slack
    clock = Clock()
    relay = notifier(db, server, clock)
    relay.slack.retry_handlers.clear()  # no client-side retry: the relay itself must honour Retry-After
    queue_message(db, "m1")
    state.faults.rate_limited_rate = 1.0
    assert relay.relay_once().retried == 1
    saved = row(db)
    assert saved.state == OutboxState.PENDING and saved.last_error == "ratelimited"
    assert saved.next_attempt_at == clock.now + timedelta(seconds=1)
    state.faults.rate_limited_rate = 0.0
    assert relay.relay_once().sent == 0, "not before Retry-After"
    clock.now += timedelta(seconds=1)
    assert relay.relay_once().sent == 1


def test_relay_dead_letters_a_message_to_an_unknown_channel(
        db: Database, slack: SlackFixture) -> None:
    server, _ = slack
    relay = notifier(db, server, Clock())
    queue_message(db, "m1", channel="C0NOSUCH")
    assert relay.relay_once().dead == 1
    assert row(db).last_error == "slack: channel_not_found"


def test_relay_retries_when_slack_is_unreachable_then_gives_up(db: Database) -> None:
    clock = Clock()
    client = WebClient(token=SLACK.bot_token, base_url="http://127.0.0.1:9/api/", timeout=2)
    client.retry_handlers.clear()
    relay = Notifier(Outbox(db.engine, clock=clock, max_attempts=2), client)
    queue_message(db, "m1")
    assert relay.relay_once().retried == 1
    clock.now += timedelta(hours=1)
    assert relay.relay_once().dead == 1
    assert "gave up after 2 attempts" in (row(db).last_error or "")


def queue_answer(db: Database, key: str, response_url: str) -> None:
    with Session(db.engine) as session, session.begin():
        add_message(session, dedupe_key=key, channel="C0ACMEOPS",
                    payload={"text": f"answer {key}", "response_url": response_url, "replace_original": True})


def mint(server: RunningServer) -> str:
    return str(httpx.post(f"{server.url}/_sandbox/response_urls", json={"channel": "C0ACMEOPS"})
               .json()["response_url"])


def test_command_answers_go_to_their_response_url(db: Database, slack: SlackFixture) -> None:
    server, state = slack
    relay = notifier(db, server, Clock())
    queue_answer(db, "a1", mint(server))
    assert relay.relay_once().sent == 1
    (target,) = state.response_urls.values()
    assert [p["text"] for p in target.posts] == ["answer a1"] and target.posts[0]["replace_original"]
    assert state.messages == []  # not a channel post


def test_an_expired_response_url_is_dead_lettered_not_retried(db: Database, slack: SlackFixture) -> None:
    server, _ = slack
    relay = notifier(db, server, Clock())
    queue_answer(db, "a2", f"{server.url}/response/not-a-real-one")
    report = relay.relay_once()
    assert report.dead == 1
    assert row(db).state == OutboxState.DEAD and "expired_url" in (row(db).last_error or "")


def test_a_failing_response_url_is_retried_later(db: Database, slack: SlackFixture) -> None:
    server, state = slack
    clock = Clock()
    relay = notifier(db, server, clock)
    queue_answer(db, "a3", mint(server))
    state.faults.update({"error_rate": 1.0, "error_status": 503})
    assert relay.relay_once().retried == 1
    state.faults.update({"error_rate": 0.0})
    clock.now += timedelta(minutes=5)
    assert relay.relay_once().sent == 1


def test_relay_paces_a_busy_channel_and_never_holds_up_another(db: Database, strict_slack: SlackFixture,
                                                                 clock: Clock) -> None:
    server, state = strict_slack
    relay = notifier(db, server, clock)
    relay.slack.retry_handlers.clear()  # a 429 must show, not be retried away by the client
    for i in range(5):
        queue_message(db, f"busy {i}", BUSY)
    queue_message(db, "quiet", QUIET)
    assert relay.relay_once(limit=2).sent == 2, "the busy channel's backlog does not take the whole batch"
    assert [m.text for m in state.messages if m.channel == QUIET] == ["hello quiet"]
    for _ in range(16):  # four seconds in quarter steps
        clock.now += timedelta(seconds=0.25)
        relay.relay_once()
    busy = [m for m in state.messages if m.channel == BUSY]
    assert [m.text for m in busy] == [f"hello busy {i}" for i in range(5)]
    gaps = [Decimal(b.ts) - Decimal(a.ts) for a, b in pairwise(busy)]
    assert all(1 <= gap < Decimal("1.25") for gap in gaps), gaps
    assert set(calls(state, "chat.postMessage")) == {200} and len(calls(state, "chat.postMessage")) == 6
    assert calls(state, "conversations.history") == [], "the normal path never looks back"


def test_relay_that_crashed_after_slack_posted_does_not_post_again(db: Database, strict_slack: SlackFixture,
                                                                  clock: Clock) -> None:
    server, state = strict_slack
    queue_message(db, "m1")
    relay_dies_after_posting(db, server, clock)
    (posted,) = state.messages
    assert posted.metadata == {"event_type": "hirebridge_outbox", "event_payload": {"outbox_id": row(db).id}}
    assert row(db).state == OutboxState.SENDING
    clock.now += timedelta(seconds=61)  # the lease runs out; another relay takes over
    assert notifier(db, server, clock).relay_once().sent == 1
    assert [m.text for m in state.messages] == ["hello m1"]
    saved = row(db)
    assert (saved.state, saved.slack_ts) == (OutboxState.SENT, posted.ts)
    assert calls(state, "conversations.history") == [200]
    assert len(calls(state, "chat.postMessage")) == 1


def test_relay_that_crashed_before_slack_got_the_message_posts_it_once(db: Database, strict_slack: SlackFixture,
                                                                      clock: Clock) -> None:
    server, state = strict_slack
    queue_message(db, "m1")
    (claimed,) = Outbox(db.engine, clock=clock).claim()  # and the relay dies before posting
    queue_message(db, "other", QUIET)
    clock.now += timedelta(seconds=61)
    assert notifier(db, server, clock).relay_once().sent == 2
    assert sorted(m.text for m in state.messages) == ["hello m1", "hello other"]
    saved = rows(db)[0]
    assert (saved.id, saved.state, saved.slack_ts) == (claimed.id, OutboxState.SENT, state.messages[0].ts)
    assert calls(state, "conversations.history") == [200], "only the orphaned message is looked for"


def test_relay_looks_before_retrying_a_post_slack_may_have_taken(db: Database, strict_slack: SlackFixture,
                                                                 clock: Clock) -> None:
    server, state = strict_slack
    relay = notifier(db, server, clock)
    relay.slack.retry_handlers.clear()
    queue_message(db, "m1")
    state.faults.update({"error_rate": 1.0, "error_status": 503})  # a server error: posted or not, unknown
    assert relay.relay_once().retried == 1
    state.faults.update({"error_rate": 0.0})
    clock.now += timedelta(minutes=5)
    assert relay.relay_once().sent == 1
    assert [m.text for m in state.messages] == ["hello m1"]
    assert calls(state, "conversations.history") == [200]


def test_relay_finds_an_earlier_post_beyond_the_first_history_page(db: Database, strict_slack: SlackFixture,
                                                                   clock: Clock) -> None:
    server, state = strict_slack
    queue_message(db, "m1")
    relay_dies_after_posting(db, server, clock)
    client = WebClient(token=SLACK.bot_token, base_url=f"{server.url}/api/")
    for i in range(HISTORY_PAGE + 5):  # people keep talking in the channel
        clock.now += timedelta(seconds=1)
        client.chat_postMessage(channel=BUSY, text=f"chatter {i}")
    clock.now += timedelta(seconds=61)
    assert notifier(db, server, clock).relay_once().sent == 1
    assert calls(state, "conversations.history") == [200, 200]
    assert row(db).slack_ts == state.messages[0].ts and len(state.messages) == HISTORY_PAGE + 6


def test_relay_429_holds_the_channel_without_spending_the_next_messages_attempts(
        db: Database, strict_slack: SlackFixture, clock: Clock) -> None:
    server, state = strict_slack
    relay = notifier(db, server, clock)
    relay.slack.retry_handlers.clear()
    queue_message(db, "m1")
    queue_message(db, "m2")
    state.faults.rate_limited_rate = 1.0
    assert relay.relay_once().retried == 1
    state.faults.rate_limited_rate = 0.0
    for _ in range(3):  # before Retry-After: nothing goes to the channel, m2 keeps its place behind m1
        clock.now += timedelta(seconds=0.25)
        assert relay.relay_once().sent == 0
    clock.now += timedelta(seconds=0.25)
    assert relay.relay_once().sent == 1
    clock.now += timedelta(seconds=1)
    assert relay.relay_once().sent == 1
    assert [(r.state, r.attempts) for r in rows(db)] == [(OutboxState.SENT, 1), (OutboxState.SENT, 1)]
    assert calls(state, "chat.postMessage") == [429, 200, 200]
    assert calls(state, "conversations.history") == [], "Slack refused the post: nothing to look for"


def test_a_long_rate_limit_never_dead_letters_a_message(db: Database, slack: SlackFixture) -> None:
    server, state = slack
    clock = Clock()
    relay = notifier(db, server, clock)  # max_attempts=3
    relay.slack.retry_handlers.clear()
    queue_message(db, "m1")
    state.faults.rate_limited_rate = 1.0
    for _ in range(6):  # twice the attempts allowed, all of them 429
        assert relay.relay_once().retried == 1
        clock.now += timedelta(seconds=1)
    state.faults.rate_limited_rate = 0.0
    assert relay.relay_once().sent == 1
    assert row(db).state == OutboxState.SENT


# --- coalesced bursts -----------------------------------------------------------------------------------------

def queue_alert(db: Database, i: int, channel: str = BUSY) -> None:
    alert = blocks.StageAlert(candidate=f"Person {i}", role="Backend Engineer", from_stage="Application Review",
                              to_stage="Phone Screen", actor=None, ats="Greenhouse", ats_url=None, tenant="Acme")
    with Session(db.engine) as session, session.begin():
        add_message(session, dedupe_key=f"alert {i}", channel=channel, payload=blocks.stage_alert(alert),
                    batch="stage_alert")


def test_relay_coalesces_a_burst_into_fewer_posts_that_name_every_change(
        db: Database, strict_slack: SlackFixture, clock: Clock) -> None:
    server, state = strict_slack
    relay = notifier(db, server, clock)
    for i in range(12):
        queue_alert(db, i)
    assert relay.relay_once().sent == 10
    clock.now += timedelta(seconds=1)
    assert relay.relay_once().sent == 2
    first, second = state.messages
    assert [f"Person {i}" in first.text for i in range(10)] == [True] * 10
    named = [i for i in range(12) if any(f"*Person {i}*" in str(b) for b in first.blocks + second.blocks)]
    assert named == list(range(12)), "every change is named in the blocks"
    assert first.metadata is not None and first.metadata["event_payload"]["outbox_ids"] == ",".join(
        str(r.id) for r in rows(db)[:10])
    assert {r.slack_ts for r in rows(db)} == {first.ts, second.ts}
    assert set(calls(state, "chat.postMessage")) == {200}


def test_relay_that_crashed_after_posting_a_batch_posts_only_what_joined_later(
        db: Database, strict_slack: SlackFixture, clock: Clock) -> None:
    server, state = strict_slack
    for i in range(3):
        queue_alert(db, i)
    relay_dies_after_posting(db, server, clock)
    for i in range(3, 5):
        queue_alert(db, i)
    clock.now += timedelta(seconds=61)  # the lease runs out; another relay claims the batch and the newcomers
    assert notifier(db, server, clock).relay_once().sent == 5
    first, second = state.messages
    assert [i for i in range(5) if f"Person {i}" in second.text] == [3, 4], "nothing of the first post again"
    saved = rows(db)
    assert [r.slack_ts for r in saved] == [first.ts] * 3 + [second.ts] * 2
    assert calls(state, "conversations.history") == [200]


# --- direct messages ---------------------------------------------------------------------------------------------

def test_relay_finds_the_recipient_of_a_direct_message_by_email(db: Database, slack: SlackFixture) -> None:
    server, state = slack
    queue_message(db, "dm 1", "@Rae@acme.example")
    queue_message(db, "dm 2", "@Rae@acme.example")
    relay = notifier(db, server, Clock())
    assert relay.relay_once().sent == 1
    relay.outbox.pace = timedelta(0)
    assert relay.relay_once().sent == 1
    assert [(m.channel, m.text) for m in state.messages] == [("D0RAE", "hello dm 1"), ("D0RAE", "hello dm 2")]
    assert state.ims == {"D0RAE": "U0RAE"}
    assert len(calls(state, "users.lookupByEmail")) == 1, "the person is looked up once per process"


def test_a_direct_message_to_an_email_nobody_in_slack_has_is_dead_lettered(
        db: Database, slack: SlackFixture) -> None:
    server, state = slack
    queue_message(db, "dm", "@nobody@acme.example")
    assert notifier(db, server, Clock()).relay_once().dead == 1
    assert row(db).last_error == "slack users.lookupByEmail: users_not_found (could not look for an earlier post)"
    assert state.messages == []
