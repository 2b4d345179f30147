"""Recruiting-shaped records for the `dedupe` benchmark: fictitious people, their LinkedIn and ATS records.

`generate(people, seed)` makes that many fictitious people (names, employers, cities and titles drawn from the
lists below, names weighted so that some are common, as in real data) and writes each one as one to four
records, with the truth: which person every record is.

- A **LinkedIn export** record has the name as the person writes it (accents, sometimes a nickname), a profile
  URL in one of the forms people paste (www or not, tracking parameters, a country or mobile host, the lite
  mobile path, a trailing section, upper case), the current employer with or without its legal form, the
  title and the city. No email and no phone, like the exports.
- An **ATS record** has the name as a recruiter or an applicant typed it (a typo, the accents dropped or spelt
  out, the formal name for a nickname or the other way round, given and family names swapped, no given name,
  only an initial, upper case, or all of it in the one `name` column), the person's emails in several
  spellings (case, Gmail dots and +tags, googlemail.com), phones written in many national and international
  ways, sometimes the LinkedIn URL, and the employer as it was when they applied: the previous one for people
  who changed jobs, an initialism for some.

Hard negatives: namesakes at the same employer (same name, nothing else in common), the common names that
the weighting makes, relatives who share a home phone or a family email domain and the family name, and
people who share a name and a city with someone in the same trade at another employer.
"""

from __future__ import annotations

import random
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from bot.domain.identity import email_alias_key, normalize_phone
from bot.domain.matching import PersonRecord
from bot.domain.names import split_full_name

COLUMNS = ("record_id", "first_name", "last_name", "name", "email", "phone", "employer", "title", "location",
           "linkedin_url", "source")

