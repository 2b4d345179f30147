"""Writing results: RESULTS.md (figures, machine, command, date, commit) and the optional JSON."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench.results import Figure, Result

ROOT = Path(__file__).resolve().parents[1]


def python_command() -> str:
    """The interpreter as typed from the project root (`.venv/bin/python`), else `python`."""
    try:
        return str(Path(sys.executable).relative_to(Path.cwd()))
    except ValueError:
        return "python"


def git_commit(root: Path = ROOT) -> str:
    """`git rev-parse --short HEAD`, plus `+dirty` when the tree has changes (untracked files included)."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=10)
        return done.stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        return commit + ("+dirty" if git("status", "--porcelain") else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except (OSError, ValueError, IndexError):
        pass
    return None


def machine() -> dict[str, str]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    ram = ram_gib()
    return {
        "CPU": cpu_model(),
        "cores": f"{usable} usable ({os.cpu_count()} online)",
        "RAM": f"{ram:.1f} GiB" if ram is not None else "unknown",
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "OS": platform.platform(),
    }


def number(value: float) -> str:
    """Integers as integers; small values with three decimals, larger ones with one."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [_row(headers), _row(["---"] * len(headers)), *(_row(r) for r in rows)]


def figure_row(f: Figure) -> list[str]:
    baseline = "" if f.baseline is None else number(f.baseline)
    ratio = "" if f.ratio is None else f"{f.ratio:.2f}"
    return [f"`{f.name}`", number(f.value), baseline, ratio, f.note]


def run_facts(command: str, quick: bool, now: datetime) -> dict[str, str]:
    """What a section was measured with: the command, when, at which commit, at which size, on which machine."""
    return {"command": f"`{command}`", "date (UTC)": now.strftime("%Y-%m-%d %H:%M:%S"),
            "commit measured": f"`{git_commit()}`", "size": "quick (smoke sizes)" if quick else "full",
            **machine()}


def result_section(r: Result, facts: dict[str, str]) -> list[str]:
    goal = "met" if not r.failures else "**MISSED** — " + "; ".join(r.failures)
    lines = [f"## `{r.name}` — {r.title}", "", f"Goal: {goal}. Ran in {r.seconds:.1f} s.", ""]
    lines += [*markdown_table(("", ""), list(facts.items())), ""]
    lines += markdown_table(("figure", "value", "baseline", "ratio", "notes"), [figure_row(f) for f in r.figures])
    if r.notes:
        lines += ["", *(f"- {n}" for n in r.notes)]
    for t in r.tables:
        lines += ["", f"### {t.title}", "", *markdown_table(t.headers, t.rows)]
    return [*lines, ""]


HEADER = ["# Benchmark results", "",
          "Written by `python -m bench`; do not edit by hand, run the command again. A run rewrites the sections "
          "of the benchmarks it ran and keeps the others; each section says how, when and where it was measured.",
          ""]
_SECTION = re.compile(r"^## `([^`]+)`")
_FACTS_ROW = "| commit measured |"


def split_sections(text: str) -> tuple[list[str], dict[str, list[str]]]:
    """The lines before the first benchmark's section, and each section's lines (its title to the next one)."""
    header: list[str] = []
    sections: dict[str, list[str]] = {}
    current = header
    for line in text.split("\n"):
        if match := _SECTION.match(line):
            current = sections.setdefault(match.group(1), [])
        current.append(line)
    return header, sections


def with_facts(section: list[str], facts: list[str]) -> list[str]:
    """A section from an older file, whose run facts were in the file's header: given them back, after its goal."""
    if any(line.startswith(_FACTS_ROW) for line in section) or not facts:
        return section
    at = next((i for i, line in enumerate(section) if line.startswith("Goal:")), 1) + 1
    return [*section[:at], "", *facts, *section[at:]]


def kept_sections(path: Path) -> dict[str, list[str]]:
    """The sections already in `path`, each holding the facts of the run that measured it."""
    if not path.exists():
        return {}
    header, sections = split_sections(path.read_text())
    legacy = [line for line in header if line.startswith("|")]
    facts = legacy if any(line.startswith(_FACTS_ROW) for line in legacy) else []
    # every section ends with a blank line, so the next one starts a paragraph of its own
    return {name: [*with_facts(lines, facts), *([] if lines[-1] == "" else [""])]
            for name, lines in sections.items()}


def write_markdown(path: Path, results: Sequence[Result], *, command: str, quick: bool) -> None:
    """Write each result's section into `path`, in place of its earlier one; other benchmarks' sections stay."""
    facts = run_facts(command, quick, datetime.now(UTC))
    sections = {**kept_sections(path), **{r.name: result_section(r, facts) for r in results}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([*HEADER, *(line for lines in sections.values() for line in lines)]))


def _plain(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def write_json(path: Path, results: Sequence[Result]) -> None:
    """`{benchmark: {figure: value}}`; baselines are figures of their own (`naive_…`)."""
    document = {r.name: {f.name: _plain(f.value) for f in r.figures} for r in results}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")

