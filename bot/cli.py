"""`hirebridge`: the command line and composition root (the one place that reads the environment)."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot.runtime import Runtime, build_runtime
from bot.settings import SettingsError

app = typer.Typer(help="HireBridge: LinkedIn Recruiter ↔ ATS sync, run from Slack.", no_args_is_help=True,
                  add_completion=False, rich_markup_mode=None)
db_app = typer.Typer(help="Create or upgrade the database schema.", no_args_is_help=True)
config_app = typer.Typer(help="Validate the configuration file.", no_args_is_help=True)
dlq_app = typer.Typer(help="List, retry or drop dead-lettered work items.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")
app.add_typer(dlq_app, name="dlq")

console = Console()
err = Console(stderr=True)


def runtime() -> Runtime:
    """Build the runtime from the process environment, or exit with the settings problems named."""
    try:
        return build_runtime(os.environ)
    except SettingsError as exc:
        for problem in exc.problems:
            err.print(f"[red]error[/red] {problem}")
        raise typer.Exit(2) from None


def loaded(rt: Runtime) -> Runtime:
    """Load the tenants' config now, or exit naming every problem in it."""
    from bot.config import ConfigError

    try:
        rt.app_config()
    except ConfigError as exc:
        err.print(str(exc), highlight=False, markup=False)
        raise typer.Exit(2) from None
    return rt


def not_landed(command: str, capability: str) -> None:
    """Say plainly that a verb exists but its capability is not in this version yet."""
    err.print(f"hirebridge {command}: not available yet — {capability} has not landed in this version.",
              soft_wrap=True)
    raise typer.Exit(2)


# --- the main job --------------------------------------------------------------------------------------------

@app.command()
def demo(
    keep: Annotated[bool, typer.Option(help="Keep the temporary directory (database, logs) afterwards.")] = False,
) -> None:
    """Run a narrated day of HireBridge on the embedded default: SQLite and the sandbox simulators."""
    from bot.demo import run_demo

    raise typer.Exit(run_demo(console, keep=keep))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    socket_mode: Annotated[bool, typer.Option("--socket-mode", help="Connect to Slack over Socket Mode.")] = False,
) -> None:
    """Run the web server: /healthz now; Slack and webhook routes arrive with their capabilities."""
    if socket_mode:
        not_landed("serve --socket-mode", "the Slack surface (/candidate, Socket Mode)")
    import uvicorn

    from bot.web import create_web_app
    from storage.migrate import current_revision, head_revision

    rt = runtime()
    if current_revision(rt.engine) != head_revision():
        err.print("[yellow]warning[/yellow] the database schema is not current: run `hirebridge db upgrade`")
    uvicorn.run(create_web_app(rt.engine), host=host, port=port, log_level=rt.settings.log_level.lower())


@app.command()
def worker(
    poll: Annotated[float, typer.Option(help="Seconds to sleep when the queue is empty.")] = 0.5,
    lease: Annotated[float, typer.Option(
        help="Seconds an item stays leased; a crashed worker's items are retried after it.")] = 60.0,
) -> None:
    """Run queue workers and the Slack outbox relay until interrupted (SIGINT/SIGTERM finish the item first)."""
    from bot.handlers import handlers_for
    from bot.slack.notifier import Notifier
    from bot.worker import Worker

    rt = runtime()
    rt.queue.lease = timedelta(seconds=lease)
    handlers = handlers_for(loaded(rt))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    notifier = Notifier(rt.outbox, rt.slack())
    relay = threading.Thread(target=_relay_loop, args=(notifier, stop, poll), daemon=True)
    relay.start()
    the_worker = Worker(rt.engine, rt.queue, handlers)
    console.print(f"worker {the_worker.name} started; kinds: {', '.join(sorted(the_worker.handlers)) or 'none'}")
    the_worker.run(stop, poll_interval=poll, reclaim_every=timedelta(seconds=min(15.0, lease)))
    relay.join(timeout=10)


def _relay_loop(notifier: object, stop: threading.Event, poll: float) -> None:
    from bot.slack.notifier import Notifier

    assert isinstance(notifier, Notifier)
    while not stop.is_set():
        if notifier.relay_once().sent == 0:
            stop.wait(poll)


