"""RightNow (METRICS.md §2, and §7 with `extended`): counts of the present moment."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from chatpulse.domain.live import LiveState
from chatpulse.domain.queue_metrics import wait_time
from chatpulse.domain.rightnow_metrics import agent_states, right_now_figures
from chatpulse.store import live_totals
from chatpulse.store.reads.common import active_agents_now
from chatpulse.store.reads.queue import open_waits


def right_now(
    conn: Connection,
    site_id: int,
    department_id: str | None,
    live: LiveState | None = None,
    now: int = 0,
    extended: bool = False,
) -> dict[str, Any]:
    """One row of running totals (and the site's for a department: visitors on site are the
    site's): from the live state in memory, else read in one query. `extended`: with the
    longest wait going on at `now` and the agents' states."""
    key = department_id or ""
    if live is not None:
        figures = right_now_figures(live.figures(key), live.figures(""))
        if extended:
            started = live.longest_wait_started(department_id)
            row = live.figures(key)
            figures["longestWaitTime"] = 0 if started is None else wait_time(now, started)
            figures["availableAgents"] = row["available"]
            figures["awayAgents"] = row["away"]
            figures["freeChatSlots"] = row["free_slots"]
        return figures
    rows = live_totals.read(conn, site_id, ["", key])
    figures = right_now_figures(rows[key], rows[""])
    if extended:
        starts = [w.started_at for w in open_waits(conn, site_id, department_id)]
        figures["longestWaitTime"] = wait_time(now, min(starts)) if starts else 0
        agents = active_agents_now(conn, site_id, department_id)
        figures.update(
            agent_states((a.status_type, a.ongoing_chats, a.max_concurrent_chats) for a in agents)
        )
    return figures
