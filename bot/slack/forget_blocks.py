"""`/candidate forget` messages: what was found (counts and tenants, nothing the admin did not type), the
Confirm (danger, behind Slack's confirm dialog) and Cancel buttons, and the outcome that replaces them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bot.slack.blocks import Message, context, esc, message, section

if TYPE_CHECKING:  # the builders stay free of database imports at run time
    from bot.erasure import ErasureReport, TenantErasure

CONFIRM, CANCEL = "forget_confirm", "forget_cancel"
ACTIONS = (CONFIRM, CANCEL)


def preview(typed: str, report: ErasureReport, names: Mapping[str, str], request_id: str) -> Message:
    """What erasing the person would remove, per tenant, with Confirm and Cancel (their value: the request id)."""
    head = (f":warning: *Erase {esc(typed)}?* HireBridge holds {report.candidates} candidate record(s) and "
            f"other rows naming them in {_tenants(report, names)}:")
    ats_too = any(s.outcome == "queued" and s.system != "linkedin" for t in report.tenants for s in t.outside)
    confirm = {"title": {"type": "plain_text", "text": "Erase this person?"},
               "text": {"type": "mrkdwn", "text": "Everything HireBridge stored about them is deleted for good"
                        + (", in the ATS too" if ats_too else "") + ". This cannot be undone."},
               "confirm": {"type": "plain_text", "text": "Erase"}, "deny": {"type": "plain_text", "text": "Keep"},
               "style": "danger"}
    buttons = [_button(CONFIRM, "Confirm erasure", request_id, style="danger", confirm=confirm),
               _button(CANCEL, "Cancel", request_id)]
    return message(f"Erase {typed}? Confirm or cancel.", [
        section(head), *(section(_counts(t, names)) for t in report.tenants), _outside(report),
        {"type": "actions", "block_id": "forget", "elements": buttons}])


def nothing_found(typed: str) -> Message:
    text = f"HireBridge stores nothing about {esc(typed)} in any tenant: nothing to erase (check the spelling)."
    return message(text, [section(f":mag: {text}")])


def erased(report: ErasureReport, user: str, names: Mapping[str, str]) -> Message:
    """The outcome: what went, per tenant and outside, and the erasure id the audit log knows it by."""
    if not report.found:
        text = f"Nothing left to erase (someone erased them already) — confirmed by <@{user}>."
        return message(text, [section(f":white_check_mark: {text}")])
    head = (f":white_check_mark: *Erased* — confirmed by <@{user}>: {report.candidates} candidate record(s) "
            f"and every row naming them in {_tenants(report, names)}.")
    return message("Erased.", [section(head), *(section(_counts(t, names)) for t in report.tenants),
                               _outside(report), context(f"Audit log: erasure `{report.erasure_id}`")])


def cancelled(user: str) -> Message:
    text = f"Cancelled by <@{user}>: nothing was erased."
    return message(text, [section(f":no_entry_sign: {text}")])


def failed() -> Message:
    text = ("The erasure stopped on our side; what was erased in each tenant is complete, the rest untouched. "
            "Run `/candidate forget` again.")
    return message(text, [section(f":x: {text}")])


def _tenants(report: ErasureReport, names: Mapping[str, str]) -> str:
    return ", ".join(f"*{esc(names.get(t.tenant_id, t.tenant_id))}*" for t in report.tenants)


def _counts(t: TenantErasure, names: Mapping[str, str]) -> str:
    rows = ", ".join(f"{name} {n}" for name, n in t.counts.items())
    return f"*{esc(names.get(t.tenant_id, t.tenant_id))}* — rows: {rows}"


def _outside(report: ErasureReport) -> dict[str, Any]:
    lines = [esc(s.line()) for t in report.tenants for s in t.outside] or ["nothing outside HireBridge"]
    return context("Outside HireBridge: " + "; ".join(lines))


def _button(action_id: str, text: str, value: str, **extra: Any) -> dict[str, Any]:
    return {"type": "button", "action_id": action_id, "text": {"type": "plain_text", "text": text},
            "value": value, **extra}
