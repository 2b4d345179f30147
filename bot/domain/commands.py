"""`/candidate` parsed once, in one place: a subcommand and its arguments, or a usage error saying why."""

from __future__ import annotations

import re
from dataclasses import dataclass

#: subcommand -> (least role allowed, syntax, what it does): the one list help, usage and roles read
SUBCOMMANDS: dict[str, tuple[str | None, str, str]] = {
    "check": ("recruiter", "check <linkedin url | email | name>", "is this person already in the ATS? In which "
              "job and stage, since when, whose candidate, last InMail, earlier applications"),
    "export": ("recruiter", "export <linkedin url> [job]", "add a LinkedIn profile to the ATS in one step (an "
               "existing record is linked, never duplicated)"),
    "dedupe": ("ops", "dedupe [scope]", "scan for duplicate candidates and propose merges"),
    "status": ("ops", "status", "sync health: queue, dead letters, last sync per integration, request budgets"),
    "mapping": ("ops", "mapping", "the stage and field maps of this channel's tenant"),
    "help": (None, "help", "this help"),
}
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
    if name == "export" and not 1 <= len(args) <= 2:
        raise CommandError("export needs a LinkedIn URL and, optionally, an ATS job id")
    if name == "dedupe" and len(args) > 1:
        raise CommandError("dedupe takes at most one scope (a tenant id)")
    if name in ("status", "mapping", "help") and args:
        raise CommandError(f"{name} takes no arguments")
    return Command(name, args)


def required_role(name: str) -> str | None:
    return SUBCOMMANDS[name][0]
