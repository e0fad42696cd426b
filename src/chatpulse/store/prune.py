"""Retention (`chatpulse prune`): remove a site's events before a cut-off, and the projection rows
derived from them, keeping every live thing and whatever a view of a window starting at or after
the cut-off needs, so that `chatpulse check` still passes (docs/operations.md, Retention)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from sqlalchemy import Connection, Engine, select

from chatpulse.domain.timeutil import UTC, format_instant_exact, is_date_only, parse_iso, to_micros
from chatpulse.domain.window import load_zone, local_midnight
from chatpulse.store import live_totals, rollups
from chatpulse.store import tables as t
from chatpulse.store.eventlog import IngestTransaction
from chatpulse.store.prune_steps import (
    PruneError,
    prune_chats,
    prune_invitations,
    prune_statuses,
    prune_visitors,
)
from chatpulse.store.scoped import (
    scoped,
)

BATCH = 2_000  # events (and so at most as many rows of each table) per write transaction
SCAN = 10_000  # events read per query while planning
K = TypeVar("K")

__all__ = ["PruneError", "PruneResult", "cutoff_of", "latest_cutoff", "prune"]
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
    "missed_offers",
    "cohort_minutes",
    "events",
)


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
class Plan:
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
    plan = Plan()
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

    run(prune_chats, plan.chats_by_agent())
    run(prune_statuses, plan.statuses)
    run(prune_visitors, plan.visitors)
    run(prune_invitations, plan.invitations)
    with IngestTransaction(engine, site_id) as tx:  # the sums that went back to zero
        rollups.drop_empty(tx.conn, site_id)
        live_totals.recompute(tx.conn, site_id)  # agents whose state a prune dropped
        tx.invalidate_answers()
        tx.conn.commit()
    return result


def _scan(engine: Engine, site_id: int, cutoff: int, plan: Plan) -> None:
    """Read the events before the cut-off without the write lock (the log only grows meanwhile;
    each batch catches up on what arrived since, under the lock)."""
    with engine.connect() as conn:
        last = conn.execute(
            select(t.sites.c.last_sequence).where(t.sites.c.id == site_id)
        ).scalar_one()
        _read_log(conn, site_id, cutoff, 0, int(last), plan)


def _catch_up(tx: IngestTransaction, cutoff: int, plan: Plan) -> None:
    if tx.last_sequence > plan.scanned_upto:
        _read_log(tx.conn, tx.site_id, cutoff, plan.scanned_upto, tx.last_sequence, plan)


def _read_log(
    conn: Connection, site_id: int, cutoff: int, after: int, upto: int, plan: Plan
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
