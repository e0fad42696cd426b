"""What a closed interval or an ended wait adds to the per-period sums the store keeps beside the
rows, so that Today and Queue read a few dozen sums instead of every interval of the day.

- Time in a status, and busy time (linear chat time), are summed per quarter of an hour of UTC:
  a closed interval [a, b) adds to each quarter q its overlap with [q·Q, (q+1)·Q). A window whose
  bounds fall on quarters (local midnight in every zone in use, whole quarters of an hour
  otherwise) reads only these sums; the part of a window that does not cover a whole quarter is
  clipped from the rows themselves.
- Ended waits are summed per minute of their end, by route target: count, total length, and how
  many ended abandoned or switched to messages (the Queue view's figures of the last 30 and 60
  minutes); the partial minutes at both ends of those windows come from the rows.

Intervals still open are never in the sums: the views clip them from the rows.
"""

from __future__ import annotations

from chatpulse.domain.chat import ANSWERED, OPEN, WAIT_ABANDONED, WAIT_SWITCHED, WaitRecord
from chatpulse.domain.service_level import SiteThresholds

QUARTER = 15 * 60_000_000  # µs
WAIT_MINUTE = 60_000_000  # µs

# count, total length, ended abandoned, ended switched; then judged with the thresholds of the
# wait's route department (domain/service_level.py): answered in time, counted.
WAIT_FIELDS = ("waits", "wait_total", "abandoned", "switched", "in_time", "counted")
BUSY = "b"  # kind of the busy-time series; its status key is ""
STATUS = "s"  # kind of the time-per-status series, keyed by status id


def quarter_shares(started: int, ended: int) -> list[tuple[int, int]]:
    """(quarter, µs) for each quarter of an hour the closed interval [started, ended) meets."""
    if ended >= OPEN or ended <= started:
        return []
    shares = []
    q = started // QUARTER
    while q * QUARTER < ended:
        lo, hi = max(started, q * QUARTER), min(ended, (q + 1) * QUARTER)
        shares.append((q, hi - lo))
        q += 1
    return shares


def whole_quarters(start: int, end: int) -> tuple[int, int]:
    """[first, after): the quarters that lie wholly inside [start, end) (first ≥ after: none)."""
    return -(-start // QUARTER), end // QUARTER


def whole_minutes(start: int, end: int) -> tuple[int, int]:
    """[first, after): the minutes that lie wholly inside [start, end)."""
    return -(-start // WAIT_MINUTE), end // WAIT_MINUTE


def wait_key(wait: WaitRecord) -> tuple[str, str, int]:
    """(route department or "", route agent or "", minute of the end) of an ended wait."""
    return (wait.route_department_id or "", wait.route_agent_id or "", wait.ended_at // WAIT_MINUTE)


def wait_share(
    outcome: str | None,
    started: int,
    ended: int,
    department_id: str | None,
    thresholds: SiteThresholds,
) -> tuple[int, ...]:
    """An ended wait's share of WAIT_FIELDS; `department_id`: its route department."""
    length = ended - started
    in_time, counted = thresholds.judge(department_id, outcome == ANSWERED, length)
    return (
        1,
        length,
        int(outcome == WAIT_ABANDONED),
        int(outcome == WAIT_SWITCHED),
        in_time,
        counted,
    )
