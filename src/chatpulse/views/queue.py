"""Queue (METRICS.md §4): one row per route target, with its waits of the last hour."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from chatpulse.domain.live import LiveState
from chatpulse.domain.queue_metrics import WaitSums, wait_time
from chatpulse.domain.statuses import ONLINE
from chatpulse.store import config as config_store
from chatpulse.store import live_totals
from chatpulse.store.reads import queue as reads
from chatpulse.store.reads.common import AgentNow
from chatpulse.views.common import agent_now

Target = tuple[str | None, str | None]  # (department, agent): a wait's route target


@dataclass(slots=True)
class _Row:
    waiting: list[tuple[int, str, str | None]] = field(default_factory=list)
    ended: WaitSums = field(default_factory=WaitSums)

    @property
    def busy(self) -> bool:
        return bool(self.waiting or self.ended.count_60)


def queue(
    conn: Connection,
    site_id: int,
    now: int,
    department_id: str | None,
    live: LiveState | None = None,
    extended: bool = False,
) -> list[dict[str, Any]]:
    """From the live state in memory when it reaches back an hour, else from the projections.
    `extended`: each row with its longest wait and service levels (METRICS.md §7)."""
    ended = live.ended_waits(now, department_id) if live is not None else None
    if live is not None and ended is not None:
        return _queue_live(live, ended, now, department_id, extended)
    rows: dict[Target, _Row] = {}
    # A department's Queue is its row only: the waits routed to it.
    for w in reads.open_waits(conn, site_id, department_id):
        row = rows.setdefault(_target(w.route_department_id, w.route_agent_id), _Row())
        row.waiting.append((w.started_at, w.visitor_id, w.contact_identity_id))
    thresholds = (
        live.config.thresholds if live is not None else config_store.thresholds(conn, site_id)
    )
    for (route_department, route_agent), sums in reads.ended_wait_totals(
        conn, site_id, now, thresholds, department_id
    ).items():
        rows.setdefault(_target(route_department, route_agent), _Row()).ended.add(sums)

    departments = reads.queue_departments(conn, site_id, department_id)
    totals = live_totals.read(conn, site_id)  # the site's row ("") and each department's

    def agents_of(ids: list[str]) -> list[tuple[AgentNow, Any]]:
        agents, docs = reads.queue_agents(conn, site_id, ids)  # active ones only
        return [(agent, docs[agent.agent_id]) for agent in agents.values()]

    return _assemble(rows, departments, totals, agents_of, now, department_id, extended)


def _queue_live(
    live: LiveState,
    ended: dict[Target, WaitSums],
    now: int,
    department_id: str | None,
    extended: bool,
) -> list[dict[str, Any]]:
    rows: dict[Target, _Row] = {}
    for chat in live.open_waits(department_id):
        assert chat.wait_started_at is not None
        row = rows.setdefault(_target(chat.route_department_id, chat.route_agent_id), _Row())
        row.waiting.append((chat.wait_started_at, chat.visitor_id, chat.contact_identity_id))
    for (route_department, route_agent), sums in ended.items():
        rows.setdefault(_target(route_department, route_agent), _Row()).ended.add(sums)
    config = live.config
    if department_id is None:
        departments = config.queue_departments()
    else:
        departments = [config.departments[department_id].doc]
    totals = {key: live.figures(key) for key in live.totals}

    def agents_of(ids: list[str]) -> list[tuple[AgentNow, Any]]:
        found = [config.agents.get(agent_id) for agent_id in ids]
        return [(agent_now(live, a.agent_id), a.doc) for a in found if a is not None and a.active]

    return _assemble(rows, departments, totals, agents_of, now, department_id, extended)


def _assemble(
    rows: dict[Target, _Row],
    departments: list[dict[str, Any]],
    totals: dict[str, dict[str, int]],
    agents_of: Callable[[list[str]], list[tuple[AgentNow, Any]]],
    now: int,
    department_id: str | None,
    extended: bool,
) -> list[dict[str, Any]]:
    site = totals.get("", {})

    ongoing: dict[str | None, int] = {k: v["ongoing_chats"] for k, v in totals.items() if k}
    ongoing[None] = site.get("ongoing_chats", 0) - sum(ongoing.values())  # chats of no department
    capacity = {k: v["online_capacity"] for k, v in totals.items() if k}
    out = [
        _render(
            rows.get((doc["id"], None), _Row()),
            now,
            doc,
            None,
            ongoing.get(doc["id"], 0),
            capacity.get(doc["id"], 0),
            extended,
        )
        for doc in departments
    ]
    if department_id is not None:
        return out

    nobody = rows.get((None, None), _Row())
    if not departments or nobody.busy:
        online_capacity = site.get("online_capacity", 0)
        out.append(
            _render(nobody, now, None, None, ongoing.get(None, 0), online_capacity, extended)
        )

    busy_ids = [agent for (dept, agent), row in rows.items() if agent and row.busy]
    found = agents_of(busy_ids)
    for agent, doc in sorted(found, key=lambda a: (a[0].display_name.casefold(), a[0].agent_id)):
        own_capacity = agent.max_concurrent_chats if agent.status_type == ONLINE else 0
        out.append(
            _render(
                rows[(None, agent.agent_id)],
                now,
                None,
                doc,
                agent.ongoing_chats,
                own_capacity,
                extended,
            )
        )
    return out


def _target(department_id: str | None, agent_id: str | None) -> Target:
    return (department_id, None) if department_id else (None, agent_id)


def _render(
    row: _Row,
    now: int,
    department: dict[str, Any] | None,
    agent: dict[str, Any] | None,
    ongoing: int,
    capacity: int,
    extended: bool,
) -> dict[str, Any]:
    waiting = sorted(row.waiting)
    ended = row.ended
    out = {
        "routeToDepartmentId": department["id"] if department else None,
        "routeToDepartment": department,
        "routeToAgentId": agent["id"] if agent else None,
        "routeToAgent": agent,
        "ongoingChats": ongoing,
        "maxConcurrentChats": capacity,
        "currentQueueLength": len(waiting),
        "avgWaitTimeinLast30Mins": ended.avg_wait_30,
        "avgWaitTimeinLast60Mins": ended.avg_wait_60,
        "abandonedChatsinLast30Mins": ended.abandoned_30,
        "switchedtoMessagesinLast30Mins": ended.switched_30,
        "visitors": [
            {
                "visitorId": visitor_id,
                "contactIdentityId": contact,
                "waitTime": wait_time(now, started),
            }
            for started, visitor_id, contact in waiting
        ],
    }
    if extended:
        out["longestWaitTime"] = wait_time(now, waiting[0][0]) if waiting else 0
        out["serviceLevelinLast30Mins"] = ended.service_level_30
        out["serviceLevelinLast60Mins"] = ended.service_level_60
    return out
