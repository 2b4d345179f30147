"""Candidate CSV parsing: recognized columns, every row kept, clear errors for unusable files."""

from __future__ import annotations

import pytest

from bot.domain.csv_rows import CsvError, parse_candidates_csv


def test_parse_reads_recognized_columns_case_insensitively() -> None:
    text = ("First Name,LAST_NAME,Email,LinkedIn URL,Company,Notes\n"
            "Jane,Doe,jane@example.com; j.doe@work.example,linkedin.com/in/jane-doe,Acme,hi\n")
    parsed = parse_candidates_csv(text, file_id="f1", job_id="4401")
    (row,) = parsed.prospects
    assert (row.first_name, row.last_name, row.company) == ("Jane", "Doe", "Acme")
    assert row.emails == ("jane@example.com", "j.doe@work.example")
    assert (row.profile_url, row.job_id, row.source_id) == ("linkedin.com/in/jane-doe", "4401", "f1:2")
    assert parsed.ignored_columns == ["Notes"]


def test_parse_splits_a_full_name_column() -> None:
    parsed = parse_candidates_csv("name,email\nMaria de la Cruz,m@example.com\n")
    assert (parsed.prospects[0].first_name, parsed.prospects[0].last_name) == ("Maria", "de la Cruz")


def test_parse_keeps_rows_with_missing_fields_for_later_reporting() -> None:
    parsed = parse_candidates_csv("first_name,last_name,email\n,Doe,x@example.com\nAda,,\n")
    assert len(parsed.prospects) == 2


def test_parse_source_ids_are_stable_for_the_same_file() -> None:
    text = "first_name,last_name,email\nJane,Doe,jane@example.com\n"
    assert parse_candidates_csv(text).prospects == parse_candidates_csv(text).prospects


@pytest.mark.parametrize(("text", "message"), [
    ("", "no header row"),
    ("first_name,last_name\nJane,Doe\n", "LinkedIn URL, email or phone"),
    ("email,phone\na@b.co,1\n", "need a name column"),
])
def test_parse_refuses_an_unusable_file_saying_why(text: str, message: str) -> None:
    with pytest.raises(CsvError, match=message):
        parse_candidates_csv(text)
