"""`hirebridge stats`: the recruiting KPIs per tenant, as a table or as JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot.cli_support import console, err, loaded, runtime
from bot.kpis import STATS_DAYS, Kpis, describe


def stats(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None,
    days: Annotated[int, typer.Option(help="The window: this many days up to now.")] = STATS_DAYS,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON (for scripts).")] = False,
) -> None:
    """Print recruiting KPIs per tenant: time-to-review, duplicates, completeness, source accuracy, sync lag,
    adoption. "no data" means there was nothing to measure in the window."""
    from sqlmodel import Session

    from bot.kpis import compute_kpis

    if days < 1:
        err.print(f"error: --days must be 1 or more, not {days}", highlight=False, markup=False)
        raise typer.Exit(2)
    rt = loaded(runtime())
    config = rt.app_config()
    if tenant is not None and tenant not in {t.id for t in config.tenants}:
        err.print(f"unknown tenant {tenant!r}; configured: {', '.join(t.id for t in config.tenants)}",
                  highlight=False, markup=False)
        raise typer.Exit(2)
    until = datetime.now(UTC)
    since = until - timedelta(days=days)
    with Session(rt.engine) as session:
        kpis = [compute_kpis(session, config, t.id, since=since, until=until)
                for t in config.tenants if tenant in (None, t.id)]
    if not kpis:
        console.print("no tenants configured")
        return
    if as_json:
        typer.echo(json.dumps([k.figures() for k in kpis], indent=2))
        return
    print_kpis(kpis, f"Recruiting KPIs, last {days} day(s) to {until:%Y-%m-%d %H:%M} UTC")


def print_kpis(kpis: list[Kpis], title: str, out: Console = console) -> None:
    """One column per tenant; adoption (install-wide) once underneath. Also the demo's closing figures."""
    table = Table(title=title)
    table.add_column("KPI")
    for k in kpis:
        table.add_column(k.tenant_id, overflow="fold")
    described = [describe(k) for k in kpis]
    for i, figure in enumerate(described[0]):
        if figure.key != "adoption":
            table.add_row(figure.label, *(d[i].text for d in described))
    out.print(table)
    adoption = next(f for f in described[0] if f.key == "adoption")
    # commands are audited without a tenant: one install-wide figure, shown once
    out.print(f"{adoption.label}: {adoption.text}", highlight=False, markup=False, soft_wrap=True)
