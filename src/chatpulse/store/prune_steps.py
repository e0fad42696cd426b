"""What one write transaction of `chatpulse prune` (store/prune.py) removes of each kind of
entity: chats with their waits, handling and busy intervals and cohort shares; agents' status
intervals; visitors; invitations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select

from chatpulse.domain.chat import FINAL_STATES, OPEN, ChatRecord
from chatpulse.domain.cohort import QUARTER_MINUTES, share_of
from chatpulse.domain.intervals import union_of
from chatpulse.domain.rollups import STATUS
from chatpulse.domain.service_level import SiteThresholds
from chatpulse.store import config as config_store
from chatpulse.store import rollups
from chatpulse.store import tables as t
from chatpulse.store.projections import replace_busy_intervals
from chatpulse.store.records import CHAT_COLUMNS, from_row
from chatpulse.store.scoped import (
    delete_in,
    in_chunks,
    of_site,
    rows_in,
    scoped,
    scoped_delete,
    scoped_update,
)

if TYPE_CHECKING:
    from chatpulse.store.eventlog import IngestTransaction
    from chatpulse.store.prune import Plan, PruneResult


class PruneError(Exception):
    """A cut-off that cannot be used, or a log that does not match its projections."""


# ---------------------------------------------------------------- chats


def prune_chats(
    tx: IngestTransaction, cutoff: int, chat_ids: list[str], plan: Plan, result: PruneResult
) -> None:
    """Final chats whose every event is before the cut-off go, with their events, waits and
    handling intervals and their share of the Today sums; their agents' busy intervals are
    recomputed from the handling intervals that remain."""
    conn, site = tx.conn, tx.site_id
    gone = [
        from_row(ChatRecord, row._mapping, CHAT_COLUMNS)
        for row in rows_in(conn, t.chats, site, "chat_id", chat_ids)
        if row.state in FINAL_STATES and row.last_event_at < cutoff
    ]
    ids = [chat.chat_id for chat in gone]
    for chat_id in chat_ids:
        if chat_id not in ids:
            del plan.chats[chat_id]
            plan.chat_agents.pop(chat_id, None)
    if not ids:
        return
    h = t.handling_intervals
    spans: dict[str, tuple[int, int]] = {}  # per agent: from its first to its last lost instant
    for chunk in in_chunks(ids):
        for agent_id, started, ended in conn.execute(
            scoped(h, site, h.c.agent_id, h.c.started_at, h.c.ended_at).where(
                h.c.chat_id.in_(chunk)
            )
        ):
            lo, hi = spans.get(agent_id, (started, ended))
            spans[agent_id] = (min(lo, started), max(hi, ended))
    seqs = [seq for chat_id in ids for seq in plan.chats.pop(chat_id)]
    for chat_id in ids:
        plan.chat_agents.pop(chat_id, None)
    result.add("events", delete_in(conn, t.events, site, "seq", seqs))
    w = t.waits
    ended_waits = [
        (row.route_department_id, row.route_agent_id, row.outcome, row.started_at, row.ended_at)
        for row in rows_in(conn, w, site, "chat_id", ids)
    ]
    thresholds = config_store.thresholds(conn, site)
    rollups.add_waits(conn, site, ended_waits, thresholds, sign=-1)
    result.add("waits", delete_in(conn, w, site, "chat_id", ids))
    result.add("missed_offers", delete_in(conn, t.missed_offers, site, "chat_id", ids))
    result.add("handling_intervals", delete_in(conn, h, site, "chat_id", ids))
    result.add("chats", delete_in(conn, t.chats, site, "chat_id", ids))
    _take_cohort_shares(conn, site, gone, thresholds, result)
    for agent_id, (lo, hi) in sorted(spans.items()):
        _recompute_busy(conn, site, agent_id, lo, hi, result)


def _take_cohort_shares(
    conn: Connection,
    site_id: int,
    chats: list[ChatRecord],
    thresholds: SiteThresholds,
    result: PruneResult,
) -> None:
    taken = [(-1, share_of(chat, thresholds)) for chat in chats]
    rollups.add_cohorts(conn, site_id, taken)
    # `total` counts the chats of the minute: a row at 0 sums no chat any more.
    r = t.cohort_minutes
    by_key: dict[str, set[int]] = {}
    for _, (department, minute, _amount, _longest) in taken:
        for key in ("", department) if department else ("",):
            by_key.setdefault(key, set()).add(minute)
    for key, minutes in by_key.items():
        for chunk in in_chunks(sorted(minutes)):
            removed = conn.execute(
                scoped_delete(r, site_id).where(
                    r.c.department_key == key,
                    r.c.minute.in_(chunk),
                    r.c.total == 0,
                )
            )
            result.add("cohort_minutes", removed.rowcount)
        q = t.cohort_quarters
        quarters = sorted({minute // QUARTER_MINUTES for minute in minutes})
        for chunk in in_chunks(quarters):  # not counted: the same chats as the minutes
            conn.execute(
                scoped_delete(q, site_id).where(
                    q.c.department_key == key, q.c.quarter.in_(chunk), q.c.total == 0
                )
            )
        # A maximum cannot be taken away: the minutes' longest waits again from their chats.
        rollups.refresh_longest(conn, site_id, key, sorted(minutes))


def _recompute_busy(
    conn: Connection, site_id: int, agent_id: str, lo: int, hi: int, result: PruneResult
) -> None:
    """Make the agent's busy intervals around [lo, hi] (where it lost handling intervals) the
    union of its remaining handling intervals there, and its state what a replay of the
    remaining log gives. Only the busy stretches that met [lo, hi] are read and rewritten, so
    the cost follows what was pruned, not the agent's history."""
    h, b, s = t.handling_intervals, t.busy_intervals, t.agent_states
    mine = (of_site(b, site_id), b.c.agent_id == agent_id)
    old: dict[int, tuple[int, int]] = {}
    after = lo
    while True:  # the stored stretches that meet [lo, hi], in time order
        query = select(b.c.busy_no, b.c.started_at, b.c.ended_at).where(
            *mine, b.c.ended_at >= after
        )
        if old:  # rows ending at the same instant as the last page's last one
            query = query.where(b.c.busy_no.not_in(list(old)))
        rows = conn.execute(query.order_by(b.c.ended_at).limit(100)).all()
        fresh = [row for row in rows if row.started_at <= hi]
        old.update((row.busy_no, (row.started_at, row.ended_at)) for row in fresh)
        if len(fresh) < len(rows) or len(rows) < 100:
            break
        after = rows[-1].ended_at
    if not old:
        return
    # Rows that merely touch them belong to the same stretch of the union.
    while True:
        first = min(a for a, _ in old.values())
        last = max(e for _, e in old.values())
        others = (*mine, b.c.busy_no.not_in(list(old)))
        cols = (b.c.busy_no, b.c.started_at, b.c.ended_at)
        touching = list(conn.execute(select(*cols).where(*others, b.c.ended_at == first)))
        following = conn.execute(  # the next rows in time: an index seek, not a scan onwards
            select(*cols).where(*others, b.c.ended_at >= last).order_by(b.c.ended_at).limit(2)
        ).all()
        touching += [row for row in following if row.started_at == last]
        if not touching:
            break
        old.update((row.busy_no, (row.started_at, row.ended_at)) for row in touching)
    # No remaining handling interval crosses `first` or `last` (they bound stretches of the old
    # union), so the ones inside are exactly those that end between them.
    spans = conn.execute(
        scoped(h, site_id, h.c.started_at, h.c.ended_at).where(
            h.c.agent_id == agent_id,
            h.c.ended_at >= first,
            h.c.ended_at <= last,
        )
    ).all()
    new = union_of((a, e) for a, e in spans)
    result.add("busy_intervals", len(old) - len(new))
    # Ingest numbers an agent's next stretch `agent_states.busy_no + 1` and that number is the
    # highest in use, held by the open stretch. So the rewritten stretches take the highest of
    # the freed numbers in time order (the open one, last, keeps the highest); the extra ones a
    # split needs go below every number in use.
    numbers = sorted(old)
    if len(new) > len(numbers):
        lowest = conn.execute(select(func.min(b.c.busy_no)).where(*mine)).scalar()
        below = min(lowest if lowest is not None else numbers[0], numbers[0])
        numbers = list(range(below - (len(new) - len(numbers)), below)) + numbers
    written = [(n, a, e) for n, (a, e) in zip(numbers[len(numbers) - len(new) :], new, strict=True)]
    replace_busy_intervals(conn, site_id, agent_id, old, written)
    values: dict[str, Any] = {}
    before = union_of(old.values())
    if before[-1][1] == OPEN and written:  # the open stretch was rewritten: ingest must find it
        values["busy_no"] = written[-1][0]
        if new[-1] != before[-1]:
            values["busy_since"] = new[-1][0]
    hm = (of_site(h, site_id), h.c.agent_id == agent_id)
    closed_end = conn.execute(
        select(func.max(h.c.ended_at)).where(*hm, h.c.ended_at < OPEN)
    ).scalar()
    open_start = conn.execute(
        select(func.max(h.c.started_at)).where(*hm, h.c.ended_at == OPEN)
    ).scalar()
    values["handled_until"] = max(closed_end or 0, open_start or 0)
    conn.execute(scoped_update(s, site_id).where(s.c.agent_id == agent_id).values(values))
    has_handling = closed_end is not None or open_start is not None
    _drop_idle_agent_state(conn, site_id, agent_id, has_handling=has_handling, result=result)


