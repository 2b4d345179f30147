"""ATS webhooks (Greenhouse, Lever): verified, recorded once in the inbox, queued as `ats.event`; answered at once.

What each answer means to the vendor (both retry anything but 2xx):
- 200 `{"ok": true, "duplicate": false}`: recorded (and queued, unless a ping or an action we do not read);
- 200 `{"ok": true, "duplicate": true}`: seen before (a vendor retry, or a replayed Lever token); nothing changed;
- 400: not a delivery we can read (a signed but unreadable Greenhouse body is kept once for ops);
- 401: bad or missing signature, or a stale Lever delivery; nothing stored;
- 404: no such tenant, or it has no connection (or secret) for this vendor; nothing stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from bot.config_model import AppConfig
from bot.stage_events import ATS_EVENT
from integrations import greenhouse, greenhouse_webhooks, lever, lever_webhooks
from integrations.ats_events import AtsEvent, AtsVendor, InvalidEvent
from storage.db import transaction
from storage.inbox import MAX_EVENT_ID, record_event, record_invalid, storable_id
from storage.models import utcnow
from storage.queue import Priority, enqueue

#: How old a Lever delivery's `triggeredAt` may be. The reference suggests rejecting stale ones, not how stale.
#: Lever's retries ("five times, waiting longer and longer") resend the original `triggeredAt` (so does the
#: simulator), so a short window would refuse a retry for good and lose the event. Replays are refused by their
#: token at any age; this window only bounds how old a captured delivery may be.
DEFAULT_MAX_AGE = timedelta(days=3)
LABEL: dict[AtsVendor, str] = {"greenhouse": "Greenhouse", "lever": "Lever"}

Answer = tuple[int, dict[str, Any]]


@dataclass
class AtsWebhooks:
    """The ATS webhook routes' logic: no HTTP calls, one short transaction per delivery."""

    engine: Engine
    config: AppConfig
    environ: Mapping[str, str]
    clock: Callable[[], datetime] = utcnow
    max_age: timedelta = DEFAULT_MAX_AGE

    def accept_greenhouse(self, tenant_id: str, raw_body: bytes, headers: Mapping[str, str]) -> Answer:
        """`Signature: sha256 <hex>` over the raw bytes, then the `Greenhouse-Event-ID`, then the body."""
        secret, problem = self._secret(tenant_id, "greenhouse")
        if secret is None:
            return 404, {"error": problem}
        lowered = {name.lower(): value for name, value in headers.items()}
        if not greenhouse.verify_webhook_signature(secret, raw_body, lowered.get("signature")):
            return 401, {"error": "bad or missing Signature"}
        event_id = lowered.get("greenhouse-event-id", "").strip()
        if not event_id or len(event_id) > MAX_EVENT_ID:
            return 400, {"error": f"the Greenhouse-Event-ID header is required (at most {MAX_EVENT_ID} chars)"}
        try:
            event = greenhouse_webhooks.parse_webhook(raw_body, event_id=event_id, now=self.clock())
        except InvalidEvent as exc:
            _record_invalid(self.engine, "greenhouse", tenant_id, raw_body, str(exc))
            return 400, {"error": str(exc)}
        return self._record(tenant_id, event, raw_body)

    def accept_lever(self, tenant_id: str, raw_body: bytes) -> Answer:
        """`signature` = HMAC(token + triggeredAt) in the body; then freshness, then the token used once."""
        secret, problem = self._secret(tenant_id, "lever")
        if secret is None:
            return 404, {"error": problem}
        try:
            body = lever_webhooks.decode_delivery(raw_body)
        except InvalidEvent as exc:  # its signature is inside the body: unreadable means unverifiable
            return 400, {"error": str(exc)}
        if not lever.verify_webhook_signature(secret, body):
            return 401, {"error": "bad or missing signature"}
        try:
            event = lever_webhooks.parse_delivery(body)
        except InvalidEvent as exc:  # signed, but Lever signs only token + triggeredAt: nothing worth keeping
            return 400, {"error": str(exc)}
        token = str(body["token"])
        if not storable_id(event.event_id) or not storable_id(token):  # each keys a row (the token: its guard)
            return 400, {"error": f"the delivery id and token must be 1 to {MAX_EVENT_ID} chars, without NUL"}
        # 401, not 400: the body is well formed, but an old validly signed delivery is what a captured one replayed
        # looks like, so freshness is part of proving the sender. A `triggeredAt` as far in the future is refused
        # too (clock skew gets the same window). Unsure: whether Lever re-signs its retries (or a manual "Rerun")
        # with a new triggeredAt is undocumented; if not, a retry arriving after the window (we were down) is
        # refused for good. Hence the window is a parameter.
        if abs(self.clock() - event.occurred_at) > self.max_age:
            return 401, {"error": "stale delivery: triggeredAt is outside the accepted window"}
        return self._record(tenant_id, event, raw_body, token_key=None if token == event.event_id else token)

    def _secret(self, tenant_id: str, vendor: AtsVendor) -> tuple[str | None, str]:
        """The tenant's webhook secret for `vendor`, or None and why there is none."""
        try:
            tenant = self.config.tenant(tenant_id)
        except KeyError:
            return None, f"no tenant {tenant_id!r}"
        if vendor == "greenhouse":
            env = tenant.greenhouse.webhook_secret_env if tenant.greenhouse else None
        else:
            env = tenant.lever.signature_token_env if tenant.lever else None
        if env is None:
            return None, f"tenant {tenant_id!r} has no {LABEL[vendor]} connection"
        secret = self.environ.get(env)
        if not secret:  # an empty key would make every signature forgeable
            return None, f"tenant {tenant_id!r} has no {LABEL[vendor]} webhook secret set"
        return secret, ""

    def _record(self, tenant_id: str, event: AtsEvent, raw_body: bytes, token_key: str | None = None) -> Answer:
        """Inbox row (once per event id) and the work item, in one transaction; a replayed token is a no-op."""
        with transaction(self.engine) as s:
            # Lever signs only token + triggeredAt, so a captured token could carry another id and other data:
            # each token is claimed once, apart from the event id. The inbox has no column for it, hence a row.
            if token_key is not None and record_event(
                    s, provider=event.vendor, tenant_id=tenant_id, event_id=f"token:{token_key}",
                    body=json.dumps({"event_id": event.event_id}), action="token", status="replay-guard") is None:
                return 200, {"ok": True, "duplicate": True}
            new = record_event(s, provider=event.vendor, tenant_id=tenant_id, event_id=event.event_id,
                               body=raw_body.decode("utf-8", "replace"), action=event.action,
                               status="accepted" if event.needs_work else "ignored")
            if new is not None and event.needs_work:
                enqueue(s, ATS_EVENT, {"tenant": tenant_id, "event": event.to_json()}, tenant_id=tenant_id,
                        dedupe_key=f"ats-event:{event.vendor}:{tenant_id}:{event.event_id}",
                        priority=Priority.PUSH)
        return 200, {"ok": True, "duplicate": new is None}


def _record_invalid(engine: Engine, provider: str, tenant_id: str, raw_body: bytes, error: str) -> None:
    with transaction(engine) as s:
        record_invalid(s, provider=provider, tenant_id=tenant_id, raw_body=raw_body, error=error)