@app.command()
def sandbox(
    host: Annotated[str, typer.Option(help="Interface for the simulators.")] = "127.0.0.1",
    write_config: Annotated[Path | None, typer.Option(
        help="Write the example config, pointed at these simulators, to this TOML file.")] = None,
) -> None:
    """Run the LinkedIn, Greenhouse, Lever and Slack simulators until interrupted, and print their URLs."""
    from bot.config import load_config
    from bot.demo.script import EXAMPLE_CONFIG
    from bot.demo.world import sandbox_config, start_simulators
    from bot.demo.world import write_config as write_toml
    from integrations.sandbox.world import SANDBOX_ENV

    sims = start_simulators(host=host)
    table = Table(title="Sandbox simulators")
    table.add_column("service")
    table.add_column("URL")
    table.add_column("inspect")
    for name, server in sims.servers.items():
        table.add_row(name, server.url, f"{server.url}/_sandbox/requests")
    console.print(table)
    if write_config:
        write_toml(sandbox_config(load_config(EXAMPLE_CONFIG), sims), write_config)
        console.print(f"wrote {write_config}; to run the bot against the sandbox, export:")
        env = {**SANDBOX_ENV, "HIREBRIDGE_CONFIG": str(write_config.resolve()),
               "HIREBRIDGE_SLACK_API_URL": f"{sims.url('slack')}/api/"}
        for name, value in env.items():
            console.print(f"  export {name}={value}", highlight=False, soft_wrap=True)
    console.print("Ctrl-C to stop.")
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    sims.stop()


# --- database ------------------------------------------------------------------------------------------------

@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the schema, or upgrade it to the newest revision (SQLite and PostgreSQL)."""
    from storage.migrate import current_revision, head_revision, upgrade

    rt = runtime()
    before = current_revision(rt.engine)
    upgrade(rt.engine)
    console.print(f"database at revision {head_revision()} (was {before or 'empty'})")


@db_app.command("current")
def db_current() -> None:
    """Print the schema revision of the database and the newest one this version knows."""
    from storage.migrate import current_revision, head_revision

    rt = runtime()
    console.print(f"current: {current_revision(rt.engine) or 'empty'}; newest: {head_revision()}")


# --- configuration -------------------------------------------------------------------------------------------

@config_app.command("check")
def config_check(
    path: Annotated[Path | None, typer.Argument(help="The TOML file (default: $HIREBRIDGE_CONFIG).")] = None,
) -> None:
    """Validate a config file: print every problem with its field, exit non-zero on errors."""
    from bot.config import check_config, format_report

    target = path or Path(os.environ.get("HIREBRIDGE_CONFIG") or "hirebridge.toml")
    report = check_config(target, os.environ)
    for line in format_report(report, target):
        (err if report.errors else console).print(line, highlight=False, markup=False, soft_wrap=True)
    if report.errors:
        raise typer.Exit(1)


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
    rt = runtime()
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
    count = runtime().queue.retry_dead(None if all_ else ids)
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
    count = runtime().queue.drop_dead(ids)
    console.print(f"dropped {count} item(s)")
    if count < len(ids):
        err.print(f"{len(ids) - count} id(s) were not dead-lettered items")
        raise typer.Exit(1)


# --- verbs whose capabilities arrive later ---------------------------------------------------------------------

@app.command()
def sync(once: Annotated[bool, typer.Option("--once", help="Run one sync pass and exit.")] = False) -> None:
    """Pull from LinkedIn and the ATS and sync candidates (LinkedIn → ATS sync)."""
    not_landed("sync", "LinkedIn → ATS sync")


@app.command("audit-duplicates")
def audit_duplicates(
    file: Annotated[Path, typer.Argument(help="A CSV export with a header row.")],
    out: Annotated[Path | None, typer.Option(help="Write proposed duplicate pairs to this CSV.")] = None,
) -> None:
    """Audit a candidate CSV export for duplicates before launch."""
    not_landed("audit-duplicates", "duplicate detection")


@app.command("import")
def import_(file: Annotated[Path, typer.Argument(help="A CSV of candidates to import.")]) -> None:
    """Import candidates from a CSV file (when LinkedIn RSC access is not available)."""
    not_landed("import", "CSV import (LinkedIn → ATS sync)")


@app.command()
def erase(
    email: Annotated[str | None, typer.Option(help="The person's email.")] = None,
    linkedin_url: Annotated[str | None, typer.Option(help="The person's LinkedIn profile URL.")] = None,
) -> None:
    """Erase a person from every table that holds personal data (GDPR/CCPA requests)."""
    not_landed("erase", "retention and erasure")


@app.command()
def stats() -> None:
    """Print recruiting KPIs per tenant (time-to-review, duplicate rate, sync lag, adoption)."""
    not_landed("stats", "KPIs")


def main() -> None:
    logging.basicConfig(level=os.environ.get("HIREBRIDGE_LOG_LEVEL", "WARNING").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    app()


if __name__ == "__main__":
    main()
