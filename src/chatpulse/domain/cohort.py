"""What one chat adds to the Today sums of its cohort (METRICS.md §3), as a vector.

The Today view adds these vectors over the chats requested in the window; the store keeps them
summed per minute of request, so that a day's figures need not rescan every chat.
"""

from __future__ import annotations

from collections.abc import Iterable

from chatpulse.domain.chat import ABANDONED, ENDED, SWITCHED, ChatRecord

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
)
ZERO = (0,) * len(COHORT_FIELDS)
MINUTE = 60_000_000


def contribution(chat: ChatRecord) -> tuple[int, ...]:
    """The chat's share of each cohort sum, in the order of COHORT_FIELDS."""
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
    )


def minute_of(instant: int) -> int:
    return instant // MINUTE


# A chat's share of the sums: (cohort department, minute of request, contribution).
Share = tuple[str | None, int, tuple[int, ...]]


def share_of(chat: ChatRecord) -> Share:
    return (chat.cohort_department_id, minute_of(chat.requested_at), contribution(chat))


def moves(changes: Iterable[tuple[int, Share]]) -> dict[tuple[str, int], tuple[int, ...]]:
    """The per-minute sums' changes, keyed (department key, minute): "" the site's, else the
    cohort department's, for shares added (+1) or taken (−1). Changes that cancel are left out."""
    deltas: dict[tuple[str, int], list[int]] = {}
    for sign, (department, minute, amount) in changes:
        for key in ("", department) if department else ("",):
            sums = deltas.get((key, minute))
            if sums is None:
                sums = deltas[(key, minute)] = [0] * len(COHORT_FIELDS)
            for i, value in enumerate(amount):
                sums[i] += sign * value
    return {key: tuple(sums) for key, sums in deltas.items() if any(sums)}


def add(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(x + y for x, y in zip(a, b, strict=True))


def subtract(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(x - y for x, y in zip(a, b, strict=True))
