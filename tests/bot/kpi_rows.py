"""Rows for the KPI tests, written straight into the store: each helper writes what the bridge would record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import count
from typing import Any

import pytest
from sqlmodel import Session

from bot.config import load_config
from bot.config_model import AppConfig
from bot.demo.script import EXAMPLE_CONFIG
from bot.sync import IMPORT_MATCHED, SYNC
from bot.tenants import register_tenants
from storage.models import (
    Application,
    AuditEntry,
    Candidate,
    CandidateIdentity,
    DuplicateProposal,
    StageEvent,
    WorkItem,
    WorkState,
)
from tests.conftest import Database

_ids = count(1)


@pytest.fixture
def config(db: Database) -> AppConfig:
    """The example configuration, its tenants registered in the test's database (KPI and digest tests)."""
    config = load_config(EXAMPLE_CONFIG)
    register_tenants(db.engine, config)
    return config


@dataclass
class Rows:
    session: Session
    tenant: str = "acme"

    def candidate(self, first: str = "", last: str = "", *, ats: str | None, created: datetime,
                  keys: tuple[str, ...] = (), **fields: Any) -> int:
        """A candidate with identity keys of these kinds (values made up); `ats` None: a pending import."""
        row = Candidate(tenant_id=self.tenant, first_name=first, last_name=last, ats_candidate_id=ats,
                        sync_status="synced" if ats else "pending", created_at=created, updated_at=created,
                        **fields)
        self.session.add(row)
        self.session.flush()
        for kind in keys:
            self.session.add(CandidateIdentity(tenant_id=self.tenant, candidate_id=row.id or 0, kind=kind,
                                               value=f"{kind}-{next(_ids)}"))
        self.session.flush()
        return row.id or 0

    def application(self, candidate_id: int) -> int:
        row = Application(tenant_id=self.tenant, candidate_id=candidate_id, ats_application_id=f"a{next(_ids)}",
                          job_id="4401")
        self.session.add(row)
        self.session.flush()
        return row.id or 0

    def event(self, application_id: int, at: datetime, *, from_stage: str | None = None,
              source: str = "linkedin", to_stage: str = "Application Review") -> None:
        """A stage event; with no `from_stage` and source linkedin/slack it is the one an export records."""
        self.session.add(StageEvent(tenant_id=self.tenant, application_id=application_id,
                                    event_key=f"e{next(_ids)}", from_stage=from_stage, to_stage=to_stage,
                                    source=source, occurred_at=at, recorded_at=at))

    def exported(self, candidate_id: int, at: datetime, reviewed: datetime | None = None,
                 source: str = "linkedin") -> int:
        """An application exported at `at` and, if given, moved on from its first stage at `reviewed`."""
        app = self.application(candidate_id)
        self.event(app, at, source=source)
        if reviewed is not None:
            self.event(app, reviewed, from_stage="Application Review", to_stage="Phone Screen", source="ats")
        return app

    def proposal(self, at: datetime, status: str = "open") -> None:
        n = next(_ids)
        self.session.add(DuplicateProposal(tenant_id=self.tenant, pair_key=f"x{n}|y{n}", record_a=f"x{n}",
                                           record_b=f"y{n}", confidence="likely", status=status, created_at=at,
                                           updated_at=at))

    def audit(self, at: datetime, actor: str, action: str, *, tenant: str | None = None,
              detail: dict[str, Any] | None = None) -> None:
        self.session.add(AuditEntry(at=at, actor=actor, action=action, tenant_id=tenant, detail=detail or {}))

    def matched(self, at: datetime) -> None:
        """What bot/sync.py audits when an import links a person to an existing record."""
        self.audit(at, "sync:export", IMPORT_MATCHED, tenant=self.tenant, detail={"how": "known"})

    def sync(self, created: datetime, finished: datetime | None, *, state: str = WorkState.DONE,
             kind: str = SYNC) -> None:
        self.session.add(WorkItem(kind=kind, dedupe_key=f"sync:{next(_ids)}", tenant_id=self.tenant, state=state,
                                  created_at=created, updated_at=finished or created, run_after=created,
                                  finished_at=finished))
