"""What one chat adds to the Today sums of its cohort (METRICS.md §3), as a vector.

The Today view adds these vectors over the chats requested in the window; the store keeps them
summed per minute of request, so that a day's figures need not rescan every chat.
"""

from __future__ import annotations

from collections.abc import Iterable

from chatpulse.domain.chat import ABANDONED, ENDED, SWITCHED, ChatRecord
from chatpulse.domain.service_level import SiteThresholds

COHORT_FIELDS = (
    "total",
    "requests",
    "accepted",
    "abandoned",
    "switched",
    "missed",
    "unique",
    "waits",
    "wait_total",
    "ended",
    "chat_total",
    "rated",
    "score_total",
    "transferred",
    "department_transferred",
    "responses",
    "response_total",
    # METRICS.md §7: first waits judged with their thresholds (domain/service_level.py), and
    # the total of the first waits that ended answered (avgSpeedOfAnswer over `accepted`).
    "in_time",
    "counted",
    "answer_total",
)
# The longest ended first wait: kept per minute as a maximum, not a sum (a first wait that has
# ended never changes, so a chat's value is the same before and after any later event).
LONGEST = "longest_wait"
ZERO = (0,) * len(COHORT_FIELDS)
MINUTE = 60_000_000
QUARTER_MINUTES = 15  # the per-quarter sums hold minutes [15·q, 15·q + 15)


def contribution(chat: ChatRecord, thresholds: SiteThresholds) -> tuple[int, ...]:
    """The chat's share of each cohort sum, in the order of COHORT_FIELDS, its first wait judged
    with `thresholds` (the configuration's at the time)."""
    accepted = chat.accepted_at is not None
    waited = chat.wait_no > 0
    first_wait_over = chat.first_wait_ended_at is not None and chat.first_wait_length is not None
    ended = accepted and chat.state == ENDED and chat.ended_at is not None
    rated = chat.score is not None
    return (
        1,
        int(waited),
        int(accepted),
        int(chat.state == ABANDONED),
        int(chat.state == SWITCHED),
        int(waited and not accepted and chat.state in (ABANDONED, SWITCHED)),
        int(accepted and not chat.multi_agent),
        int(first_wait_over),
        (chat.first_wait_length or 0) if first_wait_over else 0,
        int(ended),
        (chat.ended_at - chat.accepted_at)  # type: ignore[operator]
        if ended
        else 0,
        int(rated),
        chat.score or 0,
        int(chat.transferred),
        int(chat.department_transferred),
        chat.response_count,
        chat.response_total,
        *_judged(chat, first_wait_over, accepted, thresholds),
    )


def _judged(
    chat: ChatRecord, first_wait_over: bool, accepted: bool, thresholds: SiteThresholds
) -> tuple[int, int, int]:
    """(in time, counted, answered length) of the chat's first wait, zeros while it lasts. A
    first wait ends answered exactly when the chat is accepted: the other ends are final."""
    if not first_wait_over:
        return 0, 0, 0
    length = chat.first_wait_length or 0
    in_time, counted = thresholds.judge(chat.first_wait_department_id, accepted, length)
    return in_time, counted, length if accepted else 0


def longest_of(chat: ChatRecord) -> int:
    """The chat's first wait length once it has ended, else 0 (the LONGEST rollup)."""
    if chat.first_wait_ended_at is None or chat.first_wait_length is None:
        return 0
    return chat.first_wait_length


def minute_of(instant: int) -> int:
    return instant // MINUTE


# A chat's share of the sums: (cohort department, minute of request, contribution, longest
# ended first wait or 0).
Share = tuple[str | None, int, tuple[int, ...], int]


def share_of(chat: ChatRecord, thresholds: SiteThresholds) -> Share:
    return (
        chat.cohort_department_id,
        minute_of(chat.requested_at),
        contribution(chat, thresholds),
        longest_of(chat),
    )


def moves(changes: Iterable[tuple[int, Share]]) -> dict[tuple[str, int], tuple[int, ...]]:
    """The per-minute sums' changes, keyed (department key, minute): "" the site's, else the
    cohort department's, for shares added (+1) or taken (−1), then the largest LONGEST added
    (a maximum: taking a share away leaves it, see LONGEST). Changes that cancel are left out."""
    width = len(COHORT_FIELDS)
    deltas: dict[tuple[str, int], list[int]] = {}
    for sign, (department, minute, amount, longest) in changes:
        for key in ("", department) if department else ("",):
            sums = deltas.get((key, minute))
            if sums is None:
                sums = deltas[(key, minute)] = [0] * (width + 1)
            for i, value in enumerate(amount):
                sums[i] += sign * value
            if sign > 0 and longest > sums[width]:
                sums[width] = longest
    return {key: tuple(sums) for key, sums in deltas.items() if any(sums[:width])}


def add(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(x + y for x, y in zip(a, b, strict=True))


def subtract(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(x - y for x, y in zip(a, b, strict=True))
