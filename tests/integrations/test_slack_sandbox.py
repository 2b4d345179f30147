"""The Slack Web API simulator driven by slack_sdk's WebClient over real HTTP, plus response_urls."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from integrations.sandbox import world
from integrations.sandbox.server import RunningServer
from integrations.sandbox.slack import SlackState, create_app, seed_sandbox

PAYLOADS = Path(__file__).parent.parent / "payloads"
OPS, HIRE, USER = "C0NWOPS", "C0NWHIRE", "U0NIA"
Serve = Callable[..., RunningServer]


def _documented(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((PAYLOADS / name).read_text())
    return loaded


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _slack_error(call: Callable[[], Any]) -> SlackApiError:
    with pytest.raises(SlackApiError) as raised:
        call()
    return raised.value


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def state(clock: FakeClock) -> SlackState:
    return seed_sandbox(SlackState(seed=5, clock=clock))


@pytest.fixture
def slack(serve: Serve, state: SlackState) -> RunningServer:
    return serve(create_app(state), "slack")


@pytest.fixture
def web(slack: RunningServer) -> WebClient:
    return WebClient(token=world.SLACK.bot_token, base_url=f"{slack.url}/api/")


def _messages(slack: RunningServer, channel: str) -> dict[str, Any]:
    shown: dict[str, Any] = httpx.get(f"{slack.url}/_sandbox/messages", params={"channel": channel}).json()
    return shown


def test_slack_sim_auth_test_has_documented_shape(web: WebClient) -> None:
    answer = web.auth_test()
    assert set(_documented("slack_auth_test.json")) <= set(answer.data)
    assert (answer["team_id"], answer["user_id"]) == (world.SLACK.team_id, world.SLACK.bot_user_id)


def test_slack_sim_rejects_invalid_and_missing_tokens(slack: RunningServer) -> None:
    wrong = _slack_error(WebClient(token="xoxb-wrong", base_url=f"{slack.url}/api/").auth_test)
    assert wrong.response.status_code == 200
    assert wrong.response.data == _documented("slack_error_invalid_auth.json")
    missing = _slack_error(WebClient(base_url=f"{slack.url}/api/").auth_test)
    assert missing.response["error"] == "not_authed"


def test_slack_sim_posts_messages_with_increasing_ts(web: WebClient, slack: RunningServer) -> None:
    first = web.chat_postMessage(channel=OPS, text="Stage change", blocks=[_section("*Moved* to Onsite")])
    second = web.chat_postMessage(channel="#northwind-ops", text="Second")
    assert set(_documented("slack_chat_postMessage.json")) <= set(first.data)
    assert first["ts"] == "1700000000.000100"
    assert float(second["ts"]) > float(first["ts"])
    shown = _messages(slack, OPS)["messages"]
    assert [(m["ts"], m["text"]) for m in shown] == [(first["ts"], "Stage change"), (second["ts"], "Second")]
    assert shown[0]["blocks"] == [_section("*Moved* to Onsite")]


def test_slack_sim_updates_a_message_and_keeps_history(web: WebClient, slack: RunningServer) -> None:
    posted = web.chat_postMessage(channel=OPS, text="Merge?", blocks=[_section("Merge these two?")])
    updated = web.chat_update(channel=OPS, ts=posted["ts"], text="Merged", blocks=[_section("Merged")])
    assert set(_documented("slack_chat_update.json")) <= set(updated.data)
    shown = _messages(slack, OPS)
    assert shown["messages"][0]["text"] == "Merged"
    assert [e["text"] for e in shown["messages"][0]["edits"]] == ["Merge?"]
    assert [u["text"] for u in shown["updates"]] == ["Merged"]
    missing = _slack_error(lambda: web.chat_update(channel=OPS, ts="1.000000", text="x"))
    assert missing.response["error"] == "message_not_found"


def test_slack_sim_posts_ephemeral_to_one_user(web: WebClient, slack: RunningServer) -> None:
    answer = web.chat_postEphemeral(channel=OPS, user=USER, text="Only you can see this")
    assert set(answer.data) == set(_documented("slack_chat_postEphemeral.json"))
    (shown,) = _messages(slack, OPS)["ephemeral"]
    assert (shown["user"], shown["text"]) == (USER, "Only you can see this")
    assert _messages(slack, OPS)["messages"] == []
    stranger = _slack_error(lambda: web.chat_postEphemeral(channel=OPS, user="U0NOBODY", text="x"))
    assert stranger.response["error"] == "user_not_found"


def test_slack_sim_users_and_conversations_info(web: WebClient) -> None:
    user = web.users_info(user=USER)
    documented_user = _documented("slack_users_info.json")["user"]
    assert set(documented_user) <= set(user["user"])
    assert set(documented_user["profile"]) <= set(user["user"]["profile"])
    assert user["user"]["real_name"] == world.SLACK.users[USER]
    channel = web.conversations_info(channel=OPS)
    assert set(_documented("slack_conversations_info.json")["channel"]) <= set(channel["channel"])
    assert channel["channel"]["name"] == world.SLACK.channels[OPS]
    assert _slack_error(lambda: web.users_info(user="U0NOBODY")).response["error"] == "user_not_found"


def test_slack_sim_accepts_form_encoded_arguments_with_token(slack: RunningServer) -> None:
    answer = httpx.post(f"{slack.url}/api/users.info", data={"token": world.SLACK.bot_token, "user": USER})
    assert answer.json()["ok"] is True


def test_slack_sim_unknown_channel_is_channel_not_found(web: WebClient) -> None:
    error = _slack_error(lambda: web.chat_postMessage(channel="C0NOWHERE", text="hello"))
    assert (error.response.status_code, error.response["error"]) == (200, "channel_not_found")


@pytest.mark.parametrize(("blocks", "pointer"), [
    ([{"type": "divider"}] * 51, "/blocks"),
    ([_section("x" * 3001)], "/blocks/0/text/text"),
    ([{"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Go"},
                                        "value": "v" * 2001, "action_id": "go"}]}], "/blocks/0/elements/0/value"),
    ([{"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Go"},
                                        "action_id": "a" * 256}]}], "/blocks/0/elements/0/action_id"),
    ([{"type": "no_such_block"}], "/blocks/0"),
])
def test_slack_sim_rejects_blocks_over_limits(web: WebClient, blocks: list[Any], pointer: str) -> None:
    error = _slack_error(lambda: web.chat_postMessage(channel=OPS, text="too much", blocks=blocks))
    assert error.response["error"] == "invalid_blocks"
    assert any(e.endswith(f"[json-pointer:{pointer}]") for e in error.response["errors"])


def test_slack_sim_accepts_blocks_at_the_limits(web: WebClient) -> None:
    button = {"type": "button", "text": {"type": "plain_text", "text": "Go"}, "value": "v" * 2000,
              "action_id": "a" * 255}
    blocks = [_section("x" * 3000), {"type": "actions", "elements": [button]}, *[{"type": "divider"}] * 48]
    assert web.chat_postMessage(channel=OPS, text="just fits", blocks=blocks)["ok"] is True


def test_slack_sim_paces_each_channel_with_retry_after(serve: Serve) -> None:
    state = seed_sandbox(SlackState(post_burst=2))
    state.faults.rate_limit = 0  # no refill: the third post in a row to one channel is over the limit
    web = WebClient(token=world.SLACK.bot_token, base_url=f"{serve(create_app(state)).url}/api/")
    for i in range(2):
        web.chat_postMessage(channel=OPS, text=f"ok {i}")
    limited = _slack_error(lambda: web.chat_postMessage(channel=OPS, text="one too many"))
    assert limited.response.status_code == 429
    assert limited.response.data == _documented("slack_error_ratelimited.json")
    assert int(limited.response.headers["Retry-After"]) >= 1
    assert web.chat_postMessage(channel=HIRE, text="another channel")["ok"] is True


def _history(web: WebClient, **args: Any) -> list[dict[str, Any]]:
    """Every page of a channel's history, following the cursor."""
    pages, cursor = [], None
    while True:
        page = web.conversations_history(channel=OPS, cursor=cursor, **args)
        pages.append(page.data)
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not page["has_more"]:
            return pages