# Given names: (name, nickname or "") — formal names with the short forms people go by, and names from the
# countries recruiters hire in, accents included. Order matters: the first ones are drawn most often.
_GIVEN = [
    ("Michael", "Mike"), ("James", "Jim"), ("John", "Jack"), ("Robert", "Bob"), ("David", "Dave"),
    ("William", "Bill"), ("Maria", ""), ("Jennifer", "Jen"), ("Elizabeth", "Liz"), ("Wei", ""),
    ("Katherine", "Kate"), ("Christopher", "Chris"), ("Daniel", "Dan"), ("Sarah", ""), ("Jessica", "Jess"),
    ("Alexander", "Alex"), ("Thomas", "Tom"), ("Anna", ""), ("Matthew", "Matt"), ("Laura", ""),
    ("Priya", ""), ("Jürgen", ""), ("José", ""), ("Zoë", ""), ("François", ""), ("Søren", ""), ("Björn", ""),
    ("Rebecca", "Becky"), ("Joseph", "Joe"), ("Samuel", "Sam"), ("Andrew", "Andy"), ("Stephanie", "Steph"),
    ("Nicholas", "Nick"), ("Benjamin", "Ben"), ("Margaret", "Maggie"), ("Victoria", "Vicky"),
    ("Richard", "Rick"), ("Edward", "Ed"), ("Patricia", "Pat"), ("Susan", "Sue"), ("Timothy", "Tim"),
    ("Kenneth", "Ken"), ("Anthony", "Tony"), ("Jonathan", "Jon"), ("Rachel", ""), ("Emily", ""),
    ("Olivia", "Liv"), ("Hiroshi", ""), ("Yuki", ""), ("Mei", ""), ("Arjun", ""), ("Ananya", ""),
    ("Rahul", ""), ("Aisha", ""), ("Omar", ""), ("Fatima", ""), ("Chinedu", ""), ("Ngozi", ""), ("Kwame", ""),
    ("Lucía", ""), ("Mateo", ""), ("Sofía", ""), ("Chloé", ""), ("Renée", ""), ("Hélène", ""), ("Ömer", ""),
    ("Łukasz", ""), ("Małgorzata", "Gosia"), ("Dmitri", "Dima"), ("Natalia", "Natasha"), ("Sven", ""),
    ("Ingrid", ""), ("Astrid", ""), ("Niamh", ""), ("Siobhan", ""), ("Declan", ""), ("Giulia", ""),
    ("Marco", ""), ("Francesca", ""), ("Pedro", ""), ("Ana", ""), ("Thu", ""), ("Minh", ""), ("Ji-woo", ""),
    ("Hannah", ""), ("Grace", ""), ("Ethan", ""), ("Noah", ""), ("Liam", ""), ("Ava", ""), ("Mia", ""),
    ("Leon", ""), ("Felix", ""), ("Lena", ""), ("Jana", ""), ("Tobias", ""), ("Greta", ""), ("Mathilde", ""),
    ("Elif", ""), ("Deniz", ""), ("Kofi", ""), ("Amara", ""), ("Ravi", ""), ("Sunita", ""), ("Kenji", ""),
    ("Frances", "Fran"), ("Francis", "Frank"), ("Alexandra", "Sasha"), ("Christine", "Tina"),
    ("Gabriel", "Gabe"), ("Zachary", "Zach"), ("Philip", "Phil"), ("Gregory", "Greg"), ("Jacob", "Jake"),
]
# Family names: common ones first (they are drawn most often), then the long tail, accents and particles kept.
_FAMILY = [
    "Smith", "Johnson", "Garcia", "Nguyen", "Müller", "Kim", "Patel", "Brown", "Williams", "Lee", "Chen",
    "Schmidt", "Rodriguez", "Martin", "Wang", "Singh", "Jones", "Miller", "Davis", "Wilson", "Anderson",
    "Taylor", "Thomas", "Moore", "Jackson", "White", "Harris", "Clark", "Lewis", "Walker", "Hall", "Young",
    "Schröder", "Strauß", "Øvergaard", "Núñez", "Fernández", "González", "López", "Pérez", "O'Brien",
    "O'Connor", "van der Berg", "de Vries", "Dubois", "Lefèvre", "Moreau", "Rossi", "Bianchi", "Esposito",
    "Kowalski", "Nowak", "Wiśniewski", "Ivanov", "Petrova", "Novák", "Horváth", "Yılmaz", "Öztürk", "Jensen",
    "Hansen", "Lindqvist", "Åström", "Virtanen", "Murphy", "Kelly", "Byrne", "Tanaka", "Suzuki", "Sato",
    "Takahashi", "Park", "Choi", "Tran", "Pham", "Huang", "Zhang", "Liu", "Sharma", "Gupta", "Iyer", "Reddy",
    "Okafor", "Adeyemi", "Mensah", "Haddad", "Khalil", "Mansour", "Cohen", "Levi", "Friedman", "Weber",
    "Fischer", "Wagner", "Becker", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf",
    "Zimmermann", "Braun", "Krüger", "Hartmann", "Lange", "Schmitt", "Werner", "Krause", "Meier", "Lehmann",
    "Fitzgerald", "MacDonald", "McAllister", "Sullivan", "Gallagher", "Fontaine", "Girard", "Mercier",
    "Blanchard", "Castillo", "Vargas", "Romero", "Herrera", "Medina", "Aguilar", "Delgado", "Ramos",
    "Sandoval", "Quintero", "Albrecht", "Brandt", "Engel", "Vogel", "Sommer", "Winkler", "Lorenz", "Berger",
    "Kaiser", "Fuchs", "Peters", "Scholz", "Möller", "Haas", "Roth", "Beck", "Graf", "Ziegler", "Kühn",
    "Pohl", "Thompson", "Robinson", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson", "Hill",
    "Campbell", "Mitchell", "Roberts", "Carter", "Phillips", "Evans", "Turner", "Torres", "Parker", "Collins",
    "Edwards", "Stewart", "Flores", "Morris", "Murray", "Rivera", "Cook", "Rogers", "Morgan", "Peterson",
    "Cooper", "Reed", "Bailey", "Bell", "Gomez", "Kelley", "Howard", "Ward", "Cox", "Diaz", "Richardson",
    "Wood", "Watson", "Brooks", "Bennett", "Gray", "James", "Reyes", "Cruz", "Hughes", "Price", "Myers",
    "Long", "Foster", "Sanders", "Ross", "Morales", "Powell", "Sullivan", "Russell", "Ortiz", "Jenkins",
    "Gutierrez", "Perry", "Butler", "Barnes", "Fisher", "Henderson", "Coleman", "Simmons", "Patterson",
    "Jordan", "Reynolds", "Hamilton", "Graham", "Wallace", "Woods", "Cole", "West", "Owens", "Marshall",
    "Kowalczyk", "Zieliński", "Szabó", "Dvořák", "Kuznetsov", "Popescu", "Georgiou", "Papadopoulos",
    "Andersson", "Johansson", "Nilsson", "Eriksson", "Larsen", "Pedersen", "Nieminen", "Korhonen",
    "Bakker", "Janssen", "Visser", "Smit", "Mulder", "de Jong", "Peeters", "Maes", "Dupont", "Lambert",
]
_FAMILY = list(dict.fromkeys(_FAMILY))
# The long tail: invented family names from syllables, drawn as often as all the common ones together (real
# candidate pools have thousands of family names; the common ones above make the namesakes).
_HEADS = ["Ash", "Bel", "Cor", "Dun", "El", "Fen", "Gar", "Hol", "Ing", "Jas", "Kel", "Lor", "Mar", "Nor", "Ost",
          "Pen", "Quar", "Ros", "Sel", "Tam", "Ul", "Var", "Wes", "Yar", "Zel", "Brom", "Cal", "Dor", "Har",
          "Lind", "Mel", "Rad", "Stan", "Thal", "Vin", "Wil", "Kass", "Bren", "Gal", "Fal"]
