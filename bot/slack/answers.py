"""What each `/candidate` subcommand answers after the ack, bound to the runtime's use-cases."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from slack_bolt import Respond
from sqlmodel import Session

from bot.config_model import Tenant, TenantUnclear
from bot.dedupe_scan import ScanRequest
from bot.domain.commands import Command
from bot.kpis import STATS_DAYS, compute_kpis
from bot.lookup import find_people
from bot.mapping import FIELD_MAP, event_rows, project_rows, stage_rows
from bot.slack import blocks, forget_actions, kpi_blocks
from bot.slack.commands import Answer
from bot.slack_export import ExportRequest
from bot.status import read_status
from storage.db import transaction
from storage.models import AuditEntry, utcnow

if TYPE_CHECKING:
    from bot.runtime import Runtime


def request_key(command: dict[str, Any]) -> str:
    """One Slack invocation: its retries carry the same trigger id, so work keyed by it is queued once."""
    return str(command.get("trigger_id") or command.get("response_url") or "")


def answers_for(rt: Runtime) -> dict[str, Answer]:
    """The subcommands this version answers (others say plainly they have not landed)."""

    def check(parsed: Command, command: dict[str, Any], respond: Respond) -> None:
        with Session(rt.engine) as session:
            lookup = find_people(session, rt.app_config(), parsed.rest)
        respond(replace_original=True, response_type="ephemeral", **blocks.check_answer(lookup))
        # on whom: the records shown, by id (the query itself may be an email or a name)
        shown = ",".join(f"{p.tenant_id}:{p.candidate_id}" for p in lookup.people)[:255]
        with transaction(rt.engine) as session:
            session.add(AuditEntry(actor=f"slack:{command.get('user_id', '')}", action="check.answered",
                                   subject=shown, detail={"kind": lookup.kind, "found": len(lookup.people)}))

    def export(parsed: Command, command: dict[str, Any], respond: Respond) -> None:
        url, job = parsed.args[0], parsed.args[1] if len(parsed.args) > 1 else None
        try:
            tenant = rt.app_config().resolve_tenant(channel=str(command.get("channel_id", "")), job_id=job)
        except TenantUnclear as exc:
            respond(replace_original=True, response_type="ephemeral", **blocks.export_problem(str(exc)))
            return
        queued = rt.slack_exports().request(ExportRequest(
            tenant_id=tenant.id, url=url, job_id=job, name=" ".join(parsed.args[2:]) or None,
            user=str(command.get("user_id", "")), channel=str(command.get("channel_id", "")),
            response_url=str(command.get("response_url", "")), request_key=request_key(command)))
        _audit_queued(command, tenant.id, "export", queued)

    def _audit_queued(command: dict[str, Any], tenant_id: str, what: str, queued: int | None) -> None:
        """The work a command queued (None: a Slack retry of a command queued already)."""
        with transaction(rt.engine) as session:
            session.add(AuditEntry(actor=f"slack:{command.get('user_id', '')}", tenant_id=tenant_id,
                                   action=f"{what}.queued" if queued else f"{what}.repeated",
                                   subject=f"work_item:{queued}" if queued else None))

    def status(parsed: Command, command: dict[str, Any], respond: Respond) -> None:
        config = rt.app_config()
        with Session(rt.engine) as session:
            report = read_status(session, config, utcnow())
        respond(replace_original=True, response_type="ephemeral",
                **blocks.status_answer(report, {t.id: t.name for t in config.tenants}))

    def named_tenant(parsed: Command, command: dict[str, Any], respond: Respond) -> Tenant | None:
        """The tenant named in the command, else the channel's; None (and the reason, answered) if unclear."""
        try:
            return rt.app_config().resolve_tenant(channel=str(command.get("channel_id", "")),
                                                  tenant_id=parsed.args[0] if parsed.args else None)
        except TenantUnclear as exc:
            respond(replace_original=True, response_type="ephemeral",
                    **blocks.usage(f"{exc} (or name one: `/candidate {parsed.name} <tenant>`)"))
            return None

    def mapping(parsed: Command, command: dict[str, Any], respond: Respond) -> None:
        if (tenant := named_tenant(parsed, command, respond)) is None:
            return
        respond(replace_original=True, response_type="ephemeral", **blocks.mapping_answer(
            tenant.name, tenant.ats, project_rows(tenant), stage_rows(tenant), event_rows(tenant), FIELD_MAP))

    def stats(parsed: Command, command: dict[str, Any], respond: Respond) -> None:
        if (tenant := named_tenant(parsed, command, respond)) is None:
            return
        until = utcnow()
        with Session(rt.engine) as session:
            kpis = compute_kpis(session, rt.app_config(), tenant.id, since=until - timedelta(days=STATS_DAYS),
                                until=until)
        respond(replace_original=True, response_type="ephemeral", **kpi_blocks.stats_answer(tenant.name, kpis))

    def dedupe(parsed: Command, command: dict[str, Any], respond: Respond) -> None:
        if (tenant := named_tenant(parsed, command, respond)) is None:
            return
        queued = rt.duplicate_scans().request(ScanRequest(
            tenant_id=tenant.id, user=str(command.get("user_id", "")), channel=str(command.get("channel_id", "")),
            response_url=str(command.get("response_url", "")), request_key=request_key(command)))
        _audit_queued(command, tenant.id, "dedupe", queued)

    def forget(parsed: Command, command: dict[str, Any], respond: Respond) -> None:
        respond(replace_original=True, response_type="ephemeral", **forget_actions.answer(
            rt.erasure(), rt.forget_requests(), rt.app_config(), parsed.args[0], command))

    return {"check": check, "export": export, "status": status, "mapping": mapping, "dedupe": dedupe,
            "stats": stats, "forget": forget}
