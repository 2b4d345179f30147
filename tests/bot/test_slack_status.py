"""`/candidate status`, `mapping`, `dedupe` and `stats` through the real server, for ops."""

from __future__ import annotations

import httpx
import pytest

from integrations.ats import NewCandidate
from integrations.sandbox.server import RunningServer
from storage.db import transaction
from storage.health import count_requests, record_failure
from storage.models import utcnow
from storage.queue import Priority, enqueue
from tests.bot.slack_client import audit, post, slash, wait_for_response
from tests.bot.world import World

pytestmark = pytest.mark.slow
JANE = {"firstName": "Jane", "lastName": "Doe", "profileUrl": "https://www.linkedin.com/in/jane-doe-42"}


def test_status_shows_the_queue_dead_letters_last_sync_and_budgets(world: World, server: RunningServer) -> None:
    world.export("acme", [JANE], job="4401")
    world.drain()
    with transaction(world.rt.engine) as s:
        for n in range(3):
            enqueue(s, "sync.prospect", {}, dedupe_key=f"waiting:{n}", tenant_id="acme", priority=Priority.BULK)
        enqueue(s, "test.broken", {}, dedupe_key="broken", tenant_id="globex")
        count_requests(s, "acme", "linkedin", 7, utcnow())
        record_failure(s, "globex", "lever", "Unavailable: lever answered 503", utcnow())
    (broken,) = world.rt.queue.claim("test", kinds=["test.broken"])
    world.rt.queue.fail(broken, "Rejected: 422 missing last name", permanent=True)

    answer = post(server, slash(world, "status", user="U0OLU", channel="C0ACMEOPS"))
    assert "Checking sync health" in answer.text
    text = str(wait_for_response(world)[0])
    assert "needs attention" in text
    assert "waiting (sync.prospect 3, linkedin.push_back 1)" in text and "1 dead letter(s)" in text
    assert "Greenhouse: last sync just now" in text  # the export above synced through the ATS
    # today's budget: the one real call fetching the export, plus the 7 counted above
    assert "LinkedIn Recruiter: last sync just now" in text and "budget 8/500 today" in text
    assert "1 failed check(s) in a row" in text and "lever answered 503" in text
    assert f"#{broken.id} test.broken (globex)" in text and "missing last name" in text
    assert audit(world, 1) == ["command.status"]


def test_status_is_all_good_on_a_quiet_install(world: World, server: RunningServer) -> None:
    post(server, slash(world, "status", user="U0ADA"))
    text = str(wait_for_response(world)[0])
    assert "all good" in text and "0 waiting" in text and "last sync unknown" in text


def test_mapping_shows_the_channels_tenant(world: World, server: RunningServer) -> None:
    post(server, slash(world, "mapping", user="U0OLU", channel="C0NWOPS"))
    text = str(wait_for_response(world)[0])
    assert "Mappings for Northwind (Lever)" in text
    assert "LinkedIn projects → Lever jobs" in text and "emailAddresses[] → emails[]" in text
    assert "Exported from Recruiter" in text
    post(server, slash(world, "mapping acme", user="U0OLU", channel="C0NWOPS"))
    acme = str(wait_for_response(world, 2)[1])
    assert "Mappings for Acme (Greenhouse)" in acme and "`7003` → Phone Screen" in acme
    assert "Senior Backend Engineer: Application Review" in acme


def test_mapping_asks_which_tenant_where_it_is_unclear(world: World, server: RunningServer) -> None:
    post(server, slash(world, "mapping", user="U0OLU", channel="D0DIRECT"))
    text = str(wait_for_response(world)[0])
    assert "several tenants or none" in text and "/candidate mapping &lt;tenant&gt;" in text


def test_recruiters_cannot_see_status_or_mapping_and_nothing_is_run(world: World, server: RunningServer) -> None:
    for sub in ("status", "mapping"):
        answer = post(server, slash(world, sub, user="U0RAE"))
        assert f"`/candidate {sub}` is for ops and above" in answer.text
    assert audit(world, 2) == ["command.status.refused", "command.mapping.refused"]


def test_dedupe_scans_the_tenants_ats_and_lists_records_sharing_a_key(world: World,
                                                                     server: RunningServer) -> None:
    ats = world.rt.connections().ats_adapter("acme")
    for first in ("Jane", "Janet"):  # the same email typed into the ATS twice, by hand
        ats.create_candidate(NewCandidate(first_name=first, last_name="Doe", job_id="4401",
                                          emails=("jane.doe@example.com",)))
    ats.create_candidate(NewCandidate(first_name="Bob", last_name="Roe", job_id="4401",
                                      emails=("bob@example.com",)))
    form = slash(world, "dedupe", user="U0OLU", channel="C0ACMEOPS")
    for retry in (None, 1):
        assert "Starting a duplicate scan" in post(server, form, retry=retry).text
    # the retry is audited as such and queues no second scan
    assert sorted(audit(world, 4)) == ["command.dedupe", "command.dedupe", "dedupe.queued", "dedupe.repeated"]
    world.drain()
    world.relay()
    (reply,) = wait_for_response(world)
    text = str(reply)
    assert "1 possible duplicate pair(s)* among 3 record(s) in Greenhouse (Acme): 1 certain" in text
    assert "Jane Doe" in text and "Janet Doe" in text and "same email" in text and "Bob" not in text
    assert "1 new merge proposal(s); 1 posted in <#C0ACMEOPS>" in text
    messages = httpx.get(f"{world.sims.url('slack')}/_sandbox/messages", params={"channel": "C0ACMEOPS"}).json()
    (proposal,) = [m for m in messages["messages"] if "Possible duplicate" in m["text"]]
    assert "Merge into A" in str(proposal["blocks"])


def test_dedupe_of_a_clean_tenant_says_so(world: World, server: RunningServer) -> None:
    post(server, slash(world, "dedupe globex", user="U0OLU", channel="C0ACMEOPS"))
    audit(world, 2)
    world.drain()
    world.relay()
    assert "No duplicates" in str(wait_for_response(world)[0])


def test_stats_answers_the_tenants_kpis_over_the_last_30_days(world: World, server: RunningServer) -> None:
    world.export("acme", [JANE], job="4401")
    world.drain()
    answer = post(server, slash(world, "stats", user="U0OLU", channel="C0ACMEOPS"))
    assert "Working on `/candidate stats`" in answer.text
    text = str(wait_for_response(world)[0])
    assert "Recruiting KPIs for Acme, last 30 days" in text
    assert "*Time to review*: no data — none of 1 exported application(s) reviewed yet" in text
    assert "*Duplicates prevented at import*: 0 of 1 import(s) linked to an existing record" in text
    assert "*Source accuracy*: 100.0% — 1 of 1 LinkedIn-sourced record(s) credited to LinkedIn" in text
    assert "over 1 sync(s)" in text
    # the command itself is audited before it is answered: 1 command by 1 user over 30/7 weeks
    assert "*Adoption*: 0.2 command(s) per user per week — 1 command(s) by 1 user(s), 0 refused" in text
    post(server, slash(world, "stats globex", user="U0OLU", channel="C0ACMEOPS"))
    globex = str(wait_for_response(world, 2)[1])
    assert "Recruiting KPIs for Globex, last 30 days" in globex
    assert "*Time to review*: no data — no application exported in this period" in globex
    assert "0.5 command(s) per user per week — 2 command(s) by 1 user(s), 0 refused" in globex
    refused = post(server, slash(world, "stats", user="U0RAE"))
    assert "`/candidate stats` is for ops and above" in refused.text
    assert audit(world, 3) == ["command.stats", "command.stats", "command.stats.refused"]
