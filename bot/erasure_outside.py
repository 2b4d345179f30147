"""Erasing a person outside HireBridge: their Greenhouse candidate and LinkedIn's In-ATS records of them.

One durable work item per tenant and erasure (`erasure.outside`), queued in the transaction of the local
erasure: it cannot be lost, and it is retried with backoff while Greenhouse or LinkedIn is down. Its payload
holds ATS ids only (no name, email or URL), since the local erasure has removed everything else; once done,
it keeps what was done, not whom. Every call is safe to repeat: a record already gone counts as deleted.

What each system offers (reference/greenhouse-v3.md 3.1, api-contracts.md 3 and 4.2):
- Greenhouse: `DELETE /v3/candidates/{id}` (candidates:destroy), applications and notes with the candidate.
- Lever: no delete (nor anonymize) endpoint is documented; people must be erased in Lever itself.
- LinkedIn RSC: BATCH_DELETE of `atsApplications` (their notes and stages go with them), then `atsCandidates`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session

from bot.budget import DailyBudget
from bot.config_model import AppConfig, Tenant
from integrations.greenhouse import GreenhouseClient
from integrations.linkedin import LinkedInClient
from storage.models import WorkItem, table, utcnow
from storage.queue import Claimed, PermanentError, Priority, enqueue

ERASE_OUTSIDE = "erasure.outside"
LEVER_HAS_NO_DELETE = "Lever documents no API to delete a person: erase them in Lever itself"


@dataclass(frozen=True)
class OutsideStep:
    """What an erasure does (or cannot do) in one outside system of one tenant; no personal data."""

    tenant_id: str
    system: str  # greenhouse | lever | linkedin
    outcome: str  # queued | off | not available | nothing known
    note: str

    def line(self) -> str:
        return f"{self.system} ({self.tenant_id}): {self.outcome} — {self.note}"


def outside_steps(tenant: Tenant, ats_ids: Sequence[str], *, in_ats: bool = True) -> list[OutsideStep]:
    """What erasing these ATS people outside would do in `tenant`, as the config says (nothing is called);
    without `in_ats`, LinkedIn only (the person is gone from the ATS already)."""
    n = len(ats_ids)
    if not in_ats:
        steps = []
    elif tenant.ats == "lever":
        steps = [OutsideStep(tenant.id, "lever", "not available", LEVER_HAS_NO_DELETE)]
    elif not tenant.erase_in_ats:
        steps = [OutsideStep(tenant.id, "greenhouse", "off", "kept in Greenhouse (erase_in_ats is off): erase "
                             "them there too, or a later change there brings them back here")]
    else:
        steps = [_step(tenant.id, "greenhouse", n, f"{n} candidate(s) to delete in Greenhouse")]
    if tenant.linkedin is not None:
        steps.append(_step(tenant.id, "linkedin", n, f"{n} In-ATS record(s) to delete on LinkedIn Recruiter")
                     if tenant.erase_in_linkedin else OutsideStep(
                         tenant.id, "linkedin", "off", "LinkedIn's In-ATS record kept (erase_in_linkedin is off)"))
    return steps


def _step(tenant_id: str, system: str, n: int, note: str) -> OutsideStep:
    if n:
        return OutsideStep(tenant_id, system, "queued", note)
    return OutsideStep(tenant_id, system, "nothing known", "no record of theirs is known there")


def queue_outside(session: Session, tenant: Tenant, erasure_id: str, ats_ids: Sequence[str],
                  application_ids: Sequence[str], now: datetime, *, in_ats: bool = True) -> list[OutsideStep]:
    """Queue the outside erasure in the caller's transaction (the local erasure's); returns the steps."""
    steps = outside_steps(tenant, ats_ids, in_ats=in_ats)
    queued = {s.system for s in steps if s.outcome == "queued"}
    if queued:
        payload = {"tenant": tenant.id, "erasure": erasure_id,
                   "greenhouse": list(ats_ids) if "greenhouse" in queued else [],
                   "linkedin_candidates": list(ats_ids) if "linkedin" in queued else [],
                   "linkedin_applications": list(application_ids) if "linkedin" in queued else []}
        enqueue(session, ERASE_OUTSIDE, payload, dedupe_key=f"erase-outside:{erasure_id}:{tenant.id}",
                tenant_id=tenant.id, priority=Priority.INTERACTIVE, now=now)
    return steps


@dataclass
class OutsideErasure:
    """The `erasure.outside` handler."""

    config: AppConfig
    greenhouse_for: Callable[[Tenant], GreenhouseClient]
    linkedin_for: Callable[[str], LinkedInClient]
    budget: DailyBudget
    clock: Callable[[], datetime] = utcnow

    def __call__(self, session: Session, item: Claimed) -> None:
        p = item.payload
        tenant = self.config.tenant(str(p["tenant"]))
        done: dict[str, int] = {}
        if p.get("greenhouse"):
            client = self.greenhouse_for(tenant)
            done["greenhouse"] = sum(client.delete_candidate(int(i)) for i in p["greenhouse"])
        if p.get("linkedin_candidates") or p.get("linkedin_applications"):
            done.update(self._linkedin(session, tenant, p))
        # what was done stays for ops; whom it was done to does not
        work = table(WorkItem)
        session.execute(update(work).where(work.c.id == item.id).values(
            payload={"tenant": tenant.id, "erasure": p.get("erasure"), "deleted": done}))

    def _linkedin(self, session: Session, tenant: Tenant, p: dict[str, Any]) -> dict[str, int]:
        client = self.linkedin_for(tenant.id)
        with self.budget.spending(tenant.id, lambda: client.requests_made, session):
            apps = client.delete_ats_applications([str(a) for a in p.get("linkedin_applications") or []])
            people = client.delete_ats_candidates([str(c) for c in p.get("linkedin_candidates") or []])
        refused = [*apps.failed, *people.failed]
        if refused:  # retrying the same request cannot help; the ids stay on the dead item for a replay
            raise PermanentError("LinkedIn refused deleting " + ", ".join(
                f"{f.id} ({f.status}: {f.message})" for f in refused))
        return {"linkedin_applications": len(apps.ok), "linkedin_candidates": len(people.ok)}
