"""Roles granted through Slack user groups (S…): who is in each group, asked of Slack and kept a few minutes.

Only consulted when a user's own id does not already grant the role a command needs, so the common path makes
no Slack call. On the request path the look-up is bounded (short timeouts, a total deadline) so the ack still
comes well inside Slack's 3 seconds; when Slack cannot be asked, the last known members are used, and with
none known the answer is "unknown" — the command is refused with a message saying why, never allowed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)


class GroupsUnknown(Exception):
    """Slack could not be asked who is in a user group, and nothing is known from earlier."""


@dataclass
class UserGroups:
    client: WebClient  # a client with a short timeout and no retries: it runs before the ack
    ttl: float = 300.0
    deadline: float = 1.5  # seconds for all look-ups of one request
    clock: Callable[[], float] = time.monotonic
    _members: dict[str, tuple[float, frozenset[str]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def groups_of(self, user: str, groups: Iterable[str]) -> set[str]:
        """The groups among `groups` that `user` belongs to; GroupsUnknown if one cannot be told."""
        started = self.clock()
        found: set[str] = set()
        for group in groups:
            members = self._cached(group, fresh=True)
            if members is None and self.clock() - started < self.deadline:
                members = self._fetch(group)
            if members is None:
                members = self._cached(group, fresh=False)
            if members is None:
                raise GroupsUnknown(f"could not ask Slack who is in user group {group}")
            if user in members:
                found.add(group)
        return found

    def _cached(self, group: str, *, fresh: bool) -> frozenset[str] | None:
        with self._lock:
            entry = self._members.get(group)
        if entry is None or (fresh and self.clock() - entry[0] > self.ttl):
            return None
        return entry[1]

    def _fetch(self, group: str) -> frozenset[str] | None:
        try:
            response = self.client.usergroups_users_list(usergroup=group)
        except SlackApiError as exc:
            log.warning("usergroups.users.list for %s failed: %s", group, exc.response.get("error"))
            return None
        except Exception as exc:  # Slack unreachable or slow: fall back to what is known
            log.warning("usergroups.users.list for %s failed: %s", group, exc)
            return None
        members = frozenset(str(u) for u in response.get("users") or [])
        with self._lock:
            self._members[group] = (self.clock(), members)
        return members
