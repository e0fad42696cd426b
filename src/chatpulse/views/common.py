"""What every view needs: a read connection, the department check, the window."""

from __future__ import annotations

from sqlalchemy import Connection

from chatpulse.domain.errors import BadParameter
from chatpulse.domain.events import normalize_uuid
from chatpulse.domain.live import LiveState
from chatpulse.domain.site_config import SiteConfig
from chatpulse.store.reads.common import AgentNow, department_state


def check_department(
    conn: Connection, site_id: int, department_id: str | None, config: SiteConfig | None = None
) -> str | None:
    """The department id in canonical form; 400 when unknown or deleted (known from the
    configuration when the caller has it)."""
    if department_id is None:
        return None
    canonical = normalize_uuid(department_id.strip())
    if canonical is None:
        raise BadParameter("departmentId", "must be a UUID")
    if config is not None:
        found = config.departments.get(canonical)
        state = None if found is None else not found.deleted
    else:
        state = department_state(conn, site_id, canonical)
    if state is None:
        raise BadParameter("departmentId", f"unknown department {canonical}")
    if state is False:
        raise BadParameter("departmentId", f"department {canonical} is deleted")
    return canonical


def agent_now(live: LiveState, agent_id: str) -> AgentNow:
    """An agent of the configuration as the views see it now, from the live state."""
    config = live.config.agents[agent_id]
    state = live.agents.get(agent_id)
    status_id = state.status_id if state else None
    return AgentNow(
        agent_id,
        config.display_name,
        config.max_concurrent_chats,
        status_id,
        live.config.status_type(status_id),
        state.ongoing_chats if state else 0,
    )
