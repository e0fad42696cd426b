"""The union of handling intervals, clipped (METRICS.md §5)."""

from __future__ import annotations

from chatpulse.domain.intervals import (
    buckets_of,
    clipped_union_length,
    overlap,
    spread_closed,
    spread_open,
)


def test_overlapping_chats_count_once() -> None:
    assert clipped_union_length([(0, 10), (5, 15)], 0, 100) == 15


def test_disjoint_and_nested() -> None:
    assert clipped_union_length([(0, 10), (20, 30), (22, 25)], 0, 100) == 20


def test_clipped_to_the_window_and_touching_intervals() -> None:
    assert clipped_union_length([(-50, 10), (10, 20), (90, 200)], 0, 100) == 30


def test_nothing_inside() -> None:
    assert clipped_union_length([(100, 200), (-10, 0)], 0, 100) == 0
    assert clipped_union_length([], 0, 100) == 0


def test_overlap() -> None:
    assert overlap(0, 10, 5, 100) == 5
    assert overlap(0, 10, 10, 20) == 0


def test_buckets_start_at_the_window_and_stop_before_now() -> None:
    # [0, 100) in buckets of 30, now 70: [0, 30), [30, 60), [60, 90); [90, 100) starts after now.
    assert buckets_of(0, 100, 70, 30) == [(0, 30), (30, 60), (60, 90)]
    # now past the end: the last bucket is the shorter [90, 100).
    assert buckets_of(0, 100, 500, 30) == [(0, 30), (30, 60), (60, 90), (90, 100)]
    assert buckets_of(0, 100, 0, 30) == []  # nothing starts before now


def test_closed_intervals_spread_over_the_buckets_they_meet() -> None:
    ends = [10, 20, 25]  # buckets [0, 10), [10, 20), [20, 25): the last clipped to now 25
    # [5, 23) adds 5, 10 and 3; [12, 14) adds 2 to the second; [24, 40) adds 1 to the last;
    # [-5, 2) adds 2 to the first; [30, 40) meets none.
    spread = spread_closed([(5, 23), (12, 14), (24, 40), (-5, 2), (30, 40)], 0, 10, ends)
    assert spread == [7, 12, 4]


def test_open_intervals_spread_as_the_closed_ones_would() -> None:
    ends = [10, 20, 25]
    starts = [-3, 5, 12, 20, 24, 30]
    # From -3: 10 + 10 + 5; from 5: 5 + 10 + 5; from 12: 0 + 8 + 5; from 20: 5; from 24: 1.
    assert spread_open(starts, 0, 10, ends) == [15, 28, 21]
    far = 10**9
    assert spread_open(starts, 0, 10, ends) == spread_closed(
        [(s, far) for s in starts], 0, 10, ends
    )
