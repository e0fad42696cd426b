"""The queries the four views run; each takes the site first and uses an index of tables.py.

Sums of time are computed in SQL over clipped intervals: `_clipped(started, ended, start, end)`
is the length of [started, ended) ∩ [start, end), with portable CASE expressions.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import BigInteger, Connection, Select, and_, bindparam, case, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

from chatpulse.domain.chat import (
    OPEN,
    WAIT_ABANDONED,
    WAIT_SWITCHED,
    ChatRecord,
)
from chatpulse.domain.cohort import COHORT_FIELDS, MINUTE, ZERO, add, contribution
from chatpulse.domain.live import SiteConfig, WaitSums
from chatpulse.domain.rollups import (
    BUSY,
    QUARTER,
    STATUS,
    WAIT_MINUTE,
    whole_minutes,
    whole_quarters,
)
from chatpulse.domain.statuses import AWAY, OFFLINE, ONLINE
from chatpulse.store import tables as t
from chatpulse.store.records import CHAT_COLUMNS, from_row
from chatpulse.store.tables import agents_now
from chatpulse.store.versions import SiteRow

a_, s_, st_ = t.agents, t.agent_states, t.agent_statuses


def _active(site_id: int, department_id: str | None) -> list[ColumnElement[bool]]:
    conditions = [a_.c.site_id == site_id, a_.c.is_deleted.is_(False), a_.c.is_active.is_(True)]
    if department_id is not None:
        members = select(t.agent_departments.c.agent_id).where(
            t.agent_departments.c.site_id == site_id,
            t.agent_departments.c.department_id == department_id,
        )
        conditions.append(a_.c.id.in_(members))
    return conditions


def _type() -> ColumnElement[str]:
    return func.coalesce(st_.c.type, OFFLINE)


def _sum(value: Any) -> Any:
    return func.coalesce(func.sum(value), 0)


def _count_if(*conditions: Any) -> Any:
    return _sum(case((and_(*conditions), 1), else_=0))


def _clipped(started: Any, ended: Any, start: int, end: int) -> Any:
    lo = case((started > start, started), else_=literal(start))
    hi = case((ended < end, ended), else_=literal(end))
    return case((hi > lo, hi - lo), else_=0)


def department_state(conn: Connection, site_id: int, department_id: str) -> bool | None:
    """None: unknown; False: deleted; True: usable."""
    deleted = conn.execute(
        select(t.departments.c.is_deleted).where(
            t.departments.c.site_id == site_id, t.departments.c.id == department_id
        )
    ).scalar()
    return None if deleted is None else not deleted


# ---------------------------------------------------------------- RightNow


def site_versions(conn: Connection, site_id: int) -> SiteRow:
    """The site's row as a view's cache key needs it (store/versions.py)."""
    s = t.sites.c
    row = conn.execute(
        select(s.last_sequence, s.config_version, s.time_zone, s.name, s.departments_upto).where(
            s.id == site_id
        )
    ).one()
    return SiteRow(int(row[0]), int(row[1]), row[2], row[3], int(row[4]))


def department_version(conn: Connection, site_id: int, key: str) -> int:
    """The last sequence that changed a department's views (store/tables.department_versions)."""
    d = t.department_versions.c
    found = conn.execute(
        select(d.sequence).where(d.site_id == site_id, d.department_key == key)
    ).scalar()
    return int(found or 0)


# ---------------------------------------------------------------- Agents


@dataclass(frozen=True, slots=True)
class AgentNow:
    """An active agent as the views see it now."""

    agent_id: str
    display_name: str
    max_concurrent_chats: int
    status_id: str | None
    status_type: str
    ongoing_chats: int


def _agent_columns() -> Select[Any]:
    return select(
        a_.c.id,
        a_.c.display_name,
        a_.c.max_concurrent_chats,
        s_.c.status_id,
        _type().label("status_type"),
        func.coalesce(s_.c.ongoing_chats, 0).label("ongoing"),
    ).select_from(agents_now())


def _agent_now(row: Any) -> AgentNow:
    return AgentNow(
        row.id,
        row.display_name,
        row.max_concurrent_chats,
        row.status_id,
        row.status_type,
        int(row.ongoing),
    )


