"""Demo scene: recruiters and ops talk to HireBridge in Slack (`/candidate check`, `export`, `status`).

The demo plays Slack: it signs each slash command exactly as Slack does and posts it to the bot's
`/slack/events`; answers come back in the ack or, later, on the command's `response_url`.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx
from rich.panel import Panel
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import func, select

from bot.demo.render import message_panel
from bot.slack_export import SLACK_EXPORT
from bot.web import create_web_app
from integrations.sandbox.server import serve_in_thread
from integrations.sandbox.world import SLACK
from storage.models import WorkItem, table

if TYPE_CHECKING:
    from bot.demo.script import Demo

WORK = table(WorkItem).c


class Slack:
    """The demo's Slack: signs commands, posts them to the bot, and reads the answers the bot sent back."""

    def __init__(self, demo: Demo, bot_url: str) -> None:
        self.demo, self.bot_url, self.sim = demo, bot_url, demo.sims.url("slack")
        self.signer = SignatureVerifier(SLACK.signing_secret)
        self.seen = len(self._answers())

    def command(self, user: str, text: str, channel: str = "C0ACMEOPS",
                form: dict[str, str] | None = None, retry: int | None = None) -> dict[str, str]:
        """Type `/candidate <text>` as `user`; print what they typed and the ack. Returns the form sent."""
        if form is None:
            minted = httpx.post(f"{self.sim}/_sandbox/response_urls", json={"channel": channel, "user": user},
                                timeout=10)
            response_url = minted.json()["response_url"]
            form = {"team_id": SLACK.team_id, "channel_id": channel, "user_id": user, "command": "/candidate",
                    "text": text, "response_url": response_url, "trigger_id": f"{time.time_ns()}.demo"}
        body, ts = urlencode(form), str(int(time.time()))
        headers = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": str(self.signer.generate_signature(
            timestamp=ts, body=body)), "Content-Type": "application/x-www-form-urlencoded"}
        if retry is not None:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        started = time.perf_counter()
        ack = httpx.post(f"{self.bot_url}/slack/events", content=body, headers=headers, timeout=10)
        ms = (time.perf_counter() - started) * 1000
        who = SLACK.users.get(form["user_id"], form["user_id"])
        again = f" [dim](Slack retry #{retry})[/dim]" if retry else ""
        self.demo.console.print(f"  [bold]{who}[/bold]: /candidate {form['text']}{again}", highlight=False)
        self.demo.console.print(f"  [dim]ack {ack.status_code} in {ms:.0f} ms: {ack.json().get('text', '')}[/dim]",
                                highlight=False)
        return form

    def click(self, user: str, message: dict[str, Any], action_id: str, label: str) -> int:
        """Click a button of a posted message as `user` (after Slack's confirm dialog, if it has one)."""
        channel = str(message["channel"])
        minted = httpx.post(f"{self.sim}/_sandbox/response_urls", timeout=10,
                            json={"channel": channel, "user": user, "message_ts": message["ts"]})
        (button,) = [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
                     if e["action_id"] == action_id]
        payload = {"type": "block_actions", "team": {"id": SLACK.team_id}, "user": {"id": user},
                   "api_app_id": "A0HIREBRIDGE", "container": {"type": "message", "message_ts": message["ts"],
                                                                "channel_id": channel},
                   "trigger_id": f"{time.time_ns()}.demo", "channel": {"id": channel},
                   "message": {"ts": message["ts"], "text": message["text"], "blocks": message["blocks"]},
                   "response_url": minted.json()["response_url"],
                   "actions": [{"type": "button", "action_id": action_id, "value": button["value"],
                                "block_id": "", "action_ts": f"{time.time():.6f}"}]}
        body, ts = urlencode({"payload": json.dumps(payload)}), str(int(time.time()))
        headers = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": str(self.signer.generate_signature(
            timestamp=ts, body=body)), "Content-Type": "application/x-www-form-urlencoded"}
        answer = httpx.post(f"{self.bot_url}/slack/events", content=body, headers=headers, timeout=10)
        who = SLACK.users.get(user, user)
        confirm = " and confirms Slack's dialog" if "confirm" in button else ""
        self.demo.console.print(f"  [bold]{who}[/bold] clicks [bold]{label}[/bold]{confirm} "
                                f"[dim](ack {answer.status_code})[/dim]", highlight=False)
        return answer.status_code

    def answers(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait for `count` new response_url answers and show them as Slack would (only to the asker)."""
        deadline = time.monotonic() + timeout
        while len(self._answers()) < self.seen + count and time.monotonic() < deadline:
            time.sleep(0.02)
        new = self._answers()[self.seen:]
        self.seen += len(new)
        for answer in new:
            self.demo.console.print(_only_you(message_panel(answer, "only visible to you")))
        return new

    def _answers(self) -> list[dict[str, Any]]:
        return list(httpx.get(f"{self.sim}/_sandbox/messages", timeout=10).json()["responses"])


def _only_you(panel: Panel) -> Panel:
    panel.border_style = "blue"
    return panel


def exports_queued(demo: Demo) -> int:
    with demo.rt.engine.connect() as conn:
        return int(conn.execute(select(func.count()).where(WORK.kind == SLACK_EXPORT)).scalar_one())


def wait_for_exports(demo: Demo, count: int, timeout: float = 5.0) -> None:
    """The listener queues an export right after its ack; wait for it before running the worker."""
    deadline = time.monotonic() + timeout
    while exports_queued(demo) < count and time.monotonic() < deadline:
        time.sleep(0.02)


def scene_slack_commands(demo: Demo) -> bool:
    demo.step("7. Recruiters ask in Slack",
              "Before writing to Omar again, Rae checks him in Slack: the bot answers from the local index in "
              "milliseconds. She exports a new profile by URL and adds Omar to a second job: one record each, "
              "never two, even when Slack retries a request. Olu from ops asks for sync health.")
    slack_app = demo.rt.slack_app()
    assert slack_app is not None, "the sandbox environment sets SLACK_SIGNING_SECRET"
    web = serve_in_thread(create_web_app(demo.rt.engine, exports=demo.rt.exports(), slack=slack_app), "slack-web")
    demo.extra_servers.append(web)
    demo.slack_url = web.url
    slack = Slack(demo, web.url)

    slack.command("U0RAE", "check linkedin.com/in/Omar-Haddad/?trk=public_profile")
    checked = slack.answers(1)

    sofia = slack.command("U0RAE", "export https://www.linkedin.com/in/sofia-reyes-7 4402 Sofia Reyes")
    slack.command("U0RAE", "", form=sofia, retry=1)  # Slack did not see the ack in time and sent it again
    slack.command("U0RAE", "export linkedin.com/in/omar-haddad 4402")
    wait_for_exports(demo, 2)
    demo.drain()
    demo.relay()
    exported = slack.answers(2)

    slack.command("U0OLU", "status")
    status = slack.answers(1)
    slack.command("U0RAE", "status")  # recruiters do not see ops answers: refused in the ack

    sofias = [p for p in demo.rt.connections().ats_adapter("acme").changed_since(None) if p.first_name == "Sofia"]
    text = " ".join(str(a.get("blocks")) for a in (*checked, *exported, *status))
    return (len(sofias) == 1 and exports_queued(demo) == 2 and "Already in Greenhouse" in text
            and "Exported to Greenhouse (Acme)" in text and "no duplicate created" in text
            and "Sync health" in text)
