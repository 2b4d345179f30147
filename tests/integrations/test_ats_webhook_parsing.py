"""Greenhouse and Lever webhook bodies read into the neutral AtsEvent: recorded payloads, no I/O."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from integrations.ats_events import AtsEvent, InvalidEvent
from integrations.greenhouse_webhooks import parse_webhook
from integrations.lever_webhooks import decode_delivery, parse_delivery

PAYLOADS = Path(__file__).resolve().parents[1] / "payloads"
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def payload(name: str) -> dict[str, Any]:
    return dict(json.loads((PAYLOADS / f"{name}.json").read_text()))


def greenhouse(body: Any, event_id: str = "3ce5180d-9119-4ddc-9ef6-21edb6e76f8a") -> AtsEvent:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_webhook(raw, event_id=event_id, now=NOW)


def lever(body: dict[str, Any]) -> AtsEvent:
    return parse_delivery(decode_delivery(json.dumps(body).encode()))


# --- Greenhouse ---

def test_greenhouse_stage_change_reads_the_new_stage_and_no_previous_one() -> None:
    event = greenhouse(payload("greenhouse_webhook_candidate_stage_change"))
    assert event == AtsEvent(
        event_id="3ce5180d-9119-4ddc-9ef6-21edb6e76f8a", vendor="greenhouse", action="candidate_stage_change",
        kind="stage_change", person_id="265772", application_id="265277", job_id="3485", to_stage_id="71416",
        to_stage_name="Assessment", from_stage_id=None, status="active", actor=None,
        occurred_at=datetime(2026, 4, 9, 16, 38, 36, tzinfo=UTC), candidate_name="Sample Candidate",
        owner_email="user3128@example.com")  # the candidate's recruiter: an alert route's DM goes to them


@pytest.mark.parametrize(("action", "kind", "status"), [
    ("new_candidate_application", "application_created", "active"),
    ("hire_candidate", "hired", None),  # the vendor's hire example has no `status`
    ("reject_candidate", "rejected", "rejected"),
])
def test_greenhouse_application_actions_share_the_application_envelope(action: str, kind: str,
                                                                       status: str | None) -> None:
    event = greenhouse(payload(f"greenhouse_webhook_{action}"))
    assert (event.action, event.kind, event.status, event.person_id) == (action, kind, status, "265772")
    assert event.application_id and event.job_id == "3485" and event.raw_action_known


def test_greenhouse_without_last_activity_is_dated_now() -> None:
    assert greenhouse(payload("greenhouse_webhook_hire_candidate")).occurred_at == NOW


@pytest.mark.parametrize("action", ["unreject_candidate", "unhire_candidate"])
def test_greenhouse_unreject_and_unhire_read_as_back_to_active(action: str) -> None:
    body = payload("greenhouse_webhook_reject_candidate")
    body["action"] = action
    body["payload"]["application"].update(status="active", rejected_at=None, rejection_reason=None)
    event = greenhouse(body)
    assert (event.kind, event.status, event.to_stage_name) == ("unrejected", "active", "Offer")


def test_greenhouse_prospect_with_no_current_stage_has_no_stage() -> None:
    body = payload("greenhouse_webhook_new_candidate_application")
    body["action"] = "new_prospect_application"
    body["payload"]["application"].update(prospect=True, current_stage=None, jobs=[])
    event = greenhouse(body)
    assert (event.kind, event.to_stage_id, event.to_stage_name, event.job_id) == (
        "application_created", None, None, None)


def test_greenhouse_merge_names_the_losing_and_the_winning_record() -> None:
    event = greenhouse(payload("greenhouse_webhook_merge_candidate"))
    assert (event.kind, event.person_id, event.merged_into, event.application_id) == (
        "merged", "37031511", "457456", None)
    assert event.candidate_name == "Sample Duplicate" and event.occurred_at == NOW


def test_greenhouse_delete_reads_the_person() -> None:
    event = greenhouse(payload("greenhouse_webhook_delete_candidate"))
    assert (event.kind, event.person_id, event.merged_into) == ("deleted", "37031511", None)


def test_greenhouse_update_candidate_reads_payload_candidate() -> None:
    body = {"action": "update_candidate", "payload": {"candidate": {
        "id": 15696179, "first_name": "Ronald", "last_name": "Example", "title": "Director", "tags": ["foo"]}}}
    event = greenhouse(body)
    assert (event.kind, event.person_id, event.candidate_name) == (
        "candidate_updated", "15696179", "Ronald Example")


@pytest.mark.parametrize("body", [
    {"action": "ping", "payload": {"web_hook": {"url": "https://bot.example/webhooks/greenhouse/acme"}}},
    {"action": "ping"},
    {"payload": {}},
    {"action": "candidate_stage_change", "payload": {}},
    {"action": "merge_candidate", "payload": {"application": None}},
], ids=["ping", "ping-bare", "no-action", "no-application", "no-person"])
def test_greenhouse_ping_or_a_body_without_its_record_is_a_ping(body: dict[str, Any]) -> None:
    event = greenhouse(body)
    assert event.kind == "ping" and not event.needs_work and event.application_id is None


def test_greenhouse_unknown_action_is_kind_unknown_not_an_error() -> None:
    event = greenhouse({"action": "job_created", "payload": {"job": {"id": 1, "name": "Designer"}}})
    assert (event.kind, event.action, event.raw_action_known, event.needs_work) == (
        "unknown", "job_created", False, False)


def test_greenhouse_unknown_action_with_an_odd_application_is_still_unknown() -> None:
    assert greenhouse({"action": "offer_created", "payload": {"application": {"no": "id"}}}).kind == "unknown"


@pytest.mark.parametrize("body", [
    b'{"action": "candidate_stage_change"', b"\xff\xfe", b"[]", b'"ping"',
    {"action": 7, "payload": {}}, {"action": "reject_candidate", "payload": []},
    {"action": "candidate_stage_change", "payload": {"application": {"status": "active"}}},
    {"action": "merge_candidate", "payload": {"person": {"id": {"nested": 1}}}},
], ids=["truncated", "not-utf8", "array", "string", "action-type", "payload-type", "no-application-id",
        "person-id-type"])
def test_greenhouse_unreadable_body_raises_invalid_event(body: Any) -> None:
    with pytest.raises(InvalidEvent):
        greenhouse(body)


# --- Lever ---

def test_lever_stage_change_reads_ids_from_and_to() -> None:
    event = lever(payload("lever_webhook_candidate_stage_change"))
    assert event == AtsEvent(
        event_id="b7a1c2d3-0000-4000-8000-000000000001", vendor="lever", action="candidateStageChange",
        kind="stage_change", person_id="05c248f9-ccb1-435f-bab5-0ec608aec263",
        application_id="3410c8b9-5c31-4bab-b7e9-9f710206d647", job_id=None,
        to_stage_id="7c2690d8-6308-4ed9-ae2a-cbfe7db26593", to_stage_name=None,
        from_stage_id="992f01a9-ee19-41d2-ae79-1040701b195c", status=None, actor=None,
        occurred_at=datetime(2015, 5, 12, 18, 12, 10, 72000, tzinfo=UTC))


def test_lever_without_id_uses_the_token_as_event_id() -> None:
    body = payload("lever_webhook_candidate_stage_change")
    del body["id"]
    assert lever(body).event_id == body["token"]


def test_lever_test_ping_is_a_ping() -> None:
    event = lever(payload("lever_webhook_test_ping"))
    assert (event.kind, event.action, event.event_id, event.needs_work) == (
        "ping", "candidateHired", "0d4a5c39e1b7f28a6c3e9d1b4f7a2c5e8b0d3f6a9c2e5b8d", False)


@pytest.mark.parametrize(("event_name", "extra", "kind", "status"), [
    ("candidateHired", {}, "hired", "hired"),
    ("candidateDeleted", {}, "deleted", None),
    ("applicationCreated", {}, "application_created", None),
    ("candidateArchiveChange", {"toArchived": {"archivedAt": 1431454330072, "reason": "r-1"}}, "archived",
     "archived"),
    ("candidateArchiveChange", {"fromArchived": {"reason": "r-1"}, "toArchived": None}, "unrejected", "active"),
    ("interviewCreated", {}, "unknown", None),
])
def test_lever_events_map_to_kinds(event_name: str, extra: dict[str, Any], kind: str, status: str | None) -> None:
    body = payload("lever_webhook_candidate_stage_change")
    body["event"] = event_name
    body["data"] = {k: body["data"][k] for k in ("opportunityId", "candidateId", "contactId")} | extra
    event = lever(body)
    assert (event.kind, event.status, event.application_id) == (kind, status, body["data"]["opportunityId"])
    assert event.raw_action_known is (kind != "unknown")


@pytest.mark.parametrize("raw", [b"{", b"[1]", b"\xff"], ids=["truncated", "array", "not-utf8"])
def test_lever_undecodable_body_raises_invalid_event(raw: bytes) -> None:
    with pytest.raises(InvalidEvent):
        decode_delivery(raw)


@pytest.mark.parametrize("change", [{"triggeredAt": "soon"}, {"event": None}, {"token": None},
                                    {"data": ["x"]}, {"triggeredAt": 10**20}],
                         ids=["triggered-text", "no-event", "no-token", "data-list", "triggered-overflow"])
def test_lever_envelope_without_its_fields_raises_invalid_event(change: dict[str, Any]) -> None:
    with pytest.raises(InvalidEvent):
        lever(payload("lever_webhook_candidate_stage_change") | change)


# --- the neutral event ---

def test_event_round_trips_through_json() -> None:
    event = greenhouse(payload("greenhouse_webhook_candidate_stage_change"))
    as_json = json.loads(json.dumps(event.to_json()))
    assert as_json["occurred_at"] == "2026-04-09T16:38:36+00:00"
    assert AtsEvent.from_json(as_json) == event
