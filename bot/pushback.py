"""Write ATS candidates and applications back to LinkedIn, batched, so its In-ATS indicator stays true."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from bot.budget import DailyBudget
from bot.config_model import AppConfig, Tenant
from integrations import linkedin_models as li
from integrations.linkedin import LinkedInClient
from storage.candidates import applications_of, keys_of, record_attention, unpushed
from storage.models import Application, Candidate, IdentityKind, utcnow
from storage.queue import Claimed, Priority, enqueue

log = logging.getLogger(__name__)

PUSH_BACK = "linkedin.push_back"
WINDOW = timedelta(minutes=1)  # syncs within a window share one push: ≤100 records per LinkedIn call
BATCH = 100
PER_RUN = 1000


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@dataclass
class PushBack:
    engine: Engine
    config: AppConfig
    linkedin_for: Callable[[str], LinkedInClient]
    budget: DailyBudget
    clock: Callable[[], datetime] = utcnow

    def schedule(self, session: Session, tenant_id: str) -> None:
        """Ask for a push at the end of the current window (once per window however many syncs ask)."""
        if self.config.tenant(tenant_id).linkedin is None:
            return
        now = self.clock()
        start = now.replace(second=0, microsecond=0)
        enqueue(session, PUSH_BACK, {"tenant": tenant_id}, tenant_id=tenant_id, priority=Priority.POLL,
                dedupe_key=f"li-pushback:{tenant_id}:{start:%Y%m%dT%H%M}", run_after=start + WINDOW)

    def handle(self, session: Session, item: Claimed) -> None:
        self.push(session, self.config.tenant(item.payload["tenant"]))

    def push(self, session: Session, tenant: Tenant) -> int:
        """Push every candidate LinkedIn has not seen in its current state; returns how many were accepted."""
        rows = unpushed(session, tenant.id, PER_RUN)
        client = self.linkedin_for(tenant.id)
        accepted = 0
        for start in range(0, len(rows), BATCH):
            accepted += self._push_batch(session, tenant, client, rows[start : start + BATCH])
        return accepted

    def withdraw(self, session: Session, tenant: Tenant, ats_candidate_ids: list[str]) -> None:
        """Delete LinkedIn's In-ATS records of people who no longer exist in the ATS (merged away)."""
        client = self.linkedin_for(tenant.id)
        with self.budget.spending(tenant.id, lambda: client.requests_made, session):
            result = client.delete_ats_candidates(ats_candidate_ids)
        for failure in result.failed:  # LinkedIn still shows them as in the ATS: ops must know
            record_attention(session, tenant_id=tenant.id, source="linkedin_withdraw", source_id=failure.id,
                             reason=f"LinkedIn refused deleting merged-away candidate {failure.id} "
                                    f"({failure.status}): {failure.message}",
                             detail={"ats_candidate_id": failure.id}, now=self.clock())

    def push_candidate(self, session: Session, tenant: Tenant, row: Candidate) -> int:
        """Push one candidate and its applications now (e.g. before their stage history); 1 if accepted."""
        return self._push_batch(session, tenant, self.linkedin_for(tenant.id), [row])

    def _push_batch(self, session: Session, tenant: Tenant, client: LinkedInClient, rows: list[Candidate]) -> int:
        ids = [row.id or 0 for row in rows]
        keys = keys_of(session, tenant.id, ids)
        apps = applications_of(session, tenant.id, ids)
        by_id = {row.id: row for row in rows}
        members = [(row.ats_candidate_id or "", value) for row in rows
                   for kind, value in keys.get(row.id or 0, []) if kind == IdentityKind.LINKEDIN_MEMBER.value]
        with self.budget.spending(tenant.id, lambda: client.requests_made, session):
            verdict = client.upsert_candidates([self._candidate(row, keys.get(row.id or 0, [])) for row in rows])
            if apps:
                client.push_applications([self._application(a, by_id[a.candidate_id], keys) for a in apps])
            if members:
                client.link_members(members)
        failed = {f.id: f for f in verdict.failed}
        now = self.clock()
        for row in rows:
            if row.ats_candidate_id in failed:
                problem = failed[row.ats_candidate_id]
                record_attention(session, tenant_id=tenant.id, source="linkedin_push",
                                 source_id=f"{row.ats_candidate_id}:{ms(row.updated_at)}",
                                 reason=f"LinkedIn refused the candidate ({problem.status}): {problem.message}",
                                 detail={"first_name": row.first_name, "last_name": row.last_name}, now=now)
                continue
            # The version pushed, not "now": a change committed while we pushed stays newer, so it is pushed next.
            row.linkedin_pushed_at = row.updated_at
            session.add(row)
        return len(rows) - len(failed)

    def _candidate(self, row: Candidate, keys: list[tuple[str, str]]) -> li.AtsCandidate:
        created = ms(row.created_at)
        return li.AtsCandidate(
            ats_candidate_id=row.ats_candidate_id or "", ats_created_at=created,
            ats_last_modified_at=max(created, ms(row.updated_at)), first_name=row.first_name or "-",
            last_name=row.last_name or None,
            email_addresses=[v for k, v in keys if k == IdentityKind.EMAIL.value],
            phone_numbers=[li.PhoneNumber(number=v) for k, v in keys if k == IdentityKind.PHONE.value],
            current_company_name=row.company, current_job_title=row.title,
            external_profile_url=row.ats_url, linked_in_profile_url=row.profile_url)

    def _application(self, app: Application, row: Candidate,
                     keys: dict[int, list[tuple[str, str]]]) -> li.AtsApplication:
        emails = [v for k, v in keys.get(row.id or 0, []) if k == IdentityKind.EMAIL.value]
        created = ms(app.created_at)
        return li.AtsApplication(
            ats_job_application_id=app.ats_application_id, ats_candidate_id=row.ats_candidate_id,
            ats_created_at=created, ats_last_modified_at=max(created, ms(app.updated_at)),
            ats_job_posting_id=app.job_id, ats_job_posting_name=app.job_name or app.job_id,
            candidate_email=emails[0] if emails else None, first_name=row.first_name or None,
            last_name=row.last_name or None, source=row.source, disposition_reason=None)