def _drop_idle_agent_state(
    conn: Connection, site_id: int, agent_id: str, *, has_handling: bool, result: PruneResult
) -> None:
    """A replay gives an agent a state row only for a status change or a handling interval."""
    if has_handling:
        return
    si = t.status_intervals
    has_status = conn.execute(
        scoped(si, site_id, func.count()).where(si.c.agent_id == agent_id)
    ).scalar_one()
    if not has_status:
        s = t.agent_states
        removed = conn.execute(scoped_delete(s, site_id).where(s.c.agent_id == agent_id))
        result.add("agent_states", removed.rowcount)


# ---------------------------------------------------------------- agent statuses


def prune_statuses(
    tx: IngestTransaction, cutoff: int, agent_ids: list[str], plan: Plan, result: PruneResult
) -> None:
    """Status intervals that ended before the cut-off go with the events that began them (an
    agent's j-th remaining status event begins its interval j); the rest are renumbered from 1,
    as a replay numbers them, so the interval open at the cut-off (and the agent's current one)
    stays with the event that began it."""
    conn, site = tx.conn, tx.site_id
    si, s = t.status_intervals, t.agent_states
    for agent_id in agent_ids:
        seqs = plan.statuses.pop(agent_id)
        ended = int(
            conn.execute(
                scoped(si, site, func.count()).where(
                    si.c.agent_id == agent_id, si.c.ended_at < cutoff
                )
            ).scalar_one()
        )
        if not ended:
            continue
        if ended > len(seqs):
            raise PruneError(
                f"site {site}: agent {agent_id} has {ended} status intervals before the cut-off "
                f"but {len(seqs)} status events: run `chatpulse check`"
            )
        result.add("events", delete_in(conn, t.events, site, "seq", seqs[:ended]))
        gone = conn.execute(
            scoped(si, site, si.c.status_id, si.c.started_at, si.c.ended_at).where(
                si.c.agent_id == agent_id, si.c.status_no <= ended
            )
        ).all()
        rollups.add_spans(conn, site, STATUS, [tuple(row) for row in gone], sign=-1)
        removed = conn.execute(
            scoped_delete(si, site).where(si.c.agent_id == agent_id, si.c.status_no <= ended)
        )
        result.add("status_intervals", removed.rowcount)
        # Through negative numbers: the key stays unique after every single row's update.
        mine = scoped_update(si, site).where(si.c.agent_id == agent_id)
        conn.execute(mine.values(status_no=ended - si.c.status_no))
        conn.execute(mine.values(status_no=-si.c.status_no))
        conn.execute(
            scoped_update(s, site)
            .where(s.c.agent_id == agent_id)
            .values(status_no=s.c.status_no - ended)
        )


