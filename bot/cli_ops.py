"""Operations verbs of `hirebridge`: dead letters, attention, mappings, imports, one-off syncs, later verbs."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bot.cli_erase import erase
from bot.cli_stats import stats
from bot.cli_support import console, err, loaded, migrated, runtime
from storage.db import transaction

dlq_app = typer.Typer(help="List, retry or drop dead-lettered work items.", no_args_is_help=True)
mapping_app = typer.Typer(help="Show field, project and stage maps.", no_args_is_help=True)
attention_app = typer.Typer(help="Records that could not be synced as they are, with the reason.",
                            no_args_is_help=True)


def register(app: typer.Typer, db_app: typer.Typer) -> None:
    """Attach these verbs to the main app."""
    app.add_typer(dlq_app, name="dlq")
    app.add_typer(mapping_app, name="mapping")
    app.add_typer(attention_app, name="attention")
    for command in (sync, import_, audit_duplicates, erase, stats):
        app.command(name=command.__name__.rstrip("_").replace("_", "-"))(command)


# --- dead letters --------------------------------------------------------------------------------------------

def _age(then: datetime) -> str:
    seconds = int((datetime.now(UTC) - then).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dlq_app.command("list")
def dlq_list(
    kind: Annotated[str | None, typer.Option(help="Only items of this kind.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
) -> None:
    """List dead-lettered items with their ids, kinds, attempts, errors and ages."""
    rt = migrated(runtime())
    items = rt.queue.dead(limit=limit, kind=kind)
    if not items:
        console.print("no dead-lettered items")
        return
    table = Table(title=f"Dead letters ({len(items)})")
    for column in ("id", "kind", "tenant", "attempts", "age", "error"):
        table.add_column(column, overflow="fold")
    for item in items:
        table.add_row(str(item.id), item.kind, item.tenant_id or "-", str(item.attempts),
                      _age(item.finished_at or item.updated_at), item.last_error or "")
    console.print(table)


@dlq_app.command("retry")
def dlq_retry(
    ids: Annotated[list[int] | None, typer.Argument(help="Item ids (see `dlq list`).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Retry every dead-lettered item.")] = False,
) -> None:
    """Give dead-lettered items a fresh set of attempts, now."""
    if not ids and not all_:
        err.print("name item ids, or pass --all")
        raise typer.Exit(2)
    count = migrated(runtime()).queue.retry_dead(None if all_ else ids)
    console.print(f"requeued {count} item(s)")
    if ids and count < len(ids):
        err.print(f"{len(ids) - count} id(s) were not dead-lettered items")
        raise typer.Exit(1)


@dlq_app.command("drop")
def dlq_drop(
    ids: Annotated[list[int], typer.Argument(help="Item ids (see `dlq list`).")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete dead-lettered items for good (only dead ones; live items are never dropped)."""
    if not yes and not typer.confirm(f"Drop {len(ids)} dead-lettered item(s) for good?"):
        raise typer.Exit(1)
    count = migrated(runtime()).queue.drop_dead(ids)
    console.print(f"dropped {count} item(s)")
    if count < len(ids):
        err.print(f"{len(ids) - count} id(s) were not dead-lettered items")
        raise typer.Exit(1)


# --- verbs whose capabilities arrive later ---------------------------------------------------------------------

def sync(once: Annotated[bool, typer.Option("--once", help="Run one pass and exit.")] = False) -> None:
    """Pull the ATS mirror and LinkedIn InMails/mail stubs for every tenant, and sync what they bring."""
    if not once:
        err.print("run `hirebridge sync --once`; scheduled syncing runs in `hirebridge worker`")
        raise typer.Exit(2)
    from bot.handlers import handlers_for

    rt = loaded(runtime())
    run = datetime.now(UTC).strftime("manual-%Y%m%dT%H%M%S")
    with transaction(rt.engine) as session:
        for tenant in rt.app_config().tenants:
            rt.mirror().enqueue(session, tenant.id, run)
            rt.inmail().enqueue(session, tenant.id, run)
    outcomes = rt.worker(handlers_for(rt), name="sync-once").drain()
    states = Counter(o.state.value if o.state else "lease lost" for o in outcomes)
    console.print(f"{len(outcomes)} item(s): " + ", ".join(f"{n} {s}" for s, n in sorted(states.items())))
    if states.get("dead"):
        raise typer.Exit(1)


