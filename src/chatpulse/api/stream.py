"""The stream hub (SPEC.md §3.5): per-site subscribers, shared view snapshots, one stream's loop.

Ingest only marks a site's subscribers dirty (a counter and an event); it never computes a view
and never waits. Each stream computes its own views in its own task, so a client that does not
read stalls only its own task: its views stay marked dirty (one flag per view, never a queue),
and the next computation after it drains reflects the latest state.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from http import HTTPStatus

import anyio
import anyio.to_thread
import orjson
from sqlalchemy import Engine, select
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from chatpulse.clock import Clock
from chatpulse.domain.errors import ChatPulseError
from chatpulse.settings import Settings
from chatpulse.store import sites
from chatpulse.store import tables as t
from chatpulse.store.notify import IngestListener
from chatpulse.store.tables import INVITATIONS_KEY, VISITORS_KEY
from chatpulse.store.versions import SiteVersions, VersionProbe, versions_now
from chatpulse.views.request import (
    TIME_DEPENDENT,
    Answer,
    ViewQuery,
    answer,
    cacheable,
    cached_answer,
    version_keys,
)

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


@dataclass(slots=True)
class _Shared:
    version: int
    now: int
    task: asyncio.Future[Answer]


def last_sequences(engine: Engine, site_ids: Sequence[int]) -> dict[int, int]:
    """Blocking: the last stored sequence of each of `site_ids`."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.sites.c.id, t.sites.c.last_sequence).where(t.sites.c.id.in_(site_ids))
        ).all()
    return {int(row.id): int(row.last_sequence or 0) for row in rows}


class StreamHub:
    """Who listens to which site. Lives on the event loop; `notify` may come from any thread."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        settings: Settings,
        versions: SiteVersions | None = None,
        probe: VersionProbe | None = None,
    ) -> None:
        self.engine = engine
        self.versions = versions or SiteVersions(engine)
        self.probe = probe
        self.clock = clock
        self.settings = settings
        self._sites: dict[int, set[Subscriber]] = {}
        self._versions: dict[int, int] = {}
        self._sequences: dict[int, int] = {}
        self._shared: dict[tuple[int, str, ViewQuery], _Shared] = {}
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
        self, site_id: int, token_id: str = "", department: str | None = None
    ) -> Subscriber:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._loop_thread = threading.get_ident()
            self._limiter = anyio.CapacityLimiter(max(1, self.settings.stream_threads))
        subscriber = Subscriber(site_id, token_id, department)
        self._sites.setdefault(site_id, set()).add(subscriber)
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
        self._open -= 1
        if not subscribers:
            del self._sites[site_id]
            self._versions.pop(site_id, None)
            self._sequences.pop(site_id, None)
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
        views/request.py, so waking it would only find them unchanged)."""
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
                last_sequences, self.engine, watched, limiter=self._limiter
            )
        except Exception:
            log.exception("stream: reading the sites' last sequences failed")
            return
        for site_id, sequence in found.items():
            if site_id in self._sites:
                self._mark(site_id, sequence)

    async def snapshot(
        self, site_id: int, view: str, query: ViewQuery, fresh: bool = False
    ) -> Answer:
        """The view now: shared with another stream of this process that asked the same query
        after the site's last notification and at most SHARE_WINDOW_US ago (the streams of one
        wallboard query wake together on every event: one lookup serves them all), else from
        the answer cache (views/request.py), else computed in a worker thread. `fresh` (a new
        stream's first snapshot): the cache at least, which sees every committed event."""
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
        max_age = self.settings.view_max_age_ms * 1000
        found: Answer | None = None
        if cacheable(view, max_age):  # else nothing to look up: no probe
            keys = version_keys(query)
            source = await versions_now(self.versions, self.probe, site_id, keys)
            if source is not None:
                found, _ = cached_answer(self.engine, source, site_id, view, query, now, max_age)
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
        max_age = self.settings.view_max_age_ms * 1000
        return await anyio.to_thread.run_sync(
            answer, self.engine, site_id, view, query, now, max_age, limiter=self._limiter
        )

    async def events(
        self, subscriber: Subscriber, views: Sequence[str], query: ViewQuery, first: list[Answer]
    ) -> AsyncIterator[bytes]:
        """The bytes of one stream: the first snapshots, then changes, refreshes and pings."""
        min_gap = self.settings.stream_min_interval_ms / 1000
        refresh = self.settings.stream_refresh_interval_ms / 1000
        ping = self.settings.stream_ping_interval_ms / 1000
        started = time.monotonic()
        states = [
            _ViewState(
                view,
                view in TIME_DEPENDENT,
                snap.body,
                0,
                started,
                started,
                # Each query refreshes at its own phase of the grid: not all of them at once.
                (hash((view, query)) % 1000) / 1000,
            )
            for view, snap in zip(views, first, strict=True)
        ]
        yield b"".join(sse_event(view, snap) for view, snap in zip(views, first, strict=True))
        next_ping = time.monotonic() + ping
        next_token_check = time.monotonic() + TOKEN_CHECK_S
        while not self._closed:
            subscriber.wake.clear()
            moment = time.monotonic()
            if not subscriber.revoked and subscriber.token_id and moment >= next_token_check:
                next_token_check = moment + TOKEN_CHECK_S
                subscriber.revoked = not await anyio.to_thread.run_sync(
                    sites.token_is_live, self.engine, subscriber.token_id
                )
            if subscriber.revoked:
                yield sse_problem(401, "the token of this stream was revoked", [])
                return
            changes = subscriber.changes
            due = [s for s in states if s.due_at(changes, min_gap, refresh) <= moment]
            if due:
                # Each view is sent as soon as it is computed: a cheap RightNow does not wait
                # for the same stream's Today or Agents.
                pending = {
                    asyncio.ensure_future(self.snapshot(subscriber.site_id, s.view, query)): s
                    for s in due
                }
                try:
                    while pending:
                        finished, _ = await asyncio.wait(
                            pending, return_when=asyncio.FIRST_COMPLETED
                        )
                        done = time.monotonic()
                        chunks = []
                        for task in finished:
                            state = pending.pop(task)
                            snap = task.result()  # a failure is handled below
                            state.seen = changes
                            state.computed_at = done
                            if snap.body != state.body:
                                state.body = snap.body
                                state.sent_at = done
                                chunks.append(sse_event(state.view, snap))
                        if chunks:
                            yield b"".join(chunks)
                except ChatPulseError as err:
                    yield sse_problem(err.status, err.detail, [e.as_json() for e in err.errors])
                    return
                except Exception:
                    log.exception("stream: computing a view failed; closing the stream")
                    yield sse_problem(503, "a view could not be computed; reconnect later", [])
                    return
                finally:
                    for task in pending:
                        task.cancel()
                continue
            if moment >= next_ping:
                yield b": ping\n\n"
                next_ping = max(next_ping + ping, time.monotonic())
                continue
            wake_at = min(
                [s.due_at(changes, min_gap, refresh) for s in states]
                + [next_ping, next_token_check]
            )
            try:
                async with asyncio.timeout(max(0.0, wake_at - moment)):
                    await subscriber.wake.wait()
            except TimeoutError:
                pass


