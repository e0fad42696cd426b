"""The Agents view's queries (METRICS.md §5): a page of active agents in order, and their sums
over the window (linear chat time, chats got, time per status)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, case, func, select

from chatpulse.domain.statuses import AWAY, ONLINE
from chatpulse.store import tables as t
from chatpulse.store.reads.common import (
    AgentNow,
    agent_columns,
    agent_now,
    clipped,
    status_type,
    sum_of,
)
from chatpulse.store.scoped import active_agents, scoped

a_, s_ = t.agents, t.agent_states


def count_agents(conn: Connection, site_id: int, department_id: str | None) -> int:
    return int(
        conn.execute(
            select(func.count()).select_from(a_).where(*active_agents(site_id, department_id))
        ).scalar_one()
    )


def agents_in_order(
    conn: Connection, site_id: int, department_id: str | None, offset: int, limit: int
) -> list[AgentNow]:
    """A page of active agents: status type (online, away, offline), ongoing chats descending,
    display name case-insensitively (casefold, kept in sort_name), id."""
    rank = case((status_type() == ONLINE, 0), (status_type() == AWAY, 1), else_=2)
    name: Any = a_.c.sort_name
    if conn.dialect.name == "postgresql":
        name = name.collate("C")  # code-point order, as Python's casefold comparison
    query = (
        agent_columns()
        .where(*active_agents(site_id, department_id))
        .order_by(
            rank,
            func.coalesce(s_.c.ongoing_chats, 0).desc(),
            name,
            a_.c.id,
        )
        .offset(offset)
        .limit(limit)
    )
    return [agent_now(row) for row in conn.execute(query)]


def linear_chat_time(
    conn: Connection, site_id: int, agent_ids: Sequence[str], start: int, end: int
) -> dict[str, int]:
    """Per agent: the length of its busy intervals (union of handling) clipped to [start, end)."""
    b = t.busy_intervals
    rows = conn.execute(
        scoped(b, site_id, b.c.agent_id, sum_of(clipped(b.c.started_at, b.c.ended_at, start, end)))
        .where(
            b.c.agent_id.in_(agent_ids),
            b.c.ended_at > start,
            b.c.started_at < end,
        )
        .group_by(b.c.agent_id)
    )
    return {row[0]: int(row[1]) for row in rows}


def chats_got(
    conn: Connection, site_id: int, agent_ids: Sequence[str], start: int, end: int
) -> dict[str, int]:
    """Per agent: handling intervals that began in [start, end)."""
    h = t.handling_intervals
    rows = conn.execute(
        scoped(h, site_id, h.c.agent_id, func.count())
        .where(
            h.c.agent_id.in_(agent_ids),
            h.c.ended_at >= start,  # implied by started_at >= start; lets the index bound it
            h.c.started_at >= start,
            h.c.started_at < end,
        )
        .group_by(h.c.agent_id)
    )
    return {row[0]: int(row[1]) for row in rows}


def status_time(
    conn: Connection, site_id: int, agent_ids: Sequence[str], start: int, end: int
) -> list[tuple[str, str, int]]:
    """(agent, status, microseconds in it within [start, end))."""
    s = t.status_intervals
    spent = sum_of(clipped(s.c.started_at, s.c.ended_at, start, end))
    rows = conn.execute(
        scoped(s, site_id, s.c.agent_id, s.c.status_id, spent)
        .where(
            s.c.agent_id.in_(agent_ids),
            s.c.ended_at > start,
            s.c.started_at < end,
        )
        .group_by(s.c.agent_id, s.c.status_id)
    )
    return [(row[0], row[1], int(row[2])) for row in rows]


def first_status_at(conn: Connection, site_id: int, agent_ids: Sequence[str]) -> dict[str, int]:
    """Per agent: when its first status began."""
    s = t.status_intervals
    rows = conn.execute(
        scoped(s, site_id, s.c.agent_id, s.c.started_at).where(
            s.c.status_no == 1, s.c.agent_id.in_(agent_ids)
        )
    )
    return {row[0]: row[1] for row in rows}


def status_since(conn: Connection, site_id: int, agent_ids: Sequence[str]) -> dict[str, int]:
    """Per agent with a status event: the time of its last one (METRICS.md §7)."""
    s = t.agent_states
    rows = conn.execute(
        scoped(s, site_id, s.c.agent_id, s.c.status_since).where(
            s.c.agent_id.in_(agent_ids), s.c.status_since.is_not(None)
        )
    )
    return {row[0]: int(row[1]) for row in rows}


def missed_offers(
    conn: Connection, site_id: int, agent_ids: Sequence[str], start: int, end: int
) -> dict[str, int]:
    """Per agent: `chat.missed` events naming it in [start, end) (METRICS.md §7)."""
    m = t.missed_offers
    rows = conn.execute(
        scoped(m, site_id, m.c.agent_id, func.count())
        .where(m.c.missed_at >= start, m.c.missed_at < end, m.c.agent_id.in_(agent_ids))
        .group_by(m.c.agent_id)
    )
    return {row[0]: int(row[1]) for row in rows}
