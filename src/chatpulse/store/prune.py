"""Retention (`chatpulse prune`): remove a site's events before a cut-off, and the projection rows
derived from them, keeping every live thing and whatever a view of a window starting at or after
the cut-off needs, so that `chatpulse check` still passes (docs/operations.md, Retention)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from sqlalchemy import Connection, Engine, func, select

from chatpulse.domain.chat import FINAL_STATES, OPEN, ChatRecord
from chatpulse.domain.cohort import share_of
from chatpulse.domain.intervals import union_of
from chatpulse.domain.rollups import STATUS
from chatpulse.domain.timeutil import UTC, format_instant_exact, is_date_only, parse_iso, to_micros
from chatpulse.domain.window import load_zone, local_midnight
from chatpulse.store import live_totals, rollups
from chatpulse.store import tables as t
from chatpulse.store.eventlog import IngestTransaction, replace_busy_intervals
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

BATCH = 2_000  # events (and so at most as many rows of each table) per write transaction
SCAN = 10_000  # events read per query while planning
K = TypeVar("K")
# Told (events before the cut-off handled, events before the cut-off) after the plan and after
# every batch; the second figure grows if events before the cut-off arrive meanwhile.
Progress = Callable[[int, int], None]

# The order the counts are printed in; events come last.
COUNTED = (
    "chats",
    "waits",
    "handling_intervals",
    "status_intervals",
    "busy_intervals",
    "agent_states",
    "visitors",
    "invitations",
    "cohort_minutes",
    "events",
)


class PruneError(Exception):
    """A cut-off that cannot be used, or a log that does not match its projections."""


@dataclass(slots=True)
class PruneResult:
    site_id: int
    cutoff: int
    removed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTED, 0))
    batches: int = 0

    def add(self, name: str, count: int) -> None:
        self.removed[name] += count

    def summary(self) -> str:
        parts = ", ".join(f"{name} {self.removed[name]}" for name in COUNTED)
        return f"removed {parts} (before {format_instant_exact(self.cutoff)})"


@dataclass(slots=True)
class _Plan:
    """The events before the cut-off, grouped by the entity they belong to, in sequence order.
    Visitor events carry whether they are an arrival."""

    chats: dict[str, list[int]] = field(default_factory=dict)
    statuses: dict[str, list[int]] = field(default_factory=dict)
    visitors: dict[str, list[tuple[int, bool]]] = field(default_factory=dict)
    invitations: dict[str, list[int]] = field(default_factory=dict)
    # The first agent each chat went to: batches of one agent's chats recompute few agents' busy
    # intervals, instead of every agent's in every batch.
    chat_agents: dict[str, str] = field(default_factory=dict)
    scanned_upto: int = 0
    events: int = 0  # all the events before the cut-off read so far

    def add(self, seq: int, kind: str, data: dict[str, Any]) -> None:
        self.events += 1
        if kind == "agent.status_changed":
            self.statuses.setdefault(data["agentId"], []).append(seq)
        elif kind.startswith("visitor."):
            self.visitors.setdefault(data["visitorId"], []).append((seq, kind == "visitor.arrived"))
        elif kind.startswith("invitation."):
            self.invitations.setdefault(data["invitationId"], []).append(seq)
        else:
            self.chats.setdefault(data["chatId"], []).append(seq)
            if kind == "chat.accepted":
                self.chat_agents.setdefault(data["chatId"], data["agentId"])

    def chats_by_agent(self) -> dict[str, list[int]]:
        agents = self.chat_agents
        order = sorted(self.chats, key=lambda chat: (agents.get(chat, ""), self.chats[chat][0]))
        return {chat: self.chats[chat] for chat in order}


# ---------------------------------------------------------------- the cut-off


def cutoff_of(text: str, site_zone: str, now: int) -> int:
    """The instant `--before` names for a site: a date alone is local midnight in the site's
    zone, a date-time without an offset is local time there. Refuses one later than the start
    of yesterday (local), so that today's and yesterday's figures are never touched."""
    zone = load_zone(site_zone) or UTC
    moment = parse_iso(text)
    if moment is None:
        raise PruneError(
            f"--before: {text!r} is not an ISO 8601 date or date-time "
            "(2026-11-01, 2026-11-01T00:00:00Z)"
        )
    if is_date_only(text):
        moment = dt.datetime(moment.year, moment.month, moment.day)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    try:
        cutoff = to_micros(moment.astimezone(UTC))
    except (OverflowError, ValueError):
        raise PruneError(f"--before: {text!r} is out of range") from None
    latest = latest_cutoff(site_zone, now)
    if cutoff > latest:
        raise PruneError(
            f"--before {text} is later than {format_instant_exact(latest)}, the start of "
            f"yesterday in {site_zone}: today's and yesterday's events are never pruned"
        )
    return cutoff


def latest_cutoff(site_zone: str, now: int) -> int:
    """The start of yesterday in the site's zone (DST-correct)."""
    zone = load_zone(site_zone) or UTC
    return local_midnight(local_midnight(now, zone) - 1, zone)


