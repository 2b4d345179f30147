"""The composition root's product: settings, engine, queue, outbox and clients, built once and passed in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from sqlalchemy import Engine

from bot.ats_webhooks import AtsWebhooks
from bot.budget import DailyBudget
from bot.call_health import CallHealth
from bot.config import load_config
from bot.config_model import AppConfig
from bot.connections import Connections
from bot.dedupe_scan import DuplicateScans
from bot.erasure import Erasure
from bot.erasure_outside import OutsideErasure
from bot.exports import Exports
from bot.forget_requests import ForgetRequests
from bot.health import HealthChecks
from bot.inmail import InMailPoller
from bot.merges import Merges
from bot.mirror import Mirror
from bot.pushback import PushBack
from bot.settings import Settings
from bot.similar import ImportMatches
from bot.slack.usergroups import UserGroups
from bot.slack_export import SlackExports
from bot.stage_events import StageEvents
from bot.stage_moves import StageMoves
from bot.stage_push import StagePush
from bot.sync import SyncService
from bot.worker import Handler, Worker
from integrations.calls import CallMeter
from storage.db import build_engine
from storage.models import utcnow
from storage.outbox import Outbox
from storage.queue import RetryPolicy, WorkQueue

if TYPE_CHECKING:
    from bot.scheduler import ScheduledWork


@dataclass
class Runtime:
    """Everything long-lived a process needs; nothing here is created at import time."""

    settings: Settings
    environ: Mapping[str, str]
    engine: Engine
    queue: WorkQueue
    outbox: Outbox
    config: AppConfig | None = None
    _slack: WebClient | None = field(default=None, repr=False)
    _http: httpx.Client | None = field(default=None, repr=False)
    _connections: Connections | None = field(default=None, repr=False)
    #: every API call this process makes, counted per tenant and integration (written out by `call_health`)
    call_meter: CallMeter = field(default_factory=CallMeter, repr=False)
    _call_health: CallHealth | None = field(default=None, repr=False)
    _sync_service: SyncService | None = field(default=None, repr=False)

    def slack(self) -> WebClient:
        """The Slack Web API client (base URL from HIREBRIDGE_SLACK_API_URL); built on first use."""
        if self._slack is None:
            token = self.settings.slack_bot_token
            self._slack = WebClient(
                token=token.get_secret_value() if token else None,
                base_url=self.settings.slack_api_url,
                timeout=10,
            )
            # A backstop only: the outbox relay handles 429s itself and never sleeps in a listener.
            self._slack.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=1))
        return self._slack

    def app_config(self) -> AppConfig:
        """The tenants' configuration, loaded from HIREBRIDGE_CONFIG on first use (ConfigError if broken)."""
        if self.config is None:
            self.config = load_config(self.settings.config_path)
        return self.config

    def http(self) -> httpx.Client:
        """The one HTTP client for the ATS and LinkedIn adapters (connection pooling, sane timeouts)."""
        if self._http is None:
            self._http = httpx.Client(timeout=httpx.Timeout(20.0, connect=5.0),
                                      headers={"User-Agent": "HireBridge/0.1"})
        return self._http

    def connections(self) -> Connections:
        """Every tenant's clients, built once per process so token caches and rate limiters are shared."""
        if self._connections is None:
            self._connections = Connections(self.app_config(), self.environ, self.http(), meter=self.call_meter)
        return self._connections

    def call_health(self) -> CallHealth:
        """Writes the process's API call tallies to the store (workers flush it between items)."""
        if self._call_health is None:
            self._call_health = CallHealth(self.engine, self.call_meter)
        return self._call_health

    def worker(self, handlers: Mapping[str, Handler], **options: Any) -> Worker:
        """A queue worker of this process: it writes the API call tallies out between items."""
        return Worker(self.engine, self.queue, handlers, between_items=self.call_health().flush, **options)

    def scheduled_work(self) -> ScheduledWork:
        """What a worker's scheduled jobs act on (bot.scheduler)."""
        from bot.digest import WeeklyDigest
        from bot.ops_watch import OpsWatch
        from bot.retention import RetentionPurge
        from bot.scheduler import ScheduledWork
        from bot.tokens import TokenRefresh

        config = self.app_config()
        every = timedelta(minutes=config.bot.token_refresh_minutes)
        return ScheduledWork(mirror=self.mirror(), inmail=self.inmail(), scans=self.duplicate_scans(),
                             watch=OpsWatch(self.engine, config), queue=self.queue,
                             tokens=TokenRefresh(self.engine, config, self.connections(), every),
                             retention=RetentionPurge(self.engine, config).run,
                             digest=WeeklyDigest(self.engine, config).run)

    def health_checks(self) -> HealthChecks:
        return HealthChecks(self.engine, self.app_config(), self.connections(), self.slack)

    def linkedin_budget(self) -> DailyBudget:
        return DailyBudget(self.engine, "linkedin", self.app_config().linkedin_daily_budget, utcnow)

    def push_back(self) -> PushBack:
        return PushBack(self.engine, self.app_config(), self.connections().linkedin, self.linkedin_budget())

    def sync_service(self) -> SyncService:
        """One per process: what its failed creates and reconcile listings teach it is shared by every worker."""
        if self._sync_service is None:
            matches = ImportMatches(self.app_config())
            self._sync_service = SyncService(self.engine, self.app_config(), self.connections().ats_adapter,
                                             on_synced=self.push_back().schedule, on_created=matches.created)
        return self._sync_service

    def mirror(self) -> Mirror:
        return Mirror(self.engine, self.app_config(), self.connections().ats_adapter,
                      on_synced=self.push_back().schedule)

    def exports(self) -> Exports:
        return Exports(self.engine, self.app_config(), self.environ, self.connections().linkedin,
                       self.sync_service(), self.linkedin_budget())

    def ats_webhooks(self) -> AtsWebhooks:
        return AtsWebhooks(self.engine, self.app_config(), self.environ)

    def slack_exports(self) -> SlackExports:
        return SlackExports(self.engine, self.app_config(), self.sync_service())

    def stage_events(self) -> StageEvents:
        return StageEvents(self.engine, self.app_config(), self.connections().ats_adapter, self.mirror(),
                           on_change=self.stage_push().schedule, on_merged=self.merges().merged_in_ats,
                           on_deleted=self.erasure().deleted_in_ats)

    def stage_push(self) -> StagePush:
        return StagePush(self.engine, self.app_config(), self.connections().linkedin, self.linkedin_budget(),
                         self.push_back())

    def duplicate_scans(self) -> DuplicateScans:
        return DuplicateScans(self.engine, self.app_config(), self.connections().ats_adapter)

    def merges(self) -> Merges:
        return Merges(self.engine, self.app_config(), self.connections().ats_adapter, self.mirror(),
                      self.push_back())

    def erasure(self) -> Erasure:
        return Erasure(self.engine, self.app_config())

    def outside_erasure(self) -> OutsideErasure:
        return OutsideErasure(self.app_config(), self.connections().greenhouse, self.connections().linkedin,
                              self.linkedin_budget())

    def forget_requests(self) -> ForgetRequests:
        return ForgetRequests(self.engine)

    def inmail(self) -> InMailPoller:
        return InMailPoller(self.engine, self.app_config(), self.connections().linkedin,
                            self.connections().ats_adapter, self.sync_service(), self.linkedin_budget(),
                            moves=self.stage_moves())

    def stage_moves(self) -> StageMoves:
        return StageMoves(self.engine, self.app_config(), self.connections().ats_adapter,
                          on_change=self.stage_push().schedule)

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def user_groups(self) -> UserGroups:
        """Who is in the Slack user groups roles name; its client is quick to give up (it runs before the ack)."""
        token = self.settings.slack_bot_token
        client = WebClient(token=token.get_secret_value() if token else None,
                           base_url=self.settings.slack_api_url, timeout=1)
        client.retry_handlers.clear()
        return UserGroups(client)

    def slack_app(self, *, socket_mode: bool = False) -> App | None:
        """The Bolt app: for /slack/events it verifies signatures and needs SLACK_SIGNING_SECRET (else None).

        With `socket_mode` and no secret, an app without request verification is built: Socket Mode requests
        come over the WebSocket the app-level token opened and carry no signature. Such an app must never be
        mounted on HTTP.
        """
        secret = self.settings.slack_signing_secret
        if secret is None and not socket_mode:
            return None
        from bot.slack.answers import answers_for
        from bot.slack.app import build_slack_app
        from bot.slack.commands import CandidateCommand
        from bot.slack.forget_actions import ForgetActions
        from bot.slack.merge_actions import ProposalActions
        from bot.slack.roles import Roles

        groups = self.user_groups()
        candidate = CandidateCommand(self.engine, self.app_config, answers_for(self), groups)
        roles = Roles(self.app_config, groups)
        proposals = ProposalActions(self.merges(), roles)
        forget = ForgetActions(self.forget_requests(), self.erasure(), roles, self.app_config)
        return build_slack_app(signing_secret=secret.get_secret_value() if secret else None, client=self.slack(),
                               candidate=candidate, proposals=proposals, forget=forget)

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
        self.engine.dispose()


def build_runtime(environ: Mapping[str, str], *, retry: RetryPolicy | None = None,
                  lease: timedelta = timedelta(seconds=60)) -> Runtime:
    """Read settings from `environ` and build the engine, queue and outbox on them."""
    settings = Settings.from_env(environ)
    engine = build_engine(settings.database_url)
    return Runtime(
        settings=settings,
        environ=environ,
        engine=engine,
        queue=WorkQueue(engine, lease=lease, policy=retry),
        outbox=Outbox(engine, policy=retry),
    )
