"""`hirebridge audit-duplicates`: the pairs file, the summary, the columns it reads, and every unreadable input."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bot.audit_duplicates import PAIR_COLUMNS
from bot.cli import app

runner = CliRunner()

HEADER = "record_id,first_name,last_name,email,phone,employer,title,location,linkedin_url,source\n"
ROWS = [
    "li-1,Jürgen,Müller,,,Acme Robotics GmbH,Senior Software Engineer,\"Berlin, Germany\","
    "https://www.linkedin.com/in/juergen-mueller-42/,LinkedIn\n",
    "gh-7,Juergen,Mueller,J.Mueller@Gmail.com,+49 30 901820,ACME Robotics,Sr. Software Engineer,Berlin,"
    "linkedin.com/in/Juergen-Mueller-42?trk=public_profile,Greenhouse\n",
    "lv-3,Jürgen,Müller,jmueller+jobs@googlemail.com,,,,,,Lever\n",
    "gh-9,Anna,Schmidt,anna@example.com,,Globex,Data Scientist,Munich,,Greenhouse\n",
]


def audit(tmp_path: Path, text: str | bytes, *args: str, out: bool = True) -> tuple[Result, Path]:
    source = tmp_path / "candidates.csv"
    if isinstance(text, bytes):
        source.write_bytes(text)
    else:
        source.write_text(text, encoding="utf-8")
    pairs = tmp_path / "pairs.csv"
    extra = ["--out", str(pairs)] if out else []
    return runner.invoke(app, ["audit-duplicates", str(source), *extra, *args]), pairs


def read_pairs(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def test_audit_writes_one_row_per_pair_with_the_exact_columns(tmp_path: Path) -> None:
    result, pairs = audit(tmp_path, HEADER + "".join(ROWS))

    assert result.exit_code == 0, result.output
    assert pairs.read_text(encoding="utf-8").splitlines()[0] == ",".join(PAIR_COLUMNS)
    rows = read_pairs(pairs)
    assert {(r["record_id_a"], r["record_id_b"]) for r in rows} == {("li-1", "gh-7"), ("li-1", "lv-3"),
                                                                    ("gh-7", "lv-3")}
    by_pair = {(r["record_id_a"], r["record_id_b"]): r for r in rows}
    assert by_pair[("li-1", "gh-7")]["confidence"] == "certain"
    assert "same LinkedIn profile" in by_pair[("li-1", "gh-7")]["reasons"]
    assert "same email" in by_pair[("gh-7", "lv-3")]["reasons"]
    assert {r["cluster_id"] for r in rows} == {"1"}
    assert all(0.9 <= float(r["score"]) <= 1 for r in rows)


def test_audit_prints_a_summary(tmp_path: Path) -> None:
    result, pairs = audit(tmp_path, HEADER + "".join(ROWS))

    assert result.exit_code == 0
    for needle in ("audited 4 records", "duplicate clusters: 1 (3 records in them)", "3 certain", "0 likely",
                   "0 possible", f"pairs written to {pairs}"):
        assert needle in result.output, result.output


def test_without_a_record_id_column_records_are_numbered_from_zero(tmp_path: Path) -> None:
    text = ("name,email\n"
            "Jane Doe,jane@example.com\n"
            "Mark Lane,mark@example.com\n"
            "\"Doe, Jane\",JANE@EXAMPLE.COM\n")

    result, pairs = audit(tmp_path, text)

    assert result.exit_code == 0, result.output
    assert [(r["record_id_a"], r["record_id_b"]) for r in read_pairs(pairs)] == [("0", "2")]


def test_several_emails_in_one_cell_are_each_read(tmp_path: Path) -> None:
    text = ("id,first_name,last_name,email\n"
            "a,Jane,Doe,jane@work.example; jane.doe@gmail.com\n"
            "b,Jane,Doe,\"janedoe+cv@gmail.com,other@example.com\"\n")

    result, pairs = audit(tmp_path, text)

    assert result.exit_code == 0, result.output
    (row,) = read_pairs(pairs)
    assert (row["record_id_a"], row["record_id_b"], row["confidence"]) == ("a", "b", "certain")
    assert "same email" in row["reasons"]


def test_repeated_record_ids_are_kept_apart_and_counted(tmp_path: Path) -> None:
    text = "id,name,email\n7,Jane Doe,jane@example.com\n7,Jane Doe,JANE@example.com\n,Mark Lane,m@example.com\n"

    result, pairs = audit(tmp_path, text)

    assert result.exit_code == 0, result.output
    assert [(r["record_id_a"], r["record_id_b"]) for r in read_pairs(pairs)] == [("7", "7#2")]
    assert "1 repeated record id(s) were suffixed" in result.output


def test_a_cell_as_long_as_a_resume_is_read(tmp_path: Path) -> None:
    resume = "Ten years of Python. " * 20_000
    text = f'id,name,email,resume\n1,Jane Doe,jane@example.com,"{resume}"\n2,Jane Doe,jane@example.com,\n'

    result, pairs = audit(tmp_path, text)

    assert result.exit_code == 0, result.output
    assert len(read_pairs(pairs)) == 1


def test_unknown_columns_are_ignored_and_named(tmp_path: Path) -> None:
    text = ("Record ID,First Name,Last Name,E-mail,Notes,Stage\n"
            "1,Jane,Doe,jane@example.com,met at a fair,Screen\n"
            "2,Jane,Doe,jane@example.com,,Offer\n")

    result, pairs = audit(tmp_path, text)

    assert result.exit_code == 0, result.output
    assert "columns ignored: Notes, Stage" in result.output
    assert [(r["record_id_a"], r["record_id_b"]) for r in read_pairs(pairs)] == [("1", "2")]


def test_blank_cells_and_malformed_values_do_not_stop_the_audit(tmp_path: Path) -> None:
    text = (HEADER
            + "1,Jane,Doe,not-an-email,call me maybe,,,,https://example.com/in/jane,\n"
            + "2,Jane,Doe,jane@,+1 000 000 0000,,,,linkedin.com/company/acme,\n"
            + "3,,,,,,,,,\n"
            + "4,Jane,Doe,jane@example.com,(415) 555-0134,Acme,,,,\n"
            + "5,Jane,Doe,,415.555.0134,,,,,\n")

    result, pairs = audit(tmp_path, text)

    assert result.exit_code == 0, result.output
    assert "audited 5 records" in result.output
    assert [(r["record_id_a"], r["record_id_b"]) for r in read_pairs(pairs)] == [("4", "5")]


def test_possible_pairs_are_proposed_with_no_cluster_and_can_be_left_out(tmp_path: Path) -> None:
    text = ("id,first_name,last_name,company,title,location\n"
            "1,John,Smith,Acme Inc.,Sales Manager,Boston\n"
            "2,John,Smith,ACME,Software Engineer,Denver\n")

    everything, pairs = audit(tmp_path, text)
    (row,) = read_pairs(pairs)
    likely_up, _ = audit(tmp_path, text, "--min-confidence", "likely")

    assert everything.exit_code == 0 and likely_up.exit_code == 0
    assert (row["confidence"], row["cluster_id"], row["reasons"]) == ("possible", "", "same name + same employer")
    assert read_pairs(pairs) == [], "the second run wrote no pairs"


def test_without_out_the_pairs_go_to_standard_output_and_the_summary_to_standard_error(tmp_path: Path) -> None:
    result, pairs = audit(tmp_path, HEADER + "".join(ROWS), out=False)

    assert result.exit_code == 0
    assert not pairs.exists()
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 3 and set(rows[0]) == set(PAIR_COLUMNS)
    assert "audited 4 records" in result.stderr and "audited" not in result.stdout


def test_region_reads_national_phone_numbers(tmp_path: Path) -> None:
    text = "id,name,phone\n1,Jane Doe,020 7946 0958\n2,Jane Doe,+44 20 7946 0958\n"

    in_us, us_pairs = audit(tmp_path, text)
    us_rows = read_pairs(us_pairs)
    in_gb, gb_pairs = audit(tmp_path, text, "--region", "GB")

    assert in_us.exit_code == 0 and us_rows == [], "020… is not a US number: ignored"
    assert in_gb.exit_code == 0 and [r["reasons"] for r in read_pairs(gb_pairs)] == ["same phone; same name"]


@pytest.mark.parametrize(("option", "value"), [("--region", "XX"), ("--min-confidence", "sure")])
def test_bad_options_are_refused(tmp_path: Path, option: str, value: str) -> None:
    result, pairs = audit(tmp_path, HEADER + "".join(ROWS), option, value)

    assert result.exit_code == 2
    assert value in result.output
    assert not pairs.exists()


ENCODINGS = {
    "utf-8-bom": ("\ufeff" + HEADER + "".join(ROWS)).encode("utf-8"),
    "semicolons": (HEADER + "".join(ROWS)).replace(",", ";").replace(";Germany\"", ",Germany\"").encode(),
    "crlf": (HEADER + "".join(ROWS)).replace("\n", "\r\n").encode(),
    "utf-16-with-mark": (HEADER + "".join(ROWS)).encode("utf-16"),
}


@pytest.mark.parametrize("data", ENCODINGS.values(), ids=ENCODINGS.keys())
def test_common_export_flavours_are_read(tmp_path: Path, data: bytes) -> None:
    result, pairs = audit(tmp_path, data)

    assert result.exit_code == 0, result.output
    assert len(read_pairs(pairs)) == 3


# --- inputs that cannot be audited: a non-zero exit, one clear line naming the file, nothing written ----------

UNREADABLE = {
    "empty": (b"", "candidates.csv is empty"),
    "blank-lines": (b"\n \n\t\n", "candidates.csv is empty"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "not a CSV file: it holds binary data"),
    "spreadsheet": (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00", "binary data"),
    "latin-1": (HEADER.encode() + "1,Jürgen,Müller,,,,,,,\n".encode("latin-1"), "is not UTF-8 text"),
    "no-header": (b"1,Jane,Doe,jane@example.com\n2,Mark,Lane,mark@example.com\n", "has no header row"),
    "no-identity-columns": (b"record_id,employer,title\n1,Acme,Engineer\n", "has none of the columns"),
}


@pytest.mark.parametrize(("data", "message"), UNREADABLE.values(), ids=UNREADABLE.keys())
def test_unreadable_input_exits_non_zero_naming_the_file_and_the_problem(tmp_path: Path, data: bytes,
                                                                         message: str) -> None:
    result, pairs = audit(tmp_path, data)

    assert result.exit_code == 1
    assert message in result.output and "candidates.csv" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert "Traceback" not in result.output
    assert not pairs.exists()


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.csv"

    result = runner.invoke(app, ["audit-duplicates", str(missing), "--out", str(tmp_path / "pairs.csv")])

    assert result.exit_code == 1
    assert "nowhere.csv" in result.output and "no such file" in result.output
    assert not (tmp_path / "pairs.csv").exists()


def test_a_directory_is_not_a_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["audit-duplicates", str(tmp_path)])

    assert result.exit_code == 1 and "is a directory" in result.output


def test_an_output_folder_that_does_not_exist_is_named_before_any_work(tmp_path: Path) -> None:
    source = tmp_path / "candidates.csv"
    source.write_text(HEADER + "".join(ROWS), encoding="utf-8")

    result = runner.invoke(app, ["audit-duplicates", str(source), "--out", str(tmp_path / "no" / "pairs.csv")])

    assert result.exit_code == 1 and "does not exist" in result.output


@pytest.mark.slow
# ~25 s alone, several times that under coverage beside a busy test worker; "signal": the "thread" method's
# timer thread would keep the audit from forking its helper (it forks only where no other thread runs)
@pytest.mark.timeout(360, method="signal")
def test_a_hundred_thousand_rows_are_audited_and_the_planted_duplicates_found(tmp_path: Path) -> None:
    from bench.dedupe_data import COLUMNS, generate

    data = generate(54_000, seed=5)
    source, out = tmp_path / "candidates.csv", tmp_path / "pairs.csv"
    with source.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(data.rows)
    assert len(data.rows) >= 100_000

    result = runner.invoke(app, ["audit-duplicates", str(source), "--out", str(out)])

    assert result.exit_code == 0, result.output
    assert f"audited {len(data.rows):,} records" in result.output
    truth = data.true_pairs()
    found = {tuple(sorted((r["record_id_a"], r["record_id_b"]))) for r in read_pairs(out) if r["cluster_id"]}
    assert len(found & truth) >= 0.85 * len(truth), "most planted duplicates are found"
    assert len(found & truth) >= 0.95 * len(found), "and few pairs are not duplicates"


@pytest.mark.timeout(method="signal")  # no timer thread: the audit forks only where no other thread runs
def test_sharing_the_work_with_a_forked_helper_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.dedupe_data import generate
    from bot import audit_duplicates

    if not audit_duplicates._can_fork():
        pytest.skip("needs fork, two cores and no other thread")
    records = generate(300, seed=4).records
    alone = audit_duplicates.audit(records)
    monkeypatch.setattr(audit_duplicates, "PARALLEL_FROM", 10)

    shared = audit_duplicates.audit(records)

    assert shared.pairs == alone.pairs and shared.clusters == alone.clusters
    assert len(alone.pairs) > 100