# ---------------------------------------------------------------- prune


def prune(
    engine: Engine,
    site_id: int,
    cutoff: int,
    batch: int = BATCH,
    progress: Progress | None = None,
) -> PruneResult:
    """Remove what lies entirely before `cutoff` from one site, in write transactions of at
    most `batch` events each; every transaction leaves a log that replays to its projections."""
    result = PruneResult(site_id, cutoff)
    plan = _Plan()
    _scan(engine, site_id, cutoff, plan)
    handled = 0
    if progress is not None:
        progress(handled, plan.events)

    def run(step: Any, entities: dict[Any, list[Any]]) -> None:
        nonlocal handled
        for group in _groups(entities, batch):
            size = sum(len(entities[key]) for key in group)  # before the step takes them
            with IngestTransaction(engine, site_id) as tx:
                _catch_up(tx, cutoff, plan)
                step(tx, cutoff, group, plan, result)
                tx.invalidate_answers()
                tx.conn.commit()
            result.batches += 1
            handled += size
            if progress is not None:
                progress(handled, plan.events)

    run(_prune_chats, plan.chats_by_agent())
    run(_prune_statuses, plan.statuses)
    run(_prune_visitors, plan.visitors)
    run(_prune_invitations, plan.invitations)
    with IngestTransaction(engine, site_id) as tx:  # the sums that went back to zero
        rollups.drop_empty(tx.conn, site_id)
        live_totals.recompute(tx.conn, site_id)  # agents whose state a prune dropped
        tx.invalidate_answers()
        tx.conn.commit()
    return result


def _scan(engine: Engine, site_id: int, cutoff: int, plan: _Plan) -> None:
    """Read the events before the cut-off without the write lock (the log only grows meanwhile;
    each batch catches up on what arrived since, under the lock)."""
    with engine.connect() as conn:
        last = conn.execute(
            select(t.sites.c.last_sequence).where(t.sites.c.id == site_id)
        ).scalar_one()
        _read_log(conn, site_id, cutoff, 0, int(last), plan)


def _catch_up(tx: IngestTransaction, cutoff: int, plan: _Plan) -> None:
    if tx.last_sequence > plan.scanned_upto:
        _read_log(tx.conn, tx.site_id, cutoff, plan.scanned_upto, tx.last_sequence, plan)


def _read_log(
    conn: Connection, site_id: int, cutoff: int, after: int, upto: int, plan: _Plan
) -> None:
    e = t.events
    while after < upto:
        rows = conn.execute(
            scoped(e, site_id, e.c.seq, e.c.type, e.c.occurred_at, e.c.data)
            .where(e.c.seq > after, e.c.seq <= after + SCAN)
            .order_by(e.c.seq)
        ).all()
        for row in rows:
            if row.occurred_at < cutoff:
                plan.add(row.seq, row.type, orjson.loads(row.data))
        after = min(after + SCAN, upto)
    plan.scanned_upto = max(plan.scanned_upto, upto)


def _groups(entities: dict[K, list[Any]], batch: int) -> Iterator[list[K]]:
    """Entities in groups whose events add up to at most `batch` (at least one entity each)."""
    group: list[K] = []
    size = 0
    for key in list(entities):
        n = len(entities[key])
        if group and size + n > batch:
            yield group
            group, size = [], 0
        group.append(key)
        size += n
    if group:
        yield group


# ---------------------------------------------------------------- chats


def _prune_chats(
    tx: IngestTransaction, cutoff: int, chat_ids: list[str], plan: _Plan, result: PruneResult
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
    rollups.add_waits(conn, site, ended_waits, sign=-1)
    result.add("waits", delete_in(conn, w, site, "chat_id", ids))
    result.add("handling_intervals", delete_in(conn, h, site, "chat_id", ids))
    result.add("chats", delete_in(conn, t.chats, site, "chat_id", ids))
    _take_cohort_shares(conn, site, gone, result)
    for agent_id, (lo, hi) in sorted(spans.items()):
        _recompute_busy(conn, site, agent_id, lo, hi, result)


def _take_cohort_shares(
    conn: Connection, site_id: int, chats: list[ChatRecord], result: PruneResult
) -> None:
    taken = [(-1, share_of(chat)) for chat in chats]
    rollups.add_cohorts(conn, site_id, taken)
    # `total` counts the chats of the minute: a row at 0 sums no chat any more.
    r = t.cohort_minutes
    by_key: dict[str, set[int]] = {}
    for _, (department, minute, _amount) in taken:
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


def _prune_statuses(
    tx: IngestTransaction, cutoff: int, agent_ids: list[str], plan: _Plan, result: PruneResult
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


def _prune_visitors(
    tx: IngestTransaction, cutoff: int, visitor_ids: list[str], plan: _Plan, result: PruneResult
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


def _prune_invitations(
    tx: IngestTransaction,
    cutoff: int,
    invitation_ids: list[str],
    plan: _Plan,
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
