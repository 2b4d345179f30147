"""Where a person's data lies beyond their candidate record, and how it goes: deleted when it is their pending
work or an open problem about them, redacted when it is history the bridge keeps for its own sake.

Redacted rows keep what makes the bridge idempotent (a done item's `dedupe_key`, a webhook's event id) unless
that key itself names the person, and lose their payload, body or text. Everything runs in the caller's
transaction: `plan` reads, `apply` writes; nothing here commits.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, String, Table, Text, cast, delete, func, literal, or_, select, update
from sqlmodel import Session

from bot.domain.traces import LIKE_ESCAPE, Reach, Traces
from storage.models import (
    Application,
    AttentionItem,
    AuditEntry,
    Candidate,
    CandidateBlock,
    CandidateIdentity,
    DuplicateProposal,
    InboxEvent,
    Incident,
    IntegrationHealth,
    JobRun,
    Note,
    OutboxMessage,
    OutboxState,
    StageEvent,
    WorkItem,
    WorkState,
    table,
)

#: up to this many `LIKE` patterns narrow the rows in SQL (one erasure brings about ten); past it, rows are read
LIKE_PATTERNS = 100
STREAM_ROWS = 1000
ERASED_TEXT = "[erased]"

#: the values a redacted row gets (SQL expressions allowed), given the erasure id, the table and the columns that
#: named the person; the same for every row of a rule that matched on the same columns
Redaction = Callable[[str, Table, set[str]], dict[str, Any]]
#: rows per `IN (…)` of one DELETE or UPDATE
IDS_PER_STATEMENT = 500


def _erased(erasure_id: str) -> dict[str, str]:
    return {"erased": erasure_id}


@dataclass(frozen=True)
class Rule:
    """One kind of row that may name a person: which columns to search, how sure to be, and what to do."""

    name: str  # the table's name, as counts report it
    table: Table
    columns: tuple[str, ...]
    reach: Reach
    scope: Callable[[Table, str], ColumnElement[bool]]  # which rows of the table belong to a tenant
    redact: Redaction | None = None  # None: matching rows are deleted
    extra: Callable[[Table], ColumnElement[bool]] | None = None  # e.g. only queued work


def _tenant(t: Table, tenant_id: str) -> ColumnElement[bool]:
    return t.c.tenant_id == tenant_id


def _tenant_or_none(t: Table, tenant_id: str) -> ColumnElement[bool]:
    return (t.c.tenant_id == tenant_id) | t.c.tenant_id.is_(None)


def _anywhere(t: Table, tenant_id: str) -> ColumnElement[bool]:
    return t.c.id.is_not(None)  # job runs belong to no tenant


def _redact_kept(erasure_id: str, t: Table, matched: set[str]) -> dict[str, Any]:
    """A finished work item or a sent message: its payload and error go; its key stays unless it names them."""
    values: dict[str, Any] = {"payload": _erased(erasure_id), "last_error": None}
    if "dedupe_key" in matched:  # the row id keeps the replacement unique
        values["dedupe_key"] = literal(f"erased:{erasure_id}:", String()).concat(cast(t.c.id, String))
    return values


LIVE_WORK = (WorkState.QUEUED, WorkState.RUNNING)
LIVE_MESSAGES = (OutboxState.PENDING, OutboxState.SENDING)


def rules(*, spare_kinds: Collection[str]) -> list[Rule]:
    """Every table holding free text or JSON that may name a candidate (`spare_kinds`: work never deleted,
    such as the erasure's own outside work, whose payload holds the ATS ids it must delete)."""
    work, outbox = table(WorkItem), table(OutboxMessage)
    spared = list(spare_kinds)
    return [
        Rule("workitem", work, ("payload", "dedupe_key"), Reach.LIVE, _tenant_or_none,
             extra=lambda t: t.c.state.in_(LIVE_WORK) & t.c.kind.not_in(spared)),
        Rule("workitem", work, ("payload", "last_error", "dedupe_key"), Reach.FINISHED, _tenant_or_none,
             redact=_redact_kept, extra=lambda t: t.c.state.not_in(LIVE_WORK)),
        # a pending message naming them by a key or an ATS id (alerts link the ATS record) is about them
        Rule("outboxmessage", outbox, ("payload",), Reach.RECORD, _tenant_or_none,
             extra=lambda t: t.c.state.in_(LIVE_MESSAGES)),
        Rule("outboxmessage", outbox, ("payload", "last_error", "dedupe_key"), Reach.FINISHED, _tenant_or_none,
             redact=_redact_kept, extra=lambda t: t.c.state.not_in(LIVE_MESSAGES)),
        Rule("inboxevent", table(InboxEvent), ("body",), Reach.RECORD, _tenant,
             redact=lambda e, t, m: {"body": f'{{"erased": "{e}"}}'}),
        Rule("attentionitem", table(AttentionItem), ("source_id", "reason", "detail"), Reach.RECORD, _tenant),
        Rule("duplicateproposal", table(DuplicateProposal), ("record_a", "record_b", "details", "error"),
             Reach.RECORD, _tenant),
        Rule("auditentry", table(AuditEntry), ("subject", "detail"), Reach.RECORD, _tenant_or_none,
             redact=lambda e, t, m: {"subject": None, "detail": _erased(e)}),
        Rule("incident", table(Incident), ("summary", "detail"), Reach.RECORD, _tenant,
             redact=lambda e, t, m: {"summary": ERASED_TEXT, "detail": _erased(e)}),
        Rule("integrationhealth", table(IntegrationHealth), ("last_error",), Reach.RECORD, _tenant,
             redact=lambda e, t, m: {"last_error": ERASED_TEXT}),
        Rule("jobrun", table(JobRun), ("error",), Reach.RECORD, _anywhere,
             redact=lambda e, t, m: {"error": ERASED_TEXT}),
    ]


@dataclass
class Plan:
    """What an erasure in one tenant removes: candidate rows by id, and the other rows it found naming them."""

    candidates: list[int] = field(default_factory=list)
    applications: list[int] = field(default_factory=list)
    found: list[tuple[Rule, int | str, set[str]]] = field(default_factory=list)

    def counts(self, session: Session) -> dict[str, int]:
        """Rows per table the plan touches (deleted or redacted), tables with none left out."""
        linked = _linked_counts(session, self.candidates, self.applications)
        for rule, _, _ in self.found:
            linked[rule.name] = linked.get(rule.name, 0) + 1
        return {name: n for name, n in sorted(linked.items()) if n}


def plan(session: Session, tenant_id: str, candidates: Sequence[int], applications: Sequence[int],
         traces: Traces, *, spare_kinds: Collection[str] = (), keep_work: Collection[int] = ()) -> Plan:
    """Find every row of the tenant naming the person (read only); `keep_work`: work items left alone."""
    found = Plan(list(candidates), list(applications))
    if not traces:
        return found
    for rule in rules(spare_kinds=spare_kinds):
        for pk, matched in _matching(session, rule, tenant_id, traces):
            if not (rule.name == "workitem" and pk in keep_work):
                found.found.append((rule, pk, matched))
    return found


def apply(session: Session, found: Plan, erasure_id: str) -> dict[str, int]:
    """Delete and redact what `plan` found, in the caller's transaction; rows per table.

    Rows are grouped by rule and by the values they get, so a retention batch of thousands of rows takes a few
    statements, not one each.
    """
    counts = _delete_linked(session, found.candidates, found.applications)
    groups: dict[tuple[int, frozenset[str]], tuple[Rule, set[str], list[int | str]]] = {}
    for rule, pk, matched in found.found:
        shape = frozenset(rule.redact(erasure_id, rule.table, matched)) if rule.redact else frozenset()
        groups.setdefault((id(rule), shape), (rule, matched, []))[2].append(pk)
    for rule, matched, pks in groups.values():
        key = _pk(rule.table)
        for start in range(0, len(pks), IDS_PER_STATEMENT):
            where = key.in_(pks[start:start + IDS_PER_STATEMENT])
            stmt = delete(rule.table) if rule.redact is None else update(rule.table).values(
                **rule.redact(erasure_id, rule.table, matched))
            n = session.execute(stmt.where(where)).rowcount  # type: ignore[attr-defined]
            counts[rule.name] = counts.get(rule.name, 0) + int(n or 0)
    return {name: n for name, n in sorted(counts.items()) if n}


def _matching(session: Session, rule: Rule, tenant_id: str,
              traces: Traces) -> Iterator[tuple[int | str, set[str]]]:
    """Rows whose columns name the person: narrowed by `LIKE` (every spelling), then confirmed in Python.

    A retention batch brings thousands of patterns: `LIKE` would then cost more per row than reading the row,
    so past `LIKE_PATTERNS` the tenant's rows are read as they are and only checked in Python.
    """
    t = rule.table
    columns = [t.c[name] for name in rule.columns]
    scope = rule.scope(t, tenant_id)
    if rule.extra is not None:
        scope = scope & rule.extra(t)
    texts = [cast(c, Text) for c in columns]  # JSON as its text: parsed only where a match needs it
    patterns = traces.patterns(rule.reach)
    if len(patterns) <= LIKE_PATTERNS:
        scope = scope & or_(*(func.lower(text).like(p, escape=LIKE_ESCAPE) for text in texts for p in patterns))
    query = select(_pk(t), *texts).where(scope).execution_options(yield_per=STREAM_ROWS)
    for row in session.execute(query):
        if not traces.may_mention("\n".join(v for v in row[1:] if v)):
            continue
        matched = {name for name, value in zip(rule.columns, row[1:], strict=True)
                   if traces.mentions(value, rule.reach)}
        if matched:
            yield row[0], matched


def _pk(t: Table) -> Any:
    """The one-column key rows are addressed by (integration health's is its tenant and integration)."""
    if "id" in t.c:
        return t.c.id
    return t.c.tenant_id.concat(":").concat(t.c.integration)


LINKED: tuple[tuple[str, type[Any], str], ...] = (
    ("candidateidentity", CandidateIdentity, "candidate_id"),
    ("candidateblock", CandidateBlock, "candidate_id"),
    ("note", Note, "candidate_id"),
    ("application", Application, "candidate_id"),
    ("candidate", Candidate, "id"),
)


def _linked_counts(session: Session, candidates: Sequence[int], applications: Sequence[int]) -> dict[str, int]:
    counts: dict[str, int] = {}
    if applications:
        events = table(StageEvent)
        counts["stageevent"] = int(session.execute(select(func.count()).where(
            events.c.application_id.in_(list(applications)))).scalar_one())
    if candidates:
        for name, model, column in LINKED:
            t = table(model)
            counts[name] = int(session.execute(select(func.count()).where(
                t.c[column].in_(list(candidates)))).scalar_one())
    return counts


def _delete_linked(session: Session, candidates: Sequence[int], applications: Sequence[int]) -> dict[str, int]:
    """The candidate rows and what hangs off them, children first (foreign keys)."""
    counts: dict[str, int] = {}
    if applications:
        events = table(StageEvent)
        counts["stageevent"] = int(session.execute(delete(events).where(
            events.c.application_id.in_(list(applications)))).rowcount)  # type: ignore[attr-defined]
    if candidates:
        for name, model, column in LINKED:
            t = table(model)
            counts[name] = int(session.execute(delete(t).where(
                t.c[column].in_(list(candidates)))).rowcount)  # type: ignore[attr-defined]
    return counts
