"""A view request: the parsed query of SPEC.md §3 and the one function that answers it.

Both the GET endpoints and the stream use it, so a pushed view is byte for byte the GET answer.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import orjson
from sqlalchemy import Connection, Engine

from chatpulse.domain.errors import BadParameter
from chatpulse.domain.events import normalize_uuid
from chatpulse.domain.live import LiveState, SiteConfig
from chatpulse.domain.window import Window, resolve_window
from chatpulse.store import reads
from chatpulse.store.db import read_connection
from chatpulse.store.live import live_states
from chatpulse.store.tables import INVITATIONS_KEY, VISITORS_KEY
from chatpulse.store.versions import SiteRow, VersionSource
from chatpulse.views.agents import agents_page
from chatpulse.views.common import check_department
from chatpulse.views.queue import queue
from chatpulse.views.rightnow import right_now
from chatpulse.views.today import today

VIEWS = ("Agents", "Queue", "Today", "RightNow")
WINDOWED = ("Agents", "Today", "RightNow")
# Views whose JSON changes with the clock alone (wait times, open intervals).
TIME_DEPENDENT = ("Agents", "Queue", "Today")
# The views of the present moment, read from the live state in memory (store/live.py).
LIVE_VIEWS = ("RightNow", "Queue", "Agents")


@dataclass(frozen=True, slots=True)
class ViewQuery:
    department_id: str | None = None
    time_zone: str | None = None
    utc_offset: str | None = None
    start_time: str | None = None
    end_time: str | None = None
    page_index: int = 1
    page_size: int = 10
    include_status_distribution: bool = False

    @classmethod
    def parse(cls, params: Mapping[str, str | None]) -> ViewQuery:
        """Check every parameter the views know (unknown ones are ignored)."""
        return cls(
            department_id=params.get("departmentId"),
            time_zone=params.get("timeZone"),
            utc_offset=params.get("utcOffset"),
            start_time=params.get("startTime"),
            end_time=params.get("endTime"),
            page_index=int_param("pageIndex", params.get("pageIndex"), 1, 1, None),
            page_size=int_param("pageSize", params.get("pageSize"), 10, 1, 100),
            include_status_distribution=bool_param(
                "includeStatusDistribution", params.get("includeStatusDistribution")
            ),
        )


def int_param(name: str, text: str | None, default: int, low: int, high: int | None) -> int:
    if text is None:
        return default
    value = text.strip()
    message = f"must be an integer from {low} to {high}" if high else f"must be an integer ≥ {low}"
    if not value.isascii() or not value.lstrip("+-").isdigit() or len(value) > 9:
        raise BadParameter(name, message)
    number = int(value)
    if number < low or (high is not None and number > high):
        raise BadParameter(name, message)
    return number


def bool_param(name: str, text: str | None) -> bool:
    if text is None:
        return False
    value = text.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no", ""):
        return False
    raise BadParameter(name, "must be true or false")


def window_for(site_zone: str | None, query: ViewQuery, now: int) -> Window:
    return resolve_window(
        now,
        site_zone or "UTC",
        query.time_zone,
        query.utc_offset,
        query.start_time,
        query.end_time,
    )


@dataclass(frozen=True, slots=True)
class Answer:
    """One view's JSON, encoded once (exactly the GET body); the site's last sequence in the
    snapshot it was computed from (the stream's `id`); the versions it was computed from (see
    `versions_of`); the clock it was computed at (µs)."""

    sequence: int
    body: bytes
    version: tuple[int, ...] = ()
    at: int = 0


def versions_of(
    view: str, query: ViewQuery, row: SiteRow, department: Callable[[str], int | None]
) -> tuple[int, ...] | None:
    """What a view's answer depends on, besides the clock: the configuration version, and the
    site's last sequence — or, for a department's Queue, Today and Agents, the last sequence
    that changed that department (store/tables.department_versions; and the site's visitors
    for RightNow, its invitations for Today), so that an event in one department leaves the
    others' answers valid. None: unknown here."""
    site = (row.config_version, row.last_sequence)
    if query.department_id is None or not row.departments_recorded:
        return site
    key = normalize_uuid(query.department_id.strip())
    if key is None:
        return site  # a bad id: the computation says so
    keys = (key, *_SITE_WIDE.get(view, ()))
    found = [department(k) for k in keys]
    if any(sequence is None for sequence in found):
        return None
    return (row.config_version, -1, *[s or 0 for s in found])


# What a department's view shows of the whole site (METRICS.md §6).
_SITE_WIDE = {"RightNow": (VISITORS_KEY,), "Today": (INVITATIONS_KEY,)}


