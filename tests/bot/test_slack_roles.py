"""Roles granted through Slack user groups: asked of Slack only when needed, kept a few minutes, and never
granted when Slack cannot be asked."""

from __future__ import annotations

import pytest

from integrations.sandbox.server import RunningServer
from tests.bot.slack_client import audit, post, slash
from tests.bot.world import World

pytestmark = pytest.mark.slow
LEE = "U0LEE"  # a recruiter only through the S0SOURCERS user group


def group_lookups(world: World) -> int:
    return sum(r.path.endswith("/usergroups.users.list") for r in world.sims.states["slack"].recorder.items())


def test_a_user_group_grants_its_role(world: World, server: RunningServer) -> None:
    answer = post(server, slash(world, "check jane@example.com", user=LEE))
    assert "Looking them up" in answer.text
    assert "Looking them up" in post(server, slash(world, "check jane@example.com", user=LEE)).text
    assert group_lookups(world) == 1, "members are kept for a few minutes, not asked for every command"


def test_a_group_grants_no_more_than_its_role(world: World, server: RunningServer) -> None:
    answer = post(server, slash(world, "status", user=LEE))
    assert "`/candidate status` is for ops and above" in answer.text
    assert group_lookups(world) == 0, "no group grants ops, so Slack is not asked"


def test_people_listed_by_id_never_cost_a_slack_call(world: World, server: RunningServer) -> None:
    post(server, slash(world, "check jane@example.com", user="U0RAE"))
    assert group_lookups(world) == 0


def test_when_slack_cannot_be_asked_the_command_is_refused_saying_why(world: World, server: RunningServer) -> None:
    world.sims.states["slack"].faults.outage = True
    answer = post(server, slash(world, "check jane@example.com", user=LEE))
    assert "Slack could not be asked who is in it" in answer.text
    assert audit(world, 1) == ["command.check.refused"]


def test_outsiders_are_still_refused_after_asking(world: World, server: RunningServer) -> None:
    answer = post(server, slash(world, "check jane@example.com", user="U0HIRINGMGR"))
    assert "is for recruiter and above" in answer.text
    assert group_lookups(world) == 1
