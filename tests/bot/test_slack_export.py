"""`/candidate export` through the real server: acked at once, queued ahead of bulk work, created once, the
answer (with the ATS link) posted to the command's response_url; Slack's retries and known people never
create a second record."""

from __future__ import annotations

import time

import httpx
import pytest
from sqlmodel import Session, select

from integrations.sandbox.server import RunningServer
from storage.candidates import open_attention
from storage.db import transaction
from storage.models import AuditEntry, WorkItem
from storage.queue import Priority, enqueue
from tests.bot.slack_client import post, responses, slash, wait_for_response
from tests.bot.world import World

pytestmark = pytest.mark.slow
JANE = {"firstName": "Jane", "lastName": "Doe", "profileUrl": "https://www.linkedin.com/in/jane-doe-42"}


def exports_queued(world: World) -> list[WorkItem]:
    with Session(world.rt.engine) as s:
        return list(s.exec(select(WorkItem).where(WorkItem.kind == "slack.export")).all())


def export(world: World, server: RunningServer, text: str = "", *, form: dict[str, str] | None = None,
           channel: str = "C0ACMEENG", retry: int | None = None) -> httpx.Response:
    """Send `/candidate export …` and wait until the listener has queued it (it does so after the ack)."""
    before = len(queued_audits(world))
    answer = post(server, form or slash(world, f"export {text}", channel=channel), retry=retry)
    deadline = time.monotonic() + 5
    while len(queued_audits(world)) == before:
        assert time.monotonic() < deadline, "the export was never queued"
        time.sleep(0.02)
    return answer


def queued_audits(world: World) -> list[str]:
    with Session(world.rt.engine) as s:
        return [a.action for a in s.exec(select(AuditEntry)).all() if a.action.startswith("export.")]


def finish(world: World) -> list[dict[str, object]]:
    """Run the queue and the relay; the answers posted to response_urls."""
    world.drain()
    world.relay()
    return responses(world)


def named(world: World, tenant: str, first: str) -> list[str]:
    return [p.person_id for p in world.people(tenant) if p.first_name == first]


def test_exporting_someone_new_creates_them_once_and_answers_with_the_link(world: World,
                                                                          server: RunningServer) -> None:
    answer = export(world, server, "https://www.linkedin.com/in/ada-lovelace-1815 4401 Ada Lovelace")
    assert answer.status_code == 200 and "Exporting" in answer.text
    (reply,) = finish(world)
    assert "Exported to Greenhouse (Acme)" in str(reply) and "Senior Backend Engineer" in str(reply)
    assert "Open in Greenhouse" in str(reply) and reply["replace_original"]
    assert "from Slack, by /candidate export" in str(reply)  # the first stage's history says where it came from
    (person,) = [p for p in world.people("acme") if p.first_name == "Ada"]
    assert person.last_name == "Lovelace"
    assert [a.job_id for a in person.applications] == ["4401"]
    assert "https://www.linkedin.com/in/ada-lovelace-1815" in person.links


def test_a_known_person_is_linked_never_duplicated(world: World, server: RunningServer) -> None:
    world.export("acme", [JANE], job="4401")
    world.drain()
    export(world, server, "<https://LinkedIn.com/in/Jane-Doe-42/?trk=x|jane> 4402")
    (reply,) = finish(world)
    assert "Already in Greenhouse (Acme)" in str(reply) and "no duplicate created" in str(reply)
    assert "Data Engineer" in str(reply)
    (jane,) = [p for p in world.people("acme") if p.first_name == "Jane"]
    assert sorted(a.job_id for a in jane.applications) == ["4401", "4402"]


def test_slack_retries_of_one_command_export_once_and_answer_once(world: World, server: RunningServer) -> None:
    form = slash(world, "export https://www.linkedin.com/in/grace-hopper-1906 4401 Grace Hopper")
    for retry in (None, 1, 2):
        assert export(world, server, form=form, retry=retry).status_code == 200
    assert len(exports_queued(world)) == 1
    assert queued_audits(world) == ["export.queued", "export.repeated", "export.repeated"]
    assert len(finish(world)) == 1
    assert len(named(world, "acme", "Grace")) == 1


