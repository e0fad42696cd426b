"""The Intervals view's queries (SPEC.md §3.7): Today's sums for every bucket of a window in one
pass each, grouped by bucket in SQL (a bucket is `length` µs from the window's `start`, so a row
of minute m or quarter q falls in bucket (m·MINUTE − start) // length when the buckets' bounds
are whole minutes or quarters). The statements are built once (`functools.cache`), with bound
parameters: building them anew cost a sixth of a day's Intervals."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, BindParameter, Connection, Table, bindparam, func

from chatpulse.domain.chat import OPEN
from chatpulse.domain.cohort import COHORT_FIELDS, LONGEST, MINUTE
from chatpulse.domain.rollups import QUARTER
from chatpulse.store import tables as t
from chatpulse.store.reads.common import sum_of
from chatpulse.store.scoped import inactive_agents, scoped


def cohort_by_bucket(
    conn: Connection,
    site_id: int,
    department_id: str | None,
    start: int,
    length: int,
    first: int,
    after: int,
    quarters: bool = False,
) -> dict[int, tuple[tuple[int, ...], int]]:
    """Per bucket: the cohort sums of the whole minutes [first, after) (of the whole quarters,
    from the per-quarter rollup, if `quarters`), and their LONGEST."""
    params = {
        "site": site_id,
        "key": department_id or "",
        "start": start,
        "length": length,
        "first": first,
        "after": after,
    }
    return {
        int(row[0]): (tuple(int(v) for v in row[1:-1]), int(row[-1] or 0))
        for row in conn.execute(_cohort_statement(quarters), params)
    }


@functools.cache
def _cohort_statement(quarters: bool) -> Any:
    r = t.cohort_quarters if quarters else t.cohort_minutes
    period = r.c.quarter if quarters else r.c.minute
    unit = QUARTER if quarters else MINUTE
    bucket = (period * unit - _int("start")) // _int("length")
    return (
        scoped(
            r,
            bindparam("site"),
            bucket,
            *[sum_of(r.c[name]) for name in COHORT_FIELDS],
            func.max(r.c[LONGEST]),
        )
        .where(
            r.c.department_key == bindparam("key"),
            period >= _int("first"),
            period < _int("after"),
        )
        .group_by(bucket)
    )


def invitations_by_bucket(
    conn: Connection, site_id: int, start: int, end: int, length: int
) -> dict[int, int]:
    """Per bucket: invitations accepted in it."""
    params = {"site": site_id, "start": start, "end": end, "length": length}
    return {int(b): int(n) for b, n in conn.execute(_invitations_statement(), params)}


@functools.cache
def _invitations_statement() -> Any:
    i = t.invitations
    bucket = (i.c.accepted_at - _int("start")) // _int("length")
    return (
        scoped(i, bindparam("site"), bucket, func.count())
        .where(i.c.accepted_at >= _int("start"), i.c.accepted_at < _int("end"))
        .group_by(bucket)
    )


def quarters_by_bucket(
    conn: Connection,
    site_id: int,
    kind: str,
    keys: list[str],
    start: int,
    length: int,
    first: int,
    after: int,
) -> dict[int, int]:
    """Per bucket: every agent's closed intervals' time in the whole quarters [first, after)."""
    params = {
        "site": site_id,
        "kind": kind,
        "keys": keys,
        "start": start,
        "length": length,
        "first": first,
        "after": after,
    }
    return {int(b): int(n) for b, n in conn.execute(_quarters_statement(), params)}


@functools.cache
def _quarters_statement() -> Any:
    q = t.time_quarters
    bucket = (q.c.quarter * QUARTER - _int("start")) // _int("length")
    return (
        scoped(q, bindparam("site"), bucket, sum_of(q.c.micros))
        .where(
            q.c.kind == bindparam("kind"),
            q.c.status_key.in_(bindparam("keys", expanding=True)),
            q.c.quarter >= _int("first"),
            q.c.quarter < _int("after"),
        )
        .group_by(bucket)
    )


def intervals_of(
    conn: Connection,
    site_id: int,
    table: Table,
    statuses: list[str] | None,
    lo: int,
    hi: int,
    *,
    agents: Sequence[str] | None = None,
    active_only: bool = False,
    closed: bool | None = None,
) -> list[tuple[int, int]]:
    """(started, ended) of `table`'s intervals meeting [lo, hi): of `statuses` (status
    intervals), of `agents` if given, of active agents only if asked, closed or open only if
    asked (None: both)."""
    statement = _intervals_statement(
        table.name, statuses is not None, agents is not None, active_only, closed
    )
    params: dict[str, Any] = {"site": site_id, "lo": lo, "hi": hi}
    if statuses is not None:
        params["statuses"] = statuses
    if agents is not None:
        params["agents"] = list(agents)
    return [(int(a), int(b)) for a, b in conn.execute(statement, params)]


@functools.cache
def _intervals_statement(
    table_name: str, by_status: bool, by_agent: bool, active_only: bool, closed: bool | None
) -> Any:
    table = t.metadata.tables[table_name]
    started, ended = table.c.started_at, table.c.ended_at
    site: BindParameter[Any] = bindparam("site")
    query = scoped(table, site, started, ended).where(started < _int("hi"))
    # Open ones by equality alone: with a range on ended_at too, SQLite walks the range.
    query = query.where(ended == OPEN) if closed is False else query.where(ended > _int("lo"))
    if by_status:
        query = query.where(table.c.status_id.in_(bindparam("statuses", expanding=True)))
    if by_agent:
        query = query.where(table.c.agent_id.in_(bindparam("agents", expanding=True)))
    if active_only:
        query = query.where(table.c.agent_id.not_in(inactive_agents(site)))
    if closed is True:
        query = query.where(ended < OPEN)
    return query


def _int(name: str) -> Any:
    return bindparam(name, type_=BigInteger)
