"""The Intervals view's queries (SPEC.md §3.7): Today's sums for every bucket of a window in one
pass each, grouped by bucket in SQL (a bucket is `length` µs from the window's `start`, so a row
of minute m or quarter q falls in bucket (m·MINUTE − start) // length when the buckets' bounds
are whole minutes or quarters)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Table, func

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
    r = t.cohort_quarters if quarters else t.cohort_minutes
    period = r.c.quarter * QUARTER if quarters else r.c.minute * MINUTE
    bucket = (period - start) // length
    rows = conn.execute(
        scoped(
            r,
            site_id,
            bucket,
            *[sum_of(r.c[name]) for name in COHORT_FIELDS],
            func.max(r.c[LONGEST]),
        )
        .where(
            r.c.department_key == (department_id or ""),
            (r.c.quarter if quarters else r.c.minute) >= first,
            (r.c.quarter if quarters else r.c.minute) < after,
        )
        .group_by(bucket)
    )
    return {int(row[0]): (tuple(int(v) for v in row[1:-1]), int(row[-1] or 0)) for row in rows}


def invitations_by_bucket(
    conn: Connection, site_id: int, start: int, end: int, length: int
) -> dict[int, int]:
    """Per bucket: invitations accepted in it."""
    i = t.invitations
    bucket = (i.c.accepted_at - start) // length
    rows = conn.execute(
        scoped(i, site_id, bucket, func.count())
        .where(i.c.accepted_at >= start, i.c.accepted_at < end)
        .group_by(bucket)
    )
    return {int(b): int(n) for b, n in rows}


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
    q = t.time_quarters
    bucket = (q.c.quarter * QUARTER - start) // length
    rows = conn.execute(
        scoped(q, site_id, bucket, sum_of(q.c.micros))
        .where(
            q.c.kind == kind,
            q.c.status_key.in_(keys),
            q.c.quarter >= first,
            q.c.quarter < after,
        )
        .group_by(bucket)
    )
    return {int(b): int(n) for b, n in rows}


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
    started, ended = table.c.started_at, table.c.ended_at
    query = scoped(table, site_id, started, ended).where(started < hi)
    # Open ones by equality alone: with a range on ended_at too, SQLite walks the range.
    query = query.where(ended == OPEN) if closed is False else query.where(ended > lo)
    if statuses is not None:
        query = query.where(table.c.status_id.in_(statuses))
    if agents is not None:
        query = query.where(table.c.agent_id.in_(agents))
    if active_only:
        query = query.where(table.c.agent_id.not_in(inactive_agents(site_id)))
    if closed is True:
        query = query.where(ended < OPEN)
    return [(int(a), int(b)) for a, b in conn.execute(query)]
