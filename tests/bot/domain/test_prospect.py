"""Mapping a prospect to an ATS record: clean fields and keys, target jobs, or a visible reason."""

from __future__ import annotations

import pytest

from bot.domain.prospect import Mapped, NeedsAttention, Prospect, map_prospect

PROJECTS = {"Backend 2026": ["4401"], "Data": ["4402", "4401"]}


def mapped(**fields: object) -> Mapped | NeedsAttention:
    base: dict[str, object] = {"source": "export", "source_id": "r1:m1", "first_name": "Jane", "last_name": "Doe",
                               "profile_url": "https://www.linkedin.com/in/jane-doe/", "project": "Backend 2026"}
    base.update(fields)
    return map_prospect(Prospect(**base), known_jobs={"4401", "4402"},  # type: ignore[arg-type]
                        jobs_for_project=lambda name: PROJECTS.get(name, []), region="US")


def test_map_prospect_cleans_keys_and_picks_the_project_jobs() -> None:
    result = mapped(emails=(" Jane@Example.COM ",), phones=("(415) 555-0100",), project="Data")
    assert isinstance(result, Mapped)
    assert [(k.kind, k.value) for k in result.keys] == [
        ("linkedin", "linkedin.com/in/jane-doe"), ("email", "jane@example.com"), ("phone", "+14155550100")]
    assert result.job_ids == ("4402", "4401")
    assert result.profile_url == "https://www.linkedin.com/in/jane-doe"


def test_map_prospect_explicit_job_wins_over_project() -> None:
    result = mapped(job_id="4402")
    assert isinstance(result, Mapped) and result.job_ids == ("4402",)


@pytest.mark.parametrize(("fields", "reason"), [
    ({"first_name": " "}, "no first name"),
    ({"last_name": ""}, "no last name"),
    ({"profile_url": "https://www.linkedin.com/talent/profile/AEMAA"}, "cannot be used"),
    ({"profile_url": "https://www.linkedin.com/company/acme"}, "cannot be used"),
    ({"profile_url": None}, "nothing to check for duplicates"),
    ({"project": "Sales 2027"}, "is not mapped to an ATS job"),
    ({"project": None}, "no project or job"),
    ({"job_id": "9999"}, "not one of this tenant's jobs"),
], ids=["no-first-name", "no-last-name", "recruiter-url", "company-page", "no-keys", "unmapped-project",
        "no-project", "unknown-job"])
def test_map_prospect_names_what_needs_attention(fields: dict[str, object], reason: str) -> None:
    result = mapped(**fields)
    assert isinstance(result, NeedsAttention)
    assert reason in result.reason


def test_map_prospect_keeps_going_with_a_bad_phone_and_says_so() -> None:
    result = mapped(phones=("not a phone",))
    assert isinstance(result, Mapped)
    assert [k.kind for k in result.keys] == ["linkedin"]
    assert result.warnings and "not a phone" in result.warnings[0]


def test_map_prospect_mail_stub_may_name_no_job() -> None:
    result = mapped(source="mail_stub", project=None, emails=("jane@example.com",))
    assert isinstance(result, Mapped) and result.job_ids == ()


def test_prospect_round_trips_through_a_work_item_payload() -> None:
    prospect = Prospect(source="csv", source_id="f:2", first_name="A", last_name="B", emails=("a@b.co",))
    assert Prospect.from_payload(prospect.to_payload()) == prospect
