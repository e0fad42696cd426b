"""Today (METRICS.md §3): the cohort of chats requested in the window, and agent times."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from chatpulse.domain.arith import mean, mean_seconds, ratio_percent
from chatpulse.domain.live import SiteConfig
from chatpulse.domain.window import Window
from chatpulse.store import reads


def today(
    conn: Connection,
    site_id: int,
    window: Window,
    department_id: str | None,
    config: SiteConfig | None = None,
) -> dict[str, Any]:
    """`config`: the site's configuration at the snapshot's version, when known (the live
    state's): who is active, in which department, which statuses are logged in."""
    c = reads.cohort_totals(conn, site_id, window.start, window.end, department_id)
    requests = c["requests"]
    start, live_end = window.start, window.live_end
    handled = reads.total_linear_chat_time(conn, site_id, department_id, start, live_end, config)
    logged_in = reads.total_logged_in_time(conn, site_id, department_id, start, live_end, config)
    return {
        "totalChats": c["total"],
        "chatRequests": requests,
        "chats": c["accepted"],
        "abandondedChats": c["abandoned"],
        "switchedToMessageChats": c["switched"],
        "missedChats": c["missed"],
        "chatAcceptanceRate": ratio_percent(c["accepted"], requests),
        "serviceAccessibilityRate": ratio_percent(requests - c["switched"], requests),
        "uniqueChatRate": ratio_percent(c["unique"], c["accepted"]),
        "avgWaitingTime": mean_seconds(c["wait_total"], c["waits"]),
        "avgChatTime": mean_seconds(c["chat_total"], c["ended"]),
        "avgScore": mean(c["score_total"], c["rated"]),
        "acceptedInvitations": reads.accepted_invitations(conn, site_id, start, window.end),
        "totalTransferredChats": c["transferred"],
        "departmentTransferredChats": c["department_transferred"],
        "agentAvgResponseTime": mean_seconds(c["response_total"], c["responses"]),
        "agentUtilization": ratio_percent(handled, logged_in),
    }