@asynccontextmanager
async def listening(hub: StreamHub) -> AsyncIterator[None]:
    """PostgreSQL: keep the hub's LISTEN connection (store/notify.py) while the app serves."""
    if hub.engine.dialect.name != "postgresql" or not hub.settings.stream_listen:
        yield
        return
    listener = IngestListener(hub.engine, hub.notify, hub.resync)
    hub.listener = listener
    task = asyncio.get_running_loop().create_task(listener.run())
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        hub.listener = None


@dataclass(slots=True)
class _ViewState:
    view: str
    refresh: bool
    body: bytes
    seen: int  # the subscriber's `changes` when the view was last computed
    sent_at: float  # monotonic seconds
    computed_at: float
    phase: float  # 0 ≤ phase < 1: where in each refresh period this query refreshes

    def due_at(self, changes: int, min_gap: float, refresh: float) -> float:
        """When to recompute: after a change, once `min_gap` has passed since the last event;
        time-dependent views also at the next point of their `refresh` grid."""
        due = float("inf")
        if self.seen < changes:
            due = self.sent_at + min_gap
        if self.refresh and refresh > 0:
            # On a grid of the process's monotonic clock: every stream asking the same query
            # refreshes at the same instant and shares one computation (views/request.py);
            # different queries at different phases, so that refreshes do not come in bursts.
            grid = math.floor(self.computed_at / refresh - self.phase) + 1 + self.phase
            due = min(due, grid * refresh)
        return due


def _consume(task: asyncio.Future[Answer]) -> None:
    # A shared computation whose every waiter went away must not log "exception never retrieved".
    if not task.cancelled():
        task.exception()


def sse_event(view: str, snap: Answer) -> bytes:
    return b"event: %s\nid: %d\ndata: %s\n\n" % (view.encode(), snap.sequence, snap.body)


def sse_problem(status: int, detail: str, errors: list[dict[str, object]]) -> bytes:
    title = HTTPStatus(status).phrase
    body = orjson.dumps(
        {
            "type": "about:blank",
            "title": title,
            "status": status,
            "detail": detail,
            "errors": errors,
        }
    )
    return b"event: problem\ndata: %s\n\n" % body


class EventStream(StreamingResponse):
    """A text/event-stream response that always runs `on_close` when the connection ends."""

    media_type = "text/event-stream"

    def __init__(
        self,
        content: AsyncIterator[bytes],
        on_close: Callable[[], None],
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(content, headers=headers)
        self._content = content
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._on_close()
            aclose = getattr(self._content, "aclose", None)
            if aclose is not None:
                await aclose()