_TAILS = ["ford", "wick", "mann", "berg", "ton", "ley", "stein", "ski", "ova", "ez", "son", "dahl", "hurst",
          "ovic", "escu", "akis", "ari", "oni", "eau", "quist", "holm", "vik", "ani", "enko", "ler", "ing", "ard",
          "more", "by", "feld", "stad", "ino", "elli", "aro", "uk", "ay", "ow", "et", "ach", "ic"]
_RARE_FAMILY = [head + tail for head in _HEADS for tail in _TAILS]
# Fictitious employers: (name, legal forms it is written with, initialism recruiters use or "").
_EMPLOYER_WORDS = ["Northwind", "Bluefin", "Quillon", "Harborview", "Nimbus", "Kestrel", "Ironbark",
                   "Lumen", "Solano", "Brightwater", "Copperleaf", "Veridian", "Halcyon", "Stonebridge",
                   "Aurelia", "Pinecrest", "Redwood Hollow", "Silverline", "Tidewater", "Cobalt", "Meridian",
                   "Juniper Ridge", "Falcon Crest", "Granite Peak", "Orchid", "Saltmarsh", "Wrenfield",
                   "Oakhurst", "Larkspur", "Emberly", "Glasswing", "Thornbury", "Marisol", "Zephyrine",
                   "Umberto", "Vantor", "Crestline", "Ashgrove", "Bellhaven", "Driftwood"]
_EMPLOYER_TRADES = ["Analytics", "Robotics", "Systems", "Software", "Logistics", "Health", "Capital",
                    "Energy", "Labs", "Networks", "Foods", "Media", "Biotech", "Consulting", "Security",
                    "Payments", "Devices", "Materials", "Mobility", "Insurance"]
_LONG_EMPLOYERS = [("International Data Machines", "IDM"), ("Pacific Northern Systems", "PNS"),
                   ("General Quantum Electric", "GQE"), ("Atlantic Freight Holdings", "AFH"),
                   ("Consolidated Widget Works", "CWW"), ("United Orbital Transport", "UOT"),
                   ("Hartwell Fischer Partners", "HFP"), ("Royal Meridian Bank", "RMB")]
_LEGAL = {"US": ["Inc.", "Inc", "LLC", "Corp.", "Corporation", "Co."], "DE": ["GmbH", "AG", "GmbH & Co. KG"],
          "GB": ["Ltd", "Ltd.", "Limited", "plc"], "FR": ["S.A.", "SAS"], "NL": ["B.V.", "N.V."]}
