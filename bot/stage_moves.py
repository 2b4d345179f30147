"""LinkedIn → ATS stage sync: a LinkedIn event (an InMail sent or answered) moves the ATS application.

Which stage each event moves to is `[tenants.linkedin_events]`. One `ats.stage_move` item per event and
application; its handler:
1. decides: nothing to do if the application is there already; when the ATS wins conflicts (the default) a
   move that would go back in the pipeline (by the stage map's order) is skipped;
2. records the move locally first, in its own transaction (the stage event, source "linkedin", and the
   application's stage). That record is what suppresses the echo: the ATS's webhook for this move then finds
   the application already there and changes nothing, so it is neither alerted twice nor synced back;
3. moves the application in the ATS. When the ATS wins, the move names the stage it expects the application
   to leave (Greenhouse refuses a stale move; Lever's adapter checks first), so a recruiter's move made
   meanwhile is never overwritten: the local record is undone and ops are told;
4. queues the alerts and the LinkedIn stage push like any other change.
A move that gives up is undone locally (`on_dead`), so the local copy never claims a move the ATS lacks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, select
from sqlmodel import Session

from bot.config_model import AppConfig, LinkedInEvent, Tenant
from bot.stage_events import Change, queue_alerts
from integrations.ats import AtsClient
from integrations.errors import IntegrationError
from storage.candidates import record_attention
from storage.db import transaction
from storage.models import Application, Candidate, StageEvent, table, utcnow
from storage.queue import Claimed, PermanentError, Priority, enqueue

STAGE_MOVE = "ats.stage_move"
STAGE_EVENTS = table(StageEvent)
APPS, EVENTS = table(Application).c, STAGE_EVENTS.c
WHY = {"inmail_sent": "an InMail sent on LinkedIn", "inmail_replied": "an InMail answered on LinkedIn",
       "exported": "a LinkedIn export"}


def pipeline(tenant: Tenant, job_id: str) -> list[str]:
    """The job's stage ids in the stage map's order (TOML keeps it): the job's own, then shared ones."""
    return [*tenant.stage_map.jobs.get(job_id, {}), *tenant.stage_map.stages]


