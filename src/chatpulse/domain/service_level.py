"""Service level (METRICS.md §7): thresholds per site and department, and how an ended wait is
judged against them.

A wait is judged with the thresholds of the department of its route target when it ended; a
wait routed to an agent or to no department uses the site's. Thresholds are whole seconds, so a
wait of L µs is *answered in time* when answered and L ≤ T·10⁶, a *short abandon* (left out)
when abandoned or switched and L < S·10⁶, and *counted* otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from chatpulse.domain.arith import round2
from chatpulse.domain.timeutil import MICROS

DEFAULT_SERVICE_LEVEL_SECONDS = 30
DEFAULT_SHORT_ABANDON_SECONDS = 0
SERVICE_LEVEL_RANGE = (1, 3600)
SHORT_ABANDON_RANGE = (0, 3600)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """T and S of one department (or of the site), in whole seconds."""

    service_level_seconds: int = DEFAULT_SERVICE_LEVEL_SECONDS
    short_abandon_seconds: int = DEFAULT_SHORT_ABANDON_SECONDS

    def judge(self, answered: bool, length: int) -> tuple[int, int]:
        """(answered in time, counted) of an ended wait of `length` µs, each 0 or 1."""
        if answered:
            return int(length <= self.service_level_seconds * MICROS), 1
        return 0, int(length >= self.short_abandon_seconds * MICROS)


@dataclass(frozen=True, slots=True)
class SiteThresholds:
    """The site's thresholds and the departments' overrides (None: the site's)."""

    site: Thresholds = Thresholds()
    # department id -> (T or None, S or None), only departments that override something
    overrides: Mapping[str, tuple[int | None, int | None]] = field(default_factory=dict)

    def of(self, department_id: str | None) -> Thresholds:
        """The thresholds a wait whose route target was `department_id` when it ended is judged
        with (None: routed to an agent or to no department: the site's)."""
        if department_id is None:
            return self.site
        override = self.overrides.get(department_id)
        if override is None:
            return self.site
        t, s = override
        return Thresholds(
            self.site.service_level_seconds if t is None else t,
            self.site.short_abandon_seconds if s is None else s,
        )

    def judge(self, department_id: str | None, answered: bool, length: int) -> tuple[int, int]:
        return self.of(department_id).judge(answered, length)


def service_level(in_time: int, counted: int) -> float | None:
    """Answered in time ÷ counted × 100, two decimals; None when nothing was counted."""
    if counted == 0:
        return None
    return round2(Fraction(100 * in_time, counted))
