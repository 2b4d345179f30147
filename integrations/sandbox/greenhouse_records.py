"""The Greenhouse simulator's records: one organisation's users, jobs, candidates, applications and notes."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from integrations.sandbox import world
from integrations.sandbox.base import Clock, FixedWindow

Json = dict[str, Any]

LIST_FIELDS = ("email_addresses", "phone_numbers", "addresses", "website_addresses", "social_media_addresses",
               "tags")  # a PATCH replaces these whole (reference 3.2)
VISIBILITY = {"public": "publicly_visible", "private": "privately_visible", "admin_only": "admin_only_visible"}
EMAIL_NOTE_FIELDS = ("subject", "email_from", "email_to", "email_cc")
FIRST_IDS = {"candidate": 53_000_001, "application": 69_000_001, "application_stage": 99_000_001,
             "note": 88_000_001}


class Invalid(Exception):
    """A request the vendor answers 422; `errors` holds the envelope's entries."""

    def __init__(self, *errors: str | dict[str, str]) -> None:
        super().__init__(*errors)
        self.errors: list[str | dict[str, str]] = list(errors)


class NotFound(Exception):
    """The vendor's 404 `Resource not found`."""


def iso(epoch: float, *, millis: bool = True) -> str:
    """ISO-8601 UTC as Greenhouse writes it: `2026-08-01T10:00:00.000Z`."""
    moment = datetime.fromtimestamp(epoch, UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{moment.microsecond // 1000:03d}Z" if millis else f"{text}Z"


@dataclass
class Account:
    """One Greenhouse organisation: credentials, reference data, and the records the API writes."""

    client_id: str
    client_secret: str
    webhook_secret: str
    limiter: FixedWindow
    clock: Clock
    users: dict[int, Json] = field(default_factory=dict)
    departments: dict[int, str] = field(default_factory=dict)
    jobs: dict[int, Json] = field(default_factory=dict)
    stages: dict[int, Json] = field(default_factory=dict)
    candidates: dict[int, Json] = field(default_factory=dict)
    applications: dict[int, Json] = field(default_factory=dict)
    notes: dict[int, Json] = field(default_factory=dict)
    _ids: dict[str, itertools.count[int]] = field(
        default_factory=lambda: {kind: itertools.count(first) for kind, first in FIRST_IDS.items()})

    @classmethod
    def from_world(cls, spec: world.GreenhouseAccount, limiter: FixedWindow, clock: Clock) -> Account:
        """An account holding the world's users, jobs and job interview stages."""
        account = cls(spec.client_id, spec.client_secret, spec.webhook_secret, limiter, clock)
        now = account.now()
        account.users = {int(u.id): _user_record(u, now) for u in spec.users}
        names = list(dict.fromkeys(job.department for job in spec.jobs))
        account.departments = {501 + i: name for i, name in enumerate(names)}
        for job in spec.jobs:
            account.jobs[int(job.id)] = _job_record(job, 501 + names.index(job.department), now)
            for order, stage in enumerate(job.stages):  # sort_order 0 is Application Review
                account.stages[int(stage.id)] = {"id": int(stage.id), "job_id": int(job.id), "name": stage.name,
                                                 "sort_order": order, "active": True, "created_at": now,
                                                 "updated_at": now}
        return account

    def now(self) -> str:
        return iso(self.clock())

    def next_id(self, kind: str) -> int:
        return next(self._ids[kind])

    def candidate(self, candidate_id: int) -> Json:
        if candidate_id not in self.candidates:
            raise NotFound(f"candidate {candidate_id} not found")
        return self.candidates[candidate_id]

    def application(self, application_id: int) -> Json:
        if application_id not in self.applications:
            raise NotFound(f"application {application_id} not found")
        return self.applications[application_id]

    def job_stages(self, job_id: int | None) -> list[Json]:
        return sorted((s for s in self.stages.values() if s["job_id"] == job_id), key=lambda s: s["sort_order"])

    def touch(self, candidate_id: int) -> None:
        candidate = self.candidates[candidate_id]
        candidate["updated_at"] = candidate["last_activity_at"] = self.now()

    def create_candidate(self, body: Json) -> tuple[Json, Json | None]:
        """A candidate and, when `application` is sent, their first application at the job's first stage."""
        fields = _candidate_fields(body, creating=True)
        nested = body.get("application")
        if nested is not None and not isinstance(nested, dict):
            raise Invalid({"application": "must be an object"})
        placement = self._placement(nested) if nested else None  # checked first: nothing is half-created
        candidate = {**_blank_candidate(self.next_id("candidate"), self.now()), **fields}
        self.candidates[candidate["id"]] = candidate
        if nested is None or placement is None:
            return candidate, None
        return candidate, self._insert_application(candidate["id"], nested, *placement)

    def update_candidate(self, candidate_id: int, body: Json) -> Json:
        """Change only the keys sent; list fields are replaced whole, custom fields merged by key."""
        candidate = self.candidate(candidate_id)
        fields = _candidate_fields(body, creating=False)
        custom = fields.pop("custom_fields", {})
        candidate.update(fields)
        candidate["custom_fields"] = {**candidate["custom_fields"], **custom}
        self.touch(candidate_id)
        return candidate

    def create_application(self, body: Json) -> Json:
        candidate_id = body.get("candidate_id")
        if not isinstance(candidate_id, int) or candidate_id not in self.candidates:
            raise Invalid({"candidate_id": "must be the id of an existing candidate"})
        if body.get("prospect"):
            raise Invalid("The sandbox does not simulate prospect applications")
        return self._insert_application(candidate_id, body, *self._placement(body))

    def _placement(self, body: Json) -> tuple[int, Json]:
        """Validate an application body: its job and starting stage (`initial_stage_id` or the first)."""
        job_id = body.get("job_id")
        if not isinstance(job_id, int) or job_id not in self.jobs or not self.job_stages(job_id):
            raise Invalid({"job_id": "must be the id of an existing job"})
        for key in ("initial_stage_id", "source_id", "recruiter_id", "coordinator_id", "referrer_id"):
            if body.get(key) is not None and not isinstance(body[key], int):
                raise Invalid({key: "must be an integer id"})
        stages = self.job_stages(job_id)
        wanted = body.get("initial_stage_id", stages[0]["id"])
        stage = next((s for s in stages if s["id"] == wanted), None)
        if stage is None:
            raise Invalid({"initial_stage_id": "must be a stage of the job"})
        return job_id, stage

    def _insert_application(self, candidate_id: int, body: Json, job_id: int, stage: Json) -> Json:
        now = self.now()
        application: Json = {
            "id": self.next_id("application"), "candidate_id": candidate_id, "job_id": job_id,
            "job_post_id": None, "job_interview_stage_id": None, "stage_id": None, "stage_name": None,
            "status": "in_process", "prospect": False, "prospective_job_ids": [],
            "recruiter_id": body.get("recruiter_id"), "coordinator_id": body.get("coordinator_id"),
            "referrer_id": body.get("referrer_id"), "source_id": body.get("source_id"), "rejected_at": None,
            "rejection_reason_id": None, "needs_decision": False, "location_address": None, "answers": [],
            "custom_fields": {}, "agency_note_id": None, "last_activity_at": now, "created_at": now,
            "updated_at": now,
        }
        self._set_stage(application, stage)
        self.applications[int(application["id"])] = application
        return application

    def _set_stage(self, application: Json, stage: Json) -> None:
        # `stage_id` is the application-stage row, a new one per move; the stage definition is
        # `job_interview_stage_id` (reference 3.3: two id spaces)
        application.update(job_interview_stage_id=stage["id"], stage_id=self.next_id("application_stage"),
                           stage_name=stage["name"], job_id=stage["job_id"])
        application["updated_at"] = application["last_activity_at"] = self.now()
        self.touch(application["candidate_id"])

    def move(self, application_id: int, body: Json) -> Json:
        """Move within the job, transfer (`to_job_id`) or advance (neither); `from_stage_id` guards staleness."""
        application = self.application(application_id)
        if application["status"] != "in_process":
            raise Invalid("Only active applications can be moved")
        if not isinstance(body.get("from_stage_id"), int):
            raise Invalid({"from_stage_id": "is required"})
        if body["from_stage_id"] != application["job_interview_stage_id"]:
            raise Invalid({"from_stage_id": "does not match the application's current stage"})
        self._set_stage(application, self._target_stage(application, body))
        return application

    def _target_stage(self, application: Json, body: Json) -> Json:
        to_job, to_stage = body.get("to_job_id"), body.get("to_stage_id")
        if to_job is not None:
            if to_job not in self.jobs or not self.job_stages(to_job):
                raise Invalid({"to_job_id": "must be the id of an existing job"})
            return self.job_stages(to_job)[0]
        stages = self.job_stages(application["job_id"])
        if to_stage is not None:
            match = [s for s in stages if s["id"] == to_stage]
            if not match:
                raise Invalid({"to_stage_id": "must be a stage of the application's job"})
            return match[0]
        later = [s for s in stages if s["sort_order"] > self.stages[body["from_stage_id"]]["sort_order"]]
        if not later:
            raise Invalid("The application is already in the job's last stage")
        return later[0]

    def decide(self, application_id: int, status: str) -> Json:
        """Mark an application hired or rejected (what a recruiter does in the Greenhouse UI)."""
        application = self.application(application_id)
        application.update(status=status, updated_at=self.now(), last_activity_at=self.now())
        if status == "rejected":
            application["rejected_at"] = self.now()
        return application

    def add_note(self, body: Json, author: int | None) -> Json:
        """A note on a candidate; written visibility `private` is read back as `privately_visible`."""
        _check_note(body)
        candidate_id = body["candidate_id"]
        if candidate_id not in self.candidates:
            raise Invalid({"candidate_id": "must be the id of an existing candidate"})
        application_id = body.get("application_id")
        if application_id is not None and self.applications.get(application_id, {}).get(
                "candidate_id") != candidate_id:
            raise Invalid({"application_id": "must be an application of the candidate"})
        if "user_id" in body and body["user_id"] not in self.users:
            raise Invalid({"user_id": "must be the id of a user"})
        note = {"id": self.next_id("note"), "candidate_id": candidate_id, "application_id": application_id,
                "user_id": body.get("user_id", author), "body": body["body"],
                "visibility": VISIBILITY[body.get("visibility", "public")],
                "type": body.get("note_type", "NOTE"), "created_at": self.now(),
                **{k: body[k] for k in EMAIL_NOTE_FIELDS if k in body}}
        self.notes[note["id"]] = note
        self.touch(candidate_id)
        return note

    def merge(self, primary_id: int, duplicate_id: int) -> Json:
        """Fold the duplicate into the primary: applications, notes and contact lists move; it disappears."""
        primary, duplicate = self.candidate(primary_id), self.candidate(duplicate_id)
        if primary_id == duplicate_id:
            raise Invalid({"duplicate_candidate_id": "must differ from the primary candidate"})
        for record in (*self.applications.values(), *self.notes.values()):
            if record["candidate_id"] == duplicate_id:
                record["candidate_id"] = primary_id
        for key in LIST_FIELDS:
            primary[key] = [*primary[key], *(v for v in duplicate[key] if v not in primary[key])]
        del self.candidates[duplicate_id]
        self.touch(primary_id)
        return primary

    def delete_candidate(self, candidate_id: int) -> list[int]:
        """Delete a candidate with their applications and notes; return the deleted application ids."""
        self.candidate(candidate_id)
        gone = sorted(a["id"] for a in self.applications.values() if a["candidate_id"] == candidate_id)
        for application_id in gone:
            del self.applications[application_id]
        self.notes = {k: n for k, n in self.notes.items() if n["candidate_id"] != candidate_id}
        del self.candidates[candidate_id]
        return gone

    def tables(self) -> dict[str, dict[int, Json]]:
        """Each list resource's records by id, named as in the URL."""
        return {"users": self.users, "jobs": self.jobs, "job_interview_stages": self.stages,
                "candidates": self.candidates, "applications": self.applications, "notes": self.notes}

    def snapshot(self) -> Json:
        tables = self.tables()
        return {"counts": {name: len(rows) for name, rows in tables.items()},
                **{name: list(tables[name].values()) for name in ("candidates", "applications", "notes")}}


def _user_record(user: world.User, now: str) -> Json:
    first, _, last = user.name.partition(" ")
    return {"id": int(user.id), "name": user.name, "first_name": first, "last_name": last,
            "primary_email": user.email, "emails": [user.email], "site_admin": True, "deactivated": False,
            "employee_id": None, "created_at": now, "updated_at": now}


def _job_record(job: world.Job, department_id: int, now: str) -> Json:
    return {"id": int(job.id), "name": job.name, "requisition_id": None, "status": "open",
            "confidential": False, "department_id": department_id, "office_ids": [], "opened_at": now,
            "closed_at": None, "created_at": now, "updated_at": now, "custom_fields": {}}


def _blank_candidate(candidate_id: int, now: str) -> Json:
    return {"id": candidate_id, "first_name": "", "last_name": "", "preferred_name": None, "company": None,
            "title": None, "time_zone": None, "private": False, "can_email": True, "created_at": now,
            "updated_at": now, "last_activity_at": now, "tags": [], "linked_user_ids": [],
            "email_addresses": [], "phone_numbers": [], "addresses": [], "website_addresses": [],
            "social_media_addresses": [], "custom_fields": {}}


def _candidate_fields(body: Json, *, creating: bool) -> Json:
    """Validate the writable candidate fields sent and return them in their read shape."""
    errors: list[str | dict[str, str]] = []
    for name in ("first_name", "last_name"):
        if (creating or name in body) and not (isinstance(body.get(name), str) and body[name].strip()):
            errors.append({name: "is required"})
    errors += [{name: _entry_rule(name)} for name in LIST_FIELDS if name in body and not _is_entries(name, body)]
    if errors:
        raise Invalid(*errors)
    out = {k: body[k] for k in ("first_name", "last_name", "company", "title", "can_email", *LIST_FIELDS)
           if k in body}
    if "is_private" in body:  # written as `is_private`, read back as `private` (reference 3.2)
        out["private"] = bool(body["is_private"])
    if isinstance(body.get("custom_fields"), dict):
        out["custom_fields"] = {key: {"name": key.replace("_", " ").title(), "type": "short_text", "value": value}
                                for key, value in body["custom_fields"].items()}
    return out


def _entry_rule(name: str) -> str:
    if name == "tags":
        return "must be a list of strings"
    return "entries need `value`" + ("" if name == "social_media_addresses" else " and `type`")


def _is_entries(name: str, body: Json) -> bool:
    value = body[name]
    if not isinstance(value, list):
        return False
    if name == "tags":
        return all(isinstance(v, str) for v in value)
    keys = ("value",) if name == "social_media_addresses" else ("value", "type")
    return all(isinstance(v, dict) and all(isinstance(v.get(k), str) and v[k] for k in keys) for v in value)


def _check_note(body: Json) -> None:
    errors: list[str | dict[str, str]] = [{k: "is required"} for k in ("candidate_id", "body") if not body.get(k)]
    if body.get("candidate_id") is not None and not isinstance(body["candidate_id"], int):
        errors.append({"candidate_id": "must be an integer id"})
    # reference 3.4: the default visibility is unconfirmed; `public` is the sandbox's choice
    if body.get("visibility", "public") not in VISIBILITY:
        errors.append({"visibility": "must be one of: public, private, admin_only"})
    kind = body.get("note_type", "NOTE")
    if kind not in ("NOTE", "ACTIVITY", "EMAIL"):
        errors.append({"note_type": "must be one of: NOTE, ACTIVITY, EMAIL"})
    wrong = [k for k in EMAIL_NOTE_FIELDS if (k in body) != (kind == "EMAIL")]
    errors += [{k: "is required for EMAIL notes" if kind == "EMAIL" else "is only allowed on EMAIL notes"}
               for k in wrong]
    if errors:
        raise Invalid(*errors)
