"""RightNow (METRICS.md §2): counts of the present moment."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from chatpulse.domain.arith import percent_int
from chatpulse.domain.chat import BOT, ONGOING, WAITING
from chatpulse.store import reads


def right_now(conn: Connection, site_id: int, department_id: str | None) -> dict[str, Any]:
    agents = reads.agent_totals(conn, site_id, department_id)
    chats = reads.live_chat_counts(conn, site_id, department_id)
    with_agent, with_bot = chats[ONGOING], chats[BOT]
    return {
        "loggedInAgents": agents["logged_in"],
        "agentsInChat": agents["in_chat"],
        "chatUtilization": percent_int(agents["online_chats"], agents["online_capacity"]),
        "visitorOnSite": reads.visitors_on_site(conn, site_id),
        "ongoingChats": with_agent + with_bot,
        "ongoingChatsWithAgent": with_agent,
        "currentQueueLength": chats[WAITING],
        "ongoingChatsWithBot": with_bot,
    }