_TITLES = [
    ("Software Engineer", ["Software Engineer", "Software Engineer II", "SWE"]),
    ("Senior Software Engineer", ["Senior Software Engineer", "Sr. Software Engineer", "Sr Software Engineer"]),
    ("Data Scientist", ["Data Scientist", "Senior Data Scientist"]),
    ("Product Manager", ["Product Manager", "Senior Product Manager"]),
    ("Engineering Manager", ["Engineering Manager", "Engineering Mgr"]),
    ("Account Executive", ["Account Executive", "Senior Account Executive"]),
    ("Recruiter", ["Technical Recruiter", "Senior Technical Recruiter"]),
    ("Designer", ["Product Designer", "Senior Product Designer", "UX Designer"]),
    ("Sales Manager", ["Sales Manager", "Regional Sales Manager"]),
    ("Marketing Manager", ["Marketing Manager", "Mktg Manager"]),
    ("DevOps Engineer", ["DevOps Engineer", "Site Reliability Engineer"]),
    ("Financial Analyst", ["Financial Analyst", "Senior Financial Analyst"]),
    ("Nurse", ["Registered Nurse", "RN Nurse"]),
    ("Operations Manager", ["Operations Manager", "Ops Manager"]),
    ("Vice President Engineering", ["VP Engineering", "Vice President, Engineering"]),
    ("Customer Success Manager", ["Customer Success Manager", "Sr. Customer Success Manager"]),
    ("Mechanical Engineer", ["Mechanical Engineer", "Senior Mechanical Engineer"]),
    ("HR Business Partner", ["HR Business Partner", "Human Resources Business Partner"]),
]
# Cities: (country, ways the city is written).
_CITIES = [
    ("US", ["San Francisco, CA", "San Francisco Bay Area", "San Francisco, California, United States"]),
    ("US", ["New York, NY", "Greater New York City Area", "New York City Metropolitan Area"]),
    ("US", ["Boston, MA", "Greater Boston", "Boston, Massachusetts"]),
    ("US", ["Seattle, WA", "Greater Seattle Area", "Seattle, Washington, United States"]),
    ("US", ["Austin, TX", "Austin, Texas Metropolitan Area"]),
    ("US", ["Chicago, IL", "Greater Chicago Area"]),
    ("US", ["Denver, CO", "Denver Metropolitan Area"]),
    ("US", ["Atlanta, GA", "Atlanta Metropolitan Area"]),
    ("US", ["Los Angeles, CA", "Los Angeles Metropolitan Area"]),
    ("US", ["Raleigh, NC", "Raleigh-Durham-Chapel Hill Area"]),
    ("DE", ["Berlin, Germany", "Berlin", "Berlin Metropolitan Area"]),
    ("DE", ["München, Bayern, Deutschland", "Munich, Bavaria, Germany", "Munich"]),
    ("DE", ["Hamburg, Germany", "Hamburg"]),
    ("GB", ["London, England, United Kingdom", "London", "Greater London"]),
    ("GB", ["Manchester, England", "Greater Manchester"]),
    ("FR", ["Paris, Île-de-France, France", "Paris", "Greater Paris Metropolitan Region"]),
    ("NL", ["Amsterdam, North Holland, Netherlands", "Amsterdam"]),
]
_AREA = {"US": ["415", "212", "617", "206", "512", "312", "303", "404", "213", "919", "646", "650"],
         "DE": ["30", "89", "40"], "GB": ["20", "161"], "FR": ["1"], "NL": ["20"]}
_MAIL = ["gmail.com", "gmail.com", "gmail.com", "outlook.com", "yahoo.com", "proton.me", "icloud.com",
         "hotmail.com", "web.de", "fastmail.com"]
_SOURCES = ["Greenhouse", "Lever", "Referral", "Career site", "Agency", "LinkedIn (Prospecting)"]
_KEYBOARD = dict(zip("qwertyuiopasdfghjklzxcvbnm", "wqrtyuioppsdfghjkllxcvbnmm", strict=True))


@dataclass(frozen=True)
class Employer:
    name: str
    country: str
    legal: str  # its legal form as the register writes it ("" for none)
    initialism: str  # what recruiters abbreviate it to ("" when they do not)
    domain: str


@dataclass
class Person:
    pid: int
    given: str
    nickname: str
    family: str
    employer: Employer
    previous: Employer | None
    title: int  # index into _TITLES
    previous_title: int
    city: int  # index into _CITIES
    slug: str
    emails: list[str]
    phones: list[str]  # E.164
    family_domain: str | None = None
    records: int = 1
    kind: str = "person"  # person | namesake | relative (for the notes)


@dataclass
class Dataset:
    """Records and the truth: the person behind each record (record id -> person id)."""

    records: list[PersonRecord]
    person_of: dict[str, int]
    rows: list[dict[str, str]]  # the same records as CSV rows (COLUMNS), as a CSV export writes them
    people: int
    kinds: dict[str, int] = field(default_factory=dict)

    def true_pairs(self) -> set[tuple[str, str]]:
        """Every pair of records of one person (ids sorted within the pair)."""
        by_person: dict[int, list[str]] = defaultdict(list)
        for record_id, pid in self.person_of.items():
            by_person[pid].append(record_id)
        return {(x, y) if x <= y else (y, x) for ids in by_person.values()
                for i, x in enumerate(ids) for y in ids[i + 1:]}


