"""A person stored everywhere HireBridge keeps anything, a namesake who must survive their erasure, and a scan of
every table for what is left of the erased one."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Text, cast, select
from sqlmodel import Session

from bot.erasure_outside import ERASE_OUTSIDE
from bot.similar import refresh_blocks
from bot.stage_push import STAGE_PUSH
from bot.sync import SYNC
from integrations.ats import NewCandidate
from storage.candidates import add_keys, record_attention
from storage.db import transaction
from storage.inbox import record_event
from storage.models import (
    Application,
    AuditEntry,
    Candidate,
    CandidateIdentity,
    Incident,
    IntegrationHealth,
    JobRun,
    Note,
    OutboxMessage,
    OutboxState,
    StageEvent,
    WorkItem,
    WorkState,
    metadata,
    table,
)
from storage.outbox import add_message
from storage.proposals import add_proposal
from storage.queue import enqueue
from tests.bot.world import World

FIRST, LAST = "Zoë", "Ångström-Weiß"  # both people have this name; non-ASCII on purpose (JSON escapes)
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Person:
    email: str
    phone: str
    url: str
    key: str  # the LinkedIn URL key
    member: str
    marker: str  # a word only their own notes hold
    tag: str  # what their work items' and webhooks' ids are made of (ids, not personal data)
    ats_id: str = ""
    application_id: str = ""
    candidate_id: int = 0
    local_application: int = 0

    def values(self) -> list[str]:
        """What must not be left anywhere once they are erased (the shared name aside)."""
        return [self.email, self.phone, self.phone.removeprefix("+1"), self.key, self.member, self.marker,
                self.ats_id, self.application_id]


ERASED = Person("zoe.erased@example.org", "+14155550123", "https://www.linkedin.com/in/zoe-erased-77/",
                "linkedin.com/in/zoe-erased-77", "urn:li:person:ErAsEdZoe", "cobalt-lantern", "tag-e1")
KEPT = Person("zoe.kept@example.net", "+14155550987", "https://www.linkedin.com/in/zoe-kept-88",
              "linkedin.com/in/zoe-kept-88", "urn:li:person:KePtZoe", "amber-harbour", "tag-k1")


def in_ats(world: World, person: Person, job: str) -> Person:
    """The person in Greenhouse, mirrored locally (candidate, keys, name blocks, application), on LinkedIn."""
    tenant = world.rt.app_config().tenant("acme")
    created, application = world.rt.connections().ats_adapter("acme").create_candidate(NewCandidate(
        first_name=FIRST, last_name=LAST, job_id=job, emails=(person.email,), phones=(person.phone,),
        links=(person.url,), company="Nordlicht GmbH"))
    with transaction(world.rt.engine) as s:
        world.rt.mirror().absorb(s, tenant, world.rt.connections().ats_adapter("acme").get_person(
            created.person_id) or created)
    with transaction(world.rt.engine) as s:
        row = s.execute(select(Candidate).where(Candidate.ats_candidate_id == created.person_id)).scalar_one()
        row.profile_url = person.url
        s.add(row)
        add_keys(s, "acme", row.id or 0, [("linkedin_member", person.member)])
        refresh_blocks(s, row, "US")
        app = s.execute(select(Application).where(Application.candidate_id == row.id)).scalar_one()
        world.rt.push_back().push_candidate(s, tenant, row)
        return Person(**{**person.__dict__, "ats_id": created.person_id,
                         "application_id": application.application_id, "candidate_id": row.id or 0,
                         "local_application": app.id or 0})


def everywhere(world: World, p: Person) -> None:
    """Every other table that can name them: history, notes, problems, webhooks, work, messages, logs."""
    name = f"{FIRST} {LAST}"
    prospect = {"first_name": FIRST, "last_name": LAST, "emails": [p.email], "profile_url": p.url,
                "member_urn": p.member, "source": "export", "source_id": f"req-{p.tag}:{p.member}"}
    with transaction(world.rt.engine) as s:
        s.add(StageEvent(tenant_id="acme", application_id=p.local_application, event_key=f"gh:{p.tag}",
                         to_stage="Onsite", source="ats", occurred_at=NOW))
        s.add(Note(tenant_id="acme", candidate_id=p.candidate_id, source_id=f"inmail:{p.tag}",
                   body=f"InMail: about the {p.marker} project"))
        record_attention(s, tenant_id="acme", source="export", source_id=f"req-{p.tag}:{p.member}",
                         reason="no job mapped", detail=prospect)
        record_attention(s, tenant_id="acme", source="linkedin_push", source_id=f"{p.ats_id}:1700000000000",
                         reason="LinkedIn refused the candidate", detail={"first_name": FIRST, "last_name": LAST})
        add_proposal(s, tenant_id="acme", record_a=p.ats_id, record_b="53999999", score=0.9, confidence="likely",
                     reasons=["same name"], origin="scan", now=NOW,
                     details={"a": {"name": name, "emails": [p.email]}, "b": {"name": "Someone Else"}})
        person = {"id": int(p.ats_id), "first_name": FIRST, "last_name": LAST,
                  "email_addresses": [{"value": p.email}], "social_media_addresses": [{"value": p.url}]}
        webhook = {"action": "candidate_stage_change",
                   "payload": {"application": {"id": int(p.application_id), "candidate": person}}}
        body = json.dumps(webhook).replace("/", "\\/")  # escaped as Greenhouse escapes: \u00eb, \/
        record_event(s, provider="greenhouse", tenant_id="acme", event_id=f"ev-{p.tag}", body=body,
                     action="candidate_stage_change")
        enqueue(s, SYNC, {"tenant": "acme", "prospect": prospect}, tenant_id="acme",
                dedupe_key=f"sync:acme:export:req-{p.tag}:{p.member}")
        enqueue(s, STAGE_PUSH, {"tenant": "acme", "application": p.local_application}, tenant_id="acme",
                dedupe_key=f"li-stages:acme:{p.tag}")
        done = enqueue(s, "ats.event", {"tenant": "acme", "event": {"person_id": p.ats_id,
                       "candidate_name": name, "application_id": p.application_id}}, tenant_id="acme",
                       dedupe_key=f"ats-event:greenhouse:acme:ev-{p.tag}")
        dead = enqueue(s, SYNC, {"tenant": "acme", "prospect": {**prospect, "source_id": "csv-1"}},
                       tenant_id="acme", dedupe_key=f"sync:acme:csv:{p.tag}")
        work = table(WorkItem)
        s.execute(work.update().where(work.c.id == done).values(state=WorkState.DONE, finished_at=NOW))
        s.execute(work.update().where(work.c.id == dead).values(
            state=WorkState.DEAD, finished_at=NOW, last_error=f"Rejected: 422 {p.email} is invalid"))
        sent = add_message(s, dedupe_key=f"alert:acme:gh:{p.tag}:C0ACMEENG", channel="C0ACMEENG",
                           payload={"text": f"{name} moved to Onsite", "blocks": []}, tenant_id="acme")
        outbox = table(OutboxMessage)
        s.execute(outbox.update().where(outbox.c.id == sent).values(state=OutboxState.SENT, sent_at=NOW))
        add_message(s, dedupe_key=f"reply:{p.tag}", channel="C0ACMEENG", tenant_id="acme",
                    payload={"text": f"Linked to the existing record of {p.email}"})
        s.add(AuditEntry(at=NOW, actor="greenhouse:webhook", action="candidate.merged", tenant_id="acme",
                         subject=f"candidate:{p.candidate_id}",
                         detail={"absorbed": {"first_name": FIRST, "emails": [p.email], "ats": p.ats_id}}))
        s.add(Incident(tenant_id="acme", kind="api_errors", integration="greenhouse", opened_at=NOW,
                       summary=f"Greenhouse refused {p.email}", detail={"person_id": p.ats_id}))
        s.add(JobRun(job=f"erasure-test-{p.tag}", scheduled_for=NOW, holder="t", status="failed",
                     error=f"boom on {p.phone}"))
    with transaction(world.rt.engine) as s:  # the row exists once the push above recorded its budget
        health = s.get(IntegrationHealth, ("acme", "linkedin")) or IntegrationHealth(
            tenant_id="acme", integration="linkedin")
        health.last_error = f"LinkedIn refused {p.member}"
        s.add(health)


def namesakes_work(world: World, p: Person) -> None:
    """The survivor's own pending work and messages, naming them by the same name (must stay untouched)."""
    with transaction(world.rt.engine) as s:
        enqueue(s, SYNC, {"tenant": "acme", "prospect": {"first_name": FIRST, "last_name": LAST,
                                                         "emails": [p.email]}},
                tenant_id="acme", dedupe_key=f"sync:acme:export:req-{p.tag}:{p.member}")
        enqueue(s, STAGE_PUSH, {"tenant": "acme", "application": p.local_application}, tenant_id="acme",
                dedupe_key=f"li-stages:acme:{p.tag}")
        add_message(s, dedupe_key=f"alert:acme:{p.tag}", channel="C0ACMEENG", tenant_id="acme",
                    payload={"text": f"{FIRST} {LAST} moved to Phone Screen"})
        s.add(Note(tenant_id="acme", candidate_id=p.candidate_id, source_id=f"inmail:{p.tag}",
                   body=f"InMail: about the {p.marker} project"))


