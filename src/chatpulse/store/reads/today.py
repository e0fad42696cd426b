"""The Today view's queries (METRICS.md §3): the cohort's sums, accepted invitations, and the
active agents' busy and logged-in time (H and O of agentUtilization)."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import BigInteger, BindParameter, Connection, Table, and_, bindparam, func

from chatpulse.domain.chat import OPEN, ChatRecord
from chatpulse.domain.cohort import (
    COHORT_FIELDS,
    LONGEST,
    MINUTE,
    QUARTER_MINUTES,
    ZERO,
    add,
    contribution,
    longest_of,
)
from chatpulse.domain.rollups import BUSY, QUARTER, STATUS, whole_quarters
from chatpulse.domain.service_level import SiteThresholds
from chatpulse.domain.site_config import SiteConfig
from chatpulse.domain.statuses import AWAY, ONLINE
from chatpulse.domain.today_metrics import FirstWait
from chatpulse.store import tables as t
from chatpulse.store.reads.common import clipped, sum_of
from chatpulse.store.records import CHAT_COLUMNS, from_row
from chatpulse.store.scoped import in_chunks, inactive_agents, is_active, scoped

a_ = t.agents


def cohort_totals(
    conn: Connection,
    site_id: int,
    start: int,
    end: int,
    department_id: str | None,
    thresholds: SiteThresholds,
) -> dict[str, int]:
    """The Today sums over the chats requested in [start, end) (of one cohort department):
    whole quarters from the per-quarter rollup, the other whole minutes from the per-minute one,
    the partial minutes at the edges from the chats (their first waits judged with
    `thresholds`); LONGEST too, the longest ended first wait."""
    first_whole = -(-start // MINUTE)
    after_whole = end // MINUTE
    totals = ZERO
    longest = 0
    key = department_id or ""
    if first_whole < after_whole:
        first_q = -(-first_whole // QUARTER_MINUTES)
        after_q = after_whole // QUARTER_MINUTES
        if first_q < after_q:
            spans = [
                (_cohort_sum(quarters=True), first_q, after_q),
                (_cohort_sum(), first_whole, first_q * QUARTER_MINUTES),
                (_cohort_sum(), after_q * QUARTER_MINUTES, after_whole),
            ]
        else:
            spans = [(_cohort_sum(), first_whole, after_whole)]
        for statement, first, after in spans:
            if first >= after:
                continue
            row = conn.execute(
                statement, {"site": site_id, "key": key, "first": first, "after": after}
            ).one()
            totals = add(totals, tuple(int(value) for value in row[:-1]))
            longest = max(longest, int(row[-1]))
        edges = [(start, first_whole * MINUTE), (after_whole * MINUTE, end)]
    else:
        edges = [(start, end)]
    for lo, hi in edges:
        if lo >= hi:
            continue
        for record in cohort_chats(conn, site_id, lo, hi, department_id):
            totals = add(totals, contribution(record, thresholds))
            longest = max(longest, longest_of(record))
    return dict(zip(COHORT_FIELDS, totals, strict=True)) | {LONGEST: longest}


def cohort_chats(
    conn: Connection, site_id: int, lo: int, hi: int, department_id: str | None
) -> list[ChatRecord]:
    """The chats requested in [lo, hi) (of the cohort department, if given)."""
    c = t.chats
    query = scoped(c, site_id).where(c.c.requested_at >= lo, c.c.requested_at < hi)
    if department_id is not None:
        query = query.where(c.c.cohort_department_id == department_id)
    return [from_row(ChatRecord, dict(chat._mapping), CHAT_COLUMNS) for chat in conn.execute(query)]


def open_first_waits(conn: Connection, site_id: int) -> list[FirstWait]:
    """(requested at, wait started at, cohort department) of every chat whose first wait is
    going on now: the open first waits (one index range, as few as the visitors waiting now),
    then their chats by key (a join, or a range on the chats, let SQLite walk the day's chats)."""
    w, c = t.waits, t.chats
    started: dict[str, int] = dict(
        conn.execute(
            scoped(w, site_id, w.c.chat_id, w.c.started_at).where(
                w.c.ended_at == OPEN, w.c.wait_no == 1
            )
        ).all()
    )
    out = []
    for chunk in in_chunks(sorted(started)):
        query = scoped(c, site_id, c.c.chat_id, c.c.requested_at, c.c.cohort_department_id)
        for chat_id, requested, cohort in conn.execute(query.where(c.c.chat_id.in_(chunk))):
            out.append((int(requested), int(started[chat_id]), cohort))
    return out


@functools.cache
def _cohort_sum(quarters: bool = False) -> Any:
    """The cohort sums and LONGEST of department key :key over the minutes [:first, :after)
    (over the quarters, from their rollup, if `quarters`)."""
    r = t.cohort_quarters if quarters else t.cohort_minutes
    period = r.c.quarter if quarters else r.c.minute
    return scoped(
        r,
        bindparam("site"),
        *[sum_of(r.c[name]) for name in COHORT_FIELDS],
        func.coalesce(func.max(r.c[LONGEST]), 0),
    ).where(
        r.c.department_key == bindparam("key"),
        period >= bindparam("first"),
        period < bindparam("after"),
    )


def accepted_invitations(conn: Connection, site_id: int, start: int, end: int) -> int:
    i = t.invitations
    return int(
        conn.execute(
            scoped(i, site_id, func.count()).where(i.c.accepted_at >= start, i.c.accepted_at < end)
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
        st = t.agent_statuses
        logged_in = list(
            conn.execute(
                scoped(st, site_id, st.c.id).where(st.c.type.in_((ONLINE, AWAY)))
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
    table: Table,
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

    def span(lo: int, hi: int, who: str, intervals: str, **params: Any) -> int:
        stmt = _span_sum(name, statuses is not None, who, intervals)
        return int(conn.execute(stmt, {**base, "lo": lo, "hi": hi, **params}).scalar_one())

    if department_id is not None:
        if config is not None:
            members = config.active_members(department_id)
        else:
            members = _active_members(conn, site_id, department_id)
        return sum(span(start, end, "in", "any", agents=chunk) for chunk in in_chunks(members))
    inactive = None if config is None else config.inactive_agents()
    if inactive is not None and len(inactive) > 500:
        inactive = None  # many: the subquery beats a long list
    active: dict[str, Any] = {} if inactive is None else {"agents": inactive}
    active_mode = "active" if inactive is None else ("not_in" if inactive else "all")
    first, after = whole_quarters(start, end)
    if first >= after:
        return span(start, end, active_mode, "any", **active)
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
            total += span(lo, hi, "all", "closed")
    total += span(start, end, active_mode, "open", **active)
    if inactive is None:
        inactive = list(conn.execute(inactive_agents(site_id)).scalars())
    for chunk in in_chunks(inactive):
        total -= span(start, end, "in", "closed", agents=chunk)
    return total


@functools.cache
def _span_sum(table_name: str, by_status: bool, agents: str, intervals: str) -> Any:
    """SUM of the intervals' lengths clipped to [:lo, :hi) over the site's rows (:site) of
    `table_name`: of the statuses :statuses (`by_status`); of `agents` "all", "in" :agents,
    "not_in" :agents or "active" (not deactivated or deleted); `intervals` "any", "closed" or
    "open"."""
    table = t.metadata.tables[table_name]
    lo, hi = bindparam("lo", type_=BigInteger), bindparam("hi", type_=BigInteger)
    site: BindParameter[Any] = bindparam("site")
    started, ended = table.c.started_at, table.c.ended_at
    query = scoped(table, site, sum_of(clipped(started, ended, lo, hi))).where(
        ended > lo, started < hi
    )
    if by_status:
        query = query.where(table.c.status_id.in_(bindparam("statuses", expanding=True)))
    if agents == "in":
        query = query.where(table.c.agent_id.in_(bindparam("agents", expanding=True)))
    elif agents == "not_in":
        query = query.where(table.c.agent_id.not_in(bindparam("agents", expanding=True)))
    elif agents == "active":
        query = query.where(table.c.agent_id.not_in(inactive_agents(site)))
    if intervals == "closed":
        query = query.where(ended < OPEN)
    elif intervals == "open":
        query = query.where(ended == OPEN)
    return query


@functools.cache
def _quarter_sum() -> Any:
    q = t.time_quarters
    return scoped(q, bindparam("site"), sum_of(q.c.micros)).where(
        q.c.kind == bindparam("kind"),
        q.c.status_key.in_(bindparam("keys", expanding=True)),
        q.c.quarter >= bindparam("first"),
        q.c.quarter < bindparam("after"),
    )


def _active_members(conn: Connection, site_id: int, department_id: str) -> list[str]:
    m = t.agent_departments
    return list(
        conn.execute(
            scoped(m, site_id, m.c.agent_id)
            .select_from(m.join(a_, and_(a_.c.site_id == m.c.site_id, a_.c.id == m.c.agent_id)))
            .where(m.c.department_id == department_id, *is_active())
        ).scalars()
    )
