"""The per-period shares of domain/rollups.py, worked by hand."""

from __future__ import annotations

from chatpulse.domain.chat import OPEN
from chatpulse.domain.rollups import (
    QUARTER,
    quarter_shares,
    wait_share,
    whole_minutes,
    whole_quarters,
)
from chatpulse.domain.service_level import SiteThresholds, Thresholds

S = 1_000_000  # µs in a second


def test_an_interval_is_cut_at_each_quarter_of_an_hour() -> None:
    # 09:13:19.5 → 10:53:19.75 (as seconds of the day): quarters 36 (09:00) to 43 (10:45)
    started, ended = (
        (9 * 3600 + 13 * 60 + 19) * S + 500_000,
        (10 * 3600 + 53 * 60 + 19) * S + 750_000,
    )
    shares = quarter_shares(started, ended)
    assert shares == [
        (36, 900 * S - (13 * 60 + 19) * S - 500_000),  # 09:13:19.5 → 09:15: 100.5 s
        (37, 900 * S),
        (38, 900 * S),
        (39, 900 * S),
        (40, 900 * S),
        (41, 900 * S),
        (42, 900 * S),
        (43, (8 * 60 + 19) * S + 750_000),  # 10:45 → 10:53:19.75: 499.75 s
    ]
    assert shares[0][1] == 100_500_000
    assert sum(micros for _, micros in shares) == ended - started  # 6000.25 s


def test_an_interval_inside_one_quarter_or_ending_on_a_bound() -> None:
    assert quarter_shares(10 * S, 20 * S) == [(0, 10 * S)]
    assert quarter_shares(QUARTER - S, QUARTER) == [(0, S)]  # ends where quarter 1 begins
    assert quarter_shares(QUARTER, QUARTER + 1) == [(1, 1)]


def test_open_and_empty_intervals_add_nothing() -> None:
    assert quarter_shares(10 * S, OPEN) == []
    assert quarter_shares(10 * S, 10 * S) == []


def test_whole_periods_inside_a_window() -> None:
    assert whole_quarters(0, 4 * QUARTER) == (0, 4)
    assert whole_quarters(1, 4 * QUARTER - 1) == (1, 3)  # first and last quarters are partial
    assert whole_quarters(5 * S, 6 * S) == (1, 0)  # none
    minute = 60 * S
    assert whole_minutes(minute + 1, 61 * minute + 1) == (2, 61)


def test_a_wait_share_counts_its_outcome() -> None:
    site = SiteThresholds(Thresholds(30, 10))
    # (count, length, abandoned, switched, answered in time, counted)
    assert wait_share("abandoned", 10 * S, 25 * S, None, site) == (1, 15 * S, 1, 0, 0, 1)
    assert wait_share("switched", 10 * S, 11 * S, None, site) == (1, S, 0, 1, 0, 0)  # 1 s < S
    assert wait_share("answered", 0, 2 * S, None, site) == (1, 2 * S, 0, 0, 1, 1)
    assert wait_share("answered", 0, 30 * S, None, site) == (1, 30 * S, 0, 0, 1, 1)  # L = T
    assert wait_share("answered", 0, 30 * S + 1, None, site) == (1, 30 * S + 1, 0, 0, 0, 1)


def test_a_wait_is_judged_by_its_route_department() -> None:
    site = SiteThresholds(Thresholds(30, 0), {"d1": (20, None), "d2": (None, 5)})
    assert wait_share("answered", 0, 25 * S, "d1", site)[4:] == (0, 1)  # T 20 in d1
    assert wait_share("answered", 0, 25 * S, "d2", site)[4:] == (1, 1)  # the site's T 30
    assert wait_share("abandoned", 0, 4 * S, "d2", site)[4:] == (0, 0)  # S 5 in d2: short
    assert wait_share("abandoned", 0, 4 * S, "d1", site)[4:] == (0, 1)  # the site's S 0
    assert wait_share("answered", 0, 25 * S, "unknown", site)[4:] == (1, 1)
