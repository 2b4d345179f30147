"""ATS stage changes: kept as history per application, and alerted to the hiring channels that asked for them.

One `ats.event` work item per accepted webhook. Its handler, in the item's transaction:
1. finds the local application (an application HireBridge has never seen is read from the ATS once);
2. records the change with where it came from (Greenhouse's webhook has no previous stage, so the last seen
   stage is the "from"); a change to the stage already recorded records nothing — replays are no-ops;
3. an ATS stage the tenant's stage map does not name is reported to ops once and recorded, never alerted under
   a default name;
4. queues the push of the application's stage history to LinkedIn (`on_change`), and one Slack message per
   alert route that wants the stage, unique per change and channel.

A contact update refreshes the local index; a merge made in the ATS (Greenhouse's `merge_candidate`) is folded
in locally through `on_merged` (a merge HireBridge made itself finds nothing left to fold). A person deleted in
Greenhouse (`delete_candidate`, an erasure's own included) is erased here too through `on_deleted`, this item's
payload with them. Lever's `candidateDeleted` is one opportunity, not the person: the inbox keeps it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlmodel import Session

from bot.config_model import AppConfig, Tenant
from bot.mirror import Mirror
from bot.slack import blocks
from integrations.ats import AtsClient
from storage.candidates import record_attention
from storage.models import Application, Candidate, StageEvent, table, utcnow
from storage.outbox import DM_PREFIX, add_message
from storage.queue import Claimed

ATS_EVENT = "ats.event"
STAGE_ALERT = "stage_alert"  # the outbox batch kind: alerts to one channel may be posted as one message
APPS, EVENTS = table(Application).c, table(StageEvent).c
#: what each kind of event makes of an application; the stage name alerts and routes use for outcomes
OUTCOME = {"hired": ("hired", "Hired"), "rejected": ("rejected", "Rejected"), "unrejected": ("active", None),
           "archived": ("archived", None)}
STAGE_KINDS = frozenset({"stage_change", "application_created", *OUTCOME})
LABEL = {"greenhouse": "Greenhouse", "lever": "Lever"}


@dataclass(frozen=True)
class Change:
    """One stage change as recorded: the application, from and to (names as shown), and where it came from."""

    application: Application
    candidate: Candidate
    from_stage: str | None
    to_stage: str
    to_stage_id: str | None
    mapped: bool  # the tenant's stage map names the new stage (or it is an outcome)
    event_key: str


@dataclass
class StageEvents:
    engine: Engine
    config: AppConfig
    ats_for: Callable[[str], AtsClient]
    mirror: Mirror
    on_change: Callable[[Session, Tenant, int, str], None] | None = None  # e.g. push the stage to LinkedIn
    #: a merge made in the ATS (absorbed person id, surviving person id): fold it in locally
    on_merged: Callable[[Session, Tenant, str, str], None] | None = None
    #: a person deleted in Greenhouse (their id, and this work item's id: it names them too)
    on_deleted: Callable[[Session, Tenant, str, int], object] | None = None
    clock: Callable[[], datetime] = utcnow

    def __call__(self, session: Session, item: Claimed) -> None:
        tenant = self.config.tenant(item.payload["tenant"])
        event: dict[str, Any] = item.payload["event"]
        if event.get("kind") == "candidate_updated" and event.get("person_id"):
            person = self.ats_for(tenant.id).get_person(str(event["person_id"]))
            if person is not None:  # contact details, links, employer: the local index follows the ATS
                self.mirror.absorb(session, tenant, person)
            return
        if event.get("kind") == "merged" and event.get("person_id") and event.get("merged_into"):
            if self.on_merged is not None:
                self.on_merged(session, tenant, str(event["person_id"]), str(event["merged_into"]))
            return
        if event.get("kind") == "deleted" and event.get("vendor") == "greenhouse" and event.get("person_id"):
            if self.on_deleted is not None:
                self.on_deleted(session, tenant, str(event["person_id"]), item.id)
            return
        if event.get("kind") not in STAGE_KINDS or not event.get("application_id"):
            return
        change = self.record(session, tenant, event)
        if change is None:
            return
        if not change.mapped:
            self._report_unmapped(session, tenant, change)
            return
        if self.on_change is not None:
            self.on_change(session, tenant, change.application.id or 0, change.event_key)
        routes = tenant.alert_routes(change.application.job_id, change.to_stage)
        owner = None
        if any(route.dm_recruiter for route in routes):
            owner = event.get("owner_email") or self.ats_for(tenant.id).owner_email(
                change.application.ats_application_id)
        queue_alerts(session, tenant, change, event.get("actor"), self.clock(), owner_email=owner)

    def record(self, session: Session, tenant: Tenant, event: dict[str, Any]) -> Change | None:
        """Record the change on the local application; None when it changes nothing (a replay, an echo)."""
        app, fresh = self._application(session, tenant, event)
        if app is None:
            return None
        kind = str(event["kind"])
        status, outcome = OUTCOME.get(kind, (event.get("status") or app.status, None))
        to_id = str(event["to_stage_id"]) if event.get("to_stage_id") is not None else app.stage_id
        mapped_name = tenant.stage_name(to_id, app.job_id) if to_id else None
        # the ATS's own name: Greenhouse sends it; Lever sends ids only (its stage list has the names)
        ats_name = event.get("to_stage_name") or (app.stage_name if to_id == app.stage_id else None)
        to_name = outcome or mapped_name or ats_name or to_id
        if to_name is None:
            return None
        from_name = None if fresh else self._from(tenant, app, event)
        if not fresh and to_id == app.stage_id and status == app.status:
            return None  # nothing moved: a replay, or a change already recorded
        key = f"{event.get('vendor')}:{event['event_id']}"
        if session.execute(select(EVENTS.id).where(EVENTS.event_key == key)).first():
            return None
        app.stage_id, app.status = to_id, status
        app.stage_name = mapped_name or ats_name
        app.updated_at = self.clock()
        session.add(app)
        occurred = datetime.fromisoformat(event["occurred_at"]) if event.get("occurred_at") else self.clock()
        session.add(StageEvent(tenant_id=tenant.id, application_id=app.id or 0, event_key=key,
                               from_stage=from_name, to_stage=to_name, source="ats", actor=event.get("actor"),
                               occurred_at=occurred))
        candidate = session.get(Candidate, app.candidate_id)
        assert candidate is not None
        candidate.last_activity_at = occurred
        session.add(candidate)
        session.flush()
        return Change(app, candidate, from_name, to_name, to_id, bool(outcome or mapped_name), key)

    def _application(self, session: Session, tenant: Tenant,
                     event: dict[str, Any]) -> tuple[Application | None, bool]:
        """The local application, read from the ATS (with its person) the first time it is seen."""
        app = self._local(session, tenant.id, str(event["application_id"]))
        if app is not None or not event.get("person_id"):
            return app, False
        person = self.ats_for(tenant.id).get_person(str(event["person_id"]))
        if person is None:
            return None, False
        self.mirror.absorb(session, tenant, person)
        return self._local(session, tenant.id, str(event["application_id"])), True

    @staticmethod
    def _local(session: Session, tenant_id: str, application_id: str) -> Application | None:
        return session.execute(select(Application).where(
            APPS.tenant_id == tenant_id, APPS.ats_application_id == application_id)).scalars().first()

    @staticmethod
    def _from(tenant: Tenant, app: Application, event: dict[str, Any]) -> str | None:
        """Lever says where the application came from; Greenhouse does not, so the last seen stage is it."""
        stage = str(event["from_stage_id"]) if event.get("from_stage_id") is not None else app.stage_id
        if stage is None:
            return None
        return tenant.stage_name(stage, app.job_id) or (app.stage_name if stage == app.stage_id else stage)

    def _report_unmapped(self, session: Session, tenant: Tenant, change: Change) -> None:
        """Once per job and stage: recorded for ops and posted to the tenant's ops channel."""
        job = tenant.job(change.application.job_id)
        where = f"{job.name if job else change.application.job_id}: {change.to_stage} ({change.to_stage_id})"
        reason = (f"ATS stage {where} is not in the stage map: its changes are recorded, not synced to "
                  "LinkedIn or alerted; add it to [tenants.stage_map]")
        source_id = f"{change.application.job_id}:{change.to_stage_id}"
        if record_attention(session, tenant_id=tenant.id, source="unmapped_stage", source_id=source_id,
                            reason=reason, detail={"job_id": change.application.job_id,
                                                   "stage_id": change.to_stage_id, "stage": change.to_stage},
                            now=self.clock()) is not None:
            add_message(session, dedupe_key=f"unmapped-stage:{tenant.id}:{source_id}", channel=tenant.ops_channel,
                        tenant_id=tenant.id, now=self.clock(), payload=blocks.unmapped_stage(tenant.name, reason))


