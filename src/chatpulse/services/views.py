"""The views as a service: an answer from memory when the site's committed state has one, else
computed in one read transaction (in a worker thread); answers kept per process and shared by
every GET and stream (`AnswerCache`)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import anyio
import anyio.to_thread
import orjson
from sqlalchemy import Engine

from chatpulse.domain.events import normalize_uuid
from chatpulse.domain.window import Window
from chatpulse.services.runtime import Runtime
from chatpulse.store import reads
from chatpulse.store.db import PerEngine, read_connection
from chatpulse.store.tables import INVITATIONS_KEY, VISITORS_KEY
from chatpulse.store.versions import SiteRow, VersionSource, versions_now
from chatpulse.views.compute import compute_at
from chatpulse.views.query import WINDOWED, ViewQuery, time_dependent, window_for

log = logging.getLogger("chatpulse.views")


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

# The answers of each database this process serves.
answer_cache = PerEngine(lambda _engine: AnswerCache())


def max_age_of(view: str, query: ViewQuery, max_age_us: int) -> int | None:
    return max_age_us if time_dependent(view, query) else None


def cacheable(view: str, query: ViewQuery, max_age_us: int) -> bool:
    """Whether a cached answer may serve this view at all (`CHATPULSE_VIEW_MAX_AGE_MS` 0: a
    time-dependent view is computed at every request's instant)."""
    return max_age_us > 0 or not time_dependent(view, query)


def version_keys(query: ViewQuery) -> tuple[str, ...]:
    """The department keys a view's versions may need (`versions_of`), for a probe that reads
    them all at once (store/versions.VersionProbe)."""
    keys: tuple[str, ...] = (VISITORS_KEY, INVITATIONS_KEY)
    department = normalize_uuid(query.department_id.strip()) if query.department_id else None
    return keys if department is None else (department, *keys)


def with_window(version: tuple[int, ...], window: Window | None) -> tuple[int, ...]:
    """The window's start is part of what an answer depends on: an answer of yesterday's
    default window (computed just before midnight) is never served for today's."""
    return version if window is None else (*version, window.start)


async def respond(runtime: Runtime, site_id: int, view: str, query: ViewQuery) -> Answer:
    """A GET's answer: from memory when the answer for the site's committed state is cached
    (no thread, no transaction); otherwise computed in a worker thread and cached for everyone.
    An answer past half its age is still served, and recomputed in the background."""
    query = query.for_view(view)
    now = runtime.clock.now()
    found, due = await from_memory(runtime, site_id, view, query, now)
    if found is None:
        found = await computed(runtime, site_id, view, query, now)
    if due:
        _refresh_later(runtime, site_id, view, query, now)
    return found


async def from_memory(
    runtime: Runtime, site_id: int, view: str, query: ViewQuery, now: int, any_age: bool = False
) -> tuple[Answer | None, bool]:
    """(the cached answer for the site's committed state, or None; whether it is due for a
    recomputation). On the event loop: the versions come from memory or the probe. `any_age`:
    an answer of the same stored state and window however old (a caller that reads only the
    fields that do not move with the clock: the alert evaluator)."""
    max_age = runtime.settings.view_max_age_ms * 1000
    if not cacheable(view, query, max_age):  # nothing to look up: no probe
        return None, False
    versions = await versions_now(runtime.versions, runtime.probe, site_id, version_keys(query))
    if versions is None:
        return None, False
    return cached_answer(runtime.engine, versions, site_id, view, query, now, max_age, any_age)


async def computed(
    runtime: Runtime,
    site_id: int,
    view: str,
    query: ViewQuery,
    now: int,
    limiter: anyio.CapacityLimiter | None = None,
    refresh: bool = False,
) -> Answer:
    """The answer computed (or found cached) in a worker thread, in one read transaction."""
    max_age = runtime.settings.view_max_age_ms * 1000
    return await anyio.to_thread.run_sync(
        answer, runtime.engine, site_id, view, query, now, max_age, refresh, limiter=limiter
    )


# (engine, site, view, query) → the task recomputing it: one at a time each (on the event loop).
_refreshing: dict[tuple[Any, ...], asyncio.Future[Any]] = {}


def _refresh_later(runtime: Runtime, site_id: int, view: str, query: ViewQuery, now: int) -> None:
    """Recompute a time-dependent answer past half its age in a worker thread, while readers
    keep getting the current one."""
    slot = (id(runtime.engine), site_id, view, query)
    if slot in _refreshing:
        return
    task = asyncio.ensure_future(computed(runtime, site_id, view, query, now, refresh=True))
    _refreshing[slot] = task
    task.add_done_callback(lambda done: _refreshed(slot, done))


def _refreshed(slot: tuple[Any, ...], task: asyncio.Future[Any]) -> None:
    _refreshing.pop(slot, None)
    if not task.cancelled() and task.exception() is not None:
        log.warning("refreshing a view failed: %r", task.exception())


def cached_answer(
    engine: Engine,
    versions: VersionSource,
    site_id: int,
    view: str,
    query: ViewQuery,
    now: int,
    max_age_us: int = 0,
    any_age: bool = False,
) -> tuple[Answer | None, bool]:
    """(the answer from memory, without a worker thread or a transaction, when the site's
    committed versions are known without one and the answer for them is usable now, else
    None; whether it is due for a recomputation in the background: `refresh`)."""
    if not cacheable(view, query, max_age_us):
        return None, False
    row = versions.read(site_id)
    if row is None:
        return None, False
    # Checked on every request, cached or not: a bad window is a 400.
    window = window_for(row.time_zone, query, now) if view in WINDOWED else None
    version = versions_of(view, query, row, lambda key: versions.department(site_id, key))
    if version is None:
        return None, False
    version = with_window(version, window)
    found, due = answer_cache(engine).lookup(
        (site_id, view, query, version),
        now,
        None if any_age else max_age_of(view, query, max_age_us),
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
        version = with_window(version, window)

        def fresh() -> Answer:
            body = orjson.dumps(compute_at(engine, conn, row, site_id, view, query, now, window))
            return Answer(row.last_sequence, body, version, now)

        if not cacheable(view, query, max_age_us):
            return fresh()
        key = (site_id, view, query, version)
        cache = answer_cache(engine)
        if refresh:
            cache.refresh(key, fresh)
            return cache.lookup(key, now, None)[0] or fresh()
        found = cache.get_or_compute(key, now, max_age_of(view, query, max_age_us), fresh)
        if found.sequence != row.last_sequence:
            found = replace(found, sequence=row.last_sequence)
        return found
