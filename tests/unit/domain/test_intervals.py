"""The union of handling intervals, clipped (METRICS.md §5)."""

from __future__ import annotations

from chatpulse.domain.intervals import clipped_union_length, overlap


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
