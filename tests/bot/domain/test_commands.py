"""Parsing `/candidate` text: every subcommand, and a usage error naming what was wrong."""

from __future__ import annotations

import pytest

from bot.domain.commands import Command, CommandError, parse_command, required_role


@pytest.mark.parametrize(("text", "expected"), [
    ("", Command("help")),
    ("  help ", Command("help")),
    ("check https://www.linkedin.com/in/jane-doe", Command("check", ("https://www.linkedin.com/in/jane-doe",))),
    ("check <https://linkedin.com/in/jane-doe|linkedin.com/in/jane-doe>",
     Command("check", ("<https://linkedin.com/in/jane-doe|linkedin.com/in/jane-doe>",))),
    ("CHECK Jane Doe", Command("check", ("Jane", "Doe"))),
    ('check "Jane Doe"', Command("check", ("Jane Doe",))),
    ("export https://linkedin.com/in/jane 4401", Command("export", ("https://linkedin.com/in/jane", "4401"))),
    ("export linkedin.com/in/ada-l 4401 Ada King Lovelace",
     Command("export", ("linkedin.com/in/ada-l", "4401", "Ada", "King", "Lovelace"))),
    ('export <https://www.linkedin.com/in/ada-l|ada> post-1 "Ada Lovelace"',
     Command("export", ("<https://www.linkedin.com/in/ada-l|ada>", "post-1", "Ada Lovelace"))),
    ("dedupe acme", Command("dedupe", ("acme",))),
    ("status", Command("status")),
    ("mapping", Command("mapping")),
    ("mapping northwind", Command("mapping", ("northwind",))),
])
def test_parse_command_reads_every_subcommand(text: str, expected: Command) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("frobnicate", "unknown subcommand 'frobnicate'"),
    ("check", "check needs"),
    ("export", "export needs"),
    ("export a b c", "export needs a LinkedIn profile URL first"),
    ("export https://www.linkedin.com/company/acme", "export needs a LinkedIn profile URL first"),
    ("export https://example.com/in/jane", "export needs a LinkedIn profile URL first"),
    ("export linkedin.com/in/jane 4401 " + "x" * 201, "the name is longer than 200"),
    ("dedupe a b", "dedupe takes at most one tenant id"),
    ("mapping a b", "mapping takes at most one tenant id"),
    ("status now", "status takes no arguments"),
])
def test_parse_command_names_what_was_wrong(text: str, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        parse_command(text)


def test_ops_subcommands_need_ops_and_help_needs_nobody() -> None:
    assert [required_role(n) for n in ("check", "export", "dedupe", "status", "mapping", "help")] == [
        "recruiter", "recruiter", "ops", "ops", "ops", None]
