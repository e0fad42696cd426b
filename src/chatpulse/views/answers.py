"""View answers: their bytes and versions, and the cache every GET and stream of a process share."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from chatpulse.domain.events import normalize_uuid
from chatpulse.domain.window import Window
from chatpulse.store.tables import INVITATIONS_KEY, VISITORS_KEY
from chatpulse.store.versions import SiteRow
from chatpulse.views.query import TIME_DEPENDENT, ViewQuery


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


def max_age_of(view: str, max_age_us: int) -> int | None:
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


def with_window(version: tuple[int, ...], window: Window | None) -> tuple[int, ...]:
    """The window's start is part of what an answer depends on: an answer of yesterday's
    default window (computed just before midnight) is never served for today's."""
    return version if window is None else (*version, window.start)
