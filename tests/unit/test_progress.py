"""Progress reporting: plain lines at an interval without a terminal, a bar with the rate and
the time left on one, a one-line summary at the end."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from chatpulse.progress import INTERVAL_ENV, Reporter, duration, interval_from


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_plain_lines_come_at_the_interval_then_the_summary() -> None:
    clock, out = FakeClock(), io.StringIO()
    progress = Reporter("rebuild site 10000", "events", stream=out, interval=2.5, clock=clock)
    progress.update(0, 450_000)  # nothing done: nothing to say
    clock.t += 3
    progress.update(120_000)  # 3 s ≥ 2.5 s: a line; 120,000 in 3 s = 40,000/s; 330,000 left
    clock.t += 1
    progress.update(160_000)  # 1 s after the last line: none
    clock.t += 2
    progress.update(240_000)  # 3 s after it: 240,000 in 6 s; 210,000 / 40,000 = 5.25 s
    clock.t += 6
    progress.update(450_000)  # 450,000 in 12 s = 37,500/s
    clock.t += 0.04
    progress.finish("rebuilt from 450000 events")
    assert out.getvalue().splitlines() == [
        "rebuild site 10000: 120000/450000 events (26%), 40000 events/s, 8 s left",
        "rebuild site 10000: 240000/450000 events (53%), 40000 events/s, 5 s left",
        "rebuild site 10000: 450000/450000 events (100%), 37500 events/s, 0 s left",
        "rebuild site 10000: rebuilt from 450000 events in 12.0 s",
    ]


def test_an_interval_of_zero_gives_a_line_per_step_and_slow_rates_keep_a_decimal() -> None:
    clock, out = FakeClock(), io.StringIO()
    progress = Reporter("demo history", "minutes", stream=out, interval=0, clock=clock)
    for minute in (1, 2, 3):
        clock.t += 0.4
        progress.update(minute, 180)
    progress.log("a line of its own")
    progress.update(4)  # the total stays
    assert out.getvalue().splitlines() == [
        "demo history: 1/180 minutes (0%), 2.5 minutes/s, 1 min 12 s left",  # 179 / 2.5 = 71.6
        "demo history: 2/180 minutes (1%), 2.5 minutes/s, 1 min 11 s left",  # 178 / 2.5 = 71.2
        "demo history: 3/180 minutes (1%), 2.5 minutes/s, 1 min 11 s left",  # 177 / 2.5 = 70.8
        "a line of its own",
        "demo history: 4/180 minutes (2%), 3.3 minutes/s, 53 s left",  # 4 in 1.2 s; 176 / 3.33
    ]


def test_long_times_left_in_hours_and_an_unknown_total() -> None:
    clock, out = FakeClock(), io.StringIO()
    progress = Reporter("prune site 7", "events", stream=out, interval=0, clock=clock)
    clock.t += 10
    progress.update(10_000, 10_000_000)  # 1,000/s: 9,990 s = 2 h 46 min 30 s
    unknown = Reporter("scan", "events", stream=out, interval=0, clock=clock)
    clock.t += 4
    unknown.update(12)
    assert out.getvalue().splitlines() == [
        "prune site 7: 10000/10000000 events (0%), 1000 events/s, 2 h 46 min left",
        "scan: 12 events, 3.0 events/s",
    ]


def test_durations() -> None:
    assert [duration(s) for s in (0.04, 0.4, 12.34, 59.9, 125, 7500)] == [
        "0.0 s",
        "0.4 s",
        "12.3 s",
        "59.9 s",
        "2 min 5 s",
        "2 h 05 min",
    ]


def test_the_interval_comes_from_the_environment() -> None:
    assert interval_from({}) == 5.0
    assert interval_from({INTERVAL_ENV: "0"}) == 0.0
    assert interval_from({INTERVAL_ENV: " 0.5 "}) == 0.5
    for bad in ("-1", "nan", "inf", "soon"):
        with pytest.raises(ValueError, match=f"^{INTERVAL_ENV} must be a number of seconds ≥ 0"):
            interval_from({INTERVAL_ENV: bad})


def test_a_terminal_shows_a_bar_with_the_rate_and_the_time_left() -> None:
    clock, screen = FakeClock(), io.StringIO()
    console = Console(file=screen, force_terminal=True, color_system=None, width=120)
    progress = Reporter("rebuild site 10000", "events", console=console, clock=clock)
    progress.update(0, 450_000)
    clock.t += 3
    progress.update(120_000)
    drawn = screen.getvalue()
    frame = drawn.rsplit("\r", 1)[-1]  # the bar as drawn last, after the escape to redraw it
    # A bar of 30: 26.7 % of it is 8 cells drawn (without colours the rest is blank).
    bar = "━" * 8 + " " * 22
    assert frame.split("\n")[0] == (
        f"\x1b[2Krebuild site 10000 {bar} 120000/450000 events (26%) 40000 events/s 8 s left"
    ), repr(frame)
    assert "rebuild site 10000: " not in drawn  # no plain lines on a terminal
    clock.t += 9
    progress.finish("rebuilt from 450000 events")
    # The bar is taken away, and the summary takes its place.
    assert screen.getvalue().endswith(
        "\x1b[2Krebuild site 10000: rebuilt from 450000 events in 12.0 s\n"
    )


def test_no_terminal_no_bar() -> None:
    out = io.StringIO()  # not a tty
    progress = Reporter("check site 1", "events", stream=out, interval=3600)
    progress.update(5, 10)
    progress.finish("ok, 10 events replayed")
    assert re.fullmatch(r"check site 1: ok, 10 events replayed in \d+\.\d s\n", out.getvalue())
