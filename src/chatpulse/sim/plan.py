"""What the simulator sets up on a site: departments, agents and custom statuses, and the ids the
server gave them (the roster the model runs on)."""

from __future__ import annotations

import random
from dataclasses import dataclass

ONLINE = "00000000-0000-0000-0000-000000000000"
AWAY = "00000000-0000-0000-0000-000000000001"
OFFLINE = "00000000-0000-0000-0000-000000000002"

DEPARTMENT_NAMES = ("Sales", "Support", "Billing", "Technical", "Returns", "Partners")
FIRST_NAMES = (
    "Ada", "Ben", "Chloé", "Dev", "Eva", "Farid", "Grace", "Hugo", "Ines", "Jon", "Kemi", "Luca",
    "Mei", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tariq", "Uma", "Vera", "Wen", "Yusuf",
)  # fmt: skip
LAST_NAMES = (
    "Anders", "Brown", "Costa", "Dubois", "Evans", "Fischer", "García", "Hall", "Ito", "Jensen",
    "Kowalski", "Lee", "Moreau", "Novak", "Okafor", "Patel", "Rossi", "Silva", "Tanaka", "Weber",
)  # fmt: skip
CAPACITIES = (2, 3, 3, 3, 4)
# Custom statuses the simulator uses for breaks, with their type (SPEC.md §1).
CUSTOM_STATUSES = (("Lunch", "away"), ("Meeting", "away"))


@dataclass(frozen=True, slots=True)
class AgentPlan:
    display_name: str
    email: str
    first_name: str
    last_name: str
    departments: tuple[int, ...]  # indexes into the plan's department names
    max_concurrent_chats: int


@dataclass(frozen=True, slots=True)
class Plan:
    departments: tuple[str, ...]
    agents: tuple[AgentPlan, ...]


def plan_site(rng: random.Random, agents: int, departments: int) -> Plan:
    """Department names and agents (names, e-mails, memberships, capacities) for a site.

    Agent n belongs to department n mod D; one in four also to the next department.
    """
    names = tuple(
        DEPARTMENT_NAMES[i] if i < len(DEPARTMENT_NAMES) else f"Department {i + 1}"
        for i in range(departments)
    )
    planned = []
    for n in range(agents):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        member: tuple[int, ...] = ()
        if departments:
            member = (n % departments,)
            if departments > 1 and rng.random() < 0.25:
                member += ((n + 1) % departments,)
        planned.append(
            AgentPlan(
                display_name=f"{first} {last}",
                email=f"agent{n + 1:04d}@demo.chatpulse.invalid",
                first_name=first,
                last_name=last,
                departments=member,
                max_concurrent_chats=rng.choice(CAPACITIES),
            )
        )
    return Plan(names, tuple(planned))


@dataclass(frozen=True, slots=True)
class RosterAgent:
    id: str
    department_ids: tuple[str, ...]
    max_concurrent_chats: int


@dataclass(frozen=True, slots=True)
class Roster:
    """The site as the model sees it: ids as stored on the server."""

    department_ids: tuple[str, ...]
    agents: tuple[RosterAgent, ...]
    lunch_status_id: str
    meeting_status_id: str
    online_status_id: str = ONLINE
    away_status_id: str = AWAY
    offline_status_id: str = OFFLINE
