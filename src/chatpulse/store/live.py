"""Each process's live states (domain/live.py): loaded from the stored projections, moved
forward by folding the event log, in the snapshot of the view that asks.

The database stays the source of truth. A view reads a site's live state at exactly the sequence
of its own snapshot: a state behind it folds the events in between (its own process's ingests
and every other process's alike, by sequence); a state of another configuration version (a
configuration write, `rebuild`, `prune`) is loaded anew; a state ahead of the snapshot (another
request folded a later one) is not used, and the view reads the projections instead.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

import orjson
from sqlalchemy import Connection

from chatpulse.domain.chat import LIVE_STATES, OPEN, AgentLive, ChatRecord, VisitorRecord
from chatpulse.domain.events import Event
from chatpulse.domain.live import LiveState, ended_wait
from chatpulse.domain.rollups import WAIT_MINUTE
from chatpulse.domain.site_config import AgentConfig, DepartmentConfig, SiteConfig
from chatpulse.store import config as config_store
from chatpulse.store import tables as t
from chatpulse.store.db import PerEngine
from chatpulse.store.records import AGENT_COLUMNS, CHAT_COLUMNS, VISITOR_COLUMNS, from_row
from chatpulse.store.scoped import scoped
from chatpulse.store.versions import SiteRow

log = logging.getLogger(__name__)

# How far back memory keeps ended waits: the Queue's hour, and a few minutes of clock skew.
KEEP_WAITS_US = 65 * WAIT_MINUTE


def load_config(conn: Connection, site_id: int, version: int) -> SiteConfig:
    a, m, st, d = t.agents, t.agent_departments, t.agent_statuses, t.departments
    members: dict[str, list[str]] = {}
    for department_id, agent_id in conn.execute(
        scoped(m, site_id, m.c.department_id, m.c.agent_id)
    ):
        members.setdefault(agent_id, []).append(department_id)
    agents = {
        row.id: AgentConfig(
            row.id,
            row.display_name,
            row.sort_name,
            row.max_concurrent_chats,
            bool(row.is_active and not row.is_deleted),
            tuple(sorted(members.get(row.id, ()))),
            orjson.loads(row.doc),
        )
        for row in conn.execute(
            scoped(
                a,
                site_id,
                a.c.id,
                a.c.display_name,
                a.c.sort_name,
                a.c.max_concurrent_chats,
                a.c.is_active,
                a.c.is_deleted,
                a.c.doc,
            )
        )
    }
    status_types = {
        row.id: row.type for row in conn.execute(scoped(st, site_id, st.c.id, st.c.type))
    }
    departments = {
        row.id: DepartmentConfig(
            row.id, bool(row.is_deleted), bool(row.is_available_in_live_chat), orjson.loads(row.doc)
        )
        for row in conn.execute(
            scoped(d, site_id, d.c.id, d.c.is_deleted, d.c.is_available_in_live_chat, d.c.doc)
        )
    }
    return SiteConfig.of(
        version, agents, status_types, departments, config_store.thresholds(conn, site_id)
    )


def load(
    conn: Connection, site_id: int, row: SiteRow, now: int, config: SiteConfig | None = None
) -> LiveState:
    """The live state the projections hold in this snapshot (`row` read in it); `config`: the
    site's configuration at `row`'s version, if already read."""
    s, c, v, w = t.agent_states, t.chats, t.visitors, t.waits
    agents = [
        from_row(AgentLive, dict(r._mapping), AGENT_COLUMNS)
        for r in conn.execute(scoped(s, site_id))
    ]
    chats = [
        from_row(ChatRecord, dict(r._mapping), CHAT_COLUMNS)
        for r in conn.execute(scoped(c, site_id).where(c.c.state.in_(LIVE_STATES)))
    ]
    visitors = [
        from_row(VisitorRecord, dict(r._mapping), VISITOR_COLUMNS)
        for r in conn.execute(scoped(v, site_id).where(v.c.on_site.is_(True)))
    ]
    horizon = now - KEEP_WAITS_US
    horizon -= horizon % WAIT_MINUTE
    ended = [
        ended_wait(r.ended_at, r.route_department_id, r.route_agent_id, r.started_at, r.outcome)
        for r in conn.execute(
            scoped(
                w,
                site_id,
                w.c.ended_at,
                w.c.route_department_id,
                w.c.route_agent_id,
                w.c.started_at,
                w.c.outcome,
            ).where(w.c.ended_at >= horizon, w.c.ended_at < OPEN)
        )
    ]
    if config is None:
        config = load_config(conn, site_id, row.config_version)
    return LiveState.start(row.last_sequence, config, agents, chats, visitors, horizon, ended)


def events_between(
    conn: Connection, site_id: int, after: int, upto: int
) -> list[tuple[int, Event]]:
    e = t.events
    rows = conn.execute(
        scoped(e, site_id, e.c.seq, e.c.id, e.c.type, e.c.occurred_at, e.c.data)
        .where(e.c.seq > after, e.c.seq <= upto)
        .order_by(e.c.seq)
    )
    return [(r.seq, Event(r.id, r.type, r.occurred_at, orjson.loads(r.data))) for r in rows]


# A state this far behind its reader is loaded anew rather than folded (a bulk import by
# another worker): loading costs what the site has now, folding what happened since.
FOLD_AT_MOST = 20_000


class LiveStates:
    """The live states of one process, per site, each behind its own lock: a view reads a state
    while holding it, so that nobody folds it under the reader. At most `max_sites` are kept,
    the least recently read dropped first (loaded again from the projections when asked)."""

    def __init__(self, max_sites: int = 1000, fold_at_most: int = FOLD_AT_MOST) -> None:
        self._states: OrderedDict[int, LiveState] = OrderedDict()
        # Configurations read for a view that needs no more (Today), by site (`config_at`).
        self._configs: OrderedDict[int, SiteConfig] = OrderedDict()
        self._locks: dict[int, threading.Lock] = {}
        self._guard = threading.Lock()
        self._max_sites = max_sites
        self._fold_at_most = fold_at_most
        self.loads = 0  # how many times a state was loaded whole (tests, metrics)

    def _lock(self, site_id: int) -> threading.Lock:
        lock = self._locks.get(site_id)
        if lock is None:
            with self._guard:
                lock = self._locks.setdefault(site_id, threading.Lock())
        return lock

    @contextmanager
    def at(
        self, conn: Connection, site_id: int, row: SiteRow, now: int
    ) -> Iterator[LiveState | None]:
        """The site's live state at the snapshot's sequence (None when memory is past it),
        held for the block."""
        with self._lock(site_id):
            state = self._current(conn, site_id, row, now)
            if state.sequence != row.last_sequence:
                yield None
                return
            if now - KEEP_WAITS_US > state.horizon + 10 * WAIT_MINUTE:
                state.forget_before(now - KEEP_WAITS_US)
            yield state

    def config_at(self, conn: Connection, site_id: int, row: SiteRow) -> SiteConfig:
        """The site's configuration at the snapshot's version: the live state's when it has
        that version, else read and kept, without loading or folding a state (Today needs no
        more)."""
        state = self._states.get(site_id)
        if state is not None and state.config.version == row.config_version:
            return state.config
        config = self._configs.get(site_id)
        if config is None or config.version != row.config_version:
            config = load_config(conn, site_id, row.config_version)
            with self._guard:
                self._configs[site_id] = config
                while len(self._configs) > self._max_sites:
                    self._configs.popitem(last=False)
        return config

    def _current(self, conn: Connection, site_id: int, row: SiteRow, now: int) -> LiveState:
        """The state moved to the snapshot, or loaded whole from it (under the site's lock)."""
        state = self._states.get(site_id)
        behind = row.last_sequence - state.sequence if state is not None else 0
        if (
            state is not None
            and state.config.version == row.config_version
            and behind <= self._fold_at_most
        ):
            if behind > 0:
                try:
                    state.fold(events_between(conn, site_id, state.sequence, row.last_sequence))
                except Exception:
                    # Never serve a state folded halfway: the projections give it whole.
                    log.exception("live state of site %s failed to fold; loading it", site_id)
                    state = None
            if state is not None:
                with self._guard:
                    self._states.move_to_end(site_id)
                return state
        config = self._configs.get(site_id)
        if config is not None and config.version != row.config_version:
            config = None
        state = load(conn, site_id, row, now, config)
        self.loads += 1
        with self._guard:
            self._states[site_id] = state
            self._states.move_to_end(site_id)
            while len(self._states) > self._max_sites:
                self._states.popitem(last=False)
        return state

    def peek(self, site_id: int) -> LiveState | None:
        """The state as it stands (tests)."""
        return self._states.get(site_id)

    def forget(self, site_id: int) -> None:
        with self._lock(site_id), self._guard:
            self._states.pop(site_id, None)


# The live states of each database this process serves.
live_states = PerEngine(lambda _engine: LiveStates())
