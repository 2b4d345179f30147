"""The benchmarks run end to end at quick size and write what they promise (figures, not timings)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.alerts import max_per_second
from bench.alerts_run import Run
from bench.bulk import Backfill
from bench.harness import REGISTRY
from bench.report import write_markdown
from bench.results import Figure, Result
from integrations.sandbox.base import RecordedRequest

ROOT = Path(__file__).resolve().parents[1]
QUICK_SECONDS = 420  # every quick run takes ~2 min alone; far longer only on a machine busy with other work
pytestmark = pytest.mark.timeout(QUICK_SECONDS + 40)


def run_quick(tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], dict[str, str]]:
    """`python -m bench --quick` (every benchmark, as CI promises); its figures and its markdown per benchmark."""
    results, figures = tmp_path / "RESULTS.md", tmp_path / "figures.json"
    # its own results path: the suite must never overwrite the committed bench/RESULTS.md
    command = [sys.executable, "-m", "bench", "--quick", "--json", str(figures), "--results", str(results)]
    # a session of its own: the `serve` and `worker` processes a benchmark starts go with it if it overruns
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=QUICK_SECONDS)
        except BaseException:  # the overrun, or the suite's own timeout
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    done = subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)
    assert figures.exists(), done.stdout + done.stderr
    sections = {m.group(1): m.group(0) for m in re.finditer(r"## `(\w+)`.*?(?=\n## `|\Z)", results.read_text(),
                                                            re.S)}
    return done, json.loads(figures.read_text()), sections


@pytest.mark.slow
def test_bench_quick_runs_every_benchmark_and_each_keeps_its_promises(tmp_path: Path) -> None:
    done, figures, sections = run_quick(tmp_path)
    # timing goals are measured, not asserted: a miss exits 1; a crash, a lost person or a duplicate fails here
    assert done.returncode in (0, 1) and "crashed" not in done.stderr, done.stdout + done.stderr
    assert set(figures) == set(sections) == set(REGISTRY), "every benchmark ran and wrote its section"
    for name, text in sections.items():
        assert "commit measured" in text and "Goal:" in text, name
    check_import(figures["import"], sections["import"])
    check_slack_ack(figures["slack_ack"])
    check_alerts(figures["alerts"])
    check_dedupe(figures["dedupe"], sections["dedupe"])
    check_bulk(figures["bulk"])
    check_memory(figures["memory"], sections["memory"])


def check_import(imported: dict[str, Any], text: str) -> None:
    assert imported["candidates"] == 100
    assert imported["new_candidates"] == 70
    assert imported["matched_existing"] == 30
    assert imported["duplicates_created"] == 0
    assert imported["missing_from_job"] == 0
    assert imported["naive_duplicates_created"] == 15, "the baseline really does duplicate URL-only people"
    assert imported["ats_calls_per_new_candidate"] <= 1.2
    assert {"linkedin_calls_per_candidate", "naive_ats_calls_per_new_candidate", "wall_seconds",
            "candidates_per_second"} <= set(imported)
    assert "Goal: met" in text


def check_slack_ack(ack: dict[str, Any]) -> None:
    assert {"p50_ms", "p99_ms", "bare_bolt_p50_ms", "bare_bolt_p99_ms", "p99_ratio", "max_ms",
            "floor_p50_ms", "answer_p99_ms"} <= set(ack)
    assert ack["requests"] == 150
    assert ack["non_200"] == 0 and ack["bare_bolt_non_200"] == 0
    assert ack["answered"] == ack["requests"], "every check is answered through its response_url"
    assert ack["not_found_answers"] == ack["unknown_asked"] > 0


def check_alerts(alerts: dict[str, Any]) -> None:
    assert {"p50_ms", "p95_ms", "burst_drain_s", "max_per_channel_per_second", "http_429_seen",
            "burst_messages"} <= set(alerts)
    assert alerts["changes_sent"] == 45
    assert alerts["changes_posted"] == alerts["changes_sent"], "nothing lost"
    assert alerts["duplicates_posted"] == 0
    assert alerts["non_200_webhooks"] == 0 and alerts["misrouted"] == 0


def check_dedupe(dedupe: dict[str, Any], text: str) -> None:
    assert dedupe["records"] > 2_000 and dedupe["true_pairs"] > 1_000
    assert dedupe["precision"] >= 0.98 and dedupe["f1"] >= 0.95
    assert dedupe["recall"] > dedupe["exact_recall"], "names and aliases find what exact keys cannot"
    assert {"predicted_pairs", "records_per_second", "exact_precision", "exact_f1",
            "exact_records_per_second"} <= set(dedupe)
    assert "Goal: met" in text


def check_bulk(bulk: dict[str, Any]) -> None:
    assert {"fraction_of_ceiling", "achieved_requests_per_second", "run_requests_per_second",
            "candidates_per_second", "ats_requests_per_candidate", "reconcile_requests", "http_429_seen",
            "backfill_seconds", "bridge_cpu_ms_per_candidate", "import_cli_failed_rows"} <= set(bulk)
    assert bulk["candidates"] == bulk["synced"] == 200
    assert bulk["ceiling_requests_per_second"] == 8, "80 requests per 10-s window"
    assert bulk["failed_items"] == 0 and bulk["dead_items"] == 0
    assert bulk["duplicates_created"] == 0 and bulk["missing_from_job"] == 0


def check_memory(memory: dict[str, Any], text: str) -> None:
    assert memory["candidates"] == memory["synced"] == 500
    assert memory["dead_work_items"] == 0 and memory["duplicates_created"] == 0 and memory["missing_from_job"] == 0
    assert {"serve_idle_rss_mb", "worker_idle_rss_mb", "worker_rss_growth_mb_per_10k",
            "import_seconds"} <= set(memory)
    assert "worker_rss_mb_at_100k_extrapolated" not in memory, "a quick run's slope is not extrapolated"
    assert memory["serve_peak_rss_mb"] >= memory["serve_idle_rss_mb"] > 0, "VmHWM is the peak since start"
    assert memory["worker_peak_rss_mb"] >= memory["worker_idle_rss_mb"] > 0
    assert memory["peak_rss_mb"] == pytest.approx(memory["serve_peak_rss_mb"] + memory["worker_peak_rss_mb"])
    assert "Goal: met" in text


def test_bench_bulk_counts_the_windows_a_run_fills_end_to_end() -> None:
    def request(at: float, status: int = 201) -> RecordedRequest:
        return RecordedRequest(at=at, method="POST", path="/v3/candidates", query="", headers={}, body=None,
                               status=status)

    # windows of 10 s: 105 (partial), 110 and 120 (full), 130 (partial); a 429 is not counted against a window
    at = [105.0, 106.0, *(110.0 + i / 10 for i in range(8)), 115.0, *(120.0 + i for i in range(10)), 131.0]
    run = Backfill([], limit=10, window=10.0, requests=[request(t) for t in at])
    run.requests.append(request(119.0, status=429))
    assert run.full_windows() == [11, 12]
    assert run.fraction() == pytest.approx((9 + 10) / 20), "9 of 10 accepted in one full window, 10 in the other"


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
