"""One open stream (SPEC.md §3.5): its first snapshots, then each view again when it changes,
time-dependent views on a refresh grid, pings, and its end (revoked token, failure, shutdown)."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from functools import partial

import anyio.to_thread

from chatpulse.domain.errors import ChatPulseError, FieldError
from chatpulse.services.sites import token_is_live
from chatpulse.services.stream import TOKEN_CHECK_S, StreamHub, Subscriber
from chatpulse.services.views import Answer
from chatpulse.views.query import ViewQuery, time_dependent

log = logging.getLogger("chatpulse.stream")


@dataclass(frozen=True, slots=True)
class ViewEvent:
    """A view's JSON, sent as `event: <view>` with the snapshot's sequence as its id."""

    view: str
    answer: Answer


@dataclass(frozen=True, slots=True)
class ProblemEvent:
    """The stream ends with a problem (the problem-details body of that status)."""

    status: int
    detail: str
    errors: list[FieldError] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """The site's firing alerts (`{"alerts": [...]}`), sent as `event: alert` (docs/alerts.md)."""

    body: bytes


PING = "ping"  # a comment line that keeps proxies open
StreamItem = ViewEvent | AlertEvent | ProblemEvent | str


async def open_stream(
    hub: StreamHub,
    site_id: int,
    token_id: str,
    views: Sequence[str],
    query: ViewQuery,
    department: str | None,
    alerts: bool = False,
) -> OpenStream:
    """Subscribe, then take each view's first snapshot (subscribed first, so that no ingest
    between the snapshot and the subscription is missed). A bad parameter fails here, before
    the stream starts, and leaves nothing subscribed."""
    subscriber = hub.subscribe(site_id, token_id, department, alerts=alerts)
    try:
        first = list(
            await asyncio.gather(
                *(hub.snapshot(site_id, view, query, fresh=True) for view in views)
            )
        )
        firing = await hub.firing(site_id) if alerts else None
    except BaseException:
        hub.unsubscribe(subscriber)
        raise
    hub.seen(site_id, min(snap.sequence for snap in first))
    return OpenStream(hub, subscriber, tuple(views), query, first, firing)


@dataclass(eq=False)
class OpenStream:
    hub: StreamHub
    subscriber: Subscriber
    views: tuple[str, ...]
    query: ViewQuery
    first: list[Answer]
    first_alerts: bytes | None = None

    def close(self) -> None:
        self.hub.unsubscribe(self.subscriber)

    async def events(self) -> AsyncIterator[StreamItem]:
        """The stream's events: the first snapshots, then changes, refreshes and pings."""
        hub, subscriber, views, query = self.hub, self.subscriber, self.views, self.query
        settings = hub.settings
        min_gap = settings.stream_min_interval_ms / 1000
        refresh = settings.stream_refresh_interval_ms / 1000
        ping = settings.stream_ping_interval_ms / 1000
        started = time.monotonic()
        states = [
            _ViewState(
                view,
                time_dependent(view, query),
                snap.body,
                0,
                started,
                started,
                # Each query refreshes at its own phase of the grid: not all of them at once.
                (hash((view, query)) % 1000) / 1000,
            )
            for view, snap in zip(views, self.first, strict=True)
        ]
        for view, snap in zip(views, self.first, strict=True):
            yield ViewEvent(view, snap)
        alerts_sent = self.first_alerts
        alerts_seen = subscriber.alert_changes
        if alerts_sent is not None:
            yield AlertEvent(alerts_sent)
        next_ping = time.monotonic() + ping
        next_token_check = time.monotonic() + TOKEN_CHECK_S
        while not hub.closed:
            subscriber.wake.clear()
            moment = time.monotonic()
            if not subscriber.revoked and subscriber.token_id and moment >= next_token_check:
                next_token_check = moment + TOKEN_CHECK_S
                # The default thread pool, not the streams' limiter: a thousand streams' checks
                # must not queue in front of their views' computations.
                subscriber.revoked = not await anyio.to_thread.run_sync(
                    partial(token_is_live, hub.runtime, subscriber.token_id)
                )
            if subscriber.revoked:
                yield ProblemEvent(401, "the token of this stream was revoked")
                return
            if subscriber.alerts and subscriber.alert_changes != alerts_seen:
                alerts_seen = subscriber.alert_changes
                try:
                    body = await hub.firing(subscriber.site_id)
                except Exception:
                    log.exception("stream: reading the firing alerts failed; closing the stream")
                    yield ProblemEvent(503, "the alerts could not be read; reconnect later")
                    return
                if body != alerts_sent:
                    alerts_sent = body
                    yield AlertEvent(body)
                continue
            changes = subscriber.changes
            due = [s for s in states if s.due_at(changes, min_gap, refresh) <= moment]
            if due:
                # Each view is sent as soon as it is computed: a cheap RightNow does not wait
                # for the same stream's Today or Agents.
                pending = {
                    asyncio.ensure_future(hub.snapshot(subscriber.site_id, s.view, query)): s
                    for s in due
                }
                try:
                    while pending:
                        finished, _ = await asyncio.wait(
                            pending, return_when=asyncio.FIRST_COMPLETED
                        )
                        done = time.monotonic()
                        for task in finished:
                            state = pending.pop(task)
                            snap = task.result()  # a failure is handled below
                            state.seen = changes
                            state.computed_at = done
                            if snap.body != state.body:
                                state.body = snap.body
                                state.sent_at = done
                                yield ViewEvent(state.view, snap)
                except ChatPulseError as err:
                    yield ProblemEvent(err.status, err.detail, err.errors)
                    return
                except Exception:
                    log.exception("stream: computing a view failed; closing the stream")
                    yield ProblemEvent(503, "a view could not be computed; reconnect later")
                    return
                finally:
                    for task in pending:
                        task.cancel()
                continue
            if moment >= next_ping:
                yield PING
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
            # refreshes at the same instant and shares one computation (services/views.py);
            # different queries at different phases, so that refreshes do not come in bursts.
            grid = math.floor(self.computed_at / refresh - self.phase) + 1 + self.phase
            due = min(due, grid * refresh)
        return due
