"""`hirebridge erase`: remove a person from every table that holds personal data (and outside, as configured).

Exit codes: 0 erased; 1 nothing stored about the person (so a typo is noticed), or the confirmation refused;
2 a usage error (not exactly one of --email/--linkedin-url, a value that is not one, an unknown tenant).
"""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.table import Table

from bot.cli_support import console, err, loaded, runtime
from bot.erasure import ErasureReport, SubjectError, subject_of


def erase(
    email: Annotated[str | None, typer.Option(help="The person's email.")] = None,
    linkedin_url: Annotated[str | None, typer.Option(help="The person's LinkedIn profile URL.")] = None,
    tenant: Annotated[str | None, typer.Option(help="Only in this tenant (default: every tenant).")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase a person from every table that holds personal data (GDPR/CCPA requests); also in Greenhouse and
    on LinkedIn Recruiter where the tenant's config says so. Shows what will go (counts only) and asks first.

    Exits 0 when erased, 1 when nothing is stored about the person (or you said no), 2 on a usage error.
    """
    try:
        subject = subject_of(email=email, linkedin_url=linkedin_url)
    except SubjectError as exc:
        err.print(f"error: {exc} (use exactly one of --email or --linkedin-url)", highlight=False, markup=False)
        raise typer.Exit(2) from None
    rt = loaded(runtime())
    erasure = rt.erasure()
    try:
        preview = erasure.find(subject, tenant)
    except KeyError:
        known = ", ".join(t.id for t in rt.app_config().tenants)
        err.print(f"unknown tenant {tenant!r}; configured: {known}", highlight=False, markup=False)
        raise typer.Exit(2) from None
    if not preview.found:
        where = f"tenant {tenant}" if tenant else "any tenant"
        console.print(f"Nothing is stored about this {subject.label} in {where}: nothing to erase "
                      "(check the spelling).", highlight=False, markup=False)
        raise typer.Exit(1)
    console.print(f"To erase: the person with this {subject.label}, rows per table and tenant:")
    show(preview)
    if not yes and not typer.confirm("Erase this person for good? It cannot be undone"):
        console.print("Nothing was erased.")
        raise typer.Exit(1)
    report = erasure.erase(subject, actor=f"cli:{_user()}", tenant_id=tenant)
    console.print(f"Erased (the audit log knows it as erasure {report.erasure_id}):", highlight=False)
    show(report)


def show(report: ErasureReport) -> None:
    """Rows per table and tenant, and what happens outside: counts and systems, never the person's data."""
    table = Table()
    tenants = [t.tenant_id for t in report.tenants]
    for column in ("table", *tenants):
        table.add_column(column, justify="left" if column == "table" else "right")
    for name in report.totals():
        table.add_row(name, *(str(t.counts.get(name, 0)) for t in report.tenants))
    console.print(table)
    console.print(f"{report.candidates} candidate record(s) in {len(tenants)} tenant(s). Outside HireBridge, "
                  "after the local erasure:", highlight=False)
    for step in (s for t in report.tenants for s in t.outside):
        console.print(f"  {step.line()}", highlight=False, markup=False, soft_wrap=True)


def _user() -> str:
    """Who ran the command, for the audit entry (the OS account; "unknown" when it has no name)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"
