"""The outbox relay against the Slack simulator over real HTTP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from slack_sdk import WebClient
from sqlmodel import Session, select

from bot.slack.notifier import Notifier
from integrations.sandbox import slack as slack_sim
from integrations.sandbox.server import RunningServer
from integrations.sandbox.world import SLACK
from storage.models import OutboxMessage, OutboxState
from storage.outbox import Outbox, add_message
from tests.conftest import Database


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC) + timedelta(seconds=1)  # just after the messages are queued

    def __call__(self) -> datetime:
        return self.now


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
