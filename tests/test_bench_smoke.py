"""The benchmark harness runs end to end at quick size and writes what it promises (figures, not timings)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def test_bench_quick_import_writes_figures_and_meets_its_goal(tmp_path: Path) -> None:
    results, figures = tmp_path / "RESULTS.md", tmp_path / "figures.json"
    # its own results path: the suite must never overwrite the committed bench/RESULTS.md
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "import", "--json", str(figures),
         "--results", str(results)],
        cwd=ROOT, capture_output=True, text=True, timeout=110, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    imported = json.loads(figures.read_text())["import"]
    assert imported["candidates"] == 100
    assert imported["new_candidates"] == 70
    assert imported["matched_existing"] == 30
    assert imported["duplicates_created"] == 0
    assert imported["missing_from_job"] == 0
    assert imported["naive_duplicates_created"] == 15, "the baseline really does duplicate URL-only people"
    assert imported["ats_calls_per_new_candidate"] <= 1.2
    assert {"linkedin_calls_per_candidate", "naive_ats_calls_per_new_candidate", "wall_seconds",
            "candidates_per_second"} <= set(imported)
    text = results.read_text()
    assert "## `import`" in text and "commit measured" in text and "Goal: met" in text
