"""`dedupe`: duplicate detection on recruiting-shaped records — precision, recall, F1 and throughput of
`hirebridge audit-duplicates`, against a plain exact-key cascade (LinkedIn URL → email → phone) in the same run.

The records come from `bench/dedupe_data.py` (fictitious people, their LinkedIn export and ATS records, with
the variations and hard negatives listed there), written to a CSV in a temp dir. The matcher is the command
itself, `python -m bot.cli audit-duplicates FILE --out PAIRS`, in a process of its own and timed from start to
exit (interpreter start-up and imports included); its pairs file is read back. A predicted duplicate is a pair
of records in one cluster — the rows with a cluster id, all certain or likely (bot/domain/matching.py); possible
pairs are proposals for review and are not counted. Precision and recall are pairwise over those pairs against
the generator's truth (every two records of one person).

The cascade is the usual ATS look-up done on the whole file: records sharing a normalized LinkedIn profile URL,
a case-folded email or an E.164 phone are one group (bot/domain/duplicates.py), every two records of a group a
predicted pair; timed in this process from reading the same CSV to its pairs.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.progress import Progress

from bench.dedupe_data import COLUMNS, Dataset, generate
from bench.dedupe_lookup import GOAL_MS as LOOKUP_GOAL_MS
from bench.dedupe_lookup import lookup_figures
from bench.harness import settle
from bench.results import Figure, Result, Table
from bot.audit_duplicates import read_table
from bot.domain.duplicates import exact_groups
from bot.domain.identity import identity_keys
from bot.domain.matching import PersonRecord

ROOT = Path(__file__).resolve().parents[1]
#: the seeds the thresholds in bot/domain were set on (looking at their misses), and the one measured here
TUNING_SEEDS = (1, 2, 3)
EVALUATION_SEED = 11
PEOPLE, QUICK_PEOPLE = 54_000, 1_500  # about 101,000 and 2,800 records
GOAL_F1, GOAL_PRECISION, GOAL_SECONDS, GOAL_RECORDS = 0.95, 0.98, 30.0, 100_000
Pair = tuple[str, str]


@dataclass
class DedupeRun:
    """What one run measured; extra figures (EXTRA_FIGURES) are computed from it."""

    quick: bool
    data: Dataset
    csv_path: Path
    truth: set[Pair]
    predicted: set[Pair]
    rows_by_band: Counter[str]
    true_by_band: Counter[str]
    seconds: float
    exact_predicted: set[Pair]
    exact_seconds: float
    progress: Progress
    notes: list[str] = field(default_factory=list)




def scores(predicted: set[Pair], truth: set[Pair]) -> tuple[float, float, float]:
    """Pairwise precision, recall and F1."""
    hits = len(predicted & truth)
    precision = hits / len(predicted) if predicted else 1.0
    recall = hits / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def write_csv(data: Dataset, path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(data.rows)


def run_command(csv_path: Path, out: Path) -> float:
    """`hirebridge audit-duplicates` in a process of its own; its wall time in seconds."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bot.cli", "audit-duplicates", str(csv_path), "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"audit-duplicates exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return seconds


def read_pairs(out: Path, person_of: dict[str, int]) -> tuple[set[Pair], Counter[str], Counter[str]]:
    """The predicted pairs (rows in a cluster), and per confidence band the rows and the true ones."""
    predicted: set[Pair] = set()
    rows, true = Counter[str](), Counter[str]()
    with out.open(encoding="utf-8", newline="") as stream:
        for row in csv.DictReader(stream):
            a, b = row["record_id_a"], row["record_id_b"]
            rows[row["confidence"]] += 1
            true[row["confidence"]] += person_of[a] == person_of[b]
            if row["cluster_id"]:
                predicted.add((a, b) if a <= b else (b, a))
    return predicted, rows, true


def exact_cascade(records: Sequence[PersonRecord]) -> set[Pair]:
    """Every two records sharing a normalized LinkedIn URL, a case-folded email or an E.164 phone, transitively."""
    keyed = ((r.record_id, [(k.kind, k.value) for k in identity_keys(
        profile_urls=r.linkedin_urls, emails=r.emails, phones=r.phones, default_region="US").keys])
        for r in records)
    return {(x, y) if x <= y else (y, x) for group in exact_groups(keyed)
            for i, x in enumerate(group.record_ids) for y in group.record_ids[i + 1:]}


def measure(quick: bool, progress: Progress) -> DedupeRun:
    people = QUICK_PEOPLE if quick else PEOPLE
    task = progress.add_task("dedupe: generating records", total=None)
    data = generate(people, EVALUATION_SEED)
    settle(progress, task)
    with tempfile.TemporaryDirectory(prefix="hirebridge-dedupe-") as tmp:
        csv_path, out = Path(tmp) / "candidates.csv", Path(tmp) / "pairs.csv"
        write_csv(data, csv_path)
        task = progress.add_task(f"dedupe: audit-duplicates on {len(data.records):,} records", total=None)
        seconds = run_command(csv_path, out)
        predicted, rows, true = read_pairs(out, data.person_of)
        settle(progress, task)
        task = progress.add_task("dedupe: exact-key cascade", total=None)
        started = time.perf_counter()
        exact = exact_cascade(read_table(csv_path).records)
        exact_seconds = time.perf_counter() - started
        settle(progress, task)
        return DedupeRun(quick, data, csv_path, data.true_pairs(), predicted, rows, true, seconds, exact,
                         exact_seconds, progress)


