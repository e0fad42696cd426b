"""Lengths of time: the union of intervals clipped to a window, and time per status."""

from __future__ import annotations

from collections.abc import Iterable


def clipped_union_length(intervals: Iterable[tuple[int, int]], start: int, end: int) -> int:
    """Length of the union of [a, b) intervals, each clipped to [start, end): overlaps once."""
    clipped = sorted((max(a, start), min(b, end)) for a, b in intervals if a < end and b > start)
    total = 0
    current_start = current_end = None
    for a, b in clipped:
        if a >= b:
            continue
        if current_end is None or a > current_end:
            if current_end is not None and current_start is not None:
                total += current_end - current_start
            current_start, current_end = a, b
        elif b > current_end:
            current_end = b
    if current_end is not None and current_start is not None:
        total += current_end - current_start
    return total


def union_of(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """The union of [a, b) intervals as disjoint, sorted intervals (touching ones joined)."""
    merged: list[tuple[int, int]] = []
    for a, b in sorted(intervals):
        if merged and a <= merged[-1][1]:
            if b > merged[-1][1]:
                merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def overlap(a: int, b: int, start: int, end: int) -> int:
    """Length of [a, b) ∩ [start, end)."""
    return max(0, min(b, end) - max(a, start))