def queue_alerts(session: Session, tenant: Tenant, change: Change, actor: str | None, now: datetime, *,
                 owner_email: str | None = None) -> None:
    """One message per alert route that names the new stage, unique per change and channel (the outbox).

    With `owner_email` and a route that asks for it, one direct message to the owning recruiter too (the relay
    finds them in Slack by that email). Alerts are queued as a batch kind: a burst into one channel is
    coalesced into fewer posts that name every change.
    """
    job = tenant.job(change.application.job_id)
    c = change.candidate
    alert = blocks.StageAlert(
        candidate=f"{c.first_name} {c.last_name}".strip() or "A candidate", role=job.name if job else None,
        from_stage=change.from_stage, to_stage=change.to_stage, actor=actor,
        ats=LABEL.get(tenant.ats, tenant.ats), ats_url=c.ats_url, tenant=tenant.name)
    payload = blocks.stage_alert(alert)
    routes = tenant.alert_routes(change.application.job_id, change.to_stage)
    for route in routes:
        add_message(session, dedupe_key=f"alert:{tenant.id}:{change.event_key}:{route.channel}",
                    channel=route.channel, tenant_id=tenant.id, now=now, payload=payload, batch=STAGE_ALERT)
    if owner_email and any(route.dm_recruiter for route in routes):
        add_message(session, dedupe_key=f"alert-dm:{tenant.id}:{change.event_key}",
                    channel=f"{DM_PREFIX}{owner_email.strip().lower()}", tenant_id=tenant.id, now=now,
                    payload=payload, batch=STAGE_ALERT)