def test_two_separate_exports_of_one_person_still_make_one_record(world: World, server: RunningServer) -> None:
    for _ in range(2):
        export(world, server, "linkedin.com/in/alan-turing-1912 4401 Alan Turing")
    first, second = finish(world)
    assert "Exported to" in str(first) and "Already in" in str(second)
    assert len(named(world, "acme", "Alan")) == 1


def test_an_unknown_url_without_a_name_asks_for_one_and_creates_nothing(world: World,
                                                                        server: RunningServer) -> None:
    before = len(world.people("acme"))
    export(world, server, "https://www.linkedin.com/in/somebody-new 4401")
    (reply,) = finish(world)
    assert "Not exported" in str(reply) and "carries no name" in str(reply)
    assert "Senior Backend Engineer (`4401`)" in str(reply)
    assert len(world.people("acme")) == before


def test_an_export_waiting_for_a_job_is_completed_from_slack(world: World, server: RunningServer) -> None:
    world.export("acme", [{**JANE, "profileUrl": "https://www.linkedin.com/in/jane-nojob-7"}])  # no job
    world.drain()
    assert len(open_attention_for(world)) == 1
    export(world, server, "linkedin.com/in/jane-nojob-7")
    (ask,) = finish(world)
    assert "which job?" in str(ask)
    export(world, server, "linkedin.com/in/jane-nojob-7 4402")
    _, done = finish(world)
    assert "Exported to Greenhouse (Acme)" in str(done)
    assert open_attention_for(world) == []


def open_attention_for(world: World) -> list[object]:
    with Session(world.rt.engine) as s:
        return list(open_attention(s, "acme"))


def test_lever_tenants_export_too(world: World, server: RunningServer) -> None:
    export(world, server, "linkedin.com/in/katherine-johnson-1918 post-nw-platform Katherine Johnson",
           channel="C0NWOPS")
    (reply,) = finish(world)
    assert "Exported to Lever (Northwind)" in str(reply)
    assert len(named(world, "northwind", "Katherine")) == 1


def test_the_tenant_must_be_clear(world: World, server: RunningServer) -> None:
    post(server, slash(world, "export linkedin.com/in/x-y-1 ", channel="D0DIRECT"))
    (reply,) = responses_soon(world)
    assert "several tenants or none" in str(reply)
    post(server, slash(world, "export linkedin.com/in/x-y-1 9999", channel="D0DIRECT"))
    assert "is not a job HireBridge serves" in str(responses_soon(world, 2)[1])
    assert exports_queued(world) == []


def responses_soon(world: World, count: int = 1) -> list[dict[str, object]]:
    return wait_for_response(world, count)


def test_bad_urls_get_usage_in_the_ack(world: World, server: RunningServer) -> None:
    answer = post(server, slash(world, "export https://www.linkedin.com/company/acme 4401"))
    assert "export needs a LinkedIn profile URL first" in answer.text and "Usage" in answer.text
    assert exports_queued(world) == []


def test_exports_run_ahead_of_bulk_work(world: World, server: RunningServer) -> None:
    with transaction(world.rt.engine) as s:
        for n in range(5):
            enqueue(s, "test.bulk", {}, dedupe_key=f"bulk:{n}", priority=Priority.BULK)
    export(world, server, "linkedin.com/in/hedy-lamarr-1914 4401 Hedy Lamarr")
    (first,) = world.rt.queue.claim("test", kinds=["test.bulk", "slack.export"])
    assert first.kind == "slack.export"


def test_an_export_that_gives_up_says_so(world: World, server: RunningServer) -> None:
    world.sims.states["greenhouse"].faults.update({"error_rate": 1.0, "error_status": 422})
    export(world, server, "linkedin.com/in/rosalind-franklin-1920 4401 Rosalind Franklin")
    (reply,) = finish(world)
    assert "Export failed" in str(reply) and "dlq" in str(reply)
    (item,) = exports_queued(world)
    assert item.state == "dead"
