"""One view computed in the caller's snapshot: the dispatch to the four views (no cache)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine

from chatpulse.domain.live import LiveState
from chatpulse.domain.site_config import SiteConfig
from chatpulse.domain.window import Window
from chatpulse.store.live import live_states, load_config
from chatpulse.store.versions import SiteRow
from chatpulse.views.agents import agents_page
from chatpulse.views.common import check_department
from chatpulse.views.intervals import intervals
from chatpulse.views.query import LIVE_VIEWS, ViewQuery
from chatpulse.views.queue import queue
from chatpulse.views.rightnow import right_now
from chatpulse.views.today import today


def compute_at(
    engine: Engine,
    conn: Connection,
    row: SiteRow,
    site_id: int,
    view: str,
    query: ViewQuery,
    now: int,
    window: Window | None,
) -> Any:
    """One view in the caller's snapshot (`row` read in it), as a server computes it when no
    cached answer serves: the views of the present moment from the site's live state in memory
    (store/live.py), moved to the snapshot's sequence first; Today with the configuration
    at the snapshot's version."""
    if view in ("Today", "Intervals"):  # only the configuration: no state loaded or folded
        config = live_states(engine).config_at(conn, site_id, row)
        return compute(conn, site_id, view, query, now, window, config=config)
    if view not in LIVE_VIEWS:
        return compute(conn, site_id, view, query, now, window)
    with live_states(engine).at(conn, site_id, row, now) as live:
        return compute(conn, site_id, view, query, now, window, live)


def compute(
    conn: Connection,
    site_id: int,
    view: str,
    query: ViewQuery,
    now: int,
    window: Window | None,
    live: LiveState | None = None,
    config: SiteConfig | None = None,
) -> Any:
    """One view from the stored state, in the caller's snapshot: no cache. `live`: the site's
    live state at the snapshot's sequence, for the views that read the present moment;
    `config`: its configuration, for Today."""
    if live is not None:
        config = live.config
    department = check_department(conn, site_id, query.department_id, config)
    extended = query.extended
    if view == "RightNow":
        return right_now(conn, site_id, department, live, now, extended)
    if view == "Queue":
        return queue(conn, site_id, now, department, live, extended)
    assert window is not None
    if view == "Today":
        return today(conn, site_id, window, department, config, extended)
    if view == "Intervals":
        if config is None:
            config = load_config(conn, site_id, 0)
        return intervals(conn, site_id, window, department, query.interval_minutes, config)
    return agents_page(
        conn,
        site_id,
        window,
        department,
        query.page_index,
        query.page_size,
        query.include_status_distribution,
        live,
        extended,
    )