def _post_each_second(web: WebClient, clock: FakeClock, texts: list[str], **args: Any) -> list[str]:
    """Post at the channel's pace; the ts of each post."""
    posted = []
    for text in texts:
        clock.now += 1
        posted.append(str(web.chat_postMessage(channel=OPS, text=text, **args.pop(text, {}))["ts"]))
    return posted


def test_slack_sim_history_is_newest_first_in_pages_with_metadata_on_request(web: WebClient,
                                                                             clock: FakeClock) -> None:
    outbox = {"event_type": "hirebridge_outbox", "event_payload": {"outbox_id": 7}}
    posted = _post_each_second(web, clock, [f"m{i}" for i in range(5)], m1={"metadata": outbox})
    clock.now += 1
    web.chat_postMessage(channel=OPS, text="a reply", thread_ts=posted[0])
    web.chat_postMessage(channel=HIRE, text="another channel")
    pages = _history(web, limit=2, include_all_metadata=True)
    assert [len(p["messages"]) for p in pages] == [2, 2, 1]
    assert {"ok", "messages", "has_more", "pin_count", "response_metadata"} <= set(pages[0])  # documented
    shown = [m for p in pages for m in p["messages"]]
    assert [m["ts"] for m in shown] == posted[::-1], "newest first, thread replies left out"
    assert [m.get("metadata") for m in shown] == [None, None, None, outbox, None]
    assert {"type", "user", "text", "ts", "blocks"} <= set(shown[0])
    (plain,) = _history(web)
    assert "metadata" not in plain["messages"][3] and "response_metadata" not in plain


