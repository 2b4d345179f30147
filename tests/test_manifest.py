"""manifest.yml follows Slack's manifest schema limits and points every surface at /slack/events."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

MANIFEST = Path(__file__).resolve().parents[1] / "manifest.yml"


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    data = yaml.safe_load(MANIFEST.read_text())
    assert isinstance(data, dict)
    return data


def test_manifest_display_information_fits_slack_limits(manifest: dict[str, Any]) -> None:
    info = manifest["display_information"]
    assert 1 <= len(info["name"]) <= 35
    assert len(info["description"]) <= 140
    assert 175 <= len(info["long_description"]) <= 4000
    assert re.fullmatch(r"#[0-9a-fA-F]{3,6}", info["background_color"])


def test_manifest_declares_the_candidate_command(manifest: dict[str, Any]) -> None:
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/candidate" and 2 <= len(command["command"]) <= 32
    assert len(command["description"]) <= 2000 and len(command["usage_hint"]) <= 1000
    for sub in ("check", "export", "dedupe", "status", "mapping", "help"):
        assert sub in command["usage_hint"]
    assert command["url"].endswith("/slack/events")


def test_manifest_routes_interactivity_and_events_to_one_url(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    assert settings["interactivity"]["is_enabled"] is True
    urls = {settings["interactivity"]["request_url"], settings["event_subscriptions"]["request_url"]}
    assert urls == {manifest["features"]["slash_commands"][0]["url"]}
    assert all(re.fullmatch(r"https?://.+", u) and len(u) <= 3000 for u in urls)


def test_manifest_scopes_are_what_the_bot_uses(manifest: dict[str, Any]) -> None:
    scopes = manifest["oauth_config"]["scopes"]["bot"]
    assert {"commands", "chat:write", "users:read"} <= set(scopes)
    assert all(len(s) <= 50 for s in scopes) and len(scopes) <= 255
    assert manifest["features"]["bot_user"]["display_name"]


ROOT = Path(__file__).resolve().parents[1]
#: the bot scopes each Slack Web API method the code calls needs (api.slack.com/methods); history covers
#: public and private channels
SCOPE_OF: dict[str, tuple[str, ...]] = {
    "chat_postMessage": ("chat:write",), "chat_postEphemeral": ("chat:write",), "chat_update": ("chat:write",),
    "users_info": ("users:read",), "usergroups_users_list": ("usergroups:read",), "auth_test": (),
    "conversations_info": ("channels:read",),
    "conversations_history": ("channels:history", "groups:history", "im:history"),
    "users_lookupByEmail": ("users:read.email",), "conversations_open": ("im:write",)}


def test_manifest_scopes_cover_every_web_api_method_the_code_calls(manifest: dict[str, Any]) -> None:
    called = {m for path in (ROOT / "bot").rglob("*.py")
              for m in re.findall(r"\.([a-z]+_[A-Za-z]+)\(", path.read_text()) if m in SCOPE_OF}
    assert called, "the scan found no Slack Web API call; the test would prove nothing"
    needed = {scope for m in called for scope in SCOPE_OF[m]}
    assert needed <= set(manifest["oauth_config"]["scopes"]["bot"])


def test_manifest_command_is_the_one_the_code_answers(manifest: dict[str, Any]) -> None:
    registered = set(re.findall(r'app\.command\("(/[a-z-]+)"\)', (ROOT / "bot/slack/commands.py").read_text()))
    assert registered == {c["command"] for c in manifest["features"]["slash_commands"]}