# ---------------------------------------------------------------- visitors and invitations


def prune_visitors(
    tx: IngestTransaction, cutoff: int, visitor_ids: list[str], plan: Plan, result: PruneResult
) -> None:
    """Of a visitor's events before the cut-off only the last stays, and only if it is an
    arrival (the visitor was on site at the cut-off); a visitor with no event left goes."""
    conn, site = tx.conn, tx.site_id
    seqs: list[int] = []
    for visitor_id in visitor_ids:
        events = plan.visitors.pop(visitor_id)
        last_seq, last_arrived = events[-1]
        seqs.extend(seq for seq, _ in events[:-1])
        if not last_arrived:
            seqs.append(last_seq)
    v = t.visitors
    left = [
        row.visitor_id
        for row in rows_in(conn, v, site, "visitor_id", visitor_ids)
        if not row.on_site and row.last_event_at < cutoff
    ]
    result.add("visitors", delete_in(conn, v, site, "visitor_id", left))
    result.add("events", delete_in(conn, t.events, site, "seq", seqs))


def prune_invitations(
    tx: IngestTransaction,
    cutoff: int,
    invitation_ids: list[str],
    plan: Plan,
    result: PruneResult,
) -> None:
    """Invitations accepted before the cut-off go with their events, and so do unaccepted ones
    sent before it whose visitor is not on site: no acceptance is expected for them any more."""
    conn, site = tx.conn, tx.site_id
    rows = list(rows_in(conn, t.invitations, site, "invitation_id", invitation_ids))
    on_site = {
        row.visitor_id
        for row in rows_in(conn, t.visitors, site, "visitor_id", [r.visitor_id for r in rows])
        if row.on_site
    }
    gone = [
        row.invitation_id
        for row in rows
        if row.sent_at < cutoff
        and (
            (row.accepted_at is not None and row.accepted_at < cutoff)
            or (row.accepted_at is None and row.visitor_id not in on_site)
        )
    ]
    seqs = [seq for invitation_id in gone for seq in plan.invitations[invitation_id]]
    for invitation_id in invitation_ids:
        del plan.invitations[invitation_id]
    result.add("invitations", delete_in(conn, t.invitations, site, "invitation_id", gone))
    result.add("events", delete_in(conn, t.events, site, "seq", seqs))
