"""RightNow (METRICS.md §2): counts of the present moment."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from chatpulse.domain.arith import percent_int
from chatpulse.domain.live import LiveState
from chatpulse.store import live_totals


def right_now(
    conn: Connection, site_id: int, department_id: str | None, live: LiveState | None = None
) -> dict[str, Any]:
    """One row of running totals (and the site's for a department: visitors on site are the
    site's): from the live state in memory, else read in one query."""
    key = department_id or ""
    if live is not None:
        row, site = live.figures(key), live.figures("")
    else:
        rows = live_totals.read(conn, site_id, ["", key])
        row, site = rows[key], rows[""]
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
