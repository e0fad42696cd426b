"""The projections written beside the event log, in the ingest's transaction: each changed row
saved, the running totals and per-minute rollups moved with it, busy intervals rebuilt."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert, update

from chatpulse.domain.chat import OPEN, ChatRecord
from chatpulse.domain.cohort import Share, share_of
from chatpulse.domain.intervals import union_of
from chatpulse.domain.projector import Projector
from chatpulse.domain.rollups import BUSY, STATUS
from chatpulse.domain.service_level import SiteThresholds
from chatpulse.store import live_totals, rollups
from chatpulse.store import tables as t
from chatpulse.store.records import (
    AGENT_COLUMNS,
    BUSY_COLUMNS,
    CHAT_COLUMNS,
    HANDLING_COLUMNS,
    INVITATION_COLUMNS,
    STATUS_COLUMNS,
    VISITOR_COLUMNS,
    WAIT_COLUMNS,
    to_row,
)
from chatpulse.store.scoped import in_chunks, scoped, scoped_delete, scoped_update


@dataclass(frozen=True, slots=True)
class Before:
    """What the ingest transaction read before the batch: the agents' status and load, the
    chats' live state and cohort share, the visitors' presence (to move the totals by)."""

    live: dict[str, tuple[str | None, int]]
    chats: dict[str, live_totals.ChatState]
    on_site: dict[str, bool]
    cohort: dict[str, Share]
    # The service-level thresholds the batch's ended waits are judged with (METRICS.md §7).
    thresholds: SiteThresholds


def write(conn: Connection, site: int, projector: Projector, before: Before) -> None:
    """Write every projection row the projector changed, in the caller's transaction, and
    move the running totals and rollups with them."""
    _save(conn, site, t.chats, ("chat_id",), projector.dirty_chats.values(), CHAT_COLUMNS)
    _save(
        conn,
        site,
        t.waits,
        ("chat_id", "wait_no"),
        projector.waits.values(),
        WAIT_COLUMNS,
    )
    _save(
        conn,
        site,
        t.handling_intervals,
        ("chat_id", "handling_no"),
        projector.handlings.values(),
        HANDLING_COLUMNS,
    )
    _save(
        conn,
        site,
        t.status_intervals,
        ("agent_id", "status_no"),
        projector.statuses.values(),
        STATUS_COLUMNS,
    )
    _save(
        conn,
        site,
        t.busy_intervals,
        ("agent_id", "busy_no"),
        projector.busies.values(),
        BUSY_COLUMNS,
    )
    moved = [
        agent_id
        for agent_id, agent in projector.dirty_agents.items()
        if before.live.get(agent_id) != (agent.status_id, agent.ongoing_chats)
    ]
    with live_totals.tracking(conn, site, moved):
        _save(
            conn,
            site,
            t.agent_states,
            ("agent_id",),
            projector.dirty_agents.values(),
            AGENT_COLUMNS,
        )
    _save(
        conn,
        site,
        t.visitors,
        ("visitor_id",),
        projector.dirty_visitors.values(),
        VISITOR_COLUMNS,
    )
    _save(
        conn,
        site,
        t.invitations,
        ("invitation_id",),
        projector.dirty_invitations.values(),
        INVITATION_COLUMNS,
    )
    live_totals.add_moves(
        conn,
        site,
        (
            (
                before.chats.get(c.chat_id),
                (c.state, c.department_id, c.route_department_id),
            )
            for c in projector.dirty_chats.values()
        ),
        (
            (before.on_site.get(v.visitor_id, False), v.on_site)
            for v in projector.dirty_visitors.values()
        ),
    )
    # Ended waits and closed intervals are final: each is summed once, when it closes.
    rollups.add_waits(
        conn,
        site,
        (
            (w.route_department_id, w.route_agent_id, w.outcome, w.started_at, w.ended_at)
            for w in projector.waits.values()
        ),
        before.thresholds,
    )
    if projector.missed:
        conn.execute(
            insert(t.missed_offers),
            [
                {
                    "site_id": site,
                    "event_id": event_id,
                    "agent_id": agent_id,
                    "chat_id": chat_id,
                    "missed_at": at,
                }
                for event_id, agent_id, chat_id, at in projector.missed
            ],
        )
    rollups.add_spans(
        conn,
        site,
        STATUS,
        ((s.status_id, s.started_at, s.ended_at) for s in projector.statuses.values()),
    )
    rollups.add_spans(
        conn, site, BUSY, (("", b.started_at, b.ended_at) for b in projector.busies.values())
    )
    for agent_id in sorted(projector.busy_rebuilds):
        rebuild_busy_intervals(conn, site, agent_id)
    _add_cohort_changes(
        conn, site, projector.dirty_chats.values(), before.cohort, before.thresholds
    )


def rebuild_busy_intervals(conn: Connection, site: int, agent_id: str) -> None:
    """Recompute an agent's busy intervals as the union of its handling intervals.

    Only needed when one of the agent's chats brought a handling boundary earlier than one
    already applied (events of different chats may interleave out of time order); the
    in-order case is kept incrementally by the projector.
    """
    h, b, s = t.handling_intervals, t.busy_intervals, t.agent_states
    spans = conn.execute(
        scoped(h, site, h.c.started_at, h.c.ended_at).where(h.c.agent_id == agent_id)
    ).all()
    merged = union_of(spans)
    old = {
        row.busy_no: (row.started_at, row.ended_at)
        for row in conn.execute(
            scoped(b, site, b.c.busy_no, b.c.started_at, b.c.ended_at).where(
                b.c.agent_id == agent_id
            )
        )
    }
    new = [(n, a, e) for n, (a, e) in enumerate(merged, start=1)]
    replace_busy_intervals(conn, site, agent_id, old, new)
    open_since = merged[-1][0] if merged and merged[-1][1] == OPEN else None
    conn.execute(
        scoped_update(s, site)
        .where(s.c.agent_id == agent_id)
        .values(busy_no=len(merged), busy_since=open_since)
    )


def _add_cohort_changes(
    conn: Connection,
    site: int,
    chats: Iterable[ChatRecord],
    cohort_before: dict[str, Share],
    thresholds: SiteThresholds,
) -> None:
    """Move each changed chat's share of the Today sums in the per-minute rollup."""
    changes: list[tuple[int, Share]] = []
    for chat in chats:
        before = cohort_before.get(chat.chat_id)
        if before is not None and not chat.is_new:
            changes.append((-1, before))
        changes.append((1, share_of(chat, thresholds)))
    rollups.add_cohorts(conn, site, changes)


