"""Lengths of time: the union of intervals clipped to a window, and time per status."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
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


def buckets_of(start: int, end: int, now: int, length: int) -> list[tuple[int, int]]:
    """Intervals (METRICS.md §7): [start, end) cut into consecutive buckets of `length` µs from
    `start`, the last ending at `end` (it may be shorter); buckets starting at or after `now`
    are left out."""
    return [(lo, min(lo + length, end)) for lo in range(start, min(end, now), length)]


def spread_closed(
    intervals: Iterable[tuple[int, int]], start: int, length: int, ends: list[int]
) -> list[int]:
    """Per bucket (the i-th is [start + i·length, ends[i])), the total length of the [a, b)
    intervals clipped to it; an interval adds to every bucket it meets."""
    totals = [0] * len(ends)
    count = len(ends)
    for a, b in intervals:  # overlap() written out: this loop runs per interval and bucket
        i = max(0, (a - start) // length)
        lo = start + i * length
        while i < count and lo < b:
            hi = ends[i]
            part = (b if b < hi else hi) - (a if a > lo else lo)
            if part > 0:
                totals[i] += part
            i += 1
            lo += length
    return totals


def spread_open(starts: Iterable[int], start: int, length: int, ends: list[int]) -> list[int]:
    """Per bucket, the total length of intervals [s, ∞) clipped to it: each bucket in
    O(log n) from the sorted starts and their running sums, not once per interval."""
    ordered = sorted(starts)
    running = [0]
    for s in ordered:
        running.append(running[-1] + s)
    totals = []
    for i, hi in enumerate(ends):
        lo = start + i * length
        before = bisect_right(ordered, lo)  # started by lo: the whole bucket
        inside = bisect_left(ordered, hi)  # started before hi
        whole = before * (hi - lo)
        partial = (inside - before) * hi - (running[inside] - running[before])
        totals.append(whole + max(0, partial))
    return totals
