"""Keep the per-period sums of domain/rollups.py in step with the rows they sum.

Every writer of waits, status intervals or busy intervals (ingest, `rebuild`, `prune`) passes
the rows it closes, deletes or inserts here with a sign, in the same transaction. An ended wait
and a closed status interval never change again; busy intervals are rewritten only as a whole
(an agent's rebuild, prune), which subtracts the old rows and adds the new ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, and_, case, func, literal, select, update

from chatpulse.domain.chat import ANSWERED, OPEN
from chatpulse.domain.cohort import COHORT_FIELDS, LONGEST, MINUTE, QUARTER_MINUTES, Share, moves
from chatpulse.domain.rollups import (
    BUSY,
    STATUS,
    WAIT_FIELDS,
    WAIT_MINUTE,
    quarter_shares,
    wait_share,
)
from chatpulse.domain.service_level import SiteThresholds
from chatpulse.domain.timeutil import MICROS as SECOND
from chatpulse.store import tables as t
from chatpulse.store.db import add_to_rows
from chatpulse.store.scoped import in_chunks, scoped, scoped_delete

# (route department or "", route agent or "", outcome, started_at, ended_at)
WaitRow = tuple[str | None, str | None, str | None, int, int]
# (status id, or "" for busy time; started_at; ended_at)
SpanRow = tuple[str, int, int]


def add_waits(
    conn: Connection,
    site_id: int,
    waits: Iterable[WaitRow],
    thresholds: SiteThresholds,
    sign: int = 1,
) -> None:
    """Add (sign 1) or take away (sign -1) ended waits' shares, judged with `thresholds` (the
    configuration's now); open waits are skipped."""
    sums: dict[tuple[str, str, int], list[int]] = {}
    for department, agent, outcome, started, ended in waits:
        if ended >= OPEN:
            continue
        key = (department or "", agent or "", ended // WAIT_MINUTE)
        row = sums.setdefault(key, [0] * len(WAIT_FIELDS))
        for i, value in enumerate(wait_share(outcome, started, ended, department, thresholds)):
            row[i] += sign * value
    rows = [
        {
            "site_id": site_id,
            "route_department_key": department,
            "route_agent_key": agent,
            "minute": minute,
        }
        | dict(zip(WAIT_FIELDS, values, strict=True))
        for (department, agent, minute), values in sums.items()
        if any(values)
    ]
    keys = ("site_id", "route_department_key", "route_agent_key", "minute")
    add_to_rows(conn, t.wait_minutes, keys, rows)


def add_spans(
    conn: Connection, site_id: int, kind: str, spans: Iterable[SpanRow], sign: int = 1
) -> None:
    """Add or take away closed intervals' time per quarter; open intervals are skipped."""
    sums: dict[tuple[str, int], int] = {}
    for key, started, ended in spans:
        for quarter, micros in quarter_shares(started, ended):
            sums[(key, quarter)] = sums.get((key, quarter), 0) + sign * micros
    rows = [
        {"site_id": site_id, "kind": kind, "status_key": key, "quarter": quarter, "micros": value}
        for (key, quarter), value in sums.items()
        if value
    ]
    add_to_rows(conn, t.time_quarters, ("site_id", "kind", "status_key", "quarter"), rows)


def add_cohorts(conn: Connection, site_id: int, chats: Iterable[tuple[int, Share]]) -> None:
    """Add (+1) or take away (−1) chats' shares of the Today sums (domain/cohort.py)."""
    names = (*COHORT_FIELDS, LONGEST)
    by_minute = moves(chats)
    by_quarter: dict[tuple[str, int], list[int]] = {}
    for (key, minute), amount in by_minute.items():
        sums = by_quarter.get((key, minute // QUARTER_MINUTES))
        if sums is None:
            by_quarter[(key, minute // QUARTER_MINUTES)] = list(amount)
            continue
        for i in range(len(COHORT_FIELDS)):
            sums[i] += amount[i]
        sums[-1] = max(sums[-1], amount[-1])
    for table, unit, found in (
        (t.cohort_minutes, "minute", by_minute.items()),
        (t.cohort_quarters, "quarter", ((k, tuple(v)) for k, v in by_quarter.items())),
    ):
        rows = [
            {"site_id": site_id, "department_key": key, unit: period}
            | dict(zip(names, amount, strict=True))
            for (key, period), amount in found
        ]
        keys = ("site_id", "department_key", unit)
        add_to_rows(conn, table, keys, rows, maxima=(LONGEST,))


def drop_empty(conn: Connection, site_id: int) -> int:
    """Remove sums that went back to zero (after a prune took away what they summed)."""
    w, q = t.wait_minutes, t.time_quarters
    removed = conn.execute(scoped_delete(w, site_id).where(w.c.waits == 0)).rowcount
    removed += conn.execute(scoped_delete(q, site_id).where(q.c.micros == 0)).rowcount
    return int(removed)


def recompute(conn: Connection, site_id: int, thresholds: SiteThresholds) -> None:
    """Sums of the site from its rows, from scratch (the migration that added them)."""
    conn.execute(scoped_delete(t.wait_minutes, site_id))
    conn.execute(scoped_delete(t.time_quarters, site_id))
    w, s, b = t.waits, t.status_intervals, t.busy_intervals
    closed_waits = conn.execute(
        scoped(
            w,
            site_id,
            w.c.route_department_id,
            w.c.route_agent_id,
            w.c.outcome,
            w.c.started_at,
            w.c.ended_at,
        ).where(w.c.ended_at < OPEN)
    )
    add_waits(conn, site_id, _tuples(closed_waits), thresholds)
    statuses = conn.execute(
        scoped(s, site_id, s.c.status_id, s.c.started_at, s.c.ended_at).where(s.c.ended_at < OPEN)
    )
    add_spans(conn, site_id, STATUS, _tuples(statuses))
    busy = conn.execute(scoped(b, site_id, b.c.started_at, b.c.ended_at).where(b.c.ended_at < OPEN))
    add_spans(conn, site_id, BUSY, [("", started, ended) for started, ended in busy])


def _tuples(rows: Iterable[Any]) -> list[Any]:
    return [tuple(row) for row in rows]


def rejudge(conn: Connection, site_id: int, thresholds: SiteThresholds) -> None:
    """Judge every ended wait of the site again with `thresholds` (a change of T or S: METRICS.md
    §7 reads them at the request, so the past is judged anew): the service-level sums of
    wait_minutes and cohort_minutes recomputed from the rows, in the caller's transaction."""
    _rejudge(conn, site_id, thresholds, ("in_time", "counted"))


def recompute_service_level(conn: Connection, site_id: int, thresholds: SiteThresholds) -> None:
    """Every sum of METRICS.md §7 from the rows (the migration that added them)."""
    _rejudge(conn, site_id, thresholds, ("in_time", "counted", "answer_total", LONGEST))


def _rejudge(
    conn: Connection, site_id: int, thresholds: SiteThresholds, columns: tuple[str, ...]
) -> None:
    w, wm = t.waits, t.wait_minutes
    length = w.c.ended_at - w.c.started_at
    answered = w.c.outcome == ANSWERED
    judged = _judgements(thresholds, w.c.route_department_id, answered, length)
    same_minute = and_(
        w.c.site_id == wm.c.site_id,
        w.c.ended_at >= wm.c.minute * WAIT_MINUTE,
        w.c.ended_at < (wm.c.minute + 1) * WAIT_MINUTE,
        func.coalesce(w.c.route_department_id, "") == wm.c.route_department_key,
        func.coalesce(w.c.route_agent_id, "") == wm.c.route_agent_key,
    )
    conn.execute(
        update(wm)
        .where(wm.c.site_id == site_id)
        .values(
            {
                name: select(func.coalesce(func.sum(judged[name]), 0))
                .where(same_minute)
                .scalar_subquery()
                for name in ("in_time", "counted")
            }
        )
    )
    c, cm = t.chats, t.cohort_minutes
    first = c.c.first_wait_length
    accepted = c.c.accepted_at.is_not(None)
    judged = _judgements(thresholds, c.c.first_wait_department_id, accepted, first)
    judged["answer_total"] = case((accepted, first), else_=0)
    judged[LONGEST] = first
    for site_wide in (True, False):
        same = _first_waits_of_minute()
        if not site_wide:
            same.append(c.c.cohort_department_id == cm.c.department_key)
        values = {
            name: select(
                func.coalesce((func.max if name == LONGEST else func.sum)(judged[name]), 0)
            )
            .where(*same)
            .scalar_subquery()
            for name in columns
        }
        key_is = cm.c.department_key == "" if site_wide else cm.c.department_key != ""
        conn.execute(update(cm).where(cm.c.site_id == site_id, key_is).values(values))
    _quarters_from_minutes(conn, site_id, columns)


def _quarters_from_minutes(
    conn: Connection,
    site_id: int,
    columns: tuple[str, ...],
    key: str | None = None,
    quarters: Sequence[int] | None = None,
) -> None:
    """Set `columns` of the site's cohort quarters (of department key `key`, and of `quarters`,
    if given) from the minutes they hold."""
    cm, cq = t.cohort_minutes, t.cohort_quarters
    inside = [
        cm.c.site_id == cq.c.site_id,
        cm.c.department_key == cq.c.department_key,
        cm.c.minute >= cq.c.quarter * QUARTER_MINUTES,
        cm.c.minute < (cq.c.quarter + 1) * QUARTER_MINUTES,
    ]
    values = {
        name: select(func.coalesce((func.max if name == LONGEST else func.sum)(cm.c[name]), 0))
        .where(*inside)
        .scalar_subquery()
        for name in columns
    }
    query = update(cq).where(cq.c.site_id == site_id)
    if key is not None:
        query = query.where(cq.c.department_key == key)
    if quarters is not None:
        query = query.where(cq.c.quarter.in_(quarters))
    conn.execute(query.values(values))


def _judgements(
    thresholds: SiteThresholds, department: Any, answered: Any, length: Any
) -> dict[str, Any]:
    """SQL of Thresholds.judge: "in_time" and "counted" of a wait of `length` µs whose route
    department is the column `department`."""
    site = thresholds.site
    t_of: dict[str, int] = {}
    s_of: dict[str, int] = {}
    for department_id in thresholds.overrides:
        own = thresholds.of(department_id)
        t_of[department_id] = own.service_level_seconds * SECOND
        s_of[department_id] = own.short_abandon_seconds * SECOND
    limit = (
        case(t_of, value=department, else_=site.service_level_seconds * SECOND)
        if t_of
        else (literal(site.service_level_seconds * SECOND))
    )
    short = (
        case(s_of, value=department, else_=site.short_abandon_seconds * SECOND)
        if s_of
        else (literal(site.short_abandon_seconds * SECOND))
    )
    return {
        "in_time": case((and_(answered, length <= limit), 1), else_=0),
        "counted": case((answered, 1), (length >= short, 1), else_=0),
    }


def _first_waits_of_minute() -> list[Any]:
    """Conditions on `chats` correlated with a `cohort_minutes` row: the chats of its site
    requested in its minute whose first wait has ended."""
    c, cm = t.chats, t.cohort_minutes
    return [
        c.c.site_id == cm.c.site_id,
        c.c.requested_at >= cm.c.minute * MINUTE,
        c.c.requested_at < (cm.c.minute + 1) * MINUTE,
        c.c.first_wait_ended_at.is_not(None),
    ]


def refresh_longest(conn: Connection, site_id: int, key: str, minutes: list[int]) -> None:
    """Set LONGEST of the cohort rows (`key`, each of `minutes`) from the chats they still sum
    (after a prune took some away)."""
    c, cm = t.chats, t.cohort_minutes
    same = _first_waits_of_minute()
    if key:
        same.append(c.c.cohort_department_id == key)
    longest = select(func.coalesce(func.max(c.c.first_wait_length), 0)).where(*same)
    for chunk in in_chunks(minutes):
        conn.execute(
            update(cm)
            .where(cm.c.site_id == site_id, cm.c.department_key == key, cm.c.minute.in_(chunk))
            .values({LONGEST: longest.scalar_subquery()})
        )
    quarters = sorted({minute // QUARTER_MINUTES for minute in minutes})
    for chunk in in_chunks(quarters):
        _quarters_from_minutes(conn, site_id, (LONGEST,), key, chunk)
