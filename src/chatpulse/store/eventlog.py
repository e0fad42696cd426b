"""The append-only event log: one write transaction per batch, with the projections beside it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, and_, insert, select, update

from chatpulse.domain.chat import (
    AgentLive,
    ChatRecord,
    InvitationRecord,
    VisitorRecord,
)
from chatpulse.domain.cohort import Share, share_of
from chatpulse.domain.events import Event
from chatpulse.domain.projector import Projector
from chatpulse.domain.service_level import SiteThresholds, Thresholds
from chatpulse.domain.timeutil import format_instant, format_instant_exact
from chatpulse.store import config as config_store
from chatpulse.store import live_totals, projections
from chatpulse.store import tables as t
from chatpulse.store.db import WRITE, set_rows, write_lock
from chatpulse.store.notify import announce
from chatpulse.store.records import (
    AGENT_COLUMNS,
    CHAT_COLUMNS,
    INVITATION_COLUMNS,
    VISITOR_COLUMNS,
    from_row,
)
from chatpulse.store.scoped import in_chunks, of_site, rows_in, scoped

# ids per IN list when loading a batch's entities (fewer queries for a batch of 1,000 events)
_LOAD_CHUNK = 900


def encode_data(data: dict[str, Any]) -> str:
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode()


class IngestTransaction:
    """One write transaction on one site: the site row is locked for its whole length."""

    def __init__(self, engine: Engine, site_id: int) -> None:
        self._engine = engine
        self._lock = write_lock(engine)
        self.site_id = site_id
        self._conn: Connection | None = None
        self.last_sequence = 0
        self.departments_upto = 0
        # What the committed batch marked (_record_departments); None: every department.
        self.changed_departments: frozenset[str] | None = None
        # Each loaded chat's share of the Today sums before the batch: (department, minute, sums).
        self._cohort_before: dict[str, Share] = {}
        # Each loaded agent's status and ongoing chats before the batch (its live totals share).
        self._live_before: dict[str, tuple[str | None, int]] = {}
        self._chats_before: dict[str, live_totals.ChatState] = {}
        self._on_site_before: dict[str, bool] = {}
        self._thresholds = SiteThresholds()
        self._site_thresholds = Thresholds()  # the site row's, read with its lock

    def __enter__(self) -> IngestTransaction:
        self._lock.__enter__()
        try:
            conn = self._engine.connect().execution_options(**WRITE)
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise
        self._conn = conn
        try:
            conn.begin()
            seq, upto, service_level, short_abandon = conn.execute(
                select(
                    t.sites.c.last_sequence,
                    t.sites.c.departments_upto,
                    t.sites.c.service_level_seconds,
                    t.sites.c.short_abandon_seconds,
                )
                .where(t.sites.c.id == self.site_id)
                .with_for_update()
            ).one()
        except BaseException:
            conn.rollback()
            conn.close()
            self._conn = None
            self._lock.__exit__(None, None, None)
            raise
        self.last_sequence = int(seq)
        self.departments_upto = int(upto)
        self._site_thresholds = Thresholds(int(service_level), int(short_abandon))
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        conn = self.conn
        try:
            if exc_type is None and conn.in_transaction():
                conn.rollback()  # nothing committed explicitly: leave no trace
            elif conn.in_transaction():
                conn.rollback()
        finally:
            conn.close()
            self._conn = None
            self._lock.__exit__(None, None, None)

    @property
    def conn(self) -> Connection:
        assert self._conn is not None, "use IngestTransaction as a context manager"
        return self._conn

    # ---------------------------------------------------------------- reading state

    def invalidate_answers(self) -> None:
        """The projections changed without a new event (rebuild, prune): move the configuration
        version, so that no cached view answer outlives them (services/views.AnswerCache)."""
        self.conn.execute(
            update(t.sites)
            .where(t.sites.c.id == self.site_id)
            .values(config_version=t.sites.c.config_version + 1)
        )

    def stored_events(self, ids: Sequence[str]) -> dict[str, Event]:
        """The events already stored under these ids."""
        if not ids:
            return {}
        e = t.events
        rows = self.conn.execute(
            scoped(e, self.site_id, e.c.id, e.c.type, e.c.occurred_at, e.c.data).where(
                e.c.id.in_(ids)
            )
        )
        return {
            row.id: Event(row.id, row.type, row.occurred_at, orjson.loads(row.data)) for row in rows
        }

    def projector_for(self, events: Sequence[Event]) -> Projector:
        """Load the state of every entity the batch names."""
        chat_ids, visitor_ids, invitation_ids, agent_ids, department_ids = (
            set[str](),
            set[str](),
            set[str](),
            set[str](),
            set[str](),
        )
        for ev in events:
            data = ev.data
            if "chatId" in data:
                chat_ids.add(data["chatId"])
            if ev.type.startswith("visitor."):
                visitor_ids.add(data["visitorId"])
            if ev.type.startswith("invitation."):
                invitation_ids.add(data["invitationId"])
            for key in ("agentId", "toAgentId"):
                if key in data:
                    agent_ids.add(data[key])
            for key in ("departmentId", "toDepartmentId"):
                if key in data:
                    department_ids.add(data[key])
        conn, site = self.conn, self.site_id
        chats = {
            row.chat_id: from_row(ChatRecord, row._mapping, CHAT_COLUMNS)
            for row in rows_in(conn, t.chats, site, "chat_id", chat_ids, _LOAD_CHUNK)
        }
        self._thresholds = (
            config_store.thresholds(conn, site, self._site_thresholds)
            if chat_ids
            else SiteThresholds()
        )  # only chat events end waits or move the cohort sums
        thresholds = self._thresholds
        self._cohort_before = {chat_id: share_of(c, thresholds) for chat_id, c in chats.items()}
        self._chats_before = {
            chat_id: (c.state, c.department_id, c.route_department_id)
            for chat_id, c in chats.items()
        }
        agent_ids.update(c.agent_id for c in chats.values() if c.agent_id is not None)
        known_agents: set[str] = set()
        agents: dict[str, AgentLive] = {}
        self._live_before = {}
        if agent_ids:
            rows = conn.execute(
                select(t.agents.c.id, *[t.agent_states.c[c] for c in AGENT_COLUMNS[1:]])
                .select_from(
                    t.agents.outerjoin(
                        t.agent_states,
                        and_(
                            t.agent_states.c.site_id == t.agents.c.site_id,
                            t.agent_states.c.agent_id == t.agents.c.id,
                        ),
                    )
                )
                .where(of_site(t.agents, site), t.agents.c.id.in_(agent_ids))
            )
            for row in rows:
                known_agents.add(row.id)
                if row.status_no is not None:
                    mapping = {**row._mapping, "agent_id": row.id}
                    agents[row.id] = from_row(AgentLive, mapping, AGENT_COLUMNS)
                    self._live_before[row.id] = (row.status_id, row.ongoing_chats)
        known_departments: set[str] = set()
        if department_ids:
            known_departments = set(
                conn.execute(
                    scoped(t.departments, site, t.departments.c.id).where(
                        t.departments.c.id.in_(department_ids)
                    )
                ).scalars()
            )
        known_statuses: set[str] = set()
        if any(ev.type == "agent.status_changed" for ev in events):  # only they name a status
            known_statuses = set(
                conn.execute(scoped(t.agent_statuses, site, t.agent_statuses.c.id)).scalars()
            )
        visitors = {
            row.visitor_id: from_row(VisitorRecord, row._mapping, VISITOR_COLUMNS)
            for row in rows_in(conn, t.visitors, site, "visitor_id", visitor_ids, _LOAD_CHUNK)
        }
        self._on_site_before = {v: visitor.on_site for v, visitor in visitors.items()}
        invitations = {
            row.invitation_id: from_row(InvitationRecord, row._mapping, INVITATION_COLUMNS)
            for row in rows_in(
                conn, t.invitations, site, "invitation_id", invitation_ids, _LOAD_CHUNK
            )
        }
        return Projector(
            chats=chats,
            agents=agents,
            known_agents=known_agents,
            known_departments=known_departments,
            known_statuses=known_statuses,
            visitors=visitors,
            invitations=invitations,
        )

    # ---------------------------------------------------------------- writing

    def commit(self, events: Sequence[Event], projector: Projector, recorded_at: int) -> int:
        """Append `events` with the next sequence numbers, write the projections, commit."""
        conn, site = self.conn, self.site_id
        if events:
            seq = self.last_sequence
            rows = []
            for ev in events:
                seq += 1
                rows.append(
                    {
                        "site_id": site,
                        "seq": seq,
                        "id": ev.id,
                        "type": ev.type,
                        "occurred_at": ev.occurred_at,
                        "data": encode_data(ev.data),
                        "recorded_at": recorded_at,
                    }
                )
            conn.execute(insert(t.events), rows)
            self.write_projections(projector)
            self._record_departments(projector, seq)
            conn.execute(
                update(t.sites)
                .where(t.sites.c.id == site)
                .values(last_sequence=seq, departments_upto=seq)
            )
            # PostgreSQL: other processes hear of it on commit
            announce(conn, site, seq, self.changed_departments)
            self.last_sequence = seq
        conn.commit()
        return self.last_sequence

    def _record_departments(self, projector: Projector, seq: int) -> None:
        """Mark every department whose views the batch may change with its last sequence
        (store/tables.department_versions). After a writer that kept no record (a previous
        release, mid-upgrade), every department is marked: the record is whole again."""
        conn, site = self.conn, self.site_id
        if self.departments_upto == self.last_sequence:
            keys = self._departments_changed(projector)
            self.changed_departments = frozenset(keys)
        else:
            keys = set(conn.execute(scoped(t.departments, site, t.departments.c.id)).scalars())
            keys.update((t.INVITATIONS_KEY, t.VISITORS_KEY))
        if keys:
            set_rows(
                conn,
                t.department_versions,
                ("site_id", "department_key"),
                [{"site_id": site, "department_key": key, "sequence": seq} for key in keys],
            )

    def _departments_changed(self, projector: Projector) -> set[str]:
        """A superset of the departments whose views (METRICS.md §6) the batch changes: every
        department a changed chat was in, waited in or belongs to by cohort, before and after;
        every department of every agent the batch touched; the site's invitations and visitors."""
        keys: set[str | None] = set()
        for chat_id, chat in projector.dirty_chats.items():
            before = self._chats_before.get(chat_id)
            if before is not None:
                keys.update((before[1], before[2]))
            cohort = self._cohort_before.get(chat_id)
            if cohort is not None:
                keys.add(cohort[0])
            keys.update((chat.department_id, chat.route_department_id, chat.cohort_department_id))
        keys.update(wait.route_department_id for wait in projector.waits.values())
        agents = set(projector.agents) | set(projector.dirty_agents) | projector.busy_rebuilds
        agents.update(h.agent_id for h in projector.handlings.values())
        agents.update(s.agent_id for s in projector.statuses.values())
        agents.update(b.agent_id for b in projector.busies.values())
        if agents:
            ad = t.agent_departments
            for chunk in in_chunks(sorted(agents)):
                keys.update(
                    self.conn.execute(
                        scoped(ad, self.site_id, ad.c.department_id).where(ad.c.agent_id.in_(chunk))
                    ).scalars()
                )
        if projector.dirty_invitations:
            keys.add(t.INVITATIONS_KEY)
        if projector.dirty_visitors:
            keys.add(t.VISITORS_KEY)
        return {key for key in keys if key is not None}

    def write_projections(self, projector: Projector) -> None:
        """Write every projection row the projector changed (inside this transaction)."""
        projections.write(
            self.conn,
            self.site_id,
            projector,
            projections.Before(
                self._live_before,
                self._chats_before,
                self._on_site_before,
                self._cohort_before,
                self._thresholds,
            ),
        )


def read_events(conn: Connection, site_id: int, after: int, limit: int) -> list[dict[str, Any]]:
    """Stored events in sequence order, for audits and replays."""
    rows = conn.execute(
        scoped(t.events, site_id)
        .where(t.events.c.seq > after)
        .order_by(t.events.c.seq)
        .limit(limit)
    ).all()
    return [
        {
            "sequence": row.seq,
            "id": row.id,
            "type": row.type,
            "occurredAt": format_instant_exact(row.occurred_at),
            "recordedAt": format_instant(row.recorded_at),
            "data": orjson.loads(row.data),
        }
        for row in rows
    ]
