"""The Queue view's queries (METRICS.md §4): the departments shown, the open waits, the sums of
the waits ended in the last 30 and 60 minutes, the agents routed to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, case

from chatpulse.domain.chat import OPEN
from chatpulse.domain.queue_metrics import WaitSums, WaitWindows
from chatpulse.domain.rollups import WAIT_FIELDS, wait_share
from chatpulse.domain.service_level import SiteThresholds
from chatpulse.store import tables as t
from chatpulse.store.reads.common import AgentNow, agent_columns, agent_now, sum_of
from chatpulse.store.scoped import active_agents, scoped

Target = tuple[str | None, str | None]  # (department, agent): a wait's route target


def queue_departments(
    conn: Connection, site_id: int, department_id: str | None
) -> list[dict[str, Any]]:
    d = t.departments
    query = scoped(d, site_id, d.c.doc).where(d.c.is_deleted.is_(False))
    if department_id is None:
        query = query.where(d.c.is_available_in_live_chat.is_(True))
    else:
        query = query.where(d.c.id == department_id)
    docs: list[dict[str, Any]] = [orjson.loads(text) for text in conn.execute(query).scalars()]
    return sorted(docs, key=lambda doc: (doc["name"].casefold(), doc["id"]))


def queue_agents(
    conn: Connection, site_id: int, agent_ids: Sequence[str]
) -> tuple[dict[str, AgentNow], dict[str, Any]]:
    """Active agents among `agent_ids`, and their documents (Queue's agent rows)."""
    if not agent_ids:
        return {}, {}
    rows = conn.execute(
        agent_columns()
        .add_columns(t.agents.c.doc)
        .where(*active_agents(site_id), t.agents.c.id.in_(agent_ids))
    )
    agents: dict[str, AgentNow] = {}
    docs: dict[str, Any] = {}
    for row in rows:
        agents[row.id] = agent_now(row)
        docs[row.id] = orjson.loads(row.doc)
    return agents, docs


def open_waits(conn: Connection, site_id: int, department_id: str | None = None) -> list[Any]:
    """Every wait still going (routed to `department_id` only, if given): its route target,
    visitor and start."""
    w = t.waits
    query = scoped(
        w,
        site_id,
        w.c.route_department_id,
        w.c.route_agent_id,
        w.c.visitor_id,
        w.c.contact_identity_id,
        w.c.started_at,
    ).where(w.c.ended_at == OPEN)
    if department_id is not None:
        query = query.where(w.c.route_department_id == department_id)
    return list(conn.execute(query))


def ended_wait_totals(
    conn: Connection,
    site_id: int,
    now: int,
    thresholds: SiteThresholds,
    department_id: str | None = None,
) -> dict[Target, WaitSums]:
    """Per route target (the department's only, if given): waits that ended in
    (now − 60 min, now] and (now − 30 min, now].

    Whole minutes from the per-minute sums (one pass for both windows), the partial minutes at
    the edges from the rows (domain/queue_metrics.WaitWindows)."""
    windows = WaitWindows.at(now)
    first_60, first_30, after = windows.whole_minutes()
    out: dict[Target, WaitSums] = {}

    def row_of(department: str | None, agent: str | None) -> WaitSums:
        key = (department or None, agent or None)
        row = out.get(key)
        if row is None:
            row = out[key] = WaitSums()
        return row

    r = t.wait_minutes
    recent = r.c.minute >= first_30
    for department, agent, *sums in conn.execute(
        scoped(
            r,
            site_id,
            r.c.route_department_key,
            r.c.route_agent_key,
            *[sum_of(r.c[name]) for name in WAIT_FIELDS],
            *[sum_of(case((recent, r.c[name]), else_=0)) for name in WAIT_FIELDS],
        )
        .where(
            r.c.minute >= first_60,
            r.c.minute < after,
            *([r.c.route_department_key == department_id] if department_id else []),
        )
        .group_by(r.c.route_department_key, r.c.route_agent_key)
    ):
        values = [int(value) for value in sums]
        width = len(WAIT_FIELDS)
        row = row_of(department, agent)
        row.add_ended(values[:width], True, False)
        row.add_ended(values[width:], False, True)

    w = t.waits
    # The edges, one index range each (an OR of ranges made SQLite read every wait of the site);
    # a few minutes of waits, judged here with the thresholds of the configuration now.
    for lo, hi, in_60, in_30 in windows.edges():
        rows = conn.execute(
            scoped(
                w,
                site_id,
                w.c.route_department_id,
                w.c.route_agent_id,
                w.c.outcome,
                w.c.started_at,
                w.c.ended_at,
            ).where(
                w.c.ended_at >= lo,
                w.c.ended_at < hi,
                *([w.c.route_department_id == department_id] if department_id else []),
            )
        )
        for department, agent, outcome, started, ended in rows:
            share = wait_share(outcome, started, ended, department, thresholds)
            row_of(department, agent).add_ended(share, in_60, in_30)
    return out
