"""Progress of long work on stderr (`rebuild`, `check`, `prune`, the demo's history): a bar with
the rate and the time left on a terminal, a plain line every few seconds otherwise (logs, CI),
and a one-line summary at the end. Standard output is never written to.

A plain line reads `TASK: DONE/TOTAL UNIT (P%), RATE UNIT/s, LEFT left`, e.g.
`rebuild site 10000: 120000/450000 events (26%), 40000 events/s, 8 s left`; the summary
`TASK: WHAT in DURATION`, e.g. `rebuild site 10000: rebuilt from 450000 events in 11.2 s`.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import IO

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

INTERVAL_ENV = "CHATPULSE_PROGRESS_INTERVAL"
INTERVAL_S = 5.0  # between plain lines
REDRAW_S = 0.1  # at most this often on a terminal


def interval_from(environ: Mapping[str, str] = os.environ) -> float:
    """Seconds between plain lines: $CHATPULSE_PROGRESS_INTERVAL, else 5 (0: a line at every
    step of the work). ValueError with a one-line reason for anything but a number ≥ 0."""
    text = environ.get(INTERVAL_ENV, "").strip()
    if not text:
        return INTERVAL_S
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{INTERVAL_ENV} must be a number of seconds ≥ 0, not {text!r}")
    return value


def duration(seconds: float) -> str:
    """How long something took: `0.4 s`, `12.3 s`, `3 min 20 s`, `2 h 05 min`."""
    if seconds < 59.95:
        return f"{max(seconds, 0.0):.1f} s"
    return _whole(round(seconds))


def _whole(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _number(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def is_terminal(stream: IO[str]) -> bool:
    """A terminal that can redraw a line: a tty, and not TERM=dumb."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):  # closed or not a real file
        return False
    return tty and os.environ.get("TERM", "") != "dumb"


class Reporter:
    """The progress of one task (`rebuild site 10000`) counted in `unit` (`events`).

    Call `update(done, total)` as the work goes on, then `finish(summary)` once. Use it as a
    context manager so that an error stops the bar (the error then reports itself).
    """

    def __init__(
        self,
        task: str,
        unit: str,
        *,
        stream: IO[str] | None = None,
        console: Console | None = None,
        interval: float = INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.task = task
        self.unit = unit
        self.done = 0
        self.total: int | None = None
        self._stream: IO[str] = stream or (console.file if console is not None else sys.stderr)
        self._interval = interval
        self._clock = clock
        self._started = clock()
        self._last_line = self._started
        self._last_draw = -math.inf
        self._bar: Progress | None = None
        if console is None and is_terminal(self._stream):
            console = Console(file=self._stream, force_terminal=True)
        if console is not None and console.is_terminal:
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(bar_width=30),
                TextColumn("{task.fields[count]}"),
                TextColumn("{task.fields[rate]}"),
                TextColumn("{task.fields[left]}"),
                console=console,
                auto_refresh=False,  # drawn by update(): no thread
                transient=True,  # the summary line takes the bar's place
                redirect_stdout=False,
                redirect_stderr=False,
                get_time=clock,
            )
            self._task = self._bar.add_task(task, total=None, count="", rate="", left="")
            self._bar.start()

    # ------------------------------------------------------------------ figures

    def elapsed(self) -> float:
        return self._clock() - self._started

    def rate(self) -> float:
        """Units per second since the start."""
        elapsed = self.elapsed()
        return self.done / elapsed if elapsed > 0 else 0.0

    def count_text(self) -> str:
        if self.total is None:
            return f"{self.done} {self.unit}"
        percent = 100 * self.done // self.total if self.total else 100
        return f"{self.done}/{self.total} {self.unit} ({percent}%)"

    def rate_text(self) -> str:
        return f"{_number(self.rate())} {self.unit}/s"

    def left_text(self) -> str:
        rate = self.rate()
        if self.total is None:
            return ""
        if rate <= 0:
            return "time left unknown"
        return f"{_whole(round(max(self.total - self.done, 0) / rate))} left"

    def line(self) -> str:
        """The plain progress line for the figures now."""
        parts = [self.count_text(), self.rate_text(), self.left_text()]
        return f"{self.task}: " + ", ".join(p for p in parts if p)

    # ------------------------------------------------------------------ reporting

    def update(self, done: int, total: int | None = None) -> None:
        """`done` units of `total` (None: unknown, or as before) are done."""
        self.done = done
        if total is not None:
            self.total = total
        now = self._clock()
        if self._bar is not None:
            if now - self._last_draw >= REDRAW_S:
                self._draw()
                self._last_draw = now
        elif done > 0 and now - self._last_line >= self._interval:
            print(self.line(), file=self._stream, flush=True)
            self._last_line = now

    def log(self, text: str) -> None:
        """A line of its own, above the bar while there is one."""
        if self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            print(text, file=self._stream, flush=True)

    def finish(self, summary: str) -> None:
        """Stop the bar and print `TASK: SUMMARY in DURATION`."""
        took = duration(self.elapsed())
        self.close()
        print(f"{self.task}: {summary} in {took}", file=self._stream, flush=True)

    def close(self) -> None:
        """Stop the bar, printing nothing."""
        if self._bar is not None:
            self._draw()
            self._bar.stop()
            self._bar = None

    def _draw(self) -> None:
        assert self._bar is not None
        self._bar.update(
            self._task,
            completed=self.done,
            total=self.total,
            count=self.count_text(),
            rate=self.rate_text(),
            left=self.left_text(),
        )
        self._bar.refresh()

    def __enter__(self) -> Reporter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