def snapshot(engine: Engine, p: Person) -> dict[str, Any]:
    """Everything stored about one person by their own ids and keys (to compare before and after)."""
    with Session(engine) as s:
        def rows(model: type[Any], *where: Any) -> list[dict[str, Any]]:
            return sorted((r.model_dump(mode="json") for r in s.execute(select(model).where(*where)).scalars()),
                          key=lambda r: json.dumps(r, sort_keys=True))
        work = [w for w in rows(WorkItem) if p.tag in w["dedupe_key"]]
        messages = [m for m in rows(OutboxMessage) if p.tag in m["dedupe_key"]]
        return {"candidate": rows(Candidate, Candidate.id == p.candidate_id),
                "keys": rows(CandidateIdentity, CandidateIdentity.candidate_id == p.candidate_id),
                "applications": rows(Application, Application.candidate_id == p.candidate_id),
                "notes": rows(Note, Note.candidate_id == p.candidate_id), "work": work, "messages": messages}


def leftovers(engine: Engine, values: list[str], *, skip_kinds: tuple[str, ...] = ()) -> list[str]:
    """Every (table, column) still holding one of `values`: every column of every table, cast to text, raw
    and JSON-escaped (`\\uXXXX`, `\\/`), case-insensitive."""
    forms = {f for v in values if v for f in (v.casefold(), json.dumps(v)[1:-1].casefold(),
                                              json.dumps(v)[1:-1].replace("/", "\\/").casefold())}
    found = []
    with engine.connect() as conn:
        for t in metadata.sorted_tables:
            for row in conn.execute(select(*(cast(c, Text).label(c.name) for c in t.columns))):
                cells = row._mapping
                if t.name == "workitem" and cells["kind"] in skip_kinds:
                    continue
                found += [f"{t.name}.{column}: {value!r}" for column, value in cells.items()
                          for form in forms if value is not None and form in str(value).casefold()]
    return found


def outside_items(engine: Engine) -> list[WorkItem]:
    with Session(engine) as s:
        return list(s.execute(select(WorkItem).where(WorkItem.kind == ERASE_OUTSIDE)).scalars())
