"""Greenhouse Harvest v3 wire models: the records the API sends back, validated once at the edge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict

Id = Annotated[int, Strict()]  # v3 ids are integers on the wire; a string id means another API version
Visibility = Literal["public", "private", "admin_only"]  # write spelling; reads say `privately_visible` etc.


class WireModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class ContactValue(WireModel):
    value: str
    type: str | None = None  # social media entries carry `value` only


class User(WireModel):
    id: Id
    name: str
    primary_email: str | None = None
    site_admin: bool = False
    deactivated: bool = False


class Job(WireModel):
    id: Id
    name: str
    status: str
    department_id: Id | None = None


class JobStage(WireModel):
    id: Id
    job_id: Id
    name: str
    sort_order: int
    active: bool = True


class Candidate(WireModel):
    id: Id
    first_name: str
    last_name: str
    company: str | None = None
    title: str | None = None
    private: bool = False
    email_addresses: list[ContactValue] = []
    phone_numbers: list[ContactValue] = []
    social_media_addresses: list[ContactValue] = []
    website_addresses: list[ContactValue] = []
    tags: list[str] = []
    created_at: datetime
    updated_at: datetime


class Application(WireModel):
    id: Id
    candidate_id: Id
    job_id: Id | None = None
    job_interview_stage_id: Id | None = None  # the stage definition id that `move` takes
    stage_name: str | None = None
    status: str  # reads say in_process|rejected|hired|converted; the filter says `active`
    prospect: bool = False
    source_id: Id | None = None


class Note(WireModel):
    id: Id
    candidate_id: Id
    application_id: Id | None = None
    user_id: Id | None = None
    body: str
    visibility: str
    note_type: str = Field(alias="type")  # written as `note_type`, read back as `type`
    created_at: datetime


@dataclass(frozen=True)
class CreatedCandidate:
    candidate: Candidate
    application: Application | None
