"""Who may do what in Slack: a role granted by user id, or through a Slack user group."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.config_model import AppConfig, Role
from bot.slack.usergroups import UserGroups


@dataclass
class Roles:
    config: Callable[[], AppConfig]
    groups: UserGroups | None = None  # resolves roles granted to Slack user groups

    def allows(self, user: str, minimum: str | None) -> bool:
        """Whether `user` holds `minimum` or a higher role (None: everyone).

        Slack is asked about user groups only when the user's own id does not grant the role; when it cannot
        be asked and nothing is known yet, `GroupsUnknown` propagates (a refusal with that reason, never a yes).
        """
        if minimum is None:
            return True
        config, needed = self.config(), Role(minimum)
        role = config.role_of(user)
        if role is not None and role.at_least(needed):
            return True
        groups = [g for r in Role if r.at_least(needed) for g in config.roles.members(r) if g.startswith("S")]
        if not groups or self.groups is None:
            return False
        role = config.role_of(user, self.groups.groups_of(user, groups))
        return role is not None and role.at_least(needed)


def clicked_by(body: Mapping[str, Any]) -> str:
    """The Slack user id of an interaction payload's `user` ("" when the payload has no usable one)."""
    user = body.get("user")
    return str(user.get("id", "")) if isinstance(user, Mapping) else ""
