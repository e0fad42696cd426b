"""Agents and departments of a connector's platform, created or updated in ChatPulse on sight.

A delivery names agents (by the platform's id, often with a name and email) and teams or groups.
Before its facts go into the log, each is made to exist: the first sight creates it (a name the
site already uses gets the platform's name in brackets after it; an email another agent uses is
replaced by a made-up one). The platform's API (the availability poll, a sync) updates them when
their details changed. Entities a process has already checked are remembered for a minute, so
that a busy connector reads nothing here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from chatpulse.connectors.ids import Ids
from chatpulse.connectors.model import AgentInfo, Delivery, TeamInfo
from chatpulse.domain.timeutil import format_instant
from chatpulse.services.runtime import Runtime
from chatpulse.store import config
from chatpulse.store import tables as t
from chatpulse.store.connectors import Connector
from chatpulse.store.scoped import scoped

REMEMBER_S = 60.0
PLATFORM_NAMES = {"chatwoot": "Chatwoot", "livechat": "LiveChat"}

Doc = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Wanted:
    """What one batch needs to exist: details where the platform gave them."""

    agents: dict[str, AgentInfo | None]  # platform key -> details (None: only named)
    teams: dict[str, TeamInfo | None]


def wanted(deliveries: Iterable[Delivery]) -> Wanted:
    agents: dict[str, AgentInfo | None] = {}
    teams: dict[str, TeamInfo | None] = {}
    for delivery in deliveries:
        for fact in delivery.facts:
            for name in ("agentId", "toAgentId"):
                value = fact.data.get(name)
                if value is not None and fact.type != "chat.requested":
                    agents.setdefault(str(value), None)
            for name in ("departmentId", "toDepartmentId"):
                value = fact.data.get(name)
                if value is not None:
                    teams.setdefault(str(value), None)
            if fact.department is not None:
                teams.setdefault(fact.department, None)
        for agent in delivery.agents:
            agents[agent.key] = agent
            for key in agent.department_keys or ():
                teams.setdefault(key, None)
        for team in delivery.teams:
            teams[team.key] = team
    return Wanted(agents, teams)


class _Memory:
    """(connector, kind, key) -> (what was checked, when), per process."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str, str], tuple[object, float]] = {}
        self._lock = threading.Lock()

    def known(self, key: tuple[str, str, str], details: object) -> bool:
        """Checked within REMEMBER_S with these details; or at all, when a fact only names it
        (None: nothing to compare, and existing is all that is asked)."""
        with self._lock:
            seen = self._seen.get(key)
        if seen is None or time.monotonic() - seen[1] >= REMEMBER_S:
            return False
        return details is None or seen[0] == details

    def remember(self, key: tuple[str, str, str], details: object) -> None:
        with self._lock:
            if len(self._seen) > 100_000:
                self._seen.clear()
            self._seen[key] = (details, time.monotonic())


_memory = _Memory()


def ensure(runtime: Runtime, connector: Connector, want: Wanted, update: bool = False) -> None:
    """Create every agent and department `want` names that does not exist yet; with `update`
    (details read from the platform's API), also update those whose details changed. One
    configuration write, only when something is new or changed. Webhooks only create: what
    they say of a name may be a stand-in (LiveChat's webhooks name no group), and the API's
    answer is the platform's word."""
    ids = Ids(connector.site_id, connector.id)
    teams = {k: v for k, v in want.teams.items() if not _memory.known((connector.id, "team", k), v)}
    agents = {
        k: v for k, v in want.agents.items() if not _memory.known((connector.id, "agent", k), v)
    }
    if not teams and not agents:
        return
    now = runtime.clock.now()
    platform = PLATFORM_NAMES.get(connector.kind, connector.kind)
    site = connector.site_id
    changed = False
    with runtime.engine.connect() as conn:
        stale_teams = _stale_departments(conn, site, ids, teams, update)
        stale_agents = _stale_agents(conn, site, ids, agents, update)
    if stale_teams or stale_agents:
        with config.writing(runtime.engine, site) as conn:
            for key, (team, old) in stale_teams.items():
                _write_department(conn, site, ids.of("department", key), key, team, old, platform)
            for key, (agent, old) in stale_agents.items():
                _write_agent(conn, site, ids, key, agent, old, platform, now)
        changed = True
    for key, team in teams.items():
        if team is not None or not _memory.known((connector.id, "team", key), None):
            _memory.remember((connector.id, "team", key), team)
    for key, agent in agents.items():
        if agent is not None or not _memory.known((connector.id, "agent", key), None):
            _memory.remember((connector.id, "agent", key), agent)
    if changed:
        runtime.config_changed(site)


def _stale_departments(
    conn: Connection, site: int, ids: Ids, teams: dict[str, TeamInfo | None], update: bool
) -> dict[str, tuple[TeamInfo | None, Doc | None]]:
    stale: dict[str, tuple[TeamInfo | None, Doc | None]] = {}
    for key, info in teams.items():
        old = config.get_department(conn, site, ids.of("department", key))
        if old is None or (
            update and info is not None and not old["name"].startswith(info.name.strip())
        ):
            stale[key] = (info, old)
    return stale


