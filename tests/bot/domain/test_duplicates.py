"""Exact-key duplicate groups."""

from __future__ import annotations

from bot.domain.duplicates import Group, exact_groups


def test_records_sharing_a_key_are_grouped_with_what_they_share() -> None:
    groups = exact_groups([
        ("1", [("email", "jane@x.io"), ("ats", "1")]),
        ("2", [("linkedin", "in/jane"), ("email", "jane@x.io"), ("ats", "2")]),
        ("3", [("linkedin", "in/jane")]),
        ("4", [("email", "bob@x.io")]),
        ("5", [("phone", "+14155550100")]),
        ("6", [("phone", "+14155550100")]),
    ])
    assert groups == [Group(("1", "2", "3"), ("email", "linkedin")), Group(("5", "6"), ("phone",))]


def test_ats_ids_and_a_records_own_repeated_keys_group_nothing() -> None:
    assert exact_groups([("1", [("ats", "9"), ("email", "a@x.io"), ("email", "a@x.io")]),
                         ("2", [("ats", "9")])]) == []


def test_a_record_listed_twice_is_one_record() -> None:
    assert exact_groups([("1", [("email", "a@x.io")]), ("1", [("email", "a@x.io")])]) == []
