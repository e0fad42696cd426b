"""The views as a service: an answer from memory when the site's committed state has one, else
computed in one read transaction (in a worker thread) and shared with every GET and stream of
the process."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

import anyio
import anyio.to_thread
import orjson
from sqlalchemy import Engine

from chatpulse.services.runtime import Runtime
from chatpulse.store import reads
from chatpulse.store.db import read_connection
from chatpulse.store.versions import VersionSource, versions_now
from chatpulse.views.answers import (
    Answer,
    answer_cache,
    cacheable,
    max_age_of,
    version_keys,
    versions_of,
    with_window,
)
from chatpulse.views.compute import compute_at
from chatpulse.views.query import WINDOWED, ViewQuery, window_for

log = logging.getLogger("chatpulse.views")


async def respond(runtime: Runtime, site_id: int, view: str, query: ViewQuery) -> Answer:
    """A GET's answer: from memory when the answer for the site's committed state is cached
    (no thread, no transaction); otherwise computed in a worker thread and cached for everyone.
    An answer past half its age is still served, and recomputed in the background."""
    now = runtime.clock.now()
    found, due = await from_memory(runtime, site_id, view, query, now)
    if found is None:
        found = await computed(runtime, site_id, view, query, now)
    if due:
        _refresh_later(runtime, site_id, view, query, now)
    return found


async def from_memory(
    runtime: Runtime, site_id: int, view: str, query: ViewQuery, now: int
) -> tuple[Answer | None, bool]:
    """(the cached answer for the site's committed state, or None; whether it is due for a
    recomputation). On the event loop: the versions come from memory or the probe."""
    max_age = runtime.settings.view_max_age_ms * 1000
    if not cacheable(view, max_age):  # nothing to look up: no probe
        return None, False
    versions = await versions_now(runtime.versions, runtime.probe, site_id, version_keys(query))
    if versions is None:
        return None, False
    return cached_answer(runtime.engine, versions, site_id, view, query, now, max_age)


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
    version = with_window(version, window)
    found, due = answer_cache(engine).lookup(
        (site_id, view, query, version), now, max_age_of(view, max_age_us)
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

        if not cacheable(view, max_age_us):
            return fresh()
        key = (site_id, view, query, version)
        cache = answer_cache(engine)
        if refresh:
            cache.refresh(key, fresh)
            return cache.lookup(key, now, None)[0] or fresh()
        found = cache.get_or_compute(key, now, max_age_of(view, max_age_us), fresh)
        if found.sequence != row.last_sequence:
            found = replace(found, sequence=row.last_sequence)
        return found
