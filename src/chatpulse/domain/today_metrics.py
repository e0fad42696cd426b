"""Today's figures (METRICS.md §3) from the cohort's sums and the agents' times: the counts as
they are, the rates and means rounded as the spec says."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chatpulse.domain.arith import mean, mean_seconds, ratio_percent
from chatpulse.domain.cohort import LONGEST
from chatpulse.domain.service_level import service_level


def today_figures(
    cohort: Mapping[str, int], handled: int, logged_in: int, accepted_invitations: int
) -> dict[str, Any]:
    """`cohort`: the sums of domain/cohort.COHORT_FIELDS over the chats requested in the window;
    `handled` and `logged_in`: H and O of agentUtilization (µs)."""
    c = cohort
    requests = c["requests"]
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
        "acceptedInvitations": accepted_invitations,
        "totalTransferredChats": c["transferred"],
        "departmentTransferredChats": c["department_transferred"],
        "agentAvgResponseTime": mean_seconds(c["response_total"], c["responses"]),
        "agentUtilization": ratio_percent(handled, logged_in),
    }


def today_extension(
    cohort: Mapping[str, int], now: int, open_waits: Iterable[int]
) -> dict[str, Any]:
    """Today's fields of METRICS.md §7 from the cohort's sums (with LONGEST, the longest ended
    first wait) and the starts of the cohort's first waits still going on at `now`."""
    longest = max([cohort[LONGEST], *(now - started for started in open_waits)])
    return {
        "serviceLevel": service_level(cohort["in_time"], cohort["counted"]),
        "avgSpeedOfAnswer": mean_seconds(cohort["answer_total"], cohort["accepted"]),
        "longestWaitingTime": mean_seconds(max(0, longest), 1),
    }