def count_agents(conn: Connection, site_id: int, department_id: str | None) -> int:
    return int(
        conn.execute(
            select(func.count()).select_from(a_).where(*_active(site_id, department_id))
        ).scalar_one()
    )


def agents_in_order(
    conn: Connection, site_id: int, department_id: str | None, offset: int, limit: int
) -> list[AgentNow]:
    """A page of active agents: status type (online, away, offline), ongoing chats descending,
    display name case-insensitively (casefold, kept in sort_name), id."""
    rank = case((_type() == ONLINE, 0), (_type() == AWAY, 1), else_=2)
    name: Any = a_.c.sort_name
    if conn.dialect.name == "postgresql":
        name = name.collate("C")  # code-point order, as Python's casefold comparison
    query = (
        _agent_columns()
        .where(*_active(site_id, department_id))
        .order_by(
            rank,
            func.coalesce(s_.c.ongoing_chats, 0).desc(),
            name,
            a_.c.id,
        )
        .offset(offset)
        .limit(limit)
    )
    return [_agent_now(row) for row in conn.execute(query)]


def queue_agents(
    conn: Connection, site_id: int, agent_ids: Sequence[str]
) -> tuple[dict[str, AgentNow], dict[str, Any]]:
    """Active agents among `agent_ids`, and their documents (Queue's agent rows)."""
    if not agent_ids:
        return {}, {}
    rows = conn.execute(
        _agent_columns()
        .add_columns(a_.c.doc)
        .where(*_active(site_id, None), a_.c.id.in_(agent_ids))
    )
    agents: dict[str, AgentNow] = {}
    docs: dict[str, Any] = {}
    for row in rows:
        agents[row.id] = _agent_now(row)
        docs[row.id] = orjson.loads(row.doc)
    return agents, docs


