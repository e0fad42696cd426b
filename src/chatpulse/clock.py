"""The one place the wall clock is read; tests inject a fixed one."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> int:
        """Microseconds since the epoch, UTC."""
        ...


class SystemClock:
    def now(self) -> int:
        return time.time_ns() // 1000


class FixedClock:
    """A clock that reads what it is told; for tests."""

    def __init__(self, now: int) -> None:
        self.value = now

    def now(self) -> int:
        return self.value

    def advance(self, micros: int) -> None:
        self.value += micros
