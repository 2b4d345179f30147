"""Erasing a person on request (GDPR/CCPA): every local trace, in one transaction per tenant, then outside.

Order: local first, outside after, through a durable work item queued in the local erasure's transaction.
- The local erasure is what HireBridge controls, and it is atomic per tenant: the person's rows go in one
  transaction or none do, so a crash leaves nothing half done and the request can simply be made again.
- Greenhouse and LinkedIn calls may fail, wait out a rate limit or hang. Inside the transaction they would hold
  SQLite's single write lock (every worker would stall); before it, a local failure would leave the person
  deleted outside but kept here. As a work item (bot/erasure_outside.py) they are retried with backoff until
  done or dead-lettered for ops, and the item holds ATS ids only.
- Until that item has run, a webhook or mirror pull about the person (still in the ATS) could bring them back;
  it is queued first in line (interactive priority). With `erase_in_ats` off the ATS keeps the person anyway:
  the command says so.

Finding the person: the email or LinkedIn URL is normalized as the sync normalizes it (`identity_keys`) and
looked up in `candidateidentity`, per tenant. The candidates holding it give the traces (their other keys, ATS
ids, names) that the cleanup of free text (bot/erasure_scrub.py) searches for; the typed key itself is searched
for even where no candidate holds it (an export kept aside for a missing name, a webhook body).

Idempotent: erasing someone already erased finds nothing and changes nothing. Each tenant's transaction leaves
one `person.erased` audit entry: counts per table, who asked, and a random erasure id; never the email, URL or
name.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update
from sqlmodel import Session

from bot.config_model import AppConfig, Tenant
from bot.domain.identity import EMAIL, LINKEDIN, LINKEDIN_MEMBER, PHONE, identity_keys, normalize_linkedin_url
from bot.domain.profile_url import ProfileUrlError
from bot.domain.traces import Traces
from bot.erasure_outside import ERASE_OUTSIDE, OutsideStep, outside_steps, queue_outside
from bot.erasure_scrub import apply, plan
from storage.candidates import applications_of, keys_of, owners_of
from storage.db import transaction
from storage.models import AuditEntry, Candidate, IdentityKind, WorkItem, table, utcnow

ERASED = "person.erased"
#: work never deleted by an erasure: the outside erasure of an earlier request holds the ids it must delete
SPARED_KINDS = (ERASE_OUTSIDE,)


class SubjectError(ValueError):
    """What was typed names no one: not an email, not a LinkedIn profile URL, or both or neither given."""


@dataclass(frozen=True)
class Subject:
    """Whom a request names: one identity key, normalized (`email` or `linkedin`)."""

    kind: str
    value: str

    @property
    def label(self) -> str:
        return "email" if self.kind == EMAIL else "LinkedIn profile"


def subject_of(*, email: str | None = None, linkedin_url: str | None = None) -> Subject:
    """The subject of an erasure request; exactly one of the two must be given (SubjectError otherwise)."""
    if (email is None) == (linkedin_url is None):
        raise SubjectError("give exactly one of an email or a LinkedIn profile URL")
    found = identity_keys(emails=[email] if email is not None else [],
                          profile_urls=[linkedin_url] if linkedin_url is not None else [])
    if not found.keys:
        reason = found.rejected[0].reason if found.rejected else "nothing was given"
        raise SubjectError(reason)
    return Subject(found.keys[0].kind, found.keys[0].value)


def subject_in(text: str) -> Subject:
    """The subject of `/candidate forget <email | linkedin url>`: an address when it has an `@` and no path."""
    is_email = "@" in text and "/" not in text
    return subject_of(email=text) if is_email else subject_of(linkedin_url=text)


@dataclass(frozen=True)
class TenantErasure:
    """What an erasure removed (or, previewed, would remove) in one tenant: rows per table, and outside."""

    tenant_id: str
    candidates: int
    counts: dict[str, int]
    outside: tuple[OutsideStep, ...]


@dataclass(frozen=True)
class ErasureReport:
    """The tenants where the person was found; `erasure_id` is None for a preview (`Erasure.find`)."""

    subject: Subject
    tenants: tuple[TenantErasure, ...]
    erasure_id: str | None = None

    @property
    def found(self) -> bool:
        return bool(self.tenants)

    @property
    def candidates(self) -> int:
        return sum(t.candidates for t in self.tenants)

    def totals(self) -> dict[str, int]:
        """Rows per table over every tenant."""
        totals: dict[str, int] = {}
        for t in self.tenants:
            for name, n in t.counts.items():
                totals[name] = totals.get(name, 0) + n
        return dict(sorted(totals.items()))


@dataclass(frozen=True)
class Target:
    """One tenant's candidates to erase and everything that names them."""

    candidates: list[int]
    applications: list[int]  # local application ids
    ats_ids: list[str]
    ats_applications: list[str]
    traces: Traces


