"""Intervals (SPEC.md §3.7, METRICS.md §7): Today for each bucket of the window, read in one
pass over the rollups per kind of sum, not one Today per bucket.

The cohort's sums come grouped by bucket from the per-minute rollup (the chats of a partial last
minute from their rows); agents' times from the per-quarter sums grouped by bucket, with the
open intervals and the inactive agents' closed ones spread over the buckets in memory. A window
whose start is not on a whole minute (or quarter, for agents' times) has buckets that cut the
rollups' periods: those sums are then read bucket by bucket, as Today reads its window.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table

from chatpulse.domain.cohort import (
    COHORT_FIELDS,
    LONGEST,
    MINUTE,
    QUARTER_MINUTES,
    ZERO,
    add,
    contribution,
    longest_of,
)
from chatpulse.domain.intervals import buckets_of, spread_closed, spread_open
from chatpulse.domain.rollups import BUSY, QUARTER, STATUS
from chatpulse.domain.site_config import SiteConfig
from chatpulse.domain.timeutil import format_instant
from chatpulse.domain.today_metrics import (
    FirstWait,
    first_waits_in,
    today_extension,
    today_figures,
)
from chatpulse.domain.window import Window
from chatpulse.store import tables as t
from chatpulse.store.reads import intervals as reads
from chatpulse.store.reads import today as today_reads
from chatpulse.store.scoped import in_chunks


def intervals(
    conn: Connection,
    site_id: int,
    window: Window,
    department_id: str | None,
    minutes: int,
    config: SiteConfig,
    first_waits: list[FirstWait] | None = None,
) -> list[dict[str, Any]]:
    """`first_waits`: the first waits going on now, when known (the live state's)."""
    length = minutes * MINUTE
    start, now = window.start, window.now
    buckets = buckets_of(start, window.end, now, length)
    if not buckets:
        return []
    ends = [hi for _, hi in buckets]
    live_ends = [min(hi, now) for hi in ends]
    cohorts = _cohorts(conn, site_id, department_id, start, length, ends, config)
    waiting: list[list[int]] = [[] for _ in buckets]
    if first_waits is None:
        first_waits = today_reads.open_first_waits(conn, site_id)
    for requested, started, _ in first_waits_in(first_waits, start, ends[-1], department_id):
        waiting[(requested - start) // length].append(started)
    invitations = reads.invitations_by_bucket(conn, site_id, start, ends[-1], length)
    logged_in = config.logged_in_statuses()
    handled = _times(conn, site_id, department_id, start, length, live_ends, config, None)
    present = (
        _times(conn, site_id, department_id, start, length, live_ends, config, logged_in)
        if logged_in
        else [0] * len(buckets)
    )
    out = []
    for i, (lo, hi) in enumerate(buckets):
        cohort = cohorts[i]
        figures = today_figures(cohort, handled[i], present[i], invitations.get(i, 0))
        figures.update(today_extension(cohort, now, waiting[i]))
        out.append({"startTime": format_instant(lo), "endTime": format_instant(hi), **figures})
    return out


def _cohorts(
    conn: Connection,
    site_id: int,
    department_id: str | None,
    start: int,
    length: int,
    ends: list[int],
    config: SiteConfig,
) -> list[dict[str, int]]:
    thresholds = config.thresholds
    if start % MINUTE:  # the buckets cut minutes: each bucket as Today reads its window
        return [
            today_reads.cohort_totals(
                conn, site_id, start + i * length, hi, department_id, thresholds
            )
            for i, hi in enumerate(ends)
        ]
    after = ends[-1] // MINUTE
    sums: list[tuple[tuple[int, ...], int]] = [(ZERO, 0)] * len(ends)
    first = start // MINUTE
    spans = [(first, after, False)]
    if start % QUARTER == 0:  # whole quarters from their rollup, the rest from the minutes
        after_q = after // QUARTER_MINUTES
        spans = [
            (first // QUARTER_MINUTES, after_q, True),
            (after_q * QUARTER_MINUTES, after, False),
        ]
    for lo, hi, quarters in spans:
        if lo >= hi:
            continue
        grouped = reads.cohort_by_bucket(
            conn, site_id, department_id, start, length, lo, hi, quarters
        )
        for i, (totals, longest) in grouped.items():
            before, most = sums[i]
            sums[i] = (add(before, totals), max(most, longest))
    if after * MINUTE < ends[-1]:  # the last bucket's partial minute, chat by chat
        for chat in today_reads.cohort_chats(
            conn, site_id, after * MINUTE, ends[-1], department_id
        ):
            i = (chat.requested_at - start) // length
            totals, longest = sums[i]
            sums[i] = (add(totals, contribution(chat, thresholds)), max(longest, longest_of(chat)))
    return [
        dict(zip(COHORT_FIELDS, totals, strict=True)) | {LONGEST: longest}
        for totals, longest in sums
    ]


def _times(
    conn: Connection,
    site_id: int,
    department_id: str | None,
    start: int,
    length: int,
    live_ends: list[int],
    config: SiteConfig,
    statuses: list[str] | None,
) -> list[int]:
    """Per bucket: active agents' (of the department) busy time (`statuses` None) or time in
    `statuses`, clipped to the bucket and to now (H and O of agentUtilization)."""
    table: Table = t.busy_intervals if statuses is None else t.status_intervals
    last = live_ends[-1]
    if department_id is not None:  # its members' rows, spread in memory
        totals = [0] * len(live_ends)
        for chunk in in_chunks(config.active_members(department_id)):
            rows = reads.intervals_of(conn, site_id, table, statuses, start, last, agents=chunk)
            for i, value in enumerate(spread_closed(rows, start, length, live_ends)):
                totals[i] += value
        return totals
    if start % QUARTER:  # the buckets cut quarters: each bucket as Today reads its window
        read = (
            today_reads.total_linear_chat_time
            if statuses is None
            else today_reads.total_logged_in_time
        )
        return [
            read(conn, site_id, None, start + i * length, hi, config)
            for i, hi in enumerate(live_ends)
        ]
    after = last // QUARTER
    grouped = reads.quarters_by_bucket(
        conn,
        site_id,
        BUSY if statuses is None else STATUS,
        statuses if statuses is not None else [""],
        start,
        length,
        start // QUARTER,
        after,
    )
    totals = [grouped.get(i, 0) for i in range(len(live_ends))]
    tail_lo = after * QUARTER
    tail = (
        reads.intervals_of(conn, site_id, table, statuses, tail_lo, last, closed=True)
        if tail_lo < last
        else []
    )
    opened = reads.intervals_of(
        conn, site_id, table, statuses, start, last, active_only=True, closed=False
    )
    gone: list[tuple[int, int]] = []
    for chunk in in_chunks(config.inactive_agents()):
        gone += reads.intervals_of(
            conn, site_id, table, statuses, start, last, agents=chunk, closed=True
        )
    clipped_tail = [(max(a, tail_lo), b) for a, b in tail]
    added = spread_closed(clipped_tail, start, length, live_ends)
    opens = spread_open((a for a, _ in opened), start, length, live_ends)
    taken = spread_closed(gone, start, length, live_ends)
    return [
        total + more + open_ - less
        for total, more, open_, less in zip(totals, added, opens, taken, strict=True)
    ]