def figures(run: DedupeRun) -> list[Figure]:
    records = len(run.data.records)
    precision, recall, f1 = scores(run.predicted, run.truth)
    exact_precision, exact_recall, exact_f1 = scores(run.exact_predicted, run.truth)
    ours_rate, exact_rate = records / run.seconds, records / run.exact_seconds
    return [
        Figure("records", records, None, f"{run.data.people:,} people"),
        Figure("true_pairs", len(run.truth), None, "pairs of records of one person"),
        Figure("predicted_pairs", len(run.predicted), len(run.exact_predicted),
               "pairs in one cluster (certain or likely); baseline: the exact-key cascade"),
        Figure("precision", precision, exact_precision, f"goal ≥ {GOAL_PRECISION}"),
        Figure("recall", recall, exact_recall),
        Figure("f1", f1, exact_f1, f"goal ≥ {GOAL_F1}"),
        Figure("records_per_second", ours_rate, exact_rate,
               "the command end to end (start-up, reading, matching, writing); cascade: in-process"),
        Figure("seconds", run.seconds, run.exact_seconds,
               f"goal for {GOAL_RECORDS:,} records ≤ {GOAL_SECONDS:.0f}"),
        Figure("exact_precision", exact_precision),
        Figure("exact_recall", exact_recall),
        Figure("exact_f1", exact_f1),
        Figure("exact_records_per_second", exact_rate),
    ]


def band_table(run: DedupeRun) -> Table:
    rows = tuple((band, f"{run.rows_by_band[band]:,}", f"{run.true_by_band[band]:,}",
                  f"{run.true_by_band[band] / run.rows_by_band[band]:.3f}" if run.rows_by_band[band] else "-")
                 for band in ("certain", "likely", "possible"))
    return Table("Proposed pairs per confidence band (every row of the pairs file, clustered or not)",
                 ("confidence", "rows", "same person", "share"), rows)


def goal_failures(result: Result, run: DedupeRun) -> list[str]:
    failures = []
    f1, precision = result.figure("f1").value, result.figure("precision").value
    if f1 < GOAL_F1:
        failures.append(f"F1 {f1:.4f} < {GOAL_F1}")
    if precision < GOAL_PRECISION:
        failures.append(f"precision {precision:.4f} < {GOAL_PRECISION}")
    records = len(run.data.records)
    if records >= GOAL_RECORDS and run.seconds > GOAL_SECONDS:
        failures.append(f"{records:,} records took {run.seconds:.1f} s > {GOAL_SECONDS:.0f} s")
    lookup = result.figure("lookup_ms_at_1m").value
    if not run.quick and lookup > LOOKUP_GOAL_MS:
        failures.append(f"an import-time look-up took {lookup:.1f} ms (median) > {LOOKUP_GOAL_MS:g} ms")
    return failures


def notes(run: DedupeRun) -> list[str]:
    kinds = run.data.kinds
    return [
        f"Evaluation seed {EVALUATION_SEED}; the matching thresholds and bands were set looking at the misses on "
        f"seeds {', '.join(map(str, TUNING_SEEDS))}, never on this one.",
        f"{run.data.people:,} fictitious people ({kinds.get('namesake', 0):,} namesakes at a person's employer, "
        f"{kinds.get('relative', 0):,} relatives sharing a phone or a family email domain), written as "
        f"{len(run.data.records):,} LinkedIn export and ATS records (bench/dedupe_data.py).",
        "Predicted duplicates: every two records of one cluster (clusters join certain and likely matches only). "
        "Possible pairs are in the file for review and not counted.",
        "Timed: `python -m bot.cli audit-duplicates FILE --out PAIRS` in its own process, start to exit "
        "(on two or more cores it compares in two processes); the cascade is timed in-process from reading "
        "the same CSV to its pairs.",
        *([] if len(run.data.records) >= GOAL_RECORDS else
          [f"--quick: {len(run.data.records):,} records, so the time goal (100,000 in ≤ 30 s) is not checked."]),
        *run.notes,
    ]


@dataclass(frozen=True)
class DedupeBenchmark:
    name: str = "dedupe"

    def run(self, *, quick: bool, progress: Progress) -> Result:
        run = measure(quick, progress)
        result = Result(self.name, "Duplicate detection: audit-duplicates vs an exact-key cascade", figures(run),
                        [], [band_table(run)])
        lookup, lookup_notes = lookup_figures(quick=quick, progress=progress)
        result.figures.extend(lookup)
        result.notes = [*notes(run), *lookup_notes]
        result.failures = goal_failures(result, run)
        return result


BENCHMARK = DedupeBenchmark()
