"""The work-item kinds this version handles, bound to their use-cases (the worker's registry)."""

from __future__ import annotations

from collections.abc import Mapping

from bot.dedupe_scan import SCAN
from bot.erasure_outside import ERASE_OUTSIDE
from bot.exports import EXPORT
from bot.forget_requests import FORGET
from bot.health import CHECK, REPORT
from bot.inmail import POLL
from bot.merges import MERGE
from bot.mirror import MIRROR
from bot.pushback import PUSH_BACK
from bot.runtime import Runtime
from bot.slack_export import SLACK_EXPORT
from bot.stage_events import ATS_EVENT
from bot.stage_moves import STAGE_MOVE
from bot.stage_push import STAGE_PUSH
from bot.sync import SYNC
from bot.worker import Handler


def handlers_for(rt: Runtime) -> Mapping[str, Handler]:
    """Every kind this process can run, each bound to the use-case built on the runtime's clients."""
    health = rt.health_checks()
    return {
        CHECK: health.check,
        REPORT: health.report,
        SYNC: rt.sync_service().handle,
        EXPORT: rt.exports().handle,
        SLACK_EXPORT: rt.slack_exports(),
        SCAN: rt.duplicate_scans(),
        MERGE: rt.merges(),
        ATS_EVENT: rt.stage_events(),
        STAGE_PUSH: rt.stage_push(),
        STAGE_MOVE: rt.stage_moves(),
        POLL: rt.inmail().handle,
        MIRROR: rt.mirror().handle,
        PUSH_BACK: rt.push_back().handle,
        ERASE_OUTSIDE: rt.outside_erasure(),
        FORGET: rt.forget_requests(),
    }
