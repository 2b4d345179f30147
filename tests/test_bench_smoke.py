"""The benchmarks run end to end at quick size and write what they promise (figures, not timings)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.alerts import max_per_second
from bench.alerts_run import Run
from bench.report import write_markdown
from bench.results import Figure, Result

ROOT = Path(__file__).resolve().parents[1]


def run_quick(name: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], str]:
    """`python -m bench --quick --only NAME`; its figures and its markdown."""
    results, figures = tmp_path / "RESULTS.md", tmp_path / "figures.json"
    # its own results path: the suite must never overwrite the committed bench/RESULTS.md
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", name, "--json", str(figures),
         "--results", str(results)],
        cwd=ROOT, capture_output=True, text=True, timeout=110, check=False)
    assert figures.exists(), done.stdout + done.stderr
    return done, json.loads(figures.read_text())[name], results.read_text()


@pytest.mark.slow
def test_bench_quick_import_writes_figures_and_meets_its_goal(tmp_path: Path) -> None:
    done, imported, text = run_quick("import", tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert imported["candidates"] == 100
    assert imported["new_candidates"] == 70
    assert imported["matched_existing"] == 30
    assert imported["duplicates_created"] == 0
    assert imported["missing_from_job"] == 0
    assert imported["naive_duplicates_created"] == 15, "the baseline really does duplicate URL-only people"
    assert imported["ats_calls_per_new_candidate"] <= 1.2
    assert {"linkedin_calls_per_candidate", "naive_ats_calls_per_new_candidate", "wall_seconds",
            "candidates_per_second"} <= set(imported)
    assert "## `import`" in text and "commit measured" in text and "Goal: met" in text


@pytest.mark.slow
def test_bench_quick_slack_ack_acks_and_answers_every_check(tmp_path: Path) -> None:
    done, ack, text = run_quick("slack_ack", tmp_path)
    # the timing goal is measured, not asserted: a miss exits 1, a crash or an invalid run is caught below
    assert done.returncode in (0, 1) and "crashed" not in done.stderr, done.stdout + done.stderr
    assert {"p50_ms", "p99_ms", "bare_bolt_p50_ms", "bare_bolt_p99_ms", "p99_ratio", "max_ms",
            "floor_p50_ms", "answer_p99_ms"} <= set(ack)
    assert ack["requests"] == 150
    assert ack["non_200"] == 0 and ack["bare_bolt_non_200"] == 0
    assert ack["answered"] == ack["requests"], "every check is answered through its response_url"
    assert ack["not_found_answers"] == ack["unknown_asked"] > 0
    assert "## `slack_ack`" in text and "commit measured" in text and "Goal:" in text


@pytest.mark.slow
def test_bench_quick_alerts_posts_every_change_once(tmp_path: Path) -> None:
    done, alerts, text = run_quick("alerts", tmp_path)
    # the timing goal is measured, not asserted: a miss exits 1, a crash or an invalid run is caught below
    assert done.returncode in (0, 1) and "crashed" not in done.stderr, done.stdout + done.stderr
    assert {"p50_ms", "p95_ms", "burst_drain_s", "max_per_channel_per_second", "http_429_seen",
            "burst_messages"} <= set(alerts)
    assert alerts["changes_sent"] == 45
    assert alerts["changes_posted"] == alerts["changes_sent"], "nothing lost"
    assert alerts["duplicates_posted"] == 0
    assert alerts["non_200_webhooks"] == 0 and alerts["misrouted"] == 0
    assert "## `alerts`" in text and "commit measured" in text and "Goal:" in text


@pytest.mark.slow
def test_bench_quick_dedupe_finds_the_duplicates_the_cascade_misses(tmp_path: Path) -> None:
    done, dedupe, text = run_quick("dedupe", tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert dedupe["records"] > 2_000 and dedupe["true_pairs"] > 1_000
    assert dedupe["precision"] >= 0.98 and dedupe["f1"] >= 0.95
    assert dedupe["recall"] > dedupe["exact_recall"], "names and aliases find what exact keys cannot"
    assert {"predicted_pairs", "records_per_second", "exact_precision", "exact_f1",
            "exact_records_per_second"} <= set(dedupe)
    assert "## `dedupe`" in text and "commit measured" in text and "Goal: met" in text


def test_bench_alerts_counts_posts_per_channel_within_any_second() -> None:
    posted = [("C1", 10.0), ("C1", 11.0), ("C1", 11.5), ("C1", 11.9), ("C2", 10.1), ("C2", 10.2)]
    run = Run([], messages=[{"channel": channel, "posted_at": at} for channel, at in posted])
    assert max_per_second(run) == (3, "C1"), "11.0, 11.5 and 11.9 fall within one second; 10.0 and 11.0 do not"


def test_bench_results_keep_the_sections_of_benchmarks_not_run(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    write_markdown(results, [Result("import", "Import", [Figure("duplicates_created", 0)])],
                   command="python -m bench --only import", quick=False)
    write_markdown(results, [Result("slack_ack", "Ack", [Figure("p99_ms", 12.5)])],
                   command="python -m bench --only slack_ack", quick=True)
    write_markdown(results, [Result("slack_ack", "Ack", [Figure("p99_ms", 11.5)])],
                   command="python -m bench --only slack_ack", quick=True)
    text = results.read_text()
    assert text.count("## `import`") == 1 and text.count("## `slack_ack`") == 1
    assert "| `duplicates_created` | 0 |" in text and "| 11.5 |" in text and "| 12.5 |" not in text
    assert text.count("commit measured") == 2, "each section keeps the facts of the run that measured it"
    assert "`python -m bench --only import`" in text.split("## `slack_ack`")[0]
