"""/slack/events through the real server: signed slash commands, refusals, and answers via response_url."""

from __future__ import annotations

import time

import pytest

from integrations.sandbox.server import RunningServer
from tests.bot.slack_client import audit, post, slash, wait_for_response
from tests.bot.world import World

pytestmark = pytest.mark.slow
JANE = {"firstName": "Jane", "lastName": "Doe", "profileUrl": "https://www.linkedin.com/in/jane-doe-42"}


def test_help_is_answered_in_the_ack(world: World, server: RunningServer) -> None:
    answer = post(server, slash(world, "help"))
    assert answer.status_code == 200
    assert "/candidate check &lt;linkedin url | email | name&gt;" in answer.text
    assert audit(world, 1) == ["command.help"]


@pytest.mark.parametrize("text", ["frobnicate", "check", "status now"])
def test_bad_commands_get_usage_help(world: World, server: RunningServer, text: str) -> None:
    answer = post(server, slash(world, text))
    assert answer.status_code == 200 and "usage" in answer.text.lower()
    assert answer.json()["response_type"] == "ephemeral"


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"secret": "not-the-secret"}, "bad-signature"),
    ({"timestamp": int(time.time()) - 3600}, "stale-timestamp"),
], ids=["bad-signature", "stale-timestamp"])
def test_unsigned_or_stale_requests_are_401_and_write_nothing(world: World, server: RunningServer,
                                                              kwargs: dict[str, object], name: str) -> None:
    answer = post(server, slash(world, "help"), **kwargs)  # type: ignore[arg-type]
    assert answer.status_code == 401
    assert audit(world) == []


def test_ops_subcommands_refuse_recruiters(world: World, server: RunningServer) -> None:
    answer = post(server, slash(world, "status", user="U0RAE"))
    assert answer.status_code == 200 and "is for ops and above" in answer.text
    assert audit(world, 1) == ["command.status.refused"]


def test_people_without_a_role_cannot_check(world: World, server: RunningServer) -> None:
    answer = post(server, slash(world, "check jane@example.com", user="U0STRANGER"))
    assert "is for recruiter and above" in answer.text


def test_check_acks_at_once_and_answers_through_response_url(world: World, server: RunningServer) -> None:
    world.export("acme", [JANE], job="4401")
    world.drain()
    answer = post(server, slash(world, "check linkedin.com/in/Jane-Doe-42/?trk=x"))
    assert answer.status_code == 200 and "Looking them up" in answer.text
    (reply,) = wait_for_response(world)
    assert "Jane Doe" in str(reply) and "Senior Backend Engineer" in str(reply)
    assert audit(world, 2) == ["command.check", "check.answered"]


def test_commands_are_acked_while_slack_is_unreachable(world: World, server: RunningServer) -> None:
    # Bolt's default authorization would call auth.test on the first request and fail every command
    world.sims.states["slack"].faults.outage = True
    answer = post(server, slash(world, "help"))
    assert answer.status_code == 200 and "/candidate check" in answer.text
    assert "Looking them up" in post(server, slash(world, "check jane@example.com")).text
