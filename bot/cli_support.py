"""What every `hirebridge` verb shares: the consoles and the runtime built from the process environment."""

from __future__ import annotations

import os
import signal
import threading

import typer
from rich.console import Console

from bot.runtime import Runtime, build_runtime
from bot.settings import SettingsError

console = Console()
err = Console(stderr=True)


def runtime() -> Runtime:
    """Build the runtime from the process environment (closed when the command ends), or exit naming problems."""
    try:
        rt = build_runtime(os.environ)
    except SettingsError as exc:
        for problem in exc.problems:
            err.print(f"[red]error[/red] {problem}")
        raise typer.Exit(2) from None
    _open.append(rt)
    return rt


_open: list[Runtime] = []


def close_runtimes() -> None:
    """Close what the command opened (connection pools, HTTP clients); called when the root command ends."""
    while _open:
        _open.pop().close()


def migrated(rt: Runtime) -> Runtime:
    """Exit with a clear message when the database has no schema (or an older one) yet."""
    from storage.migrate import current_revision, head_revision

    current = current_revision(rt.engine)
    if current != head_revision():
        err.print(f"the database is at revision {current or 'none (empty)'}, this version needs "
                  f"{head_revision()}: run `hirebridge db upgrade`", highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    return rt


def loaded(rt: Runtime) -> Runtime:
    """Load the tenants' config now, or exit naming every problem in it."""
    from bot.config import ConfigError
    from bot.tenants import register_tenants

    try:
        config = rt.app_config()
    except ConfigError as exc:
        err.print(str(exc), highlight=False, markup=False)
        raise typer.Exit(2) from None
    register_tenants(migrated(rt).engine, config)
    return rt


def not_landed(command: str, capability: str) -> None:
    """Say plainly that a verb exists but its capability is not in this version yet."""
    err.print(f"hirebridge {command}: not available yet — {capability} has not landed in this version.",
              soft_wrap=True)
    raise typer.Exit(2)


def stop_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM, for a main thread that polls or waits on it.

    The handler does not set the event itself. A handler runs in the main thread between two bytecodes, and
    when that thread is inside `stop.wait()` holding the event's lock, `stop.set()` waits on that lock for ever:
    a worker idling between polls then never stopped. A short thread of its own sets the event as soon as the
    main thread lets go of the lock.
    """
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        threading.Thread(target=stop.set, name="stop-signal", daemon=True).start()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    return stop
