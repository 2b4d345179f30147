"""`hirebridge demo` runs every scene against the real simulators and ends as it should."""

from __future__ import annotations

import io

from rich.console import Console

from bot.demo import run_demo


def test_demo_runs_every_scene_and_exits_zero() -> None:
    out = io.StringIO()
    code = run_demo(Console(file=out, width=120, force_terminal=False))
    text = out.getvalue()
    assert code == 0, text
    for needle in ("1. Configuration", "Morning connection check", "LinkedIn One-Click Exports",
                   "matched by LinkedIn URL: no duplicate", "needs attention", "first poll: 2 note(s) written",
                   "API calls used", "Greenhouse outage", "A revoked credential", "What Slack saw",
                   "Greenhouse not working", "hirebridge dlq list", "demo complete",
                   "Recruiters ask in Slack", "/candidate check linkedin.com/in/Omar-Haddad",
                   "Exported to Greenhouse (Acme)", "no duplicate created", "(Slack retry #1)",
                   "Sync health: all good", "is for ops and above", "Hiring managers hear about it",
                   "Application Review → Recruiter Screen → Phone Screen",
                   "New lead → Phone screen (ats)", "Unmapped ATS stage in Acme",
                   "his answer moved his Greenhouse application to: Recruiter Screen",
                   "Omar Haddad — Senior Backend Engineer: Recruiter Screen →",
                   "What the bridge did for each tenant", "Time to review", "Source accuracy", "Sync lag",
                   "Adoption:"):
        assert needle in text, needle
