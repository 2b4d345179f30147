"""`hirebridge`: the command line and composition root (the one place that reads the environment)."""

from __future__ import annotations

import logging
import os
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bot.cli_support import close_runtimes, console, err, loaded, runtime, stop_on_signals

app = typer.Typer(help="HireBridge: LinkedIn Recruiter ↔ ATS sync, run from Slack.", no_args_is_help=True,
                  add_completion=False, rich_markup_mode=None)
db_app = typer.Typer(help="Create or upgrade the database schema.", no_args_is_help=True)
config_app = typer.Typer(help="Validate the configuration file.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")

@app.callback()
def root(context: typer.Context) -> None:
    """HireBridge: LinkedIn Recruiter ↔ ATS sync, run from Slack."""
    context.call_on_close(close_runtimes)


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
    socket_mode: Annotated[bool, typer.Option(
        "--socket-mode", help="Also connect to Slack over Socket Mode (needs SLACK_APP_TOKEN).")] = False,
) -> None:
    """Run the web server: /healthz, Slack on /slack/events, LinkedIn and ATS webhooks on /webhooks/…/{tenant}."""
    import uvicorn

    from bot.web import create_web_app
    from storage.migrate import current_revision, head_revision

    rt = runtime()
    app_token = rt.settings.slack_app_token
    if socket_mode and app_token is None:
        err.print("[red]error[/red] serve --socket-mode needs SLACK_APP_TOKEN: the app-level token (xapp-…) "
                  "with the connections:write scope", soft_wrap=True)
        raise typer.Exit(2)
    if current_revision(rt.engine) != head_revision():
        err.print("[yellow]warning[/yellow] the database schema is not current: run `hirebridge db upgrade`")
    exports, slack, ats_webhooks = None, None, None
    if rt.settings.config_path.exists():
        loaded(rt)
        exports, slack, ats_webhooks = rt.exports(), rt.slack_app(), rt.ats_webhooks()
    else:
        err.print(f"[yellow]warning[/yellow] no config at {rt.settings.config_path}: only /healthz is served")
    if slack is None:
        err.print("[yellow]warning[/yellow] SLACK_SIGNING_SECRET is not set: /slack/events answers 503"
                  + (" (Socket Mode needs no signature)" if socket_mode else ""))
    web = create_web_app(rt.engine, exports=exports, slack=slack, ats_webhooks=ats_webhooks)
    if socket_mode:
        from bot.slack.socket_mode import SocketModeConnection, with_socket_mode

        # without a signing secret, an app without request verification, used over the WebSocket only
        socket_app = slack or (rt.slack_app(socket_mode=True) if exports is not None else None)
        if socket_app is None or app_token is None:  # the Bolt app's answers need the config
            err.print("[red]error[/red] serve --socket-mode needs the config file (HIREBRIDGE_CONFIG) to build "
                      "the Slack app", soft_wrap=True)
            raise typer.Exit(2)
        # Connected from the server's lifespan: /healthz answers even while Slack is unreachable.
        web = with_socket_mode(web, SocketModeConnection(socket_app, app_token.get_secret_value(),
                                                         client=rt.slack()))
    uvicorn.run(web, host=host, port=port, log_level=rt.settings.log_level.lower())


@app.command()
def worker(
    poll: Annotated[float, typer.Option(help="Seconds to sleep when the queue is empty.")] = 0.5,
    lease: Annotated[float, typer.Option(
        help="Seconds a work item or outgoing Slack message stays leased; a crashed worker's are retried after "
             "it.")] = 60.0,
    scheduler: Annotated[bool, typer.Option(
        help="Run the scheduled jobs too (each occurrence runs once, whatever the number of workers).")] = True,
) -> None:
    """Run queue workers, the scheduled jobs and the Slack outbox relay until interrupted (SIGINT/SIGTERM
    finish the item first)."""
    from bot.handlers import handlers_for
    from bot.scheduler import Scheduler, every_text, scheduled_jobs
    from bot.slack.notifier import Notifier

    rt = runtime()
    rt.queue.lease = rt.outbox.lease = timedelta(seconds=lease)
    handlers = handlers_for(loaded(rt))
    stop = stop_on_signals()
    notifier = Notifier(rt.outbox, rt.slack())
    relay = threading.Thread(target=notifier.run, args=(stop, poll), name="outbox-relay", daemon=True)
    relay.start()
    the_worker = rt.worker(handlers)
    console.print(f"worker {the_worker.name} started; kinds: {', '.join(sorted(the_worker.handlers)) or 'none'}")
    jobs = None
    if scheduler:
        jobs = Scheduler(rt.engine, scheduled_jobs(rt.app_config(), rt.engine, rt.scheduled_work()))
        jobs.start()
        console.print("scheduled: " + ", ".join(f"{j.id} every {every_text(j.every)}" for j in jobs.jobs),
                      soft_wrap=True)
    try:
        the_worker.run(stop, poll_interval=poll, reclaim_every=timedelta(seconds=min(15.0, lease)))
    finally:
        if jobs is not None:
            jobs.shutdown()
    relay.join(timeout=10)


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
    stop_on_signals().wait()
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


from bot import cli_ops  # noqa: E402  (the operations verbs register themselves on `app`)

cli_ops.register(app, db_app)


def main() -> None:
    logging.basicConfig(level=os.environ.get("HIREBRIDGE_LOG_LEVEL", "WARNING").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    app()


if __name__ == "__main__":
    main()
