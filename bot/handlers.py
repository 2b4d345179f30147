"""The work-item kinds this version handles, bound to their use-cases (the worker's registry)."""

from __future__ import annotations

from collections.abc import Mapping

from bot.health import CHECK, REPORT, HealthChecks
from bot.worker import Handler


def handlers_for(health: HealthChecks) -> Mapping[str, Handler]:
    return {
        CHECK: health.check,
        REPORT: health.report,
    }