def audit_duplicates(
    file: Annotated[Path, typer.Argument(help="A CSV export with a header row.")],
    out: Annotated[Path | None, typer.Option(help="Write proposed duplicate pairs to this CSV.")] = None,
    region: Annotated[str, typer.Option(
        help="Country whose phone numbers are written without +country code (ISO code).")] = "US",
    min_confidence: Annotated[str, typer.Option(
        help="Leave out pairs below this confidence: certain, likely or possible.")] = "possible",
) -> None:
    """Audit a candidate CSV export for duplicates before launch: one row per proposed pair, with reasons.

    Without --out the pairs go to standard output as CSV and the summary to standard error.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from bot.audit_duplicates import AuditError, audit_file
    from bot.domain.identity import normalize_phone
    from bot.domain.matching import Confidence

    try:
        normalize_phone("+14155550100", region)
    except ValueError:
        err.print(f"error: --region {region!r} is not a country code phone numbers know (e.g. US, GB, DE)",
                  highlight=False, markup=False)
        raise typer.Exit(2) from None
    try:
        floor = Confidence(min_confidence.strip().lower())
    except ValueError:
        err.print(f"error: --min-confidence must be certain, likely or possible, not {min_confidence!r}",
                  highlight=False, markup=False)
        raise typer.Exit(2) from None
    summary = console if out is not None else err
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=err, transient=True, auto_refresh=False)  # no refresh thread: the audit may fork
    task = bar.add_task(f"auditing {file.name}", total=None, visible=False)
    shown: list[bool] = []

    def read(records: int) -> None:
        if records >= _PROGRESS_FROM and err.is_terminal:
            bar.update(task, total=records, visible=True)
            bar.start()
            shown.append(True)

    def advance(done: int) -> None:
        bar.update(task, completed=done)
        bar.refresh()

    try:
        table, result = audit_file(file, out, region=region, min_confidence=floor, progress=advance, on_read=read)
    except AuditError as exc:
        err.print(f"error: {exc}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(1) from None
    finally:
        if shown:
            bar.stop()
    counts = result.by_confidence
    in_clusters = len(result.clusters)
    lines = [f"audited {result.records:,} records from {file.name} in {result.seconds:.1f} s",
             f"  duplicate clusters: {result.cluster_count:,} ({in_clusters:,} records in them)",
             "  proposed pairs: " + ", ".join(f"{counts[c.value]:,} {c.value}" for c in Confidence)]
    if table.ignored:
        lines.append(f"  columns ignored: {', '.join(table.ignored)}")
    if table.renamed_ids:
        lines.append(f"  {table.renamed_ids:,} repeated record id(s) were suffixed with #2, #3, …")
    if out is not None:
        lines.append(f"  pairs written to {out}")
    for line in lines:
        summary.print(line, highlight=False, markup=False, soft_wrap=True)


_PROGRESS_FROM = 5_000  # records from which the audit shows a progress bar


def import_(
    file: Annotated[Path, typer.Argument(help="A CSV with a header: names, and a LinkedIn URL, email or phone.")],
    tenant: Annotated[str, typer.Option(help="The tenant (client account) to import into.")],
    job: Annotated[str | None, typer.Option(help="The ATS job for rows that name none.")] = None,
) -> None:
    """Import candidates from a CSV file into the ATS, without duplicates (when RSC access is not available)."""
    from rich.progress import Progress

    from bot.domain.csv_rows import CsvError
    from bot.importer import import_csv, read_csv

    rt = loaded(runtime())
    try:
        rt.app_config().tenant(tenant)
        parsed = read_csv(file, job)
    except KeyError:
        err.print(f"unknown tenant {tenant!r}; configured: {', '.join(t.id for t in rt.app_config().tenants)}")
        raise typer.Exit(2) from None
    except CsvError as exc:
        err.print(f"error: {exc}", highlight=False, markup=False)
        raise typer.Exit(1) from None
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(f"importing {file.name}", total=len(parsed.prospects))
        report = import_csv(rt, parsed, tenant, progress=lambda done: bar.update(task, completed=done))
    show_import(report, parsed.ignored_columns)
    if report.failed:
        raise typer.Exit(1)


def show_import(report: object, ignored: list[str]) -> None:
    from bot.importer import ImportReport

    assert isinstance(report, ImportReport)
    matched = sum(n for how, n in report.outcomes.items() if how != "created")
    console.print(f"{report.rows} row(s): {report.outcomes.get('created', 0)} created, {matched} matched to "
                  f"existing records, {len(report.attention)} need attention, {len(report.failed)} failed "
                  f"(retried later by the worker); {report.ats_calls} ATS call(s)")
    if report.deferred:
        console.print(f"{report.deferred} row(s) held back by the ATS rate limit: `hirebridge worker` syncs "
                      "them as the limit allows")
    if report.rows and not report.queued:
        console.print("every row of this file was imported before: nothing to do")
    for row, reason in report.attention:
        console.print(f"  line {row}: {reason}", highlight=False, markup=False)
    for row, error in report.failed:
        err.print(f"  line {row}: {error}", highlight=False, markup=False)
    if ignored:
        console.print(f"ignored column(s): {', '.join(ignored)}", highlight=False)




@mapping_app.command("show")
def mapping_show(tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None) -> None:
    """Print which LinkedIn fields go to which ATS fields, and each tenant's project and stage maps."""
    from bot.mapping import FIELD_MAP, project_rows, stage_rows

    config = loaded(runtime()).app_config()
    fields = Table(title="Field map")
    for column in ("LinkedIn", "Greenhouse", "Lever"):
        fields.add_column(column)
    for row in FIELD_MAP:
        fields.add_row(*row)
    console.print(fields)
    for t in config.tenants:
        if tenant and t.id != tenant:
            continue
        projects = Table(title=f"{t.id}: LinkedIn projects → {t.ats} jobs")
        projects.add_column("project")
        projects.add_column("jobs")
        for project_row in project_rows(t):
            projects.add_row(*project_row)
        stages = Table(title=f"{t.id}: stage map")
        for column in ("job", "stage id", "name"):
            stages.add_column(column)
        for stage_row in stage_rows(t):
            stages.add_row(*stage_row)
        console.print(projects, stages)


@attention_app.command("list")
def attention_list(tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None) -> None:
    """Records kept aside (missing fields, unmapped projects) with why, oldest first."""
    from sqlmodel import Session

    from storage.candidates import open_attention

    rt = migrated(runtime())
    with Session(rt.engine) as session:
        items = open_attention(session, tenant)
    if not items:
        console.print("nothing needs attention")
        return
    table = Table(title=f"Needs attention ({len(items)})")
    for column in ("id", "tenant", "source", "who", "age", "reason"):
        table.add_column(column, overflow="fold")
    for item in items:
        who = f"{item.detail.get('first_name', '')} {item.detail.get('last_name', '')}".strip() or "?"
        table.add_row(str(item.id), item.tenant_id, item.source, who, _age(item.created_at), item.reason)
    console.print(table)
