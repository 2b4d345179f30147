"""POST /webhooks/linkedin/{tenant}: verified on raw bytes, recorded once, queued; bad input touches nothing."""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx
import pytest
from sqlmodel import Session, select

from bot.exports import EXPORT
from integrations.linkedin import challenge_response
from integrations.sandbox.world import LINKEDIN_CUSTOMERS
from storage.models import InboxEvent, WorkItem
from tests.bot.world import World

pytestmark = pytest.mark.slow
SECRET = LINKEDIN_CUSTOMERS[0].client_secret


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), b"hmacsha256=" + body, hashlib.sha256).hexdigest()
    return {"X-LI-Signature": digest, "Content-Type": "application/json"}


def post(world: World, body: bytes, headers: dict[str, str], tenant: str = "acme") -> httpx.Response:
    return httpx.post(f"{world.web.url}/webhooks/linkedin/{tenant}", content=body, headers=headers)


def rows(world: World) -> tuple[list[InboxEvent], list[WorkItem]]:
    with Session(world.rt.engine) as s:
        return list(s.exec(select(InboxEvent)).all()), list(s.exec(select(WorkItem)).all())


def test_push_is_recorded_and_queued_once_however_often_it_arrives(world: World) -> None:
    body = json.dumps({"id": "6998431234567890123", "type": "EXPORT_CANDIDATE_PROFILE"}).encode()
    answers = [post(world, body, signed(body)) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.json()["duplicate"] for a in answers] == [False, True, True]
    inbox, items = rows(world)
    assert len(inbox) == 1 and [i.kind for i in items] == [EXPORT]
    assert items[0].priority < 50, "pushes run ahead of polls and backfills"


@pytest.mark.parametrize("headers", [{}, {"X-LI-Signature": "0" * 64}, signed(b"other body")],
                         ids=["missing", "wrong", "for-another-body"])
def test_bad_signature_is_401_and_writes_nothing(world: World, headers: dict[str, str]) -> None:
    body = json.dumps({"id": "1", "type": "EXPORT_CANDIDATE_PROFILE"}).encode()
    response = post(world, body, headers)
    assert response.status_code == 401
    assert rows(world) == ([], [])


def test_signed_but_unreadable_body_is_400_and_kept_for_ops(world: World) -> None:
    body = b'{"type": "EXPORT_CANDIDATE_PROFILE"'
    response = post(world, body, signed(body))
    assert response.status_code == 400
    inbox, items = rows(world)
    assert [(e.status, e.body) for e in inbox] == [("invalid", body.decode())] and items == []


def test_unknown_event_type_is_acknowledged_and_recorded_as_ignored(world: World) -> None:
    body = json.dumps({"id": "9", "type": "INTEGRATION_STATUS_CHANGE"}).encode()
    assert post(world, body, signed(body)).status_code == 200
    inbox, items = rows(world)
    assert [(e.action, e.status) for e in inbox] == [("INTEGRATION_STATUS_CHANGE", "ignored")] and items == []


def test_unknown_tenant_is_404(world: World) -> None:
    body = b"{}"
    assert post(world, body, signed(body), tenant="nobody").status_code == 404


def test_validation_challenge_is_answered_with_the_tenant_secret(world: World) -> None:
    code = "890e4665-4dfe-4ab1-b689-ed553bceeed0"
    response = httpx.get(f"{world.web.url}/webhooks/linkedin/acme", params={"challengeCode": code})
    assert response.json() == {"challengeCode": code, "challengeResponse": challenge_response(code, SECRET)}
    assert httpx.get(f"{world.web.url}/webhooks/linkedin/acme").status_code == 400
