"""The stream hub (SPEC.md §3.5): per-site subscribers, shared view snapshots, one stream's loop.

Ingest only marks a site's subscribers dirty (a counter and an event); it never computes a view
and never waits. Each stream computes its own views in its own task, so a client that does not
read stalls only its own task: its views stay marked dirty (one flag per view, never a queue),
and the next computation after it drains reflects the latest state.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread

from chatpulse.services import views
from chatpulse.services.runtime import Runtime
from chatpulse.services.views import Answer
from chatpulse.store import alerts as alert_store
from chatpulse.store import sites
from chatpulse.store.notify import IngestListener
from chatpulse.store.tables import INVITATIONS_KEY, VISITORS_KEY
from chatpulse.views.query import ViewQuery

log = logging.getLogger("chatpulse.stream")

# Streams of one site asking the same view with the same parameters share a computation made
# at most this long ago (server clock) and after the site's last ingest notification.
SHARE_WINDOW_US = 100_000
SITE_WIDE_KEYS = frozenset((INVITATIONS_KEY, VISITORS_KEY))
# An open stream re-checks its token this often (seconds): a revocation made by another
# worker process ends it within this time; one made in this process ends it at once.
TOKEN_CHECK_S = 5.0


@dataclass(slots=True, eq=False)
class Subscriber:
    """One open stream: `changes` counts ingest notifications for its site."""

    site_id: int
    token_id: str = ""
    department: str | None = None  # its views' departmentId: other departments' events skip it
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    changes: int = 0
    revoked: bool = False
    alerts: bool = False  # it sends `alert` events (docs/alerts.md)
    alert_changes: int = 0  # how many times the site's firing alerts changed
    internal: bool = False  # the alert evaluator's subscription: not an open stream


@dataclass(slots=True)
class _Shared:
    version: int
    now: int
    task: asyncio.Future[Answer]


class StreamHub:
    """Who listens to which site. Lives on the event loop; `notify` may come from any thread."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.clock = runtime.clock
        self.settings = runtime.settings
        self._sites: dict[int, set[Subscriber]] = {}
        self._versions: dict[int, int] = {}
        self._sequences: dict[int, int] = {}
        self._shared: dict[tuple[int, str, ViewQuery], _Shared] = {}
        # Firing alerts per site: a counter moved by every change, and the last body read.
        self._alert_versions: dict[int, int] = {}
        self._alert_bodies: dict[int, tuple[int, asyncio.Future[tuple[bytes, int]]]] = {}
        self._alert_marks: dict[int, int] = {}  # the last transition id seen (resync)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._limiter: anyio.CapacityLimiter | None = None
        self._poller: asyncio.Task[None] | None = None
        self._open = 0
        # PostgreSQL: the process's LISTEN connection; while it listens, polling is not needed.
        self.listener: IngestListener | None = None
        self._closed = False

    def close(self) -> None:
        """The server is shutting down: every open stream (and any opened later) ends now,
        cleanly, so that graceful shutdown need not wait for them."""
        self._closed = True
        for subscribers in self._sites.values():
            for subscriber in subscribers:
                subscriber.wake.set()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def open_streams(self) -> int:
        """How many streams are open now (for /metrics)."""
        return self._open

    def revoke(self, token_id: str) -> None:
        """A token was revoked in this process: its open streams end at once. (Streams held
        by other worker processes notice within `TOKEN_CHECK_S`.)"""
        if self._loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            self._revoke(token_id)
        else:
            self._loop.call_soon_threadsafe(self._revoke, token_id)

    def _revoke(self, token_id: str) -> None:
        for subscribers in self._sites.values():
            for subscriber in subscribers:
                if subscriber.token_id == token_id:
                    subscriber.revoked = True
                    subscriber.wake.set()

    def subscribe(
        self,
        site_id: int,
        token_id: str = "",
        department: str | None = None,
        wake: asyncio.Event | None = None,
        alerts: bool = False,
    ) -> Subscriber:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._loop_thread = threading.get_ident()
            self._limiter = anyio.CapacityLimiter(max(1, self.settings.stream_threads))
        subscriber = Subscriber(site_id, token_id, department, wake or asyncio.Event())
        subscriber.alerts = alerts
        subscriber.internal = wake is not None  # the alert evaluator, not a client's stream
        self._sites.setdefault(site_id, set()).add(subscriber)
        if not subscriber.internal:
            self._open += 1
        self._versions.setdefault(site_id, 0)
        if self._poller is None and self.settings.stream_poll_interval_ms > 0:
            self._poller = self._loop.create_task(self._poll())
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        site_id = subscriber.site_id
        subscribers = self._sites.get(site_id)
        if subscribers is None:
            return
        if subscriber not in subscribers:
            return
        subscribers.discard(subscriber)
        if not subscriber.internal:
            self._open -= 1
        if not subscribers:
            del self._sites[site_id]
            self._versions.pop(site_id, None)
            self._sequences.pop(site_id, None)
            self._alert_versions.pop(site_id, None)
            self._alert_bodies.pop(site_id, None)
            self._alert_marks.pop(site_id, None)
            for key in [key for key in self._shared if key[0] == site_id]:
                del self._shared[key]

    def seen(self, site_id: int, sequence: int) -> None:
        """A new stream's snapshot saw `sequence`: the poller announces anything after it."""
        if site_id in self._sites:
            self._sequences.setdefault(site_id, sequence)

    def notify(
        self, site_id: int, sequence: int, departments: frozenset[str] | None = None
    ) -> None:
        """Called after an ingest stored something: mark the site's streams dirty, nothing more.
        `departments`: those whose views the ingest may have changed (None: any); a stream of
        another department is left asleep (its answers are keyed by its department's version,
        services/views.py, so waking it would only find them unchanged)."""
        if site_id not in self._sites or self._loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            self._mark(site_id, sequence, departments)
        else:
            self._loop.call_soon_threadsafe(self._mark, site_id, sequence, departments)

    def config_changed(self, site_id: int) -> None:
        """The site's configuration changed (in this process): its streams recompute. Other
        worker processes' streams see it at their next ingest or time-dependent refresh."""
        if site_id not in self._sites or self._loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            self._wake(site_id)
        else:
            self._loop.call_soon_threadsafe(self._wake, site_id)

    def alerts_changed(self, site_id: int) -> None:
        """The site's firing alerts changed (a transition committed, here or in another process):
        its streams that send alerts read them again."""
        if site_id not in self._sites or self._loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            self._alerts_moved(site_id)
        else:
            self._loop.call_soon_threadsafe(self._alerts_moved, site_id)

    def _alerts_moved(self, site_id: int) -> None:
        subscribers = self._sites.get(site_id)
        if not subscribers:
            return
        self._alert_versions[site_id] = self._alert_versions.get(site_id, 0) + 1
        for subscriber in subscribers:
            if subscriber.alerts:
                subscriber.alert_changes += 1
                subscriber.wake.set()

    async def firing(self, site_id: int) -> bytes:
        """The site's firing alerts as the stream's `alert` data: read once per change and shared
        by every stream of the site."""
        version = self._alert_versions.get(site_id, 0)
        found = self._alert_bodies.get(site_id)
        if found is None or found[0] != version or (found[1].done() and found[1].exception()):
            task = asyncio.ensure_future(
                anyio.to_thread.run_sync(
                    alert_store.firing_body, self.runtime.engine, site_id, limiter=self._limiter
                )
            )
            task.add_done_callback(_consume)
            found = (version, task)
            if site_id in self._sites:
                self._alert_bodies[site_id] = found
        body, mark = await asyncio.shield(found[1])
        if site_id in self._sites:  # what the poll compares with (several workers on SQLite)
            self._alert_marks.setdefault(site_id, mark)
        return body

    def _mark(self, site_id: int, sequence: int, departments: frozenset[str] | None = None) -> None:
        subscribers = self._sites.get(site_id)
        if not subscribers or sequence <= self._sequences.get(site_id, -1):
            return
        self._sequences[site_id] = sequence
        if departments is not None and SITE_WIDE_KEYS & departments:
            departments = None  # visitors or invitations: every department's views
        self._wake(site_id, departments)

    def _wake(self, site_id: int, departments: frozenset[str] | None = None) -> None:
        subscribers = self._sites.get(site_id)
        if not subscribers:
            return
        self._versions[site_id] += 1
        for subscriber in subscribers:
            if (
                departments is not None
                and subscriber.department is not None
                and subscriber.department not in departments
            ):
                continue
            subscriber.changes += 1
            subscriber.wake.set()

    async def _poll(self) -> None:
        """Notice ingests made by other processes (several workers): poll the sites' sequences,
        unless a LISTEN connection hears of them already."""
        interval = self.settings.stream_poll_interval_ms / 1000
        try:
            while self._sites:
                await asyncio.sleep(interval)
                if self.listener is not None and self.listener.connected:
                    continue
                await self.resync()
        finally:
            self._poller = None

    async def resync(self) -> None:
        """Read the last sequence of every site with streams here; mark those that moved."""
        watched = list(self._sites)
        if not watched:
            return
        try:
            found = await anyio.to_thread.run_sync(
                sites.last_sequences, self.runtime.engine, watched, limiter=self._limiter
            )
        except Exception:
            log.exception("stream: reading the sites' last sequences failed")
            return
        for site_id, sequence in found.items():
            if site_id in self._sites:
                self._mark(site_id, sequence)
        alerting = [site for site, subs in self._sites.items() if any(s.alerts for s in subs)]
        if not alerting:
            return
        try:
            marks = await anyio.to_thread.run_sync(
                alert_store.last_transitions, self.runtime.engine, alerting, limiter=self._limiter
            )
        except Exception:
            log.exception("stream: reading the sites' alert transitions failed")
            return
        for site_id, mark in marks.items():
            if site_id in self._sites and mark != self._alert_marks.setdefault(site_id, mark):
                self._alert_marks[site_id] = mark
                self._alerts_moved(site_id)

    async def snapshot(
        self, site_id: int, view: str, query: ViewQuery, fresh: bool = False, any_age: bool = False
    ) -> Answer:
        """The view now: shared with another stream of this process that asked the same query
        after the site's last notification and at most SHARE_WINDOW_US ago (the streams of one
        wallboard query wake together on every event: one lookup serves them all), else from
        the answer cache (services/views.py), else computed in a worker thread. `fresh` (a new
        stream's first snapshot): the cache at least, which sees every committed event.
        `any_age`: a cached answer of the same stored state however old (views.from_memory)."""
        query = query.for_view(view)
        now = self.clock.now()
        version = self._versions.get(site_id, 0)
        key = (site_id, view, query)
        shared = self._shared.get(key)
        if (
            not fresh
            and shared is not None
            and shared.version == version
            and 0 <= now - shared.now <= SHARE_WINDOW_US
        ):
            return await asyncio.shield(shared.task)
        found, _ = await views.from_memory(self.runtime, site_id, view, query, now, any_age)
        loop = asyncio.get_running_loop()
        if found is not None:  # from memory: every GET and stream of the process shares it
            done: asyncio.Future[Answer] = loop.create_future()
            done.set_result(found)
            if site_id in self._sites:
                self._shared[key] = _Shared(version, now, done)
            return found
        shared = self._shared.get(key)  # the probe may have let another stream start one
        if (
            shared is None
            or shared.version != version
            or not 0 <= now - shared.now <= SHARE_WINDOW_US
        ):
            task = loop.create_task(self._compute(site_id, view, query, now))
            task.add_done_callback(_consume)
            shared = _Shared(version, now, task)
            if site_id in self._sites:
                self._shared[key] = shared
        try:
            return await asyncio.shield(shared.task)
        except Exception:
            if self._shared.get(key) is shared:
                del self._shared[key]
            raise

    async def _compute(self, site_id: int, view: str, query: ViewQuery, now: int) -> Answer:
        return await views.computed(self.runtime, site_id, view, query, now, self._limiter)


@asynccontextmanager
async def listening(hub: StreamHub) -> AsyncIterator[None]:
    """PostgreSQL: keep the hub's LISTEN connection (store/notify.py) while the app serves."""
    if not hub.runtime.postgres or not hub.settings.stream_listen:
        yield
        return
    listener = IngestListener(hub.runtime.engine, hub.notify, hub.resync, hub.alerts_changed)
    hub.listener = listener
    task = asyncio.get_running_loop().create_task(listener.run())
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        hub.listener = None


def _consume(task: asyncio.Future[Any]) -> None:
    # A shared computation whose every waiter went away must not log "exception never retrieved".
    if not task.cancelled():
        task.exception()
