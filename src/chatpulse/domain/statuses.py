"""Agent statuses: the three built-ins with fixed ids, and status types."""

from __future__ import annotations

from dataclasses import dataclass

ONLINE, AWAY, OFFLINE = "online", "away", "offline"
STATUS_TYPES = (ONLINE, AWAY, OFFLINE)
ONLINE_ID = "00000000-0000-0000-0000-000000000000"
AWAY_ID = "00000000-0000-0000-0000-000000000001"
OFFLINE_ID = "00000000-0000-0000-0000-000000000002"
LOGGED_IN_TYPES = (ONLINE, AWAY)


@dataclass(frozen=True, slots=True)
class BuiltInStatus:
    id: str
    name: str
    type: str
    order: int


BUILT_IN_STATUSES = (
    BuiltInStatus(ONLINE_ID, "Online", ONLINE, 0),
    BuiltInStatus(AWAY_ID, "Away", AWAY, 1),
    BuiltInStatus(OFFLINE_ID, "Offline", OFFLINE, 2),
)
BUILT_IN_IDS = frozenset(s.id for s in BUILT_IN_STATUSES)
TYPE_RANK = {ONLINE: 0, AWAY: 1, OFFLINE: 2}
