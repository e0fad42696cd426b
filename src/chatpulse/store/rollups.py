"""Keep the per-period sums of domain/rollups.py in step with the rows they sum.

Every writer of waits, status intervals or busy intervals (ingest, `rebuild`, `prune`) passes
the rows it closes, deletes or inserts here with a sign, in the same transaction. An ended wait
and a closed status interval never change again; busy intervals are rewritten only as a whole
(an agent's rebuild, prune), which subtracts the old rows and adds the new ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection

from chatpulse.domain.chat import OPEN
from chatpulse.domain.cohort import COHORT_FIELDS, Share, moves
from chatpulse.domain.rollups import (
    BUSY,
    STATUS,
    WAIT_FIELDS,
    WAIT_MINUTE,
    quarter_shares,
    wait_share,
)
from chatpulse.store import tables as t
from chatpulse.store.db import add_to_rows
from chatpulse.store.scoped import scoped, scoped_delete

# (route department or "", route agent or "", outcome, started_at, ended_at)
WaitRow = tuple[str | None, str | None, str | None, int, int]
# (status id, or "" for busy time; started_at; ended_at)
SpanRow = tuple[str, int, int]


def add_waits(conn: Connection, site_id: int, waits: Iterable[WaitRow], sign: int = 1) -> None:
    """Add (sign 1) or take away (sign -1) ended waits' shares; open waits are skipped."""
    sums: dict[tuple[str, str, int], list[int]] = {}
    for department, agent, outcome, started, ended in waits:
        if ended >= OPEN:
            continue
        key = (department or "", agent or "", ended // WAIT_MINUTE)
        row = sums.setdefault(key, [0, 0, 0, 0])
        for i, value in enumerate(wait_share(outcome, started, ended)):
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
    rows = [
        {"site_id": site_id, "department_key": key, "minute": minute}
        | dict(zip(COHORT_FIELDS, amount, strict=True))
        for (key, minute), amount in moves(chats).items()
    ]
    add_to_rows(conn, t.cohort_minutes, ("site_id", "department_key", "minute"), rows)


def drop_empty(conn: Connection, site_id: int) -> int:
    """Remove sums that went back to zero (after a prune took away what they summed)."""
    w, q = t.wait_minutes, t.time_quarters
    removed = conn.execute(scoped_delete(w, site_id).where(w.c.waits == 0)).rowcount
    removed += conn.execute(scoped_delete(q, site_id).where(q.c.micros == 0)).rowcount
    return int(removed)


def recompute(conn: Connection, site_id: int) -> None:
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
    add_waits(conn, site_id, _tuples(closed_waits))
    statuses = conn.execute(
        scoped(s, site_id, s.c.status_id, s.c.started_at, s.c.ended_at).where(s.c.ended_at < OPEN)
    )
    add_spans(conn, site_id, STATUS, _tuples(statuses))
    busy = conn.execute(scoped(b, site_id, b.c.started_at, b.c.ended_at).where(b.c.ended_at < OPEN))
    add_spans(conn, site_id, BUSY, [("", started, ended) for started, ended in busy])


def _tuples(rows: Iterable[Any]) -> list[Any]:
    return [tuple(row) for row in rows]
