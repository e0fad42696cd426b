"""A view request: the parsed query of SPEC.md §3 and the one function that answers it.

Both the GET endpoints and the stream use it, so a pushed view is byte for byte the GET answer.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine

from chatpulse.domain.errors import BadParameter
from chatpulse.domain.window import Window, resolve_window
from chatpulse.store import reads
from chatpulse.store.db import read_connection
from chatpulse.views.agents import agents_page
from chatpulse.views.common import check_department
from chatpulse.views.queue import queue
from chatpulse.views.rightnow import right_now
from chatpulse.views.today import today

VIEWS = ("Agents", "Queue", "Today", "RightNow")
WINDOWED = ("Agents", "Today", "RightNow")
# Views whose JSON changes with the clock alone (wait times, open intervals).
TIME_DEPENDENT = ("Agents", "Queue", "Today")


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


def window_for(conn: Connection, site_id: int, query: ViewQuery, now: int) -> Window:
    site_zone = "UTC"
    if query.time_zone is None and query.utc_offset is None:
        site_zone = reads.site_zone(conn, site_id) or "UTC"
    return resolve_window(
        now, site_zone, query.time_zone, query.utc_offset, query.start_time, query.end_time
    )


class _RightNowCache:
    """RightNow depends on the stored state only, never on the clock: an answer stays right
    until the site stores another event or changes its configuration. Keyed by both, read in
    the same snapshot as the view, so a cached answer is never older than what it claims.

    Single flight: when many requests miss the same key at once (every client of a wallboard
    right after an event), one computes and the others wait for its answer."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._answers: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()
        self._pending: dict[tuple[Any, ...], threading.Event] = {}

    def get(self, key: tuple[Any, ...]) -> Any:
        return self._answers.get(key)

    def put(self, key: tuple[Any, ...], value: Any) -> None:
        if len(self._answers) >= self._size:
            self._answers.clear()  # rare: more (site, department) pairs than slots
        self._answers[key] = value

    def get_or_compute(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        cached = self._answers.get(key)
        if cached is not None:
            return cached
        with self._lock:
            cached = self._answers.get(key)
            if cached is not None:
                return cached
            pending = self._pending.get(key)
            leader = pending is None
            if pending is None:
                pending = self._pending[key] = threading.Event()
        if not leader:
            pending.wait(_FOLLOWER_WAIT_S)
            cached = self._answers.get(key)
            return cached if cached is not None else compute()  # the leader failed
        try:
            value = compute()
            self.put(key, value)
            return value
        finally:
            with self._lock:
                del self._pending[key]
            pending.set()


_FOLLOWER_WAIT_S = 5.0

_right_now_caches: weakref.WeakKeyDictionary[Engine, _RightNowCache] = weakref.WeakKeyDictionary()


def _right_now_cache(engine: Engine) -> _RightNowCache:
    cache = _right_now_caches.get(engine)
    if cache is None:
        cache = _right_now_caches.setdefault(engine, _RightNowCache())
    return cache


def answer(engine: Engine, site_id: int, view: str, query: ViewQuery, now: int) -> Any:
    """The JSON of one view, as GET returns it."""
    with read_connection(engine) as conn:
        window = window_for(conn, site_id, query, now) if view in WINDOWED else None
        if view == "RightNow":
            version = reads.site_versions(conn, site_id)
            key = (site_id, query.department_id, *version)
            return _right_now_cache(engine).get_or_compute(
                key,
                lambda: right_now(
                    conn, site_id, check_department(conn, site_id, query.department_id)
                ),
            )
        department = check_department(conn, site_id, query.department_id)
        if view == "Queue":
            return queue(conn, site_id, now, department)
        assert window is not None
        if view == "Today":
            return today(conn, site_id, window, department)
        return agents_page(
            conn,
            site_id,
            window,
            department,
            query.page_index,
            query.page_size,
            query.include_status_distribution,
        )