class _Rng(random.Random):
    """The seeded generator, which also remembers the emails, phones and profile ids handed out: two people
    never get the same one (a shared phone or inbox is always a deliberate relative)."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.used: set[str] = set()

    def unique(self, value: str, again: Callable[[], str]) -> str:
        """The value, or another one drawn with `again`, never handed out before (emails by mailbox)."""
        while self._key(value) in self.used:
            value = again()
        self.used.add(self._key(value))
        return value

    @staticmethod
    def _key(value: str) -> str:
        return email_alias_key(value) if "@" in value else value


def generate(people: int, seed: int) -> Dataset:
    """`people` fictitious people written as recruiting records, shuffled, with the truth."""
    rng = _Rng(seed)
    employers = _employers(rng)
    population: list[Person] = []
    while len(population) < people:
        person = _person(rng, len(population), employers)
        population.append(person)
        roll = rng.random()
        if roll < 0.03 and len(population) < people:  # a namesake at the same employer
            population.append(_namesake(rng, len(population), person, employers))
        elif roll < 0.07 and len(population) < people:  # a relative sharing the home phone or family domain
            population.append(_relative(rng, len(population), person, employers))
    drafts = [(person.pid, record) for person in population for record in _records(rng, person)]
    rng.shuffle(drafts)
    records, rows, person_of = [], [], {}
    for number, (pid, draft) in enumerate(drafts):
        record_id = f"R{number:07d}"
        records.append(draft.record(record_id))
        rows.append(draft.row(record_id))
        person_of[record_id] = pid
    kinds: dict[str, int] = defaultdict(int)
    for person in population:
        kinds[person.kind] += 1
    return Dataset(records, person_of, rows, len(population), dict(kinds))


# --- people -------------------------------------------------------------------------------------------------

def _zipf_choice(rng: random.Random, items: Sequence[object], skew: float = 1.0) -> int:
    """An index drawn with weight 1 / (rank + 2) ** skew: a few common values and a long tail."""
    weights = _weights(len(items), skew)
    return rng.choices(range(len(items)), cum_weights=weights)[0]


_WEIGHT_CACHE: dict[tuple[int, float], list[float]] = {}


def _weights(n: int, skew: float) -> list[float]:
    key = (n, skew)
    if key not in _WEIGHT_CACHE:
        total, cumulative = 0.0, []
        for rank in range(n):
            total += 1.0 / (rank + 2) ** skew
            cumulative.append(total)
        _WEIGHT_CACHE[key] = cumulative
    return _WEIGHT_CACHE[key]


def _employers(rng: random.Random) -> list[Employer]:
    found: list[Employer] = []
    names = {f"{word} {trade}" for word in _EMPLOYER_WORDS for trade in _EMPLOYER_TRADES}
    for name in sorted(names):
        country = rng.choice(["US", "US", "US", "DE", "GB", "FR", "NL"])
        found.append(Employer(name, country, rng.choice(_LEGAL[country]), "", _domain(name, country)))
    for name, initials in _LONG_EMPLOYERS:
        found.append(Employer(name, "US", rng.choice(_LEGAL["US"]), initials, _domain(initials, "US")))
    rng.shuffle(found)
    return found


def _domain(name: str, country: str) -> str:
    tld = {"US": "com", "DE": "de", "GB": "co.uk", "FR": "fr", "NL": "nl"}[country]
    return "".join(c for c in _ascii(name).lower() if c.isalnum()) + "." + tld


def _person(rng: _Rng, pid: int, employers: list[Employer]) -> Person:
    given, nickname = _GIVEN[_zipf_choice(rng, _GIVEN, 0.9)]
    family = _FAMILY[_zipf_choice(rng, _FAMILY, 0.8)] if rng.random() < 0.5 else rng.choice(_RARE_FAMILY)
    employer = employers[_zipf_choice(rng, employers, 0.6)]
    changed = rng.random() < 0.2
    previous = employers[rng.randrange(len(employers))] if changed else None
    if previous is employer:
        previous = None
    title = rng.randrange(len(_TITLES))
    city = _city_for(rng, employer.country)
    return Person(pid=pid, given=given, nickname=nickname, family=family, employer=employer, previous=previous,
                  title=title, previous_title=title if rng.random() < 0.7 else rng.randrange(len(_TITLES)),
                  city=city, slug=_slug(rng, given, family), emails=_emails(rng, given, family, employer),
                  phones=[_phone(rng, _CITIES[city][0])], records=_record_count(rng))


def _namesake(rng: _Rng, pid: int, twin: Person, employers: list[Employer]) -> Person:
    """Same name, same employer, nothing else in common: another title, another city, their own contacts."""
    other = _person(rng, pid, employers)
    other.given, other.nickname, other.family = twin.given, twin.nickname, twin.family
    other.employer = twin.employer
    other.title = (twin.title + 1 + rng.randrange(len(_TITLES) - 1)) % len(_TITLES)
    other.previous_title = other.title
    while _CITIES[other.city] is _CITIES[twin.city] and len(_CITIES) > 1:
        other.city = rng.randrange(len(_CITIES))
    other.slug = _slug(rng, twin.given, twin.family)
    other.emails = _emails(rng, twin.given, twin.family, twin.employer)
    other.kind = "namesake"
    return other


def _relative(rng: _Rng, pid: int, kin: Person, employers: list[Employer]) -> Person:
    """Same family name and city, another given name; shares the home phone or the family's email domain."""
    other = Person(pid=pid, given=kin.given, nickname="", family=kin.family,
                   employer=employers[rng.randrange(len(employers))], previous=None,
                   title=rng.randrange(len(_TITLES)), previous_title=0, city=kin.city,
                   slug="", emails=[], phones=[], records=_record_count(rng), kind="relative")
    while other.given == kin.given:
        other.given, other.nickname = _GIVEN[rng.randrange(len(_GIVEN))]
    other.previous_title = other.title
    other.slug = _slug(rng, other.given, other.family)
    if rng.random() < 0.5:
        other.phones = [kin.phones[0]]
        other.emails = _emails(rng, other.given, other.family, None)
    else:
        plain = "".join(c for c in _ascii(kin.family).lower() if c.isalnum())
        domain = kin.family_domain or f"{plain}-family.net"
        kin.family_domain = domain
        kin.emails.insert(0, rng.unique(f"{_ascii(kin.given).lower()}@{domain}", lambda: f"{kin.pid}@{domain}"))
        other.emails = [rng.unique(f"{_ascii(other.given).lower()}@{domain}", lambda: f"{pid}@{domain}")]
        other.phones = [_phone(rng, _CITIES[kin.city][0])]
    return other


