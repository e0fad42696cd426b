"""Check and rebuild a site's projections by replaying its event log (`chatpulse check` and
`chatpulse rebuild`): the event log is the source of truth, the projections only a cache of it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, func, select

from chatpulse.domain.events import Event
from chatpulse.domain.intervals import union_of
from chatpulse.store import tables as t
from chatpulse.store.eventlog import IngestTransaction
from chatpulse.store.scoped import scoped, scoped_delete

CHUNK = 1000
SUMS = (
    t.cohort_minutes,
    t.cohort_quarters,
    t.wait_minutes,
    t.time_quarters,
    t.live_totals,
)  # zero rows: nothing

# Told (events replayed, events to replay) at the start and after every chunk.
Progress = Callable[[int, int], None]


class ReplayError(Exception):
    """The stored log does not replay: an event breaks the rules against the replayed state."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    site_id: int
    events: int
    differences: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.differences


def site_ids(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(select(t.sites.c.id).order_by(t.sites.c.id)).scalars())


def rebuild(engine: Engine, site_id: int, progress: Progress | None = None) -> int:
    """Replace the site's projections by a replay of its log; returns the events replayed.
    Holds the site's write lock throughout, so ingest into this site waits."""
    with IngestTransaction(engine, site_id) as tx:
        count = _replay(tx, progress)
        tx.invalidate_answers()
        tx.conn.commit()
    return count


def check(engine: Engine, site_id: int, progress: Progress | None = None) -> CheckResult:
    """Compare the stored projections with a replay of the log; changes nothing."""
    with IngestTransaction(engine, site_id) as tx:
        before = _snapshot(tx.conn, site_id)
        count = _replay(tx, progress)
        after = _snapshot(tx.conn, site_id)
        # leaving the block without a commit rolls the replay back
    differences = tuple(
        f"{name}: {_describe(before[name], after[name])}"
        for name in before
        if before[name] != after[name]
    )
    return CheckResult(site_id, count, differences)


def _replay(tx: IngestTransaction, progress: Progress | None = None) -> int:
    conn, site = tx.conn, tx.site_id
    total = 0
    if progress is not None:
        e = t.events
        total = conn.execute(scoped(e, site, func.count())).scalar_one()
        progress(0, total)
    for table in t.PROJECTIONS:
        conn.execute(scoped_delete(table, site))
    count = 0
    for chunk in _log(conn, site):
        projector = tx.projector_for([event for _, event in chunk])
        for seq, event in chunk:
            error = projector.apply(event, seq)
            if error is not None:
                raise ReplayError(f"site {site}, event {seq} ({event.id}): {error.message}")
        tx.write_projections(projector)
        count += len(chunk)
        if progress is not None:
            progress(count, total)
    return count


def _log(conn: Connection, site_id: int) -> Iterator[list[tuple[int, Event]]]:
    after = 0
    e = t.events
    while True:
        rows = conn.execute(
            scoped(e, site_id, e.c.seq, e.c.id, e.c.type, e.c.occurred_at, e.c.data)
            .where(e.c.seq > after)
            .order_by(e.c.seq)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        yield [
            (row.seq, Event(row.id, row.type, row.occurred_at, orjson.loads(row.data)))
            for row in rows
        ]
        after = rows[-1].seq


def _snapshot(conn: Connection, site_id: int) -> dict[str, Any]:
    """Every projection row of the site, in a form where equal meaning compares equal: busy
    intervals as each agent's union (how a union is cut into rows depends on batch boundaries),
    per-minute sums without the rows that went back to zero."""
    out: dict[str, Any] = {}
    for table in t.PROJECTIONS:
        rows = [dict(r._mapping) for r in conn.execute(scoped(table, site_id))]
        if table is t.busy_intervals:
            spans: dict[str, list[tuple[int, int]]] = {}
            for r in rows:
                spans.setdefault(r["agent_id"], []).append((r["started_at"], r["ended_at"]))
            out[table.name] = {agent: union_of(s) for agent, s in spans.items()}
            continue
        if table is t.agent_states:
            for r in rows:
                # Numbering and the start of the open stretch follow how the union is cut
                # into rows; the union itself is compared above.
                r.pop("busy_no")
                r.pop("busy_since")
        if table in SUMS:
            keys = {c.name for c in table.primary_key.columns}
            rows = [r for r in rows if any(v for k, v in r.items() if k not in keys)]
        out[table.name] = {tuple(sorted(r.items())) for r in rows}
    return out


def _describe(before: Any, after: Any) -> str:
    if isinstance(before, dict):
        keys = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        return f"{len(keys)} differ (first: {keys[0]})"
    stored, replayed = set(before), set(after)
    missing, extra = replayed - stored, stored - replayed
    return f"{len(missing)} rows missing, {len(extra)} rows not in the replay"