def _stale_agents(
    conn: Connection, site: int, ids: Ids, agents: dict[str, AgentInfo | None], update: bool
) -> dict[str, tuple[AgentInfo | None, Doc | None]]:
    stale: dict[str, tuple[AgentInfo | None, Doc | None]] = {}
    for key, info in agents.items():
        old = config.get_agent(conn, site, ids.of("agent", key))
        if old is None:
            stale[key] = (info, None)
        elif update and info is not None and _agent_differs(old, info, ids):
            stale[key] = (info, old)
    return stale


def _agent_differs(old: Doc, info: AgentInfo, ids: Ids) -> bool:
    if old["displayName"] != info.display_name[:200]:
        return True
    if info.email is not None and str(old["email"]).casefold() != info.email.casefold():
        return True
    if info.max_concurrent_chats is not None and old["maxConcurrentChats"] != _capacity(info):
        return True
    if info.department_keys is not None:
        wanted = sorted(ids.of("department", k) for k in info.department_keys)
        return bool(sorted(old["departmentIds"]) != wanted)
    return False


def _capacity(info: AgentInfo) -> int:
    return max(
        0, min(100, info.max_concurrent_chats if info.max_concurrent_chats is not None else 3)
    )


def _free_name(conn: Connection, site: int, doc_id: str, name: str, platform: str) -> str:
    taken = {
        n.casefold()
        for n in conn.execute(
            scoped(t.departments, site, t.departments.c.name).where(
                t.departments.c.is_deleted.is_(False), t.departments.c.id != doc_id
            )
        ).scalars()
    }
    candidate = name
    n = 1
    while candidate.casefold() in taken:
        n += 1
        candidate = f"{name} ({platform})" if n == 2 else f"{name} ({platform} {n - 1})"
    return candidate[:200]


def _write_department(
    conn: Connection,
    site: int,
    department_id: str,
    key: str,
    info: TeamInfo | None,
    old: Doc | None,
    platform: str,
) -> None:
    if old is not None and info is None:
        return
    name = info.name.strip() if info is not None and info.name.strip() else f"{platform} team {key}"
    doc: Doc = {
        "id": department_id,
        "siteId": site,
        "name": _free_name(conn, site, department_id, name[:180], platform),
        "description": f"{platform} team/group {key}",
        "isAvailableInLiveChat": True,
        "isAvailableInTicketingAndMessaging": False,
        "isDeleted": False,
        "serviceLevelSeconds": None,
        "shortAbandonSeconds": None,
    }
    if old is None:
        config.insert_department(conn, site, doc)
    else:
        for kept in ("description", "isAvailableInLiveChat", "serviceLevelSeconds"):
            doc[kept] = old[kept]
        doc["shortAbandonSeconds"] = old["shortAbandonSeconds"]
        config.replace_department(conn, site, doc)


def _write_agent(
    conn: Connection,
    site: int,
    ids: Ids,
    key: str,
    info: AgentInfo | None,
    old: Doc | None,
    platform: str,
    now: int,
) -> None:
    agent_id = ids.of("agent", key)
    name = info.display_name.strip()[:200] if info is not None else ""
    if not name:
        name = str(old["displayName"]) if old is not None else f"{platform} agent {key}"[:200]
    email = info.email.strip() if info is not None and info.email else None
    if email is None or "@" not in email or _email_taken(conn, site, agent_id, email):
        email = str(old["email"]) if old is not None else f"{key}@{platform.lower()}.connector"
    departments = list(old["departmentIds"]) if old is not None else []
    if info is not None and info.department_keys is not None:
        departments = [ids.of("department", k) for k in info.department_keys]
    capacity = (
        _capacity(info)
        if info is not None and info.max_concurrent_chats is not None
        else int(old["maxConcurrentChats"])
        if old is not None
        else 3
    )
    doc: Doc = {
        "id": agent_id,
        "siteId": site,
        "displayName": name,
        "email": email[:320],
        "firstName": "",
        "lastName": "",
        "isAdmin": False,
        "isActive": True,
        "phone": "",
        "title": "",
        "bio": f"{platform} agent {key}",
        "apiKey": None,
        "createdTime": format_instant(now),
        "isLocked": False,
        "lockedTime": None,
        "isDeleted": False,
        "systemAvatarId": None,
        "ifCustomizeAvatar": False,
        "customizeAvatar": "",
        "avatar": "",
        "departmentIds": list(dict.fromkeys(departments)),
        "maxConcurrentChats": capacity,
    }
    if old is None:
        config.insert_agent(conn, site, doc)
    else:
        for kept in ("firstName", "lastName", "isAdmin", "isActive", "phone", "title", "bio"):
            doc[kept] = old[kept]
        config.replace_agent(conn, site, doc)


def _email_taken(conn: Connection, site: int, agent_id: str, email: str) -> bool:
    wanted = email.casefold()
    return any(
        other.casefold() == wanted
        for other in conn.execute(
            scoped(t.agents, site, t.agents.c.email).where(
                t.agents.c.is_deleted.is_(False), t.agents.c.id != agent_id
            )
        ).scalars()
    )