def replace_busy_intervals(
    conn: Connection,
    site_id: int,
    agent_id: str,
    old: dict[int, tuple[int, int]],
    new: Sequence[tuple[int, int, int]],
) -> None:
    """Swap an agent's busy intervals `old` (number → (start, end)) for `new` ((number, start,
    end)), the per-quarter sums with them: the one way busy intervals are rewritten (an
    out-of-order boundary here, `prune`)."""
    b = t.busy_intervals
    rollups.add_spans(conn, site_id, BUSY, (("", a, e) for a, e in old.values()), sign=-1)
    rollups.add_spans(conn, site_id, BUSY, (("", a, e) for _, a, e in new))
    numbers = sorted(old)
    for chunk in in_chunks(numbers):
        conn.execute(
            scoped_delete(b, site_id).where(b.c.agent_id == agent_id, b.c.busy_no.in_(chunk))
        )
    if new:
        conn.execute(
            insert(b),
            [
                {
                    "site_id": site_id,
                    "agent_id": agent_id,
                    "busy_no": n,
                    "started_at": a,
                    "ended_at": e,
                }
                for n, a, e in new
            ],
        )


def _save(
    conn: Connection,
    site_id: int,
    table: Table,
    key: tuple[str, ...],
    records: Iterable[Any],
    columns: tuple[str, ...],
) -> None:
    new_rows: list[dict[str, Any]] = []
    changed_rows: list[dict[str, Any]] = []
    for record in records:
        row = to_row(site_id, record, columns)
        (new_rows if record.is_new else changed_rows).append(row)
    if new_rows:
        conn.execute(insert(table), new_rows)
    if changed_rows:
        keys = ("site_id", *key)
        stmt = (
            update(table)
            .where(*[table.c[k] == bindparam(f"k_{k}") for k in keys])
            .values({c: bindparam(c) for c in columns if c not in keys})
        )
        params = [{**row, **{f"k_{k}": row[k] for k in keys}} for row in changed_rows]
        for row in params:
            for k in keys:
                row.pop(k, None)
        conn.execute(stmt, params)
