"""Demo scenes of the LinkedIn → ATS sync: exports into both ATSs, a prevented duplicate, InMail notes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
from rich.table import Table
from sqlmodel import Session

from bot.domain.prospect import NeedsAttention, Prospect
from bot.sync import SYNC, Outcome
from bot.web import create_web_app
from integrations.ats import NewCandidate
from integrations.sandbox.server import serve_in_thread
from integrations.sandbox.world import LINKEDIN_CUSTOMERS
from storage.candidates import open_attention
from storage.queue import Claimed

if TYPE_CHECKING:
    from bot.demo.script import Demo

CLIENT_IDS = {c.tenant: c.client_id for c in LINKEDIN_CUSTOMERS}
SEATS = {c.tenant: c.seats[0] for c in LINKEDIN_CUSTOMERS}
KEY_NAMES = {"linkedin": "LinkedIn URL", "linkedin_member": "LinkedIn member id", "email": "email",
             "phone": "phone"}
HOW = {"created": "created", "known": "matched (local identity index)", "email": "matched by email in the ATS",
       "recovered": "recovered after an interruption"}


def person(first: str, last: str, slug: str, **extra: Any) -> dict[str, Any]:
    return {"firstName": first, "lastName": last, "profileUrl": f"https://www.linkedin.com/in/{slug}", **extra}


def start_web(demo: Demo) -> None:
    """Serve the bot's web app and register each tenant's One-Click Export callback with LinkedIn."""
    web = serve_in_thread(create_web_app(demo.rt.engine, exports=demo.rt.exports(),
                                         ats_webhooks=demo.rt.ats_webhooks()), "hirebridge")
    demo.extra_servers.append(web)
    demo.web_url = web.url
    for tenant in CLIENT_IDS:
        demo.rt.connections().linkedin(tenant).register_callback_url(f"{web.url}/webhooks/linkedin/{tenant}")
    demo.console.print(f"  hirebridge serve is listening on {web.url}; LinkedIn callbacks registered")


def record_sync_outcomes(demo: Demo) -> None:
    """Wrap the sync handler so the demo can say what happened to each prospect."""
    sync = demo.rt.sync_service()

    def run(session: Session, item: Claimed) -> None:
        prospect = Prospect.from_payload(item.payload["prospect"])
        result = sync.sync(session, demo.rt.app_config().tenant(item.payload["tenant"]), prospect,
                           owner=item.dedupe_key)
        demo.synced.append((item.payload["tenant"], prospect, result))

    demo.handler_overrides[SYNC] = run


def export(demo: Demo, tenant: str, people: list[dict[str, Any]], job: str | None) -> None:
    body: dict[str, Any] = {"client_id": CLIENT_IDS[tenant], "candidates": people}
    if job:
        body["externalJobPostingId"] = job
    answer = httpx.post(f"{demo.sims.url('linkedin')}/_sandbox/exports", json=body, timeout=30).json()
    names = ", ".join(f"{p['firstName']} {p['lastName']}".strip() for p in people)
    delivered = "delivered" if answer["delivered"] else "NOT delivered"
    demo.console.print(f"  LinkedIn pushed export {answer['requestId']} ({names}): {delivered}")


def scene_exports(demo: Demo) -> bool:
    demo.step("4. LinkedIn One-Click Exports",
              "Acme's Greenhouse already holds Jane Doe, dropped in by LinkedIn's native connector with no email "
              "and her URL written its own way. The ATS mirror pulls her into the local identity index; then "
              "recruiters export five people into two ATSs, and one record LinkedIn sent without a last name.")
    start_web(demo)
    record_sync_outcomes(demo)
    ats = demo.rt.connections().ats_adapter("acme")
    native = NewCandidate(first_name="Jane", last_name="Doe", job_id="4402", source="LinkedIn (Prospecting)",
                          links=("linkedin.com/in/Jane-Doe-1a2b3c/",))
    ats.create_candidate(native)
    with Session(demo.rt.engine) as session, session.begin():
        report = demo.rt.mirror().pull(session, demo.rt.app_config().tenant("acme"))
    demo.console.print(f"  ATS mirror: {report.seen} people read from Greenhouse into the local index")
    demo.ats_calls_before = {t.id: demo.rt.connections().ats_adapter(t.id).api_calls
                             for t in demo.rt.app_config().tenants}
    export(demo, "acme", [person("Jane", "Doe", "jane-doe-1a2b3c"), person("Omar", "Haddad", "omar-haddad"),
                          person("Lin", "Zhou", "lin-zhou", emailAddresses=["lin.zhou@example.com"])], job="4401")
    export(demo, "northwind", [person("Ana", "Lima", "ana-lima"), person("Ben", "Okafor", "ben-okafor")],
           job="post-nw-platform")
    export(demo, "globex", [person("Prince", "", "prince-official")], job="post-gx-design")
    demo.drain()
    show_sync(demo)
    return _all_as_expected(demo)


def show_sync(demo: Demo) -> None:
    table = Table(title="What the sync did")
    for column in ("tenant", "person", "outcome", "ATS record", "job"):
        table.add_column(column)
    for tenant, prospect, result in demo.synced:
        name = f"{prospect.first_name} {prospect.last_name}".strip()
        if isinstance(result, NeedsAttention):
            table.add_row(tenant, name, "[yellow]needs attention[/yellow]", "-", "-")
        elif isinstance(result, Outcome):
            how = HOW.get(result.how, result.how)
            if result.how == "known" and result.matched_by:
                how = f"matched by {KEY_NAMES.get(result.matched_by, result.matched_by)}: no duplicate"
            job = prospect.job_id or "-"
            table.add_row(tenant, name, how, result.person_id[:12],
                          f"{job} (application added)" if result.how != "created" and result.applications_added
                          else job)
    demo.console.print(table)
    with Session(demo.rt.engine) as session:
        for item in open_attention(session):
            demo.console.print(f"  needs attention ({item.tenant_id}): {item.detail.get('first_name')} — "
                               f"{item.reason}", highlight=False)


def _all_as_expected(demo: Demo) -> bool:
    outcomes = {p.first_name: r for _, p, r in demo.synced}
    jane = outcomes.get("Jane")
    created = sum(isinstance(r, Outcome) and r.how == "created" for r in outcomes.values())
    return isinstance(jane, Outcome) and jane.how == "known" and isinstance(outcomes.get("Prince"),
                                                                            NeedsAttention) and created == 4


def scene_inmail(demo: Demo) -> bool:
    demo.step("6. InMail history becomes ATS notes",
              "Rae wrote to Omar on LinkedIn and he answered. The poll reads the seat's InMails in windows of at "
              "most 12 hours and writes each message as one note on his Greenhouse record; a second poll "
              "writes nothing again. His answer also moves his application to Recruiter Screen in Greenhouse.")
    state: Any = demo.sims.states["linkedin"]
    omar = next(e["candidate"]["member"] for x in state.exports.values() for e in x.elements
                if e["candidate"]["firstName"] == "Omar")
    now = int(demo.rt.queue.clock().timestamp() * 1000)
    events = [{"recipients": [omar], "subject": "Senior Backend role at Acme", "createdAt": now - 90_000,
               "text": "Hi Omar, your work on distributed queues caught my eye. Open to a chat?"},
              {"author": omar, "recipients": [SEATS["acme"]], "subject": "RE: Senior Backend role at Acme",
               "createdAt": now - 30_000, "text": "Happy to talk next week."}]
    httpx.post(f"{demo.sims.url('linkedin')}/_sandbox/conversations",
               json={"seat": SEATS["acme"], "events": events}, timeout=10).raise_for_status()
    written = []
    for run in ("first", "second"):
        with Session(demo.rt.engine) as session, session.begin():
            written.append(demo.rt.inmail().poll(session, demo.rt.app_config().tenant("acme")))
        demo.console.print(f"  {run} poll: {written[-1]} note(s) written")
    person_id = next(r.person_id for _, p, r in demo.synced if p.first_name == "Omar" and isinstance(r, Outcome))
    notes = demo.rt.connections().ats_adapter("acme").list_notes(person_id)
    for _, body in notes[:1]:
        demo.console.print(f"  [dim]{body.splitlines()[0]} — {body.splitlines()[1]}[/dim]")
    demo.drain()  # his answer moves his application (linkedin_events.inmail_replied)
    person = demo.rt.connections().ats_adapter("acme").get_person(person_id)
    stages = [a.stage_name for a in person.applications] if person else []
    demo.console.print(f"  his answer moved his Greenhouse application to: {', '.join(map(str, stages))}")
    return written == [2, 0] and len(notes) == 2 and stages == ["Recruiter Screen"]


def scene_calls(demo: Demo) -> bool:
    demo.step("5. API calls used", "Every call the sync made, per ATS, for the people it created or matched.")
    table = Table(title="ATS calls during the exports")
    for column in ("tenant", "ATS", "people synced", "ATS calls", "calls per person"):
        table.add_column(column)
    for tenant in demo.rt.app_config().tenants:
        synced = sum(1 for t, _, r in demo.synced if t == tenant.id and isinstance(r, Outcome))
        calls = demo.rt.connections().ats_adapter(tenant.id).api_calls - demo.ats_calls_before.get(tenant.id, 0)
        table.add_row(tenant.id, tenant.ats, str(synced), str(calls), f"{calls / synced:.1f}" if synced else "-")
    demo.console.print(table)
    return True