def _record_count(rng: random.Random) -> int:
    return rng.choices([1, 2, 3, 4], weights=[40, 38, 16, 6])[0]


def _city_for(rng: random.Random, country: str) -> int:
    local = [i for i, (c, _) in enumerate(_CITIES) if c == country]
    return rng.choice(local) if local and rng.random() < 0.85 else rng.randrange(len(_CITIES))


def _slug(rng: _Rng, given: str, family: str) -> str:
    base = f"{given}-{family}".lower().replace(" ", "-").replace("'", "")
    if rng.random() < 0.85:
        base = _ascii(base)

    def draw() -> str:
        suffix = "".join(rng.choice("0123456789abcdef") for _ in range(rng.choice([6, 8, 9])))
        return f"{base}-{suffix}" if rng.random() < 0.9 else f"{base}{rng.randrange(10, 999)}"

    return rng.unique(draw(), draw)


def _emails(rng: _Rng, given: str, family: str, employer: Employer | None) -> list[str]:
    g, f = (_ascii(part).lower().replace(" ", "").replace("'", "").replace("-", "") for part in (given, family))

    def personal() -> str:
        local = rng.choice([f"{g}.{f}", f"{g}{f}", f"{g[0]}{f}", f"{g}_{f}", f"{g}.{f}{rng.randrange(1, 99)}",
                            f"{f}.{g}", f"{g}{rng.randrange(100, 9999)}"])
        return f"{local}@{rng.choice(_MAIL)}"

    emails = [rng.unique(personal(), personal)]
    if employer is not None and rng.random() < 0.35:
        emails.append(rng.unique(f"{g}.{f}@{employer.domain}",
                                 lambda: f"{g}.{f}{rng.randrange(2, 99)}@{employer.domain}"))
    return emails


