"""Queue's figures of the last 30 and 60 minutes (METRICS.md §4): the two windows, the sums of
the waits that ended in them, and the averages a row shows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chatpulse.domain.arith import round_half_up
from chatpulse.domain.rollups import WAIT_MINUTE, whole_minutes
from chatpulse.domain.service_level import service_level
from chatpulse.domain.timeutil import MICROS


@dataclass(frozen=True, slots=True)
class WaitWindows:
    """Waits that ended in (now − 60 min, now] and (now − 30 min, now]: [lo_60, hi) and
    [lo_30, hi) in µs."""

    lo_60: int
    lo_30: int
    hi: int

    @classmethod
    def at(cls, now: int) -> WaitWindows:
        hi = now + 1
        return cls(hi - 60 * WAIT_MINUTE, hi - 30 * WAIT_MINUTE, hi)

    def whole_minutes(self) -> tuple[int, int, int]:
        """(first of the hour, first of the half hour, after): the minutes wholly inside the
        windows are [first_60, after) and [first_30, after)."""
        first_60, after = whole_minutes(self.lo_60, self.hi)
        return first_60, whole_minutes(self.lo_30, self.hi)[0], after

    def edges(self) -> list[tuple[int, int, bool, bool]]:
        """The partial minutes, read wait by wait: (lo, hi, in the hour, in the half hour) for
        [lo_60, …) and [lo_30, …) at the start (each window's own, the other window counting it
        among its whole minutes) and the minute of now at the end, which both windows share."""
        first_60, first_30, after = self.whole_minutes()
        edges = [
            (self.lo_60, first_60 * WAIT_MINUTE, True, False),
            (self.lo_30, first_30 * WAIT_MINUTE, False, True),
            (after * WAIT_MINUTE, self.hi, True, True),
        ]
        return [edge for edge in edges if edge[0] < edge[1]]


@dataclass(slots=True)
class WaitSums:
    """Ended waits of one route target over the last 60 and 30 minutes; `in_time` and
    `counted` judged with the thresholds of the target (METRICS.md §7)."""

    count_60: int = 0
    total_60: int = 0
    count_30: int = 0
    total_30: int = 0
    abandoned_30: int = 0
    switched_30: int = 0
    in_time_60: int = 0
    counted_60: int = 0
    in_time_30: int = 0
    counted_30: int = 0

    def add(self, other: WaitSums) -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def add_ended(self, values: Sequence[int], in_60: bool, in_30: bool) -> None:
        """Add ended waits' sums, in the order of domain/rollups.WAIT_FIELDS (count, total µs,
        abandoned, switched, in time, counted), to the windows they ended in."""
        count, total, abandoned, switched, in_time, counted = values
        if in_60:
            self.count_60 += count
            self.total_60 += total
            self.in_time_60 += in_time
            self.counted_60 += counted
        if in_30:
            self.count_30 += count
            self.total_30 += total
            self.abandoned_30 += abandoned
            self.switched_30 += switched
            self.in_time_30 += in_time
            self.counted_30 += counted

    @property
    def avg_wait_30(self) -> int:
        """avgWaitTimeinLast30Mins: whole seconds, halves up; 0 without waits."""
        return round_half_up(self.total_30, self.count_30 * MICROS)

    @property
    def avg_wait_60(self) -> int:
        """avgWaitTimeinLast60Mins."""
        return round_half_up(self.total_60, self.count_60 * MICROS)

    @property
    def service_level_30(self) -> float | None:
        """serviceLevelinLast30Mins (None: nothing to judge)."""
        return service_level(self.in_time_30, self.counted_30)

    @property
    def service_level_60(self) -> float | None:
        return service_level(self.in_time_60, self.counted_60)


def wait_time(now: int, started: int) -> int:
    """A waiting visitor's waitTime: whole seconds since the wait started (never negative)."""
    return max(0, (now - started) // MICROS)
