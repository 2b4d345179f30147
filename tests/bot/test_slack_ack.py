"""The ack never waits for answers: slow answers run after the ack on their own executor."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_bolt import Respond
from slack_sdk import WebClient

from bot.config import load_config
from bot.demo.script import EXAMPLE_CONFIG
from bot.domain.commands import Command
from bot.slack.app import build_slack_app
from bot.slack.commands import CandidateCommand
from bot.web import create_web_app
from integrations.sandbox.server import RunningServer
from integrations.sandbox.world import SLACK
from storage.migrate import upgrade
from tests.bot.slack_client import signed_headers
from tests.conftest import Database


def test_acks_keep_coming_while_every_answer_is_stuck(db: Database,
                                                       serve: Callable[..., RunningServer]) -> None:
    upgrade(db.engine)
    release, started = threading.Event(), threading.Semaphore(0)

    def stuck(parsed: Command, command: dict[str, Any], respond: Respond) -> None:
        started.release()
        release.wait(30)

    config = load_config(EXAMPLE_CONFIG)
    candidate = CandidateCommand(db.engine, lambda: config, {"check": stuck})
    app = build_slack_app(signing_secret=SLACK.signing_secret, client=WebClient(base_url="http://127.0.0.1:9/"),
                          candidate=candidate, workers=4)
    server = serve(create_web_app(db.engine, slack=app), "bot")
    many = 12  # three times the listener threads: before, the fifth ack waited for a stuck answer forever

    def check(n: int) -> httpx.Response:
        body = urlencode({"team_id": SLACK.team_id, "channel_id": "C0ACMEENG", "user_id": "U0RAE",
                          "command": "/candidate", "text": f"check person {n}", "trigger_id": f"t{n}",
                          "response_url": "http://127.0.0.1:9/response/x"})
        return httpx.post(f"{server.url}/slack/events", content=body, headers=signed_headers(body), timeout=20)

    try:
        with ThreadPoolExecutor(many) as pool:
            answers = list(pool.map(check, range(many)))
        assert [a.status_code for a in answers] == [200] * many
        assert all("Looking them up" in a.text for a in answers)
        assert started.acquire(timeout=10), "the answers do run after the acks"
    finally:
        release.set()
