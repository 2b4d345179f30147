"""The synthetic people benchmarks import, and the audit of an ATS afterwards (duplicates, who is missing)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from bot.domain.identity import ProfileUrlError, find_linkedin_urls, normalize_linkedin_url
from integrations.ats import AtsPerson, NewCandidate


class Kind(StrEnum):
    NEW = "new"  # not in the ATS yet
    BY_EMAIL = "email"  # in the ATS with an email and no LinkedIn URL
    BY_URL = "url"  # in the ATS with only the URL, as LinkedIn's native connector writes it


@dataclass(frozen=True)
class Person:
    index: int
    kind: Kind

    first_name: ClassVar[str] = "Sample"

    @property
    def last_name(self) -> str:
        return f"Candidate {self.index:05d}"

    @property
    def slug(self) -> str:
        return f"sample-candidate-{self.index:05d}"

    @property
    def email(self) -> str | None:
        return f"sample.candidate{self.index:05d}@example.com" if self.kind is Kind.BY_EMAIL else None

    @property
    def profile_url(self) -> str:
        return f"https://www.linkedin.com/in/{self.slug}"

    def exported(self) -> dict[str, Any]:
        """The person as LinkedIn's export stub carries them (new people have no email: exports rarely do)."""
        record: dict[str, Any] = {"firstName": self.first_name, "lastName": self.last_name,
                                  "profileUrl": self.profile_url}
        if self.email:
            record["emailAddresses"] = [self.email]
        return record

    def in_ats(self, job_id: str) -> NewCandidate:
        """The record the ATS already holds: the same person, written the way other tools write them."""
        first, last = self.first_name, self.last_name
        if self.kind is Kind.BY_EMAIL:
            assert self.email
            return NewCandidate(first_name=first, last_name=last, job_id=job_id, emails=(self.email.title(),))
        # no scheme, no www, mixed case, trailing slash: what the native connector leaves in the ATS
        url = f"linkedin.com/in/{self.slug.title()}/"
        return NewCandidate(first_name=first, last_name=last, job_id=job_id, links=(url,),
                            source="LinkedIn (Prospecting)")


def population(size: int, existing_share: float = 0.3) -> list[Person]:
    """`size` people, `existing_share` of them already in the ATS, half of those by email, half URL only."""
    existing = round(size * existing_share)
    by_email = existing // 2
    kinds = [Kind.BY_EMAIL] * by_email + [Kind.BY_URL] * (existing - by_email) + [Kind.NEW] * (size - existing)
    return [Person(i, kind) for i, kind in enumerate(kinds, start=1)]


def record_keys(person: AtsPerson) -> set[str]:
    """Normalized LinkedIn URLs and case-folded emails: the keys two records of one person share."""
    keys = {f"email:{e.strip().casefold()}" for e in person.emails if e.strip()}
    for url in find_linkedin_urls(person.links):
        try:
            keys.add(f"linkedin:{normalize_linkedin_url(url).value}")
        except ProfileUrlError:
            continue  # a seat-private link names nobody we can compare
    return keys


def exported_keys(person: Person) -> set[str]:
    keys = {f"linkedin:{normalize_linkedin_url(person.profile_url).value}"}
    return keys | ({f"email:{person.email}"} if person.email else set())


@dataclass(frozen=True)
class Audit:
    """The ATS after a run: how many records, how many are extra copies of a person, who is not on the job."""

    records: int
    duplicates: int  # records minus distinct people (records sharing a key are one person)
    missing_from_job: int  # exported people with no record on the job they were exported to


def audit(records: Iterable[AtsPerson], exported: Sequence[Person], job_id: str) -> Audit:
    people = list(records)
    owners: dict[str, list[int]] = {}
    for i, person in enumerate(people):
        for key in record_keys(person):
            owners.setdefault(key, []).append(i)
    clusters = _clusters(len(people), owners.values())
    on_job = {i for i, p in enumerate(people) if any(a.job_id == job_id for a in p.applications)}
    missing = sum(1 for p in exported
                  if not any(i in on_job for key in exported_keys(p) for i in owners.get(key, [])))
    return Audit(len(people), len(people) - clusters, missing)


def _clusters(count: int, groups: Iterable[list[int]]) -> int:
    """How many distinct people, joining records that share any key (union-find)."""
    parent = list(range(count))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for group in groups:
        for other in group[1:]:
            parent[root(other)] = root(group[0])
    return sum(1 for i in range(count) if root(i) == i)