def test_slack_sim_history_bounds_by_oldest_and_latest(web: WebClient, clock: FakeClock) -> None:
    ts = _post_each_second(web, clock, [f"m{i}" for i in range(4)])
    after = web.conversations_history(channel=OPS, oldest=ts[1])
    assert [m["ts"] for m in after["messages"]] == [ts[3], ts[2]], "oldest is exclusive"
    between = web.conversations_history(channel=OPS, oldest=ts[1], latest=ts[3], inclusive=True)
    assert [m["ts"] for m in between["messages"]] == [ts[3], ts[2], ts[1]]


def test_slack_sim_history_errors(web: WebClient) -> None:
    assert _slack_error(lambda: web.conversations_history(channel="C0NOSUCH")).response["error"] == \
        "channel_not_found"
    assert _slack_error(lambda: web.conversations_history(channel=OPS, cursor="bm90LWEtY3Vyc29y")).response[
        "error"] == "invalid_cursor"
    bad = _slack_error(lambda: web.chat_postMessage(channel=OPS, text="x", metadata={"event_type": "t"}))
    assert bad.response["error"] == "invalid_metadata_format"


def _response_url(slack: RunningServer, **body: Any) -> str:
    minted = httpx.post(f"{slack.url}/_sandbox/response_urls", json={"channel": OPS, "user": USER, **body})
    url: str = minted.json()["response_url"]
    return url


def test_slack_sim_response_url_allows_five_uses(slack: RunningServer) -> None:
    url = _response_url(slack)
    statuses = [httpx.post(url, json={"text": f"reply {i}"}).status_code for i in range(6)]
    assert statuses == [200] * 5 + [404]
    responses = _messages(slack, OPS)["responses"]
    assert [(r["text"], r["response_type"], r["user"]) for r in responses] == [
        (f"reply {i}", "ephemeral", USER) for i in range(5)]


def test_slack_sim_response_url_expires_after_thirty_minutes(slack: RunningServer, clock: FakeClock) -> None:
    url = _response_url(slack)
    clock.now += 30 * 60 + 1
    assert httpx.post(url, json={"text": "too late"}).status_code == 404


def test_slack_sim_response_url_replaces_original_or_posts_in_channel(web: WebClient,
                                                                       slack: RunningServer) -> None:
    posted = web.chat_postMessage(channel=OPS, text="Merge?")
    url = _response_url(slack, message_ts=posted["ts"])
    httpx.post(url, json={"text": "Merged by Nia", "replace_original": True})
    httpx.post(url, json={"text": "FYI all", "response_type": "in_channel"})
    bad = httpx.post(url, json={"text": "x", "blocks": [{"type": "divider"}] * 51})
    assert (bad.status_code, bad.json()["error"]) == (400, "invalid_blocks")
    assert [(m["text"], len(m["edits"])) for m in _messages(slack, OPS)["messages"]] == [
        ("Merged by Nia", 1), ("FYI all", 0)]


def test_slack_sim_faults_and_inspection(web: WebClient, slack: RunningServer) -> None:
    web.chat_postMessage(channel=OPS, text="before the outage")
    httpx.post(f"{slack.url}/_sandbox/faults", json={"outage": True})
    down = _slack_error(lambda: web.chat_postMessage(channel=OPS, text="during"))
    assert down.response.status_code == 503
    recorded = httpx.get(f"{slack.url}/_sandbox/requests", params={"path": "/api/chat.postMessage"}).json()
    assert [r["status"] for r in recorded["requests"]] == [200, 503]
    assert recorded["requests"][0]["body"]["channel"] == OPS
    state = httpx.get(f"{slack.url}/_sandbox/state").json()
    assert state["messages_per_channel"][OPS] == 1