@dataclass
class Erasure:
    engine: Engine
    config: AppConfig
    clock: Callable[[], datetime] = utcnow

    def find(self, subject: Subject, tenant_id: str | None = None) -> ErasureReport:
        """What erasing the person would remove, per tenant (read only); KeyError for an unknown tenant."""
        found = []
        with Session(self.engine) as session:
            for tenant in self._tenants(tenant_id):
                target = self.target(session, tenant.id, subject=subject)
                counts = plan(session, tenant.id, target.candidates, target.applications, target.traces,
                              spare_kinds=SPARED_KINDS).counts(session)
                if counts:
                    found.append(TenantErasure(tenant.id, len(target.candidates), counts,
                                               tuple(outside_steps(tenant, target.ats_ids))))
        return ErasureReport(subject, tuple(found))

    def erase(self, subject: Subject, *, actor: str, tenant_id: str | None = None) -> ErasureReport:
        """Erase the person in every tenant (or `tenant_id`), one transaction each; `actor`: who asked."""
        erasure_id = secrets.token_hex(8)
        done = []
        for tenant in self._tenants(tenant_id):
            with transaction(self.engine) as session:
                target = self.target(session, tenant.id, subject=subject)
                counts, steps = self.erase_target(session, tenant, target, erasure_id, outside=True)
                if counts:
                    self._audit(session, tenant.id, actor, erasure_id, counts, len(target.candidates), steps)
            if counts:
                done.append(TenantErasure(tenant.id, len(target.candidates), counts, tuple(steps)))
        return ErasureReport(subject, tuple(done), erasure_id)

    def erase_target(self, session: Session, tenant: Tenant, target: Target, erasure_id: str, *,
                     outside: bool, in_ats: bool = True,
                     keep_work: Sequence[int] = ()) -> tuple[dict[str, int], list[OutsideStep]]:
        """Erase one tenant's target in the caller's transaction (the retention purge reuses it); with
        `outside`, also queue their erasure on LinkedIn (and with `in_ats` in the ATS) as the config says.
        `keep_work`: work items left alone (the one running this erasure)."""
        found = plan(session, tenant.id, target.candidates, target.applications, target.traces,
                     spare_kinds=SPARED_KINDS, keep_work=keep_work)
        counts = apply(session, found, erasure_id)
        steps: list[OutsideStep] = []
        if outside and counts:
            steps = queue_outside(session, tenant, erasure_id, target.ats_ids, target.ats_applications,
                                  self.clock(), in_ats=in_ats)
        return counts, steps

    def deleted_in_ats(self, session: Session, tenant: Tenant, person_id: str, item_id: int) -> dict[str, int]:
        """A person deleted in the ATS itself (Greenhouse's `delete_candidate` webhook): erased here too, in the
        webhook's work item transaction, that item's payload included; LinkedIn's record as configured.

        The webhook an erasure's own Greenhouse delete causes arrives this way as well: the person is gone
        already, and what is left to erase is the webhook's body naming them.
        """
        erasure_id = secrets.token_hex(8)
        target = self.target(session, tenant.id, ats_id=person_id)
        counts, steps = self.erase_target(session, tenant, target, erasure_id, outside=True, in_ats=False,
                                          keep_work=[item_id])
        work = table(WorkItem)
        session.execute(update(work).where(work.c.id == item_id).values(payload={"erased": erasure_id}))
        if counts:
            self._audit(session, tenant.id, f"{tenant.ats}:webhook", erasure_id, counts, len(target.candidates),
                        steps)
        return counts

    def target(self, session: Session, tenant_id: str, *, subject: Subject | None = None,
               ats_id: str | None = None) -> Target:
        """The candidates holding the subject's key (or the ATS id) and every trace of them, the key included."""
        if subject is not None:
            key, extra = (subject.kind, subject.value), _subject_traces(subject)
        else:
            key, extra = (IdentityKind.ATS.value, ats_id or ""), Traces.of(ids=[ats_id or ""])
        return target_of(session, tenant_id, sorted(set(owners_of(session, tenant_id, [key]).values())), extra)

    def _tenants(self, tenant_id: str | None) -> list[Tenant]:
        return list(self.config.tenants) if tenant_id is None else [self.config.tenant(tenant_id)]

    def _audit(self, session: Session, tenant_id: str, actor: str, erasure_id: str, counts: dict[str, int],
               candidates: int, steps: Sequence[OutsideStep]) -> None:
        detail: dict[str, Any] = {"erasure": erasure_id, "requested_by": actor, "candidates": candidates,
                                  "counts": counts, "outside": {s.system: s.outcome for s in steps}}
        session.add(AuditEntry(at=self.clock(), actor=actor, action=ERASED, tenant_id=tenant_id,
                               subject=f"erasure:{erasure_id}", detail=detail))