@dataclass
class StageMoves:
    engine: Engine
    config: AppConfig
    ats_for: Callable[[str], AtsClient]
    on_change: Callable[[Session, Tenant, int, str], None] | None = None  # e.g. push the stage to LinkedIn
    clock: Callable[[], datetime] = utcnow

    def schedule(self, session: Session, tenant: Tenant, app: Application, event: LinkedInEvent,
                 event_key: str) -> int | None:
        """Queue the move an event asks for on one application (once per event), if the map names one."""
        to = tenant.event_stage_id(event, app.job_id)
        if to is None or app.status != "active":
            return None
        payload = {"tenant": tenant.id, "application": app.ats_application_id, "to_stage_id": to,
                   "from_stage_id": app.stage_id, "event": event}
        return enqueue(session, STAGE_MOVE, payload, tenant_id=tenant.id, priority=Priority.PUSH,
                       dedupe_key=f"stage-move:{tenant.id}:{app.ats_application_id}:{event_key}")

    def __call__(self, session: Session, item: Claimed) -> None:
        tenant = self.config.tenant(item.payload["tenant"])
        p: dict[str, Any] = item.payload
        marker = f"linkedin:{item.dedupe_key or item.id}"
        change = self._claim(tenant, p, marker)  # own transaction, before anything touches `session`
        if change is None:
            return
        ats = self.ats_for(tenant.id)
        expect = p["from_stage_id"] if tenant.conflict_winner == "ats" else None
        try:
            ats.move_stage(change.application.ats_application_id, p["to_stage_id"], from_stage_id=expect)
        except IntegrationError as exc:
            if exc.retryable:
                raise  # the local record stays; the retry moves again (or finds the move done)
            if self._ats_stage(ats, change) == p["to_stage_id"]:
                pass  # an earlier attempt moved it and its answer was lost
            else:
                self._undo(tenant, p, marker)
                self._conflict(session, tenant, change, p, str(exc))
                return
        if self.on_change is not None:
            self.on_change(session, tenant, change.application.id or 0, marker)
        queue_alerts(session, tenant, change, f"HireBridge, after {WHY.get(p['event'], p['event'])}", self.clock())

    def on_dead(self, item: Claimed, error: str) -> None:
        """The move gave up: the local copy must not claim it happened."""
        self._undo(self.config.tenant(item.payload["tenant"]), item.payload, f"linkedin:{item.dedupe_key}")

    def _claim(self, tenant: Tenant, p: dict[str, Any], marker: str) -> Change | None:
        with transaction(self.engine) as s:
            app = s.execute(select(Application).where(
                APPS.tenant_id == tenant.id, APPS.ats_application_id == p["application"])).scalars().first()
            if app is None:
                raise PermanentError(f"application {p['application']} is not stored")
            candidate = s.get(Candidate, app.candidate_id)
            assert candidate is not None
            to = str(p["to_stage_id"])
            to_name = tenant.stage_name(to, app.job_id) or to
            recorded = s.execute(select(EVENTS.from_stage).where(EVENTS.event_key == marker)).first()
            if recorded is not None:  # an earlier attempt claimed it: go on with the ATS part
                return Change(app, candidate, recorded[0], to_name, to, True, marker)
            if app.stage_id == to or not self._may_move(tenant, app, to):
                return None
            from_name = tenant.stage_name(app.stage_id, app.job_id) if app.stage_id else None
            app.stage_id, app.stage_name, app.updated_at = to, to_name, self.clock()
            s.add(app)
            s.add(StageEvent(tenant_id=tenant.id, application_id=app.id or 0, event_key=marker,
                             from_stage=from_name or app.stage_name, to_stage=to_name, source="linkedin",
                             actor=f"linkedin:{p['event']}", occurred_at=self.clock()))
            s.flush()
            return Change(app, candidate, from_name, to_name, to, True, marker)

    @staticmethod
    def _may_move(tenant: Tenant, app: Application, to: str) -> bool:
        """When the ATS wins, only forward: a LinkedIn event never drags a candidate back in the pipeline."""
        if tenant.conflict_winner == "linkedin" or app.stage_id is None:
            return True
        order = pipeline(tenant, app.job_id)
        return app.stage_id in order and to in order and order.index(to) > order.index(app.stage_id)

    @staticmethod
    def _ats_stage(ats: AtsClient, change: Change) -> str | None:
        person = ats.get_person(change.candidate.ats_candidate_id or "")
        found = [a.stage_id for a in (person.applications if person else ())
                 if a.application_id == change.application.ats_application_id]
        return found[0] if found else None

    def _undo(self, tenant: Tenant, p: dict[str, Any], marker: str) -> None:
        with transaction(self.engine) as s:
            app = s.execute(select(Application).where(
                APPS.tenant_id == tenant.id, APPS.ats_application_id == p["application"])).scalars().first()
            gone = s.execute(delete(STAGE_EVENTS).where(EVENTS.event_key == marker)).rowcount  # type: ignore[attr-defined]
            if app is not None and gone and app.stage_id == p["to_stage_id"]:
                app.stage_id = p["from_stage_id"]
                app.stage_name = tenant.stage_name(app.stage_id, app.job_id) if app.stage_id else None
                s.add(app)

    def _conflict(self, session: Session, tenant: Tenant, change: Change, p: dict[str, Any], error: str) -> None:
        reason = (f"{WHY.get(p['event'], p['event'])} would have moved {change.candidate.first_name} "
                  f"{change.candidate.last_name} to {change.to_stage}, but the application had moved in the ATS "
                  f"meanwhile; the ATS wins ({error})")
        record_attention(session, tenant_id=tenant.id, source="stage_conflict",
                         source_id=f"{p['application']}:{p['to_stage_id']}:{p['event']}", reason=reason,
                         detail={"application": p["application"], "to_stage_id": p["to_stage_id"]},
                         now=self.clock())
