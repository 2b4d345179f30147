"""The benchmark harness: the registry, what a benchmark returns, and the `python -m bench` command."""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from bench.report import figure_row, python_command, write_json, write_markdown
from bench.results import Result

#: Benchmark name -> the module whose `BENCHMARK` runs it; a later benchmark is one module and one line here.
REGISTRY: dict[str, str] = {
    "import": "bench.import_bench",
    "slack_ack": "bench.slack_ack",
    "alerts": "bench.alerts",
    "dedupe": "bench.dedupe",
    "bulk": "bench.bulk",
    "memory": "bench.memory",
}
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


class Benchmark(Protocol):
    """A benchmark module's `BENCHMARK`: runs its own world and baseline, returns its figures."""

    name: str

    def run(self, *, quick: bool, progress: Progress) -> Result: ...


def load(name: str) -> Benchmark:
    # imported on demand, so `--only` never pays for (or breaks on) another benchmark's imports
    module = importlib.import_module(REGISTRY[name])
    benchmark: Benchmark = module.BENCHMARK
    return benchmark


def settle(progress: Progress, task: TaskID) -> None:
    """Make a task whose total was an estimate (or unknown) end at what it actually did."""
    done = next(t.completed for t in progress.tasks if t.id == task)
    progress.update(task, total=done)


def run_one(name: str, *, quick: bool, progress: Progress) -> Result:
    """Run a benchmark; a crash becomes a failed result, so the others still run and the file is written."""
    started = time.perf_counter()
    try:
        result = load(name).run(quick=quick, progress=progress)
    except Exception as exc:  # the harness reports any benchmark crash instead of losing the run
        progress.console.print_exception()
        result = Result(name, name, failures=[f"the benchmark crashed: {type(exc).__name__}: {exc}"])
    result.seconds = time.perf_counter() - started
    return result


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Run HireBridge's benchmarks.")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run, not figures to quote)")
    parser.add_argument("--only", nargs="+", action="extend", choices=sorted(REGISTRY), metavar="NAME",
                        help=f"run only these ({', '.join(sorted(REGISTRY))})")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write {benchmark: {figure: value}}")
    parser.add_argument("--results", type=Path, default=RESULTS, metavar="PATH",
                        help="where the markdown goes (default: bench/RESULTS.md)")
    return parser.parse_args(argv)


def command_line(argv: Sequence[str]) -> str:
    """The command as it would be typed from the project root."""
    return " ".join([python_command(), "-m", "bench", *argv])


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(args_list)
    console = Console(stderr=True)
    names = list(dict.fromkeys(args.only or REGISTRY))
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        results = [run_one(name, quick=args.quick, progress=progress) for name in names]
    write_markdown(args.results, results, command=command_line(args_list), quick=args.quick)
    if args.json:
        write_json(args.json, results)
    for result in results:
        console.print(summary(result))
    console.print(f"results written to {args.results}" + (f" and {args.json}" if args.json else ""))
    return report_goals(console, results)


def summary(result: Result) -> RichTable:
    table = RichTable("figure", "value", "baseline", "ratio", title=f"{result.name} ({result.seconds:.1f} s)")
    for f in result.figures:
        table.add_row(f.name, *figure_row(f)[1:4])
    return table


def report_goals(console: Console, results: Sequence[Result]) -> int:
    """Print each missed goal with its reason; non-zero when any benchmark missed its own goal."""
    missed = [(r.name, why) for r in results for why in r.failures]
    for name, why in missed:
        console.print(f"[bold red]{name}: goal missed[/]: {why}")
    if not missed:
        console.print("[green]every benchmark met its goal[/]")
    return 1 if missed else 0
