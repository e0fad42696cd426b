"""RightNow (METRICS.md §2): counts of the present moment."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from chatpulse.domain.live import LiveState
from chatpulse.domain.rightnow_metrics import right_now_figures
from chatpulse.store import live_totals


def right_now(
    conn: Connection, site_id: int, department_id: str | None, live: LiveState | None = None
) -> dict[str, Any]:
    """One row of running totals (and the site's for a department: visitors on site are the
    site's): from the live state in memory, else read in one query."""
    key = department_id or ""
    if live is not None:
        return right_now_figures(live.figures(key), live.figures(""))
    rows = live_totals.read(conn, site_id, ["", key])
    return right_now_figures(rows[key], rows[""])
