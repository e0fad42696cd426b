"""What the views' queries share: the site's versions, the department check, the agents as the
views see them now, and SQL sums over clipped intervals.

`clipped(started, ended, start, end)` is the length of [started, ended) ∩ [start, end), with
portable CASE expressions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, and_, case, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

from chatpulse.domain.statuses import OFFLINE
from chatpulse.store import tables as t
from chatpulse.store.scoped import active_agents, scoped
from chatpulse.store.tables import agents_now
from chatpulse.store.versions import SITE_COLUMNS, SiteRow, site_row

a_, s_, st_ = t.agents, t.agent_states, t.agent_statuses


def site_versions(conn: Connection, site_id: int) -> SiteRow:
    """The site's row as a view's cache key needs it (store/versions.py)."""
    s = t.sites.c
    row = conn.execute(select(*[s[name] for name in SITE_COLUMNS]).where(s.id == site_id)).one()
    return site_row(row)


def department_version(conn: Connection, site_id: int, key: str) -> int:
    """The last sequence that changed a department's views (store/tables.department_versions)."""
    d = t.department_versions
    found = conn.execute(scoped(d, site_id, d.c.sequence).where(d.c.department_key == key)).scalar()
    return int(found or 0)


def department_state(conn: Connection, site_id: int, department_id: str) -> bool | None:
    """None: unknown; False: deleted; True: usable."""
    d = t.departments
    deleted = conn.execute(
        scoped(d, site_id, d.c.is_deleted).where(d.c.id == department_id)
    ).scalar()
    return None if deleted is None else not deleted


# ---------------------------------------------------------------- agents now


@dataclass(frozen=True, slots=True)
class AgentNow:
    """An active agent as the views see it now."""

    agent_id: str
    display_name: str
    max_concurrent_chats: int
    status_id: str | None
    status_type: str
    ongoing_chats: int


def status_type() -> ColumnElement[str]:
    """The type of the agent's current status (agents_now()); offline without one."""
    return func.coalesce(st_.c.type, OFFLINE)


def agent_columns() -> Select[Any]:
    """SELECT what makes an AgentNow FROM agents_now() (no WHERE yet)."""
    return select(
        a_.c.id,
        a_.c.display_name,
        a_.c.max_concurrent_chats,
        s_.c.status_id,
        status_type().label("status_type"),
        func.coalesce(s_.c.ongoing_chats, 0).label("ongoing"),
    ).select_from(agents_now())


def agent_now(row: Any) -> AgentNow:
    return AgentNow(
        row.id,
        row.display_name,
        row.max_concurrent_chats,
        row.status_id,
        row.status_type,
        int(row.ongoing),
    )


# ---------------------------------------------------------------- SQL sums


def sum_of(value: Any) -> Any:
    return func.coalesce(func.sum(value), 0)


def count_if(*conditions: Any) -> Any:
    return sum_of(case((and_(*conditions), 1), else_=0))


def clipped(started: Any, ended: Any, start: Any, end: Any) -> Any:
    """`start` and `end`: instants, or bound parameters of a statement built once."""
    lo = case((started > start, started), else_=_bound(start))
    hi = case((ended < end, ended), else_=_bound(end))
    return case((hi > lo, hi - lo), else_=0)


def _bound(value: Any) -> Any:
    return literal(value) if isinstance(value, int) else value


def active_agents_now(conn: Connection, site_id: int, department_id: str | None) -> list[AgentNow]:
    """Every active agent (of the department, if given) as the views see it now."""
    query = agent_columns().where(*active_agents(site_id, department_id))
    return [agent_now(row) for row in conn.execute(query)]
