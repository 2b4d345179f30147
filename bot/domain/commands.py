"""`/candidate` parsed once, in one place: a subcommand and its arguments, or a usage error saying why."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.domain.identity import ProfileUrlError, normalize_linkedin_url
from bot.domain.profile_url import strip_slack_link

#: subcommand -> (least role allowed, syntax, what it does): the one list help, usage and roles read
SUBCOMMANDS: dict[str, tuple[str | None, str, str]] = {
    "check": ("recruiter", "check <linkedin url | email | name>", "is this person already in the ATS? In which "
              "job and stage, since when, whose candidate, last InMail, earlier applications"),
    "export": ("recruiter", "export <linkedin url> [job [first last]]", "add a LinkedIn profile to the ATS "
               "in one step; an existing record is linked, never duplicated (a name is needed only for someone "
               "HireBridge has never seen)"),
    "dedupe": ("ops", "dedupe [tenant]", "scan this channel's tenant (or the one named) for duplicate candidates"),
    "status": ("ops", "status", "sync health: queue, dead letters, last sync per integration, request budgets"),
    "mapping": ("ops", "mapping [tenant]", "the project, stage and field maps of this channel's tenant"),
    "stats": ("ops", "stats [tenant]", "recruiting KPIs of this channel's tenant over the last 30 days: "
              "time-to-review, duplicates, completeness, source accuracy, sync lag, adoption"),
    "forget": ("admin", "forget <email | linkedin url>", "erase a person from everything HireBridge stored "
               "(asks you to confirm first)"),
    "help": (None, "help", "this help"),
}
MAX_NAME = 200
# Slack wraps links as <https://…|label> and may send them with spaces around; keep such a token whole.
_TOKEN = re.compile(r"<[^>]*>|\"[^\"]*\"|\S+")


class CommandError(ValueError):
    """The text is not a valid `/candidate` command; the message says what was wrong."""


@dataclass(frozen=True)
class Command:
    name: str
    args: tuple[str, ...] = ()

    @property
    def rest(self) -> str:
        return " ".join(self.args)


def tokens(text: str) -> list[str]:
    return [t[1:-1] if t.startswith('"') and t.endswith('"') else t for t in _TOKEN.findall(text.strip())]


def parse_command(text: str) -> Command:
    """Parse the text after `/candidate`; an empty text asks for help."""
    words = tokens(text)
    if not words:
        return Command("help")
    name, args = words[0].lower(), tuple(words[1:])
    if name not in SUBCOMMANDS:
        raise CommandError(f"unknown subcommand {words[0]!r}")
    if name == "check" and not args:
        raise CommandError("check needs a LinkedIn URL, an email or a name")
    if name == "export":
        _check_export(args)
    if name == "forget" and len(args) != 1:
        raise CommandError("forget needs exactly one email or LinkedIn profile URL")
    if name in ("dedupe", "mapping", "stats") and len(args) > 1:
        raise CommandError(f"{name} takes at most one tenant id")
    if name in ("status", "help") and args:
        raise CommandError(f"{name} takes no arguments")
    return Command(name, args)


def _check_export(args: tuple[str, ...]) -> None:
    if not args:
        raise CommandError("export needs a LinkedIn profile URL")
    try:
        normalize_linkedin_url(strip_slack_link(args[0]))
    except ProfileUrlError as exc:
        raise CommandError(f"export needs a LinkedIn profile URL first: {exc}") from None
    if len(args) > 2 and len(" ".join(args[2:])) > MAX_NAME:
        raise CommandError(f"the name is longer than {MAX_NAME} characters")


def required_role(name: str) -> str | None:
    return SUBCOMMANDS[name][0]
