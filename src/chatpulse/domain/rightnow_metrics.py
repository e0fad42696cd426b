"""RightNow's figures (METRICS.md §2) from the running totals of a key and of the site."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chatpulse.domain.arith import percent_int
from chatpulse.domain.statuses import AWAY, ONLINE


def right_now_figures(row: Mapping[str, int], site: Mapping[str, int]) -> dict[str, Any]:
    """`row`: the totals of the site or of one department; `site`: the site's (visitors on site
    are the site's whatever the department)."""
    with_agent, with_bot = row["ongoing_chats"], row["bot_chats"]
    return {
        "loggedInAgents": row["logged_in"],
        "agentsInChat": row["in_chat"],
        "chatUtilization": percent_int(row["online_chats"], row["online_capacity"]),
        "visitorOnSite": site["visitors_on_site"],
        "ongoingChats": with_agent + with_bot,
        "ongoingChatsWithAgent": with_agent,
        "currentQueueLength": row["waiting_chats"],
        "ongoingChatsWithBot": with_bot,
    }


def agent_states(agents: Iterable[tuple[str, int, int]]) -> dict[str, int]:
    """availableAgents, awayAgents and freeChatSlots (METRICS.md §7) of active agents given as
    (status type, ongoing chats, maxConcurrentChats)."""
    available = away = free = 0
    for kind, ongoing, capacity in agents:
        if kind == ONLINE:
            available += ongoing < capacity
            free += max(0, capacity - ongoing)
        elif kind == AWAY:
            away += 1
    return {"availableAgents": available, "awayAgents": away, "freeChatSlots": free}