def _phone(rng: _Rng, country: str) -> str:
    return rng.unique(_valid_phone(rng, country), lambda: _valid_phone(rng, country))


def _valid_phone(rng: random.Random, country: str) -> str:
    region = country
    while True:
        area = rng.choice(_AREA[country])
        if country == "US":
            number = f"+1{area}{rng.randrange(200, 999)}{rng.randrange(0, 10000):04d}"
        elif country == "GB":
            number = f"+44{area}{rng.randrange(10**7, 10**8 - 1) if area == '20' else rng.randrange(10**6, 10**7)}"
        elif country == "DE":
            number = f"+49{area}{rng.randrange(10**6, 10**8)}"
        elif country == "FR":
            number = f"+33{area}{rng.randrange(10**7, 10**8)}"
        else:
            number = f"+31{area}{rng.randrange(10**6, 10**7)}"
        if normalize_phone(number, region) == number:
            return number


# --- records ------------------------------------------------------------------------------------------------

@dataclass
class _Draft:
    first: str = ""
    last: str = ""
    full: str = ""  # the one `name` column, when the record writes the name there instead
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    employer: str = ""
    title: str = ""
    location: str = ""
    linkedin: str = ""
    source: str = ""

    def record(self, record_id: str) -> PersonRecord:
        """The record as the audit reads it from the CSV row (a one-field name split the same way)."""
        first, last = self.first, self.last
        if self.full and not (first or last):
            first, last = split_full_name(self.full)
        return PersonRecord(record_id=record_id, first_name=first, last_name=last, emails=tuple(self.emails),
                            phones=tuple(self.phones), employer=self.employer or None, title=self.title or None,
                            location=self.location or None,
                            linkedin_urls=(self.linkedin,) if self.linkedin else (), source=self.source or None)

    def row(self, record_id: str) -> dict[str, str]:
        return {"record_id": record_id, "first_name": self.first, "last_name": self.last, "name": self.full,
                "email": ";".join(self.emails), "phone": ";".join(self.phones), "employer": self.employer,
                "title": self.title, "location": self.location, "linkedin_url": self.linkedin,
                "source": self.source}


def _records(rng: _Rng, person: Person) -> Iterator[_Draft]:
    count = person.records
    linkedin_first = rng.random() < (0.5 if count == 1 else 0.7)
    for number in range(count):
        if number == 0 and linkedin_first:
            yield _linkedin_record(rng, person)
        else:
            yield _ats_record(rng, person)


def _linkedin_record(rng: _Rng, person: Person) -> _Draft:
    given = person.nickname if person.nickname and rng.random() < 0.25 else person.given
    return _Draft(first=given, last=person.family, linkedin=_url(rng, person.slug),
                  employer=_employer_text(rng, person.employer, abbreviate=False),
                  title=rng.choice(_TITLES[person.title][1]), location=rng.choice(_CITIES[person.city][1]),
                  source="LinkedIn")


def _ats_record(rng: _Rng, person: Person) -> _Draft:
    draft = _Draft(source=rng.choice(_SOURCES))
    _ats_name(rng, person, draft)
    roll = rng.random()
    if roll < 0.85 and person.emails:
        chosen = [_email_variant(rng, e) for e in person.emails if rng.random() < 0.7] or \
                 [_email_variant(rng, person.emails[0])]
        draft.emails = chosen
    if rng.random() < 0.6 and person.phones:
        draft.phones = [_phone_text(rng, person.phones[0])]
    if rng.random() < 0.4:
        draft.linkedin = _url(rng, person.slug)
    old = person.previous is not None and rng.random() < 0.5
    employer = person.previous if old and person.previous else person.employer
    title = person.previous_title if old else person.title
    if rng.random() < 0.85:
        draft.employer = _employer_text(rng, employer, abbreviate=True)
    if rng.random() < 0.8:
        draft.title = rng.choice(_TITLES[title][1])
    if rng.random() < 0.85:
        draft.location = rng.choice(_CITIES[person.city][1])
    return draft