def linear_chat_time(
    conn: Connection, site_id: int, agent_ids: Sequence[str], start: int, end: int
) -> dict[str, int]:
    """Per agent: the length of its busy intervals (union of handling) clipped to [start, end)."""
    b = t.busy_intervals
    rows = conn.execute(
        select(b.c.agent_id, _sum(_clipped(b.c.started_at, b.c.ended_at, start, end)))
        .where(
            b.c.site_id == site_id,
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
        select(h.c.agent_id, func.count())
        .where(
            h.c.site_id == site_id,
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
    rows = conn.execute(
        select(
            s.c.agent_id, s.c.status_id, _sum(_clipped(s.c.started_at, s.c.ended_at, start, end))
        )
        .where(
            s.c.site_id == site_id,
            s.c.agent_id.in_(agent_ids),
            s.c.ended_at > start,
            s.c.started_at < end,
        )
        .group_by(s.c.agent_id, s.c.status_id)
    )
    return [(row[0], row[1], int(row[2])) for row in rows]


def first_status_at(conn: Connection, site_id: int, agent_ids: Sequence[str]) -> dict[str, int]:
    s = t.status_intervals
    rows = conn.execute(
        select(s.c.agent_id, s.c.started_at).where(
            s.c.site_id == site_id, s.c.status_no == 1, s.c.agent_id.in_(agent_ids)
        )
    )
    return {row[0]: row[1] for row in rows}


# ---------------------------------------------------------------- Today


def cohort_totals(
    conn: Connection, site_id: int, start: int, end: int, department_id: str | None
) -> dict[str, int]:
    """The Today sums over the chats requested in [start, end) (of one cohort department):
    whole minutes from the per-minute rollup, the partial minutes at the edges from the chats."""
    first_whole = -(-start // MINUTE)
    after_whole = end // MINUTE
    totals = ZERO
    if first_whole < after_whole:
        row = conn.execute(
            _cohort_sum(),
            {
                "site": site_id,
                "key": department_id or "",
                "first": first_whole,
                "after": after_whole,
            },
        ).one()
        totals = tuple(int(value) for value in row)
        edges = [(start, first_whole * MINUTE), (after_whole * MINUTE, end)]
    else:
        edges = [(start, end)]
    c = t.chats
    for lo, hi in edges:
        if lo >= hi:
            continue
        query = select(c).where(
            c.c.site_id == site_id, c.c.requested_at >= lo, c.c.requested_at < hi
        )
        if department_id is not None:
            query = query.where(c.c.cohort_department_id == department_id)
        for chat in conn.execute(query):
            record = from_row(ChatRecord, dict(chat._mapping), CHAT_COLUMNS)
            totals = add(totals, contribution(record))
    return dict(zip(COHORT_FIELDS, totals, strict=True))


@functools.cache
def _cohort_sum() -> Any:
    r = t.cohort_minutes
    return select(*[_sum(r.c[name]) for name in COHORT_FIELDS]).where(
        r.c.site_id == bindparam("site"),
        r.c.department_key == bindparam("key"),
        r.c.minute >= bindparam("first"),
        r.c.minute < bindparam("after"),
    )


def accepted_invitations(conn: Connection, site_id: int, start: int, end: int) -> int:
    i = t.invitations
    return int(
        conn.execute(
            select(func.count()).where(
                i.c.site_id == site_id, i.c.accepted_at >= start, i.c.accepted_at < end
            )
        ).scalar_one()
    )


def total_linear_chat_time(
    conn: Connection,
    site_id: int,
    department_id: str | None,
    start: int,
    end: int,
    config: SiteConfig | None = None,
) -> int:
    """H of agentUtilization: active agents' busy time clipped to [start, end). `config`: the
    site's configuration when the caller knows it (the live state's), else read here."""
    return _total_time(conn, site_id, department_id, start, end, t.busy_intervals, None, config)


def total_logged_in_time(
    conn: Connection,
    site_id: int,
    department_id: str | None,
    start: int,
    end: int,
    config: SiteConfig | None = None,
) -> int:
    """O of agentUtilization: active agents' time in statuses of type online or away."""
    if config is not None:
        logged_in = config.logged_in_statuses()
    else:
        logged_in = list(
            conn.execute(
                select(st_.c.id).where(st_.c.site_id == site_id, st_.c.type.in_((ONLINE, AWAY)))
            ).scalars()
        )
    if not logged_in:
        return 0
    return _total_time(
        conn, site_id, department_id, start, end, t.status_intervals, logged_in, config
    )


def _total_time(
    conn: Connection,
    site_id: int,
    department_id: str | None,
    start: int,
    end: int,
    table: Any,
    statuses: list[str] | None,
    config: SiteConfig | None,
) -> int:
    """Active agents' time in `table`'s intervals (of `statuses`, for status intervals) clipped
    to [start, end).

    Site-wide: every agent's closed intervals from the per-quarter sums (the partial quarters at
    the window's edges from the rows), less the closed intervals of agents not active, plus the
    open intervals of active agents. A department: its active members' rows. The statements are
    built once (`_span_sum`): building them anew cost more than running them."""
    if end <= start:
        return 0
    name = table.name
    base: dict[str, Any] = {"site": site_id}
    if statuses is not None:
        base["statuses"] = statuses

    def clipped(lo: int, hi: int, who: str, intervals: str, **params: Any) -> int:
        stmt = _span_sum(name, statuses is not None, who, intervals)
        return int(conn.execute(stmt, {**base, "lo": lo, "hi": hi, **params}).scalar_one())

    if department_id is not None:
        if config is not None:
            members = config.active_members(department_id)
        else:
            members = _active_members(conn, site_id, department_id)
        return sum(
            clipped(start, end, "in", "any", agents=members[i : i + 500])
            for i in range(0, len(members), 500)
        )
    inactive = None if config is None else config.inactive_agents()
    if inactive is not None and len(inactive) > 500:
        inactive = None  # many: the subquery beats a long list
    active: dict[str, Any] = {} if inactive is None else {"agents": inactive}
    active_mode = "active" if inactive is None else ("not_in" if inactive else "all")
    first, after = whole_quarters(start, end)
    if first >= after:
        return clipped(start, end, active_mode, "any", **active)
    total = int(
        conn.execute(
            _quarter_sum(),
            {
                "site": site_id,
                "kind": BUSY if statuses is None else STATUS,
                "keys": statuses if statuses is not None else [""],
                "first": first,
                "after": after,
            },
        ).scalar_one()
    )
    for lo, hi in ((start, first * QUARTER), (after * QUARTER, end)):
        if lo < hi:
            total += clipped(lo, hi, "all", "closed")
    total += clipped(start, end, active_mode, "open", **active)
    if inactive is None:
        inactive = list(
            conn.execute(
                select(a_.c.id).where(
                    a_.c.site_id == site_id, a_.c.is_deleted.is_(True) | a_.c.is_active.is_(False)
                )
            ).scalars()
        )
    for chunk in range(0, len(inactive), 500):
        total -= clipped(start, end, "in", "closed", agents=inactive[chunk : chunk + 500])
    return total


@functools.cache
def _span_sum(table_name: str, by_status: bool, agents: str, intervals: str) -> Any:
    """SUM of the intervals' lengths clipped to [:lo, :hi) over the site's rows (:site) of
    `table_name`: of the statuses :statuses (`by_status`); of `agents` "all", "in" :agents,
    "not_in" :agents or "active" (not deactivated or deleted); `intervals` "any", "closed" or
    "open"."""
    table = t.metadata.tables[table_name]
    lo, hi = bindparam("lo", type_=BigInteger), bindparam("hi", type_=BigInteger)
    conditions = [
        table.c.site_id == bindparam("site"),
        table.c.ended_at > lo,
        table.c.started_at < hi,
    ]
    if by_status:
        conditions.append(table.c.status_id.in_(bindparam("statuses", expanding=True)))
    if agents == "in":
        conditions.append(table.c.agent_id.in_(bindparam("agents", expanding=True)))
    elif agents == "not_in":
        conditions.append(table.c.agent_id.not_in(bindparam("agents", expanding=True)))
    elif agents == "active":
        inactive = select(a_.c.id).where(
            a_.c.site_id == bindparam("site"),
            (a_.c.is_deleted.is_(True)) | (a_.c.is_active.is_(False)),
        )
        conditions.append(table.c.agent_id.not_in(inactive))
    if intervals == "closed":
        conditions.append(table.c.ended_at < OPEN)
    elif intervals == "open":
        conditions.append(table.c.ended_at == OPEN)
    started, ended = table.c.started_at, table.c.ended_at
    clip_lo = case((started > lo, started), else_=lo)
    clip_hi = case((ended < hi, ended), else_=hi)
    return select(_sum(case((clip_hi > clip_lo, clip_hi - clip_lo), else_=0))).where(*conditions)


@functools.cache
def _quarter_sum() -> Any:
    q = t.time_quarters
    return select(_sum(q.c.micros)).where(
        q.c.site_id == bindparam("site"),
        q.c.kind == bindparam("kind"),
        q.c.status_key.in_(bindparam("keys", expanding=True)),
        q.c.quarter >= bindparam("first"),
        q.c.quarter < bindparam("after"),
    )


def _active_members(conn: Connection, site_id: int, department_id: str) -> list[str]:
    m = t.agent_departments
    return list(
        conn.execute(
            select(m.c.agent_id)
            .select_from(m.join(a_, and_(a_.c.site_id == m.c.site_id, a_.c.id == m.c.agent_id)))
            .where(
                m.c.site_id == site_id,
                m.c.department_id == department_id,
                a_.c.is_deleted.is_(False),
                a_.c.is_active.is_(True),
            )
        ).scalars()
    )


# ---------------------------------------------------------------- Queue


def queue_departments(
    conn: Connection, site_id: int, department_id: str | None
) -> list[dict[str, Any]]:
    d = t.departments
    query = select(d.c.doc).where(d.c.site_id == site_id, d.c.is_deleted.is_(False))
    if department_id is None:
        query = query.where(d.c.is_available_in_live_chat.is_(True))
    else:
        query = query.where(d.c.id == department_id)
    docs: list[dict[str, Any]] = [orjson.loads(text) for text in conn.execute(query).scalars()]
    return sorted(docs, key=lambda doc: (doc["name"].casefold(), doc["id"]))


def open_waits(conn: Connection, site_id: int, department_id: str | None = None) -> list[Any]:
    """Every wait still going (routed to `department_id` only, if given): its route target,
    visitor and start."""
    w = t.waits
    query = select(
        w.c.route_department_id,
        w.c.route_agent_id,
        w.c.visitor_id,
        w.c.contact_identity_id,
        w.c.started_at,
    ).where(w.c.site_id == site_id, w.c.ended_at == OPEN)
    if department_id is not None:
        query = query.where(w.c.route_department_id == department_id)
    return list(conn.execute(query))


def ended_wait_totals(
    conn: Connection, site_id: int, now: int, department_id: str | None = None
) -> dict[tuple[str | None, str | None], WaitSums]:
    """Per route target (the department's only, if given): waits that ended in
    (now − 60 min, now] and (now − 30 min, now].

    Whole minutes from the per-minute sums (one pass for both windows), the partial minutes at
    the edges from the rows: [now − 60 min, …) and [now − 30 min, …) at the start, the minute
    of now at the end, which both windows share."""
    hi = now + 1
    lo_60, lo_30 = hi - 60 * WAIT_MINUTE, hi - 30 * WAIT_MINUTE
    first_60, after = whole_minutes(lo_60, hi)
    first_30 = whole_minutes(lo_30, hi)[0]
    out: dict[tuple[str | None, str | None], WaitSums] = {}

    def row_of(department: str | None, agent: str | None) -> WaitSums:
        key = (department or None, agent or None)
        row = out.get(key)
        if row is None:
            row = out[key] = WaitSums()
        return row

    r = t.wait_minutes
    recent = r.c.minute >= first_30
    for department, agent, *sums in conn.execute(
        select(
            r.c.route_department_key,
            r.c.route_agent_key,
            _sum(r.c.waits),
            _sum(r.c.wait_total),
            _sum(case((recent, r.c.waits), else_=0)),
            _sum(case((recent, r.c.wait_total), else_=0)),
            _sum(case((recent, r.c.abandoned), else_=0)),
            _sum(case((recent, r.c.switched), else_=0)),
        )
        .where(
            r.c.site_id == site_id,
            r.c.minute >= first_60,
            r.c.minute < after,
            *([r.c.route_department_key == department_id] if department_id else []),
        )
        .group_by(r.c.route_department_key, r.c.route_agent_key)
    ):
        row = row_of(department, agent)
        row.count_60, row.total_60, row.count_30, row.total_30 = map(int, sums[:4])
        row.abandoned_30, row.switched_30 = int(sums[4]), int(sums[5])

    w = t.waits
    # The edges, one index range each (an OR of ranges made SQLite read every wait of the site).
    edges = [
        (lo_60, first_60 * WAIT_MINUTE, True, False),
        (lo_30, first_30 * WAIT_MINUTE, False, True),
        (after * WAIT_MINUTE, hi, True, True),
    ]
    for lo, hi_edge, in_60, in_30 in edges:
        if lo >= hi_edge:
            continue
        rows = conn.execute(
            select(
                w.c.route_department_id,
                w.c.route_agent_id,
                func.count(),
                _sum(w.c.ended_at - w.c.started_at),
                _count_if(w.c.outcome == WAIT_ABANDONED),
                _count_if(w.c.outcome == WAIT_SWITCHED),
            )
            .where(
                w.c.site_id == site_id,
                w.c.ended_at >= lo,
                w.c.ended_at < hi_edge,
                *([w.c.route_department_id == department_id] if department_id else []),
            )
            .group_by(w.c.route_department_id, w.c.route_agent_id)
        )
        for department, agent, count, total, abandoned, switched in rows:
            row = row_of(department, agent)
            if in_60:
                row.count_60 += int(count)
                row.total_60 += int(total)
            if in_30:
                row.count_30 += int(count)
                row.total_30 += int(total)
                row.abandoned_30 += int(abandoned)
                row.switched_30 += int(switched)
    return out
