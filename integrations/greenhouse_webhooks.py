"""Greenhouse Recruiting webhook bodies read into the neutral `AtsEvent` (api-contracts section 2).

The signature check lives with the client (`integrations.greenhouse.verify_webhook_signature`); this module
reads a body already verified. Bodies carry far more than the bridge needs: the models keep the few fields it
reads and ignore the rest, so a vendor adding fields changes nothing here.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from integrations.ats_events import AtsEvent, AtsEventKind, InvalidEvent, as_utc, full_name, text_id

#: the actions the bridge reads; any other action is recorded as kind "unknown" (not an error)
ACTIONS: dict[str, AtsEventKind] = {
    "candidate_stage_change": "stage_change",
    "new_candidate_application": "application_created",
    "new_prospect_application": "application_created",  # the "Prospect created" event
    "hire_candidate": "hired",
    "reject_candidate": "rejected",
    "unreject_candidate": "unrejected",
    "unhire_candidate": "unrejected",  # back to an active application, as an unreject is
    "update_candidate": "candidate_updated",
    "merge_candidate": "merged",
    "delete_candidate": "deleted",
    "ping": "ping",
}
APPLICATION_KINDS = frozenset({"stage_change", "application_created", "hired", "rejected", "unrejected"})
PERSON_KINDS = frozenset({"merged", "deleted"})

GhId = int | str  # integers on the wire; text accepted too, as the bridge keeps ids as text
M = TypeVar("M", bound=BaseModel)


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Envelope(_Wire):
    """`{"action": "...", "payload": {...}}`; the payload is read per action, once the action is known."""

    action: str | None = None
    payload: dict[str, Any] | None = None


class WebhookStage(_Wire):
    id: GhId
    name: str | None = None


class WebhookUser(_Wire):
    """A user as webhooks show one: `{id, email, name, employee_id}` (reference 2)."""

    id: GhId | None = None
    email: str | None = None


class WebhookCandidate(_Wire):
    id: GhId
    first_name: str | None = None
    last_name: str | None = None
    recruiter: WebhookUser | None = None  # the candidate's recruiter: who owns them (an alert route's DM)


class WebhookJob(_Wire):
    id: GhId


class WebhookApplication(_Wire):
    """`payload.application` of the application and candidate actions (reference 2.1)."""

    id: GhId
    status: str | None = None  # active | rejected | hired
    last_activity_at: datetime | None = None  # absent from the vendor's hire_candidate example
    current_stage: WebhookStage | None = None  # null on new_prospect_application
    candidate: WebhookCandidate | None = None
    jobs: tuple[WebhookJob, ...] = ()


class WebhookPerson(_Wire):
    """`payload.person` of merge_candidate / delete_candidate: `id` is the record going away (reference 2.2)."""

    id: GhId
    first_name: str | None = None
    last_name: str | None = None
    new_candidate_id: GhId | None = None  # merge_candidate only: the winning record


def parse_webhook(raw_body: bytes, *, event_id: str, now: datetime) -> AtsEvent:
    """Read a verified delivery; `event_id` is its `Greenhouse-Event-ID`. Raises InvalidEvent on a bad body."""
    envelope = _validate(Envelope, raw_body, json=True)
    action = envelope.action or ""
    payload = envelope.payload or {}
    # a body naming no action at all is taken for the (undocumented) ping, as is one without its record
    kind: AtsEventKind = ACTIONS.get(action, "unknown") if action else "ping"
    event = AtsEvent(event_id=event_id, vendor="greenhouse", action=action, kind=kind, occurred_at=as_utc(now),
                     raw_action_known=action in ACTIONS)
    if event.kind == "unknown":
        return event
    if event.kind in APPLICATION_KINDS and payload.get("application") is not None:
        return replace(event, **_application_fields(_validate(WebhookApplication, payload["application"])))
    if event.kind in PERSON_KINDS and payload.get("person") is not None:
        person = _validate(WebhookPerson, payload["person"])
        return replace(event, person_id=text_id(person.id), merged_into=text_id(person.new_candidate_id),
                       candidate_name=full_name(person.first_name, person.last_name))
    if event.kind == "candidate_updated":
        return _candidate_updated(event, payload)
    # The ping's payload is undocumented (reference 2, 6.5): a body saying "ping", or a known action without
    # the record it always carries, is taken to be the ping. Unsure: inferred, not documented.
    return replace(event, kind="ping")


def _application_fields(application: WebhookApplication) -> dict[str, Any]:
    stage, candidate = application.current_stage, application.candidate
    occurred = application.last_activity_at
    return {
        "application_id": text_id(application.id),
        "person_id": text_id(candidate.id) if candidate else None,
        "job_id": text_id(application.jobs[0].id) if application.jobs else None,
        "to_stage_id": text_id(stage.id) if stage else None,
        "to_stage_name": stage.name if stage else None,
        "status": application.status,
        "candidate_name": full_name(candidate.first_name, candidate.last_name) if candidate else None,
        "owner_email": candidate.recruiter.email if candidate and candidate.recruiter else None,
        # No actor: candidate_stage_change names no mover (`credited_to` is who sourced the candidate, and the
        # recruiter/coordinator are the candidate's, not the person who moved the application).
        **({"occurred_at": as_utc(occurred)} if occurred else {}),
    }


def _candidate_updated(event: AtsEvent, payload: dict[str, Any]) -> AtsEvent:
    """update_candidate: the vendor's docs show `payload.candidate`; reference 2 only says the application
    actions share the application envelope "etc.". Unsure which: both are read, the candidate first."""
    if payload.get("candidate") is not None:
        candidate = _validate(WebhookCandidate, payload["candidate"])
        return replace(event, person_id=text_id(candidate.id),
                       candidate_name=full_name(candidate.first_name, candidate.last_name))
    if payload.get("application") is not None:
        return replace(event, **_application_fields(_validate(WebhookApplication, payload["application"])))
    return replace(event, kind="ping")


def _validate(model: type[M], value: Any, *, json: bool = False) -> M:
    try:
        return model.model_validate_json(value) if json else model.model_validate(value)
    except ValidationError as exc:
        where = ", ".join(".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors()[:3])
        raise InvalidEvent(f"not a Greenhouse webhook ({model.__name__}: {where})") from exc