def _ats_name(rng: random.Random, person: Person, draft: _Draft) -> None:
    given, family = person.given, person.family
    if person.nickname and rng.random() < 0.2:
        given = person.nickname
    roll = rng.random()
    if roll < 0.1:
        if rng.random() < 0.5:
            given = _typo(rng, given)
        else:
            family = _typo(rng, family)
    elif roll < 0.35 and not (given + family).isascii():
        given, family = _transliterate(rng, given), _transliterate(rng, family)
    style = rng.random()
    if style < 0.03:
        draft.first, draft.last = family, given  # given and family swapped
    elif style < 0.06:
        draft.last = family  # no given name
    elif style < 0.08:
        draft.first, draft.last = f"{given[0]}.", family
    elif style < 0.13:
        draft.full = f"{given} {family}" if rng.random() < 0.6 else f"{family}, {given}"
    elif style < 0.18:
        draft.first, draft.last = given.upper(), family.upper()
    else:
        draft.first, draft.last = given, family


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return word[:i] + word[i + 1:]  # a letter dropped
    if kind == 1:
        return word[:i] + word[i] + word[i:]  # a letter doubled
    if kind == 2:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]  # two letters swapped
    near = _KEYBOARD.get(word[i].lower(), word[i])
    return word[:i] + near + word[i + 1:]  # a neighbouring key


def _transliterate(rng: random.Random, text: str) -> str:
    if rng.random() < 0.5:
        table = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ø": "oe", "å": "aa", "Ø": "Oe",
                               "Å": "Aa", "Ö": "Oe", "Ü": "Ue", "Ä": "Ae"})
        text = text.translate(table)
    return _ascii(text)


_ASCII = str.maketrans({"ß": "ss", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "ı": "i", "æ": "ae"})


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(_ASCII))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _email_variant(rng: random.Random, email: str) -> str:
    local, _, domain = email.partition("@")
    roll = rng.random()
    if domain == "gmail.com" and roll < 0.35:
        choice = rng.randrange(3)
        if choice == 0:
            local = f"{local}+{rng.choice(['jobs', 'careers', 'linkedin', 'apply'])}"
        elif choice == 1:
            local = local.replace(".", "") if "." in local else f"{local[:2]}.{local[2:]}"
        else:
            domain = "googlemail.com"
    if rng.random() < 0.3:
        local = local.capitalize() if rng.random() < 0.5 else local.upper()
        domain = domain.upper() if rng.random() < 0.3 else domain
    return f"{local}@{domain}"


def _phone_text(rng: random.Random, e164: str) -> str:
    if e164.startswith("+1"):
        area, exchange, line = e164[2:5], e164[5:8], e164[8:]
        return rng.choice([f"({area}) {exchange}-{line}", f"{area}-{exchange}-{line}", f"{area}.{exchange}.{line}",
                           f"+1 {area} {exchange} {line}", e164, f"1-{area}-{exchange}-{line}",
                           f"{area} {exchange} {line}", f"+1 ({area}) {exchange}-{line}",
                           f"{area}{exchange}{line}"])
    rest = e164[3:]
    return rng.choice([e164, f"{e164[:3]} {rest[:2]} {rest[2:]}", f"{e164[:3]} ({rest[:2]}) {rest[2:]}",
                       f"{e164[:3]}-{rest}"])


def _url(rng: random.Random, slug: str) -> str:
    shown = slug
    if rng.random() < 0.15:
        shown = "-".join(part.capitalize() for part in slug.split("-"))
    forms = [f"https://www.linkedin.com/in/{shown}/", f"https://www.linkedin.com/in/{shown}",
             f"linkedin.com/in/{shown}?trk=public_profile_browsemap", f"http://uk.linkedin.com/in/{shown}",
             f"https://www.linkedin.com/mwlite/in/{shown}", f"www.linkedin.com/in/{shown}",
             f"https://de.linkedin.com/in/{shown}/?originalSubdomain=de", f"https://m.linkedin.com/in/{shown}",
             f"https://www.linkedin.com/in/{shown}/details/experience/",
             f"HTTPS://WWW.LINKEDIN.COM/IN/{shown.upper()}/"]
    return rng.choice(forms)


def _employer_text(rng: random.Random, employer: Employer, *, abbreviate: bool) -> str:
    if abbreviate and employer.initialism and rng.random() < 0.4:
        return employer.initialism
    name = employer.name.upper() if rng.random() < 0.05 else employer.name
    if employer.legal and rng.random() < 0.5:
        return f"{name}, {employer.legal}" if rng.random() < 0.3 else f"{name} {employer.legal}"
    return name

