"""`dedupe.lookup_ms_at_1m`: the import-time duplicate look-up against a store of 1,000,000 identities.

What an import does for each new person before and after creating them in the ATS: the exact look-up of its
identity keys (`owners_of`, the baseline) and the look-up of similar people (`ImportMatches.similar_to`: the
candidates sharing a name key, read with their keys, compared with the matcher). The store is a real SQLite
file migrated by Alembic, filled with 250,000 candidates holding four identities each (LinkedIn profile, email,
phone, ATS id) and their name keys; names are drawn from short lists, so name blocks are as crowded as a big
tenant's. Half the stored people came from LinkedIn (a profile key), half were typed into the ATS. Half the
looked-up people are LinkedIn exports of people typed into the ATS (a nickname, another email, the employer
without its legal form, the same title), half are new.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from rich.progress import Progress
from sqlalchemy import insert
from sqlmodel import Session

from bench.results import Figure
from bot.config import load_config
from bot.demo.script import EXAMPLE_CONFIG
from bot.domain.matching import PersonRecord
from bot.domain.profile_url import normalize_linkedin_url
from bot.similar import ImportMatches, name_keys
from storage.candidates import owners_of
from storage.db import build_engine
from storage.migrate import upgrade
from storage.models import Candidate, CandidateBlock, CandidateIdentity, Tenant, table

TENANT = "acme"
IDENTITIES, QUICK_IDENTITIES = 1_000_000, 40_000
PER_CANDIDATE = 4
LOOKUPS, QUICK_LOOKUPS = 2000, 300
GOAL_MS = 5.0
CHUNK = 20_000

FIRST = ("Ada", "Alex", "Amara", "Ana", "Ben", "Carla", "Chen", "Dana", "David", "Elena", "Emeka", "Eva", "Farah",
         "Felix", "Grace", "Hana", "Ian", "Ines", "Jonas", "Julia", "Kai", "Katherine", "Leila", "Liam", "Lucia",
         "Marco", "Maya", "Mohammed", "Nadia", "Noah", "Olga", "Omar", "Priya", "Rafael", "Rosa", "Sam", "Sara",
         "Tomas", "Wei", "Yara")
NICK = {"Alex": "Alexander", "Katherine": "Kate", "David": "Dave", "Sam": "Samuel", "Ben": "Benjamin"}
LAST = tuple(f"{stem}{end}" for stem in ("Adler", "Brandt", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia",
                                         "Haddad", "Ivanova", "Jensen", "Kowalski", "Lindqvist", "Moreau",
                                         "Nakamura", "Okafor", "Petrov", "Quinn", "Rossi", "Sato", "Tanaka")
             for end in ("", "son", "er", "ova", "ski", "ez", "i", "a", "ek", "in", "o", "berg"))
EMPLOYERS = tuple(f"{word} {kind}" for word in ("Nordlicht", "Brightline", "Harbor", "Quantum", "Cedar", "Atlas",
                                               "Summit", "Blue Fjord", "Ironwood", "Meridian")
                  for kind in ("GmbH", "Inc.", "Labs", "Systems", "Ltd"))


Sample = tuple[int, str, str, str, str]  # id, first, last, employer, title
TITLES = ("Software Engineer", "Data Scientist", "Product Manager", "Account Executive", "Recruiter",
          "Site Reliability Engineer", "Designer", "Sales Manager")


def _people(count: int, rng: random.Random) -> Iterator[tuple[int, str, str, str, str]]:
    for n in range(1, count + 1):
        yield n, rng.choice(FIRST), rng.choice(LAST), rng.choice(EMPLOYERS), rng.choice(TITLES)


def build_store(path: Path, identities: int, progress: Progress, seed: int = 7) -> tuple[int, list[Sample]]:
    """Fill a migrated SQLite store; returns the candidates made and a sample of them to look up variants of."""
    engine = build_engine(f"sqlite:///{path}")
    upgrade(engine)
    now = datetime.now(UTC)
    rng = random.Random(seed)
    candidates = identities // PER_CANDIDATE
    config = load_config(EXAMPLE_CONFIG)
    region = config.phone_region(TENANT)
    task = progress.add_task(f"dedupe: store of {identities:,} identities", total=candidates)
    sample: list[Sample] = []
    with engine.begin() as conn:
        tenant = {"id": TENANT, "name": "Acme", "ats": "greenhouse", "created_at": now}
        conn.execute(insert(table(Tenant)), [tenant])
    rows, ids, blocks = [], [], []
    key_cache: dict[tuple[str, str, str], list[str]] = {}
    for n, first, last, employer, title in _people(candidates, rng):
        slug = f"{first}-{last}-{n}".lower()
        # half came through LinkedIn (a profile); half were typed into the ATS (a second email instead)
        linkedin = n % 2 == 0
        rows.append({"id": n, "tenant_id": TENANT, "first_name": first, "last_name": last, "company": employer,
                     "title": title, "profile_url": f"https://www.linkedin.com/in/{slug}" if linkedin else None,
                     "ats_candidate_id": str(n), "sync_status": "synced", "created_at": now, "updated_at": now})
        first_key = ("linkedin", f"linkedin.com/in/{slug}") if linkedin else ("email", f"{slug}@work.example")
        ids += [{"tenant_id": TENANT, "candidate_id": n, "kind": kind, "value": value, "created_at": now}
                for kind, value in (first_key, ("email", f"{slug}@mail.example"), ("phone", f"+1415{n:07d}"),
                                    ("ats", str(n)))]
        keys = key_cache.get((first, last, employer))
        if keys is None:
            keys = key_cache[(first, last, employer)] = name_keys(
                PersonRecord("x", first, last, employer=employer), region)
        blocks += [{"tenant_id": TENANT, "candidate_id": n, "key": key} for key in keys]
        if not linkedin and rng.random() < 0.02:  # a person LinkedIn will export again, under another email
            sample.append((n, first, last, employer, title))
        if len(rows) >= CHUNK or n == candidates:
            with engine.begin() as conn:
                conn.execute(insert(table(Candidate)), rows)
                conn.execute(insert(table(CandidateIdentity)), ids)
                conn.execute(insert(table(CandidateBlock)), blocks)
            progress.advance(task, len(rows))
            rows, ids, blocks = [], [], []
    engine.dispose()
    return candidates, sample


def _lookups(count: int, sample: list[Sample], rng: random.Random) -> list[PersonRecord]:
    """Half variants of stored people (a nickname, a new email, no phone), half new people."""
    made = []
    for i in range(count):
        if i % 2 == 0 and sample:
            _n, first, last, employer, title = rng.choice(sample)
            first = NICK.get(first, first)
            made.append(PersonRecord(f"new-{i}", first, last, emails=(f"{first}.{last}@new.example".lower(),),
                                     employer=employer.rsplit(" ", 1)[0], title=title,
                                     linkedin_urls=(f"https://www.linkedin.com/in/{first}-{last}-x{i}",)))
        else:
            first, last = rng.choice(FIRST), f"Newname{i}"
            made.append(PersonRecord(f"new-{i}", first, last, emails=(f"{first}.{last}@new.example".lower(),),
                                     linkedin_urls=(f"https://www.linkedin.com/in/{first}-{last}",)))
    return made


def lookup_figures(*, quick: bool, progress: Progress) -> tuple[list[Figure], list[str]]:
    identities = QUICK_IDENTITIES if quick else IDENTITIES
    lookups = QUICK_LOOKUPS if quick else LOOKUPS
    with tempfile.TemporaryDirectory(prefix="hirebridge-lookup-") as tmp:
        path = Path(tmp) / "store.db"
        started = time.perf_counter()
        candidates, sample = build_store(path, identities, progress)
        built = time.perf_counter() - started
        engine = build_engine(f"sqlite:///{path}")
        matches = ImportMatches(load_config(EXAMPLE_CONFIG))
        people = _lookups(lookups, sample, random.Random(11))
        exact_ms, full_ms, found = [], [], 0
        task = progress.add_task(f"dedupe: {lookups} import-time look-ups", total=lookups)
        with Session(engine) as session:
            for person in people:
                keys = [("linkedin", normalize_linkedin_url(u).value) for u in person.linkedin_urls] + [
                    ("email", e) for e in person.emails]
                t0 = time.perf_counter()
                owners_of(session, TENANT, keys)
                t1 = time.perf_counter()
                owners_of(session, TENANT, keys)
                similar = matches.similar_to(session, TENANT, person)
                t2 = time.perf_counter()
                exact_ms.append((t1 - t0) * 1000)
                full_ms.append((t2 - t1) * 1000)
                found += any(m.confidence != "possible" for m in similar)
                progress.advance(task)
        engine.dispose()
    p50, p95 = statistics.median(full_ms), statistics.quantiles(full_ms, n=20)[-1]
    exact50 = statistics.median(exact_ms)
    size = f"{identities:,} identities ({candidates:,} candidates)"
    figures = [
        Figure("lookup_ms_at_1m", p50, exact50,
               f"median import-time look-up (exact keys + similar people) over {lookups} people against {size}; "
               "baseline: the exact-key look-up alone"),
        Figure("lookup_p95_ms_at_1m", p95, None, f"goal ≤ {GOAL_MS:g} ms"),
        Figure("lookup_store_identities", identities, None, f"built in {built:.0f} s (not part of the look-up)"),
        Figure("lookup_similar_found", found, lookups // 2,
               "look-ups that found a likely or certain similar person; baseline: the variants planted"),
    ]
    notes = [f"`lookup_ms_at_1m`: {__doc__.split(chr(10), 1)[1].strip()}".replace("\n", " ")] if __doc__ else []
    return figures, notes