class AnswerCache:
    """Answers shared by every GET and stream of a process (issue "Live at contact-centre scale").

    The key holds what an answer depends on besides the clock: the site, the view and its query,
    the site's last sequence and configuration version (read in the same snapshot as the view,
    so a cached answer is never older than the state it claims). RightNow never depends on the
    clock. A time-dependent view (waits, durations) is reused while it is younger than
    `max_age` (`CHATPULSE_VIEW_MAX_AGE_MS`); past half of it the next request still gets it but
    starts one recomputation in the background, so that readers never wait for the clock.

    Single flight: when many requests miss the same key at once (every wallboard right after an
    event), one computes and the others wait for its answer."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        # The latest answer of each (site, view, query): older states are never asked again.
        self._answers: dict[tuple[Any, ...], Answer] = {}
        self._lock = threading.Lock()
        self._pending: dict[tuple[Any, ...], threading.Event] = {}

    def lookup(
        self, key: tuple[Any, ...], now: int, max_age_us: int | None
    ) -> tuple[Answer | None, bool]:
        """(the answer usable at `now` or None, whether it is due for a recomputation).
        `key`: (site, view, query, versions: `versions_of`); `max_age_us` None:
        the answer does not depend on the clock."""
        found = self._answers.get(key[:3])
        if found is None or found.version != key[3]:
            return None, False
        if max_age_us is None:
            return found, False
        age = now - found.at
        if age < 0 or age >= max_age_us:
            return None, False
        return found, age >= max_age_us // 2

    def put(self, key: tuple[Any, ...], value: Answer) -> None:
        slot = key[:3]
        current = self._answers.get(slot)
        if current is not None and (current.sequence, current.at) > (value.sequence, value.at):
            return  # a slow computation of an older state does not replace a newer one
        if current is None and len(self._answers) >= self._size:
            self._answers.clear()  # rare: more live (site, view, query) triples than slots
        self._answers[slot] = value

    def claim(self, key: tuple[Any, ...]) -> threading.Event | None:
        """Become the one computing `key`, or None when someone already is."""
        with self._lock:
            if key in self._pending:
                return None
            pending = self._pending[key] = threading.Event()
            return pending

    def release(self, key: tuple[Any, ...], pending: threading.Event) -> None:
        with self._lock:
            del self._pending[key]
        pending.set()

    def get_or_compute(
        self,
        key: tuple[Any, ...],
        now: int,
        max_age_us: int | None,
        compute: Callable[[], Answer],
    ) -> Answer:
        found, _ = self.lookup(key, now, max_age_us)
        if found is not None:
            return found
        pending = self.claim(key)
        if pending is None:  # a follower: wait for the leader's answer
            with self._lock:
                leading = self._pending.get(key)
            if leading is not None:
                leading.wait(_FOLLOWER_WAIT_S)
            found, _ = self.lookup(key, now, max_age_us)
            return found if found is not None else compute()  # the leader failed
        try:
            value = compute()
            self.put(key, value)
            return value
        finally:
            self.release(key, pending)

    def refresh(self, key: tuple[Any, ...], compute: Callable[[], Answer]) -> None:
        """Recompute `key` unless somebody already is."""
        pending = self.claim(key)
        if pending is None:
            return
        try:
            self.put(key, compute())
        finally:
            self.release(key, pending)


_FOLLOWER_WAIT_S = 5.0

_caches: weakref.WeakKeyDictionary[Engine, AnswerCache] = weakref.WeakKeyDictionary()


def answer_cache(engine: Engine) -> AnswerCache:
    cache = _caches.get(engine)
    if cache is None:
        cache = _caches.setdefault(engine, AnswerCache())
    return cache


def _max_age(view: str, max_age_us: int) -> int | None:
    return max_age_us if view in TIME_DEPENDENT else None


def cacheable(view: str, max_age_us: int) -> bool:
    """Whether a cached answer may serve this view at all (`CHATPULSE_VIEW_MAX_AGE_MS` 0: a
    time-dependent view is computed at every request's instant)."""
    return max_age_us > 0 or view not in TIME_DEPENDENT


def version_keys(query: ViewQuery) -> tuple[str, ...]:
    """The department keys a view's versions may need (`versions_of`), for a probe that reads
    them all at once (store/versions.VersionProbe)."""
    keys: tuple[str, ...] = (VISITORS_KEY, INVITATIONS_KEY)
    department = normalize_uuid(query.department_id.strip()) if query.department_id else None
    return keys if department is None else (department, *keys)


def _with_window(version: tuple[int, ...], window: Window | None) -> tuple[int, ...]:
    """The window's start is part of what an answer depends on: an answer of yesterday's
    default window (computed just before midnight) is never served for today's."""
    return version if window is None else (*version, window.start)


def cached_answer(
    engine: Engine,
    versions: VersionSource,
    site_id: int,
    view: str,
    query: ViewQuery,
    now: int,
    max_age_us: int = 0,
) -> tuple[Answer | None, bool]:
    """(the answer from memory, without a worker thread or a transaction, when the site's
    committed versions are known without one and the answer for them is usable now, else
    None; whether it is due for a recomputation in the background: `refresh`)."""
    if not cacheable(view, max_age_us):
        return None, False
    row = versions.read(site_id)
    if row is None:
        return None, False
    # Checked on every request, cached or not: a bad window is a 400.
    window = window_for(row.time_zone, query, now) if view in WINDOWED else None
    version = versions_of(view, query, row, lambda key: versions.department(site_id, key))
    if version is None:
        return None, False
    version = _with_window(version, window)
    found, due = answer_cache(engine).lookup(
        (site_id, view, query, version), now, _max_age(view, max_age_us)
    )
    if found is not None and found.sequence != row.last_sequence:
        # The department's answer still holds at the site's later sequence: say so (`id`).
        found = replace(found, sequence=row.last_sequence)
    return found, due


def answer(
    engine: Engine,
    site_id: int,
    view: str,
    query: ViewQuery,
    now: int,
    max_age_us: int = 0,
    refresh: bool = False,
) -> Answer:
    """The JSON of one view, as GET returns it and the stream pushes it.

    `max_age_us` > 0: a time-dependent view computed by anyone from the same stored state less
    than `max_age_us` ago is reused (its times up to that old). `refresh`: compute it anew for
    everyone (unless someone already is)."""
    with read_connection(engine) as conn:
        row = reads.site_versions(conn, site_id)
        # Checked on every request, cached or not: a window's validity moves with the clock.
        window = window_for(row.time_zone, query, now) if view in WINDOWED else None
        version = versions_of(
            view, query, row, lambda key: reads.department_version(conn, site_id, key)
        )
        assert version is not None  # the database always knows
        version = _with_window(version, window)

        def fresh() -> Answer:
            body = orjson.dumps(compute_at(engine, conn, row, site_id, view, query, now, window))
            return Answer(row.last_sequence, body, version, now)

        if not cacheable(view, max_age_us):
            return fresh()
        key = (site_id, view, query, version)
        cache = answer_cache(engine)
        if refresh:
            cache.refresh(key, fresh)
            return cache.lookup(key, now, None)[0] or fresh()
        found = cache.get_or_compute(key, now, _max_age(view, max_age_us), fresh)
        if found.sequence != row.last_sequence:
            found = replace(found, sequence=row.last_sequence)
        return found


def compute_at(
    engine: Engine,
    conn: Connection,
    row: SiteRow,
    site_id: int,
    view: str,
    query: ViewQuery,
    now: int,
    window: Window | None,
) -> Any:
    """One view in the caller's snapshot (`row` read in it), as a server computes it when no
    cached answer serves: the views of the present moment from the site's live state in memory
    (store/live.py), moved to the snapshot's sequence first; Today with the configuration
    at the snapshot's version."""
    if view == "Today":  # only the configuration: no state loaded or folded for it
        config = live_states(engine).config_at(conn, site_id, row)
        return compute(conn, site_id, view, query, now, window, config=config)
    if view not in LIVE_VIEWS:
        return compute(conn, site_id, view, query, now, window)
    with live_states(engine).at(conn, site_id, row, now) as live:
        return compute(conn, site_id, view, query, now, window, live)


def compute(
    conn: Connection,
    site_id: int,
    view: str,
    query: ViewQuery,
    now: int,
    window: Window | None,
    live: LiveState | None = None,
    config: SiteConfig | None = None,
) -> Any:
    """One view from the stored state, in the caller's snapshot: no cache. `live`: the site's
    live state at the snapshot's sequence, for the views that read the present moment;
    `config`: its configuration, for Today."""
    if live is not None:
        config = live.config
    department = check_department(conn, site_id, query.department_id, config)
    if view == "RightNow":
        return right_now(conn, site_id, department, live)
    if view == "Queue":
        return queue(conn, site_id, now, department, live)
    assert window is not None
    if view == "Today":
        return today(conn, site_id, window, department, config)
    return agents_page(
        conn,
        site_id,
        window,
        department,
        query.page_index,
        query.page_size,
        query.include_status_distribution,
        live,
    )
