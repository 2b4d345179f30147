"""The sandbox world: the accounts, ids and credentials the simulators seed and the example config names.

`hirebridge.example.toml` refers to these ids; the secrets below are sandbox-only values that the demo
puts into the environment variables the config names. Nothing here is a real credential.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Stage:
    id: str  # Greenhouse ids are integers on the wire; kept as text here and converted by the simulator
    name: str


@dataclass(frozen=True)
class Job:
    id: str
    name: str
    department: str
    stages: tuple[Stage, ...] = ()  # Greenhouse: per job; Lever: empty (stages are account-wide)


@dataclass(frozen=True)
class User:
    id: str
    name: str
    email: str


@dataclass(frozen=True)
class GreenhouseAccount:
    tenant: str
    client_id: str
    client_secret: str
    webhook_secret: str
    users: tuple[User, ...]
    jobs: tuple[Job, ...]


@dataclass(frozen=True)
class LeverAccount:
    tenant: str
    api_key: str
    webhook_signature_token: str
    users: tuple[User, ...]
    postings: tuple[Job, ...]
    stages: tuple[Stage, ...]


@dataclass(frozen=True)
class LinkedInCustomer:
    tenant: str
    client_id: str
    client_secret: str  # also signs push callbacks (X-LI-Signature)
    organization: str
    contract: str
    seats: tuple[str, ...]


@dataclass(frozen=True)
class SlackWorkspace:
    team_id: str
    bot_token: str
    app_token: str
    signing_secret: str
    bot_user_id: str
    channels: dict[str, str] = field(default_factory=dict)  # id -> name
    users: dict[str, str] = field(default_factory=dict)  # id -> real name
    emails: dict[str, str] = field(default_factory=dict)  # id -> profile email (users.lookupByEmail)
    usergroups: dict[str, tuple[str, ...]] = field(default_factory=dict)  # S… id -> member user ids


def _gh_stages(first_id: int) -> tuple[Stage, ...]:
    names = ("Application Review", "Recruiter Screen", "Phone Screen", "Onsite", "Offer")
    return tuple(Stage(str(first_id + i), name) for i, name in enumerate(names))


ACME_GREENHOUSE = GreenhouseAccount(
    tenant="acme",
    client_id="acme-harvest",
    client_secret="sandbox-acme-harvest-secret",
    webhook_secret="sandbox-acme-gh-webhook",
    users=(User("91", "Rae Recruiter", "rae@acme.example"), User("92", "Olu Ops", "olu@acme.example")),
    jobs=(
        Job("4401", "Senior Backend Engineer", "Engineering", _gh_stages(7001)),
        # 7106 is a stage the example config's stage map leaves out: the demo shows the ops notice it causes
        Job("4402", "Data Engineer", "Data", (*_gh_stages(7101), Stage("7106", "Take-home Assignment"))),
    ),
)

NORTHWIND_LEVER = LeverAccount(
    tenant="northwind",
    api_key="sandbox-northwind-lever-key",
    webhook_signature_token="sandbox-northwind-lever-sig",
    users=(User("user-nw-rec", "Nia Recruiter", "nia@talentforge.example"),),
    postings=(
        Job("post-nw-platform", "Platform Engineer", "Engineering"),
        Job("post-nw-sre", "Site Reliability Engineer", "Engineering"),
    ),
    stages=(
        Stage("stage-nw-new", "New lead"),
        Stage("stage-nw-reached", "Reached out"),
        Stage("stage-nw-phone", "Phone screen"),
        Stage("stage-nw-onsite", "On-site interview"),
        Stage("stage-nw-offer", "Offer"),
    ),
)

GLOBEX_LEVER = LeverAccount(
    tenant="globex",
    api_key="sandbox-globex-lever-key",
    webhook_signature_token="sandbox-globex-lever-sig",
    users=(User("user-gx-rec", "Gus Recruiter", "gus@talentforge.example"),),
    postings=(Job("post-gx-design", "Product Designer", "Design"),),
    stages=(
        Stage("stage-gx-new", "New lead"),
        Stage("stage-gx-phone", "Phone screen"),
        Stage("stage-gx-panel", "Panel"),
        Stage("stage-gx-offer", "Offer"),
    ),
)

LINKEDIN_CUSTOMERS = (
    LinkedInCustomer("acme", "acme-rsc", "sandbox-acme-rsc-secret", "urn:li:organization:1001",
                     "urn:li:contract:5001", ("urn:li:seat:6001",)),
    LinkedInCustomer("northwind", "northwind-rsc", "sandbox-northwind-rsc-secret", "urn:li:organization:1002",
                     "urn:li:contract:5002", ("urn:li:seat:6002",)),
    LinkedInCustomer("globex", "globex-rsc", "sandbox-globex-rsc-secret", "urn:li:organization:1003",
                     "urn:li:contract:5003", ("urn:li:seat:6003",)),
)

SLACK = SlackWorkspace(
    team_id="T0HIREBRIDGE",
    bot_token="xoxb-sandbox-hirebridge",
    app_token="xapp-sandbox-hirebridge",
    signing_secret="sandbox-slack-signing-secret",
    bot_user_id="U0HBBOT",
    channels={
        "C0ACMEOPS": "acme-recruiting-ops",
        "C0ACMEENG": "hiring-backend",
        "C0ACMEDATA": "hiring-data",
        "C0NWOPS": "northwind-ops",
        "C0NWHIRE": "northwind-hiring",
        "C0GXOPS": "globex-ops",
        "C0GXHIRE": "globex-hiring",
    },
    users={
        "U0RAE": "Rae Recruiter",
        "U0OLU": "Olu Ops",
        "U0ADA": "Ada Admin",
        "U0NIA": "Nia Recruiter",
        "U0GUS": "Gus Recruiter",
        "U0HIRINGMGR": "Hana Hiring-Manager",
        "U0LEE": "Lee Sourcer",
    },
    # the recruiters' Slack emails are their ATS emails: an alert route's DM finds them by the ATS owner's email
    emails={"U0RAE": "rae@acme.example", "U0OLU": "olu@acme.example", "U0NIA": "nia@talentforge.example",
            "U0GUS": "gus@talentforge.example"},
    usergroups={"S0SOURCERS": ("U0LEE",)},  # a role granted to a user group in the example config
)

#: environment variables the example config names, with their sandbox values (the demo sets these)
SANDBOX_ENV = {
    "SLACK_BOT_TOKEN": SLACK.bot_token,
    "SLACK_SIGNING_SECRET": SLACK.signing_secret,
    "ACME_GREENHOUSE_CLIENT_SECRET": ACME_GREENHOUSE.client_secret,
    "ACME_GREENHOUSE_WEBHOOK_SECRET": ACME_GREENHOUSE.webhook_secret,
    "ACME_LINKEDIN_CLIENT_SECRET": LINKEDIN_CUSTOMERS[0].client_secret,
    "NORTHWIND_LEVER_API_KEY": NORTHWIND_LEVER.api_key,
    "NORTHWIND_LEVER_SIGNATURE_TOKEN": NORTHWIND_LEVER.webhook_signature_token,
    "NORTHWIND_LINKEDIN_CLIENT_SECRET": LINKEDIN_CUSTOMERS[1].client_secret,
    "GLOBEX_LEVER_API_KEY": GLOBEX_LEVER.api_key,
    "GLOBEX_LEVER_SIGNATURE_TOKEN": GLOBEX_LEVER.webhook_signature_token,
    "GLOBEX_LINKEDIN_CLIENT_SECRET": LINKEDIN_CUSTOMERS[2].client_secret,
}
