"""Agents' per-agent figures over the window (METRICS.md §5) that take arithmetic: pages and the
status distribution."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from chatpulse.domain.intervals import overlap
from chatpulse.domain.statuses import OFFLINE_ID
from chatpulse.domain.timeutil import MICROS


def page_count(total: int, page_size: int) -> int:
    return -(-total // page_size)


def status_distributions(
    ids: Iterable[str],
    spent: Iterable[tuple[str, str, int]],
    first_status_at: Mapping[str, int],
    start: int,
    live_end: int,
) -> dict[str, dict[str, int]]:
    """Whole seconds per status within [start, live_end): `spent` gives (agent, status, µs);
    an agent is Offline before its first status (`first_status_at`, none: the whole window)."""
    micros: dict[str, dict[str, int]] = {i: {} for i in ids}
    for agent_id, status_id, us in spent:
        micros[agent_id][status_id] = micros[agent_id].get(status_id, 0) + us
    for agent_id, of_agent in micros.items():
        before_first = overlap(start, first_status_at.get(agent_id, live_end), start, live_end)
        if before_first:
            of_agent[OFFLINE_ID] = of_agent.get(OFFLINE_ID, 0) + before_first
    return {
        agent_id: {status: us // MICROS for status, us in of_agent.items() if us >= MICROS}
        for agent_id, of_agent in micros.items()
    }
