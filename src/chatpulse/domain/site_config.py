"""A site's configuration at one version, worked out once for the views: who is an active member
of which department, which agents are logged in by their status's type, which departments the
Queue lists."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chatpulse.domain.service_level import SiteThresholds
from chatpulse.domain.statuses import AWAY, OFFLINE, ONLINE


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """What the configuration says of an agent, as the live views need it."""

    agent_id: str
    display_name: str
    sort_name: str
    max_concurrent_chats: int
    active: bool  # active and not deleted: counted by the views
    departments: tuple[str, ...]
    doc: Any


@dataclass(frozen=True, slots=True)
class DepartmentConfig:
    department_id: str
    deleted: bool
    available: bool  # is_available_in_live_chat
    doc: Any


@dataclass(frozen=True, slots=True)
class SiteConfig:
    """A site's configuration at one version: every agent (known ones, active or not), the type
    of every status, every department; and what the views ask of them often, worked out once."""

    version: int
    agents: dict[str, AgentConfig]
    status_types: dict[str, str]
    departments: dict[str, DepartmentConfig]
    members: dict[str, list[str]] = field(default_factory=dict)  # active ones, per department
    active: list[str] = field(default_factory=list)
    inactive: list[str] = field(default_factory=list)
    logged_in: list[str] = field(default_factory=list)  # statuses of type online or away
    listed: list[Any] = field(default_factory=list)  # the site's Queue's departments, in order
    thresholds: SiteThresholds = field(default_factory=SiteThresholds)  # METRICS.md §7

    @classmethod
    def of(
        cls,
        version: int,
        agents: dict[str, AgentConfig],
        status_types: dict[str, str],
        departments: dict[str, DepartmentConfig],
        thresholds: SiteThresholds | None = None,
    ) -> SiteConfig:
        members: dict[str, list[str]] = {}
        for agent in agents.values():
            if agent.active:
                for department_id in agent.departments:
                    members.setdefault(department_id, []).append(agent.agent_id)
        listed = [d.doc for d in departments.values() if d.available and not d.deleted]
        listed.sort(key=lambda doc: (doc["name"].casefold(), doc["id"]))
        return cls(
            version,
            agents,
            status_types,
            departments,
            members,
            [a.agent_id for a in agents.values() if a.active],
            [a.agent_id for a in agents.values() if not a.active],
            [s for s, kind in status_types.items() if kind in (ONLINE, AWAY)],
            listed,
            thresholds or SiteThresholds(),
        )

    def status_type(self, status_id: str | None) -> str:
        if status_id is None:
            return OFFLINE
        return self.status_types.get(status_id, OFFLINE)

    def inactive_agents(self) -> list[str]:
        """The agents the views do not count: deactivated or deleted."""
        return self.inactive

    def logged_in_statuses(self) -> list[str]:
        return self.logged_in

    def active_members(self, department_id: str) -> list[str]:
        return self.members.get(department_id, [])

    def queue_departments(self) -> list[Any]:
        """The departments the site's Queue lists: not deleted, available in live chat, by name."""
        return self.listed
