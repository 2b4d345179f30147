"""Lever webhook deliveries read into the neutral `AtsEvent` (api-contracts section 3.4).

Lever signs `token + triggeredAt`, not the body (`integrations.lever.verify_webhook_signature`), so a body is
decoded first, verified, and only then read here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from integrations.ats_events import AtsEvent, AtsEventKind, InvalidEvent
from integrations.lever_models import LeverModel

#: the events the bridge reads; any other event is recorded as kind "unknown" (not an error)
EVENTS: dict[str, AtsEventKind] = {
    "candidateStageChange": "stage_change",
    "candidateHired": "hired",
    "candidateArchiveChange": "archived",
    "candidateDeleted": "deleted",
    "applicationCreated": "application_created",
}


class WebhookData(LeverModel):
    """`data`: ids only (reference 3.4); empty in the test ping."""

    opportunity_id: str | None = None
    candidate_id: str | None = None  # the legacy name of the opportunity; not read
    contact_id: str | None = None
    to_stage_id: str | None = None
    from_stage_id: str | None = None
    # candidateArchiveChange: not in the reference. Lever's help says the event fires on archive *and*
    # unarchive; `toArchived` null is read as an unarchive. Unsure: field name from Lever's docs, not verified.
    to_archived: dict[str, Any] | None = None


class WebhookEnvelope(LeverModel):
    """`{id?, event, triggeredAt (ms), token, signature, data}`; Lever's own example omits `id`."""

    id: str | None = None
    event: str
    triggered_at: int
    token: str
    signature: str
    data: WebhookData | None = None


def decode_delivery(raw_body: bytes) -> dict[str, Any]:
    """The body as a JSON object (what the signature check reads); InvalidEvent if it is not one."""
    try:
        body = json.loads(raw_body)
        # a lone surrogate (the JSON escape \ud800) decodes, but can be neither signed nor stored: unreadable too
        json.dumps(body, ensure_ascii=False).encode()
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, nested too deep, or a lone surrogate
        raise InvalidEvent(f"not a Lever webhook: {type(exc).__name__}") from exc
    if not isinstance(body, dict):
        raise InvalidEvent("not a Lever webhook: the body is not a JSON object")
    return body


def parse_delivery(body: dict[str, Any]) -> AtsEvent:
    """Read a verified delivery; InvalidEvent when it lacks the envelope's fields."""
    try:
        envelope = WebhookEnvelope.model_validate(body)
        occurred_at = datetime.fromtimestamp(envelope.triggered_at / 1000, UTC)
    except (ValidationError, OverflowError, OSError, ValueError) as exc:
        raise InvalidEvent(f"not a Lever webhook: {type(exc).__name__}") from exc
    data = envelope.data or WebhookData()
    kind = _kind(envelope.event, data)
    return AtsEvent(
        # Lever's schema lists a top-level `id`, its example has none: the token (random per delivery) stands in
        event_id=envelope.id or envelope.token, vendor="lever", action=envelope.event, kind=kind,
        person_id=data.contact_id, application_id=data.opportunity_id, to_stage_id=data.to_stage_id,
        from_stage_id=data.from_stage_id, status=_status(kind), occurred_at=occurred_at,
        raw_action_known=envelope.event in EVENTS,
        # No actor and no job: the reference's data carries ids of the opportunity and stages only.
    )


def _kind(event: str, data: WebhookData) -> AtsEventKind:
    kind = EVENTS.get(event, "unknown")
    if kind != "unknown" and not (data.opportunity_id or data.candidate_id or data.contact_id):
        return "ping"  # the test ping: `candidateHired` with `data: {}` (reference 3.4)
    if kind == "archived" and "to_archived" in data.model_fields_set and data.to_archived is None:
        return "unrejected"  # unarchived: back in the pipeline (see WebhookData.to_archived: unsure)
    return kind


def _status(kind: AtsEventKind) -> str | None:
    return {"hired": "hired", "archived": "archived", "unrejected": "active"}.get(kind)
