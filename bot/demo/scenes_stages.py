"""Demo scene: ATS stage changes reach the hiring channels and LinkedIn; a re-sent webhook does nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
from sqlmodel import Session, col, select

from integrations.sandbox.world import ACME_GREENHOUSE, NORTHWIND_LEVER
from storage.models import Application, Candidate, StageEvent

if TYPE_CHECKING:
    from bot.demo.script import Demo


def application_of(demo: Demo, tenant: str, first_name: str, job: str) -> tuple[Application, Candidate]:
    with Session(demo.rt.engine) as s:
        row = s.exec(select(Application, Candidate).where(
            Application.candidate_id == Candidate.id, Candidate.tenant_id == tenant, Application.job_id == job,
            Candidate.first_name == first_name)).first()
    assert row is not None, f"{first_name} was exported into {tenant} earlier in the demo"
    return row


def stage_history(demo: Demo, app: Application) -> list[str]:
    with Session(demo.rt.engine) as s:
        events = s.exec(select(StageEvent).where(StageEvent.application_id == app.id).order_by(col(StageEvent.id)))
        return [f"{e.from_stage or '—'} → {e.to_stage} ({e.source})" for e in events]


def linkedin_stages(demo: Demo, app: Application) -> list[str]:
    state: Any = demo.sims.states["linkedin"]
    with state.lock:
        found = [e for (_, a), entities in state.stages.items() if a == app.ats_application_id
                 for e in entities.values()]
    return [e["stage"] for e in sorted(found, key=lambda e: e["atsCreatedAt"])]


def scene_stage_alerts(demo: Demo) -> bool:
    demo.step("8. Hiring managers hear about it",
              "Greenhouse and Lever send signed webhooks when a recruiter moves a candidate. The bot checks the "
              "signature, records the move (Greenhouse does not say where from, so the last stage seen is the "
              "'from'), writes the stage history to LinkedIn Recruiter, and alerts the channels whose routes "
              "name the stage — once. Where a route asks for it, the candidate's owner in the ATS gets a direct "
              "message too (found in Slack by email). Lever then re-sends one webhook, as vendors do: nothing "
              "changes. A stage the map does not name is recorded and reported to ops once, never alerted under a "
              "default.")
    web = demo.web_url
    gh, lever = demo.sims.url("greenhouse"), demo.sims.url("lever")
    httpx.post(f"{gh}/_sandbox/webhooks", json={"url": f"{web}/webhooks/greenhouse/acme",
                                                 "account": ACME_GREENHOUSE.client_id, "time_scale": 0.0001},
               timeout=10).raise_for_status()
    subscription = {"url": f"{web}/webhooks/lever/northwind", "api_key": NORTHWIND_LEVER.api_key}
    httpx.post(f"{lever}/_sandbox/webhooks", json=subscription, timeout=10).raise_for_status()
    demo.console.print("  webhooks registered: Greenhouse → /webhooks/greenhouse/acme, Lever → "
                       "/webhooks/lever/northwind")

    omar, _ = application_of(demo, "acme", "Omar", "4401")
    moved = {"account": ACME_GREENHOUSE.client_id, "action": "candidate_stage_change",
             "application_id": int(omar.ats_application_id), "to_stage_id": 7003}
    httpx.post(f"{gh}/_sandbox/emit", json=moved, timeout=10).raise_for_status()
    demo.console.print("  Greenhouse: Rae moves Omar Haddad to Phone Screen")

    ana, ana_person = application_of(demo, "northwind", "Ana", "post-nw-platform")
    data = {"opportunityId": ana.ats_application_id, "candidateId": ana.ats_application_id,
            "contactId": ana_person.ats_candidate_id, "toStageId": "stage-nw-phone",
            "fromStageId": ana.stage_id or "stage-nw-new"}
    resent = []
    for attempt in ("first delivery", "re-sent by Lever"):
        answer = httpx.post(f"{lever}/_sandbox/emit", timeout=10, json={
            "api_key": NORTHWIND_LEVER.api_key, "event": "candidateStageChange", "data": data,
            "id": "demo-lever-ana-phone"}).json()
        resent.append(answer["ok"])
        demo.console.print(f"  Lever: Ana Lima to Phone screen ({attempt})")
    omar_data, _ = application_of(demo, "acme", "Omar", "4402")
    odd = {"account": ACME_GREENHOUSE.client_id, "action": "candidate_stage_change",
           "application_id": int(omar_data.ats_application_id), "to_stage_id": 7106}
    httpx.post(f"{gh}/_sandbox/emit", json=odd, timeout=10).raise_for_status()
    demo.console.print("  Greenhouse: someone moves Omar's Data Engineer application to 'Take-home Assignment', "
                       "a stage the stage map does not name")
    for state in ("greenhouse", "lever"):
        sim: Any = demo.sims.states[state]
        sim.webhooks.join(10)
    demo.drain()
    demo.relay()

    for app, who in ((omar, "Omar"), (ana, "Ana")):
        demo.console.print(f"  {who}'s stage history: " + "; ".join(stage_history(demo, app)), highlight=False)
    demo.console.print("  on LinkedIn Recruiter, Omar's application: " + " → ".join(linkedin_stages(demo, omar)),
                       highlight=False)
    messages = httpx.get(f"{demo.sims.url('slack')}/_sandbox/messages", timeout=10).json()["messages"]
    alerts = [m for m in messages if m["channel"] in ("C0ACMEENG", "C0NWHIRE")]
    slack: Any = demo.sims.states["slack"]
    dms = [(slack.users[slack.ims[m["channel"]]], m["text"]) for m in messages if m["channel"] in slack.ims]
    for who, text in dms:
        demo.console.print(f"  direct message to {who} (owns the candidate in the ATS): {text}", highlight=False)
    notices = [m for m in messages if m["channel"] == "C0ACMEOPS" and "Unmapped" in m["text"]]
    history = stage_history(demo, omar) + stage_history(demo, ana)
    return (len(alerts) == 2 and len(notices) == 1 and all(resent) and [who for who, _ in dms] == ["Nia Recruiter"]
            and linkedin_stages(demo, omar)[-1:] == ["Phone Screen"] and sum("Phone" in h for h in history) == 2
            and "Take-home Assignment" not in linkedin_stages(demo, omar_data))
