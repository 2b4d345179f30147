"""Exact-key duplicate groups: records sharing a LinkedIn profile, an email or a phone (pure).

This is the first, certain stage of duplicate detection: no scoring, no fuzzy names. A group is the set of
records connected through shared keys, with the kinds of key they share.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: key kinds that say "the same person" on their own (an ATS id is per record, so it never groups)
GROUPING_KINDS = frozenset({"linkedin", "linkedin_member", "email", "phone"})


@dataclass(frozen=True)
class Group:
    record_ids: tuple[str, ...]  # in first-seen order
    shared: tuple[str, ...]  # the key kinds shared, e.g. ("email", "linkedin")


def exact_groups(records: Iterable[tuple[str, Sequence[tuple[str, str]]]]) -> list[Group]:
    """Group `(record id, [(kind, value), …])` by shared keys; records sharing nothing are left out."""
    parent: dict[str, str] = {}
    order: list[str] = []
    holders: dict[tuple[str, str], list[str]] = defaultdict(list)

    def find(record: str) -> str:
        while parent[record] != record:
            parent[record] = parent[parent[record]]
            record = parent[record]
        return record

    for record_id, keys in records:
        if record_id not in parent:
            parent[record_id] = record_id
            order.append(record_id)
        for key in dict.fromkeys(k for k in keys if k[0] in GROUPING_KINDS):
            if holders[key] and holders[key][-1] != record_id:
                parent[find(record_id)] = find(holders[key][0])
            holders[key].append(record_id)
    members: dict[str, list[str]] = defaultdict(list)
    for record_id in order:
        members[find(record_id)].append(record_id)
    shared: dict[str, set[str]] = defaultdict(set)
    for (kind, _), ids in holders.items():
        if len(set(ids)) > 1:
            shared[find(ids[0])].add(kind)
    return [Group(tuple(ids), tuple(sorted(shared[root]))) for root, ids in members.items() if len(ids) > 1]
