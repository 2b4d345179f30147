"""ATS → LinkedIn stage sync: an application's stage history, written to LinkedIn Recruiter.

LinkedIn keeps the history under the application (`PUT atsApplications/{key}/stages`, keyed by our own stage
ids, so writing the same history again changes nothing). Only stages the tenant's stage map names (and the
Hired/Rejected outcomes) go to LinkedIn: an unmapped stage is recorded locally and reported to ops instead.
The application must exist at LinkedIn first, so a candidate LinkedIn has not seen is pushed before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlmodel import Session

from bot.budget import DailyBudget
from bot.config_model import OUTCOMES, AppConfig, Tenant
from bot.pushback import PushBack, ms
from integrations.linkedin import LinkedInClient
from integrations.linkedin_models import AtsStage
from storage.models import Application, Candidate, StageEvent, table, utcnow
from storage.queue import Claimed, PermanentError, Priority, RetryLater, enqueue

STAGE_PUSH = "linkedin.stage_push"
EVENTS = table(StageEvent).c


@dataclass
class StagePush:
    engine: Engine
    config: AppConfig
    linkedin_for: Callable[[str], LinkedInClient]
    budget: DailyBudget
    push_back: PushBack
    clock: Callable[[], datetime] = utcnow

    def schedule(self, session: Session, tenant: Tenant, application_id: int, change_key: str) -> None:
        """Queue the push of one application's history, in the caller's transaction (once per change)."""
        if tenant.linkedin is None:
            return
        enqueue(session, STAGE_PUSH, {"tenant": tenant.id, "application": application_id}, tenant_id=tenant.id,
                dedupe_key=f"li-stages:{tenant.id}:{change_key}", priority=Priority.PUSH)

    def __call__(self, session: Session, item: Claimed) -> None:
        tenant = self.config.tenant(item.payload["tenant"])
        app = session.get(Application, item.payload["application"])
        if app is None:
            raise PermanentError(f"application {item.payload['application']} is no longer stored")
        candidate = session.get(Candidate, app.candidate_id)
        if candidate is None or not candidate.ats_candidate_id:
            raise PermanentError(f"application {app.ats_application_id} has no linked candidate")
        if candidate.linkedin_pushed_at is None:  # LinkedIn must know the application before its stages
            self.push_back.push_candidate(session, tenant, candidate)
        stages = self.history(session, tenant, app)
        if not stages:
            return
        client = self.linkedin_for(tenant.id)
        with self.budget.spending(tenant.id, lambda: client.requests_made, session):
            result = client.push_application_stages(app.ats_application_id, stages)
        if result.failed:
            problems = "; ".join(f"{f.status} {f.message}" for f in result.failed[:3])
            if any(f.status == 404 for f in result.failed):  # the application is not at LinkedIn (yet)
                raise RetryLater(f"LinkedIn does not know application {app.ats_application_id} yet: {problems}",
                                 retry_after=60)
            raise PermanentError(f"LinkedIn refused the stages of {app.ats_application_id}: {problems}")

    def history(self, session: Session, tenant: Tenant, app: Application) -> list[AtsStage]:
        """The application's mapped stage changes, oldest first, as LinkedIn stage entries."""
        shown = tenant.stage_map.names() | set(OUTCOMES)
        events = session.execute(select(StageEvent).where(EVENTS.application_id == app.id)
                                 .order_by(EVENTS.occurred_at, EVENTS.id)).scalars().all()
        return [AtsStage(stage_id=f"hb-{e.id}", ats_created_at=ms(e.occurred_at), stage=e.to_stage)
                for e in events if e.to_stage in shown]
