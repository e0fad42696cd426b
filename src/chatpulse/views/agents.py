"""Agents (METRICS.md §5): one page of agents with their day over the window."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from chatpulse.domain.agents_metrics import page_count, status_distributions
from chatpulse.domain.live import LiveState
from chatpulse.domain.statuses import OFFLINE_ID
from chatpulse.domain.timeutil import format_instant, format_timespan
from chatpulse.domain.window import Window
from chatpulse.store.reads import agents as reads
from chatpulse.views.common import agent_now


def agents_page(
    conn: Connection,
    site_id: int,
    window: Window,
    department_id: str | None,
    page_index: int,
    page_size: int,
    include_status_distribution: bool,
    live: LiveState | None = None,
    extended: bool = False,
) -> dict[str, Any]:
    """`live`: the site's live state at the snapshot's sequence (the agents, their order and
    their present); the sums over the window come from the projections."""
    offset = (page_index - 1) * page_size
    if live is not None:
        order = live.agents_in_order(department_id)
        total = len(order)
        page = [agent_now(live, agent_id) for agent_id in order[offset : offset + page_size]]
    else:
        total = reads.count_agents(conn, site_id, department_id)
        page = reads.agents_in_order(conn, site_id, department_id, offset, page_size)
    ids = [a.agent_id for a in page]
    start, live_end = window.start, window.live_end
    linear: dict[str, int] = {}
    got: dict[str, int] = {}
    distributions: dict[str, dict[str, int]] = {}
    since: dict[str, int] = {}
    missed: dict[str, int] = {}
    if ids and extended:
        since = reads.status_since(conn, site_id, ids)
        missed = reads.missed_offers(conn, site_id, ids, start, window.end)
    if ids:
        linear = reads.linear_chat_time(conn, site_id, ids, start, live_end)
        got = reads.chats_got(conn, site_id, ids, start, window.end)
        if include_status_distribution:
            spent = reads.status_time(conn, site_id, ids, start, live_end)
            first = reads.first_status_at(conn, site_id, ids)
            distributions = status_distributions(ids, spent, first, start, live_end)
    items = []
    for a in page:
        item: dict[str, Any] = {
            "agentId": a.agent_id,
            "displayName": a.display_name,
            "currentStatusId": a.status_id or OFFLINE_ID,
            "onGoingChats": a.ongoing_chats,
            "maxConcurrentChats": a.max_concurrent_chats,
            "intradayChats": got.get(a.agent_id, 0),
            "intradayLinearChatTime": format_timespan(linear.get(a.agent_id, 0)),
            "statusDistribution": distributions.get(a.agent_id, {}),
        }
        if extended:
            at = since.get(a.agent_id)
            item["currentStatusSince"] = None if at is None else format_instant(at)
            item["missedChats"] = missed.get(a.agent_id, 0)
        items.append(item)
    return {
        "total": total,
        "pageCount": page_count(total, page_size),
        "pageIndex": page_index,
        "pageSize": page_size,
        "list": items,
    }
