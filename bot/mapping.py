"""What goes where: LinkedIn fields to ATS fields, and each tenant's project and stage maps (for people)."""

from __future__ import annotations

from bot.config_model import LinkedInEvent, Tenant

#: (LinkedIn / CSV field, Greenhouse Harvest v3, Lever)
FIELD_MAP: tuple[tuple[str, str, str], ...] = (
    ("firstName", "first_name", "name (first part)"),
    ("lastName", "last_name", "name (rest)"),
    ("profileUrl (public LinkedIn URL)", "social_media_addresses[]", "links[]"),
    ("emailAddresses[]", "email_addresses[] (type personal)", "emails[]"),
    ("phone (mail stubs, CSV)", "phone_numbers[] (type mobile, E.164)", "phones[] (E.164)"),
    ("currentEmployerNames[0]", "company", "headline (Lever has no company field)"),
    ("headline", "— (no field in Harvest v3)", "headline"),
    ("location", "— (no field in Harvest v3)", "location"),
    ("externalJobPostingId / project", "application.job_id (project map)", "postings[] (project map)"),
    ("the export itself", "initial stage (linkedin_events.exported)", "stage (linkedin_events.exported)"),
    ("InMail messages", "notes (one per message)", "opportunity notes (one per message)"),
)


def project_rows(tenant: Tenant) -> list[tuple[str, str]]:
    """(LinkedIn project, the ATS jobs it maps to) for a tenant."""
    return [(project, ", ".join(f"{j.name} ({j.id})" for j in tenant.jobs_for_project(project)))
            for project in tenant.projects]


def stage_rows(tenant: Tenant) -> list[tuple[str, str, str]]:
    """(job or "all jobs", ATS stage id, name shown on LinkedIn and in alerts)."""
    rows = [("all jobs", stage_id, name) for stage_id, name in tenant.stage_map.stages.items()]
    for job_id, stages in tenant.stage_map.jobs.items():
        job = tenant.job(job_id)
        rows += [(job.name if job else job_id, stage_id, name) for stage_id, name in stages.items()]
    return rows


#: LinkedIn events that move an application, as shown to people
EVENTS: tuple[tuple[LinkedInEvent, str], ...] = (
    ("exported", "Exported from Recruiter"), ("inmail_sent", "InMail sent"), ("inmail_replied", "InMail answered"))


def event_rows(tenant: Tenant) -> list[tuple[str, str]]:
    """(LinkedIn event, the stage it moves each job's application to, or "stage unchanged")."""
    rows = []
    for event, label in EVENTS:
        targets = [f"{job.name}: {tenant.stage_name(stage, job.id) or stage}" for job in tenant.jobs
                   if (stage := tenant.event_stage_id(event, job.id))]
        rows.append((label, "; ".join(targets) or "stage unchanged"))
    return rows