def target_of(session: Session, tenant_id: str, candidate_ids: Sequence[int],
              extra: Traces | None = None) -> Target:
    """Everything naming these candidates: their identity keys, ATS ids, applications and names."""
    c = table(Candidate).c
    rows = session.execute(select(c.first_name, c.last_name, c.ats_candidate_id, c.profile_url).where(
        c.tenant_id == tenant_id, c.id.in_(list(candidate_ids)))).all() if candidate_ids else []
    keys = [key for found in keys_of(session, tenant_id, candidate_ids).values() for key in found]
    apps = applications_of(session, tenant_id, candidate_ids) if candidate_ids else []
    ats_ids = sorted({v for k, v in keys if k == IdentityKind.ATS.value} |
                     {r.ats_candidate_id for r in rows if r.ats_candidate_id})
    of_kind = {kind: [v for k, v in keys if k == kind] for kind in (EMAIL, PHONE, LINKEDIN, LINKEDIN_MEMBER)}
    traces = Traces.of(
        emails=of_kind[EMAIL], phones=of_kind[PHONE], members=of_kind[LINKEDIN_MEMBER],
        linkedin=[*of_kind[LINKEDIN], *_profile_keys(r.profile_url for r in rows)],
        ids=[*ats_ids, *(a.ats_application_id for a in apps)], names=[(r.first_name, r.last_name) for r in rows],
        local_applications=[a.id for a in apps if a.id is not None])
    return Target(list(candidate_ids), [a.id for a in apps if a.id is not None], ats_ids,
                  sorted({a.ats_application_id for a in apps}), traces | (extra or Traces()))


def _subject_traces(subject: Subject) -> Traces:
    return Traces.of(emails=[subject.value]) if subject.kind == EMAIL else Traces.of(linkedin=[subject.value])


def _profile_keys(urls: Iterable[str | None]) -> list[str]:
    """The URL keys of candidates' clean profile URLs (they normally hold the key already)."""
    keys = []
    for url in filter(None, urls):
        try:
            keys.append(normalize_linkedin_url(url).value)
        except ProfileUrlError:
            continue
    return keys
