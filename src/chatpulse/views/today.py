"""Today (METRICS.md §3, and §7 with `extended`): the cohort of chats requested in the window,
and agent times."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from chatpulse.domain.site_config import SiteConfig
from chatpulse.domain.today_metrics import today_extension, today_figures
from chatpulse.domain.window import Window
from chatpulse.store import config as config_store
from chatpulse.store.reads import today as reads


def today(
    conn: Connection,
    site_id: int,
    window: Window,
    department_id: str | None,
    config: SiteConfig | None = None,
    extended: bool = False,
) -> dict[str, Any]:
    """`config`: the site's configuration at the snapshot's version, when known (the live
    state's): who is active, in which department, which statuses are logged in, thresholds."""
    start, live_end = window.start, window.live_end
    thresholds = config.thresholds if config is not None else config_store.thresholds(conn, site_id)
    cohort = reads.cohort_totals(conn, site_id, start, window.end, department_id, thresholds)
    handled = reads.total_linear_chat_time(conn, site_id, department_id, start, live_end, config)
    logged_in = reads.total_logged_in_time(conn, site_id, department_id, start, live_end, config)
    invitations = reads.accepted_invitations(conn, site_id, start, window.end)
    figures = today_figures(cohort, handled, logged_in, invitations)
    if extended:
        waits = reads.open_first_waits(conn, site_id, start, window.end, department_id)
        figures.update(today_extension(cohort, window.now, (started for _, started in waits)))
    return figures
