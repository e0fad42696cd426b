"""Connectors (docs/connectors.md): their webhooks turned into stored events.

A delivery is authenticated (the URL secret, then the platform's own signature or secret),
mapped to facts by its platform's module, and held for the connector's reorder time with the
deliveries that arrive meanwhile. Then the held deliveries go in together, in the platform's
time order: agents and departments they name are made to exist (connector_directory.py), the
facts become events (connectors/ids.py), and one ingest transaction (the one POST /events uses,
store/eventlog.IngestTransaction) checks each against the state, repairs or drops it
(connectors/reconcile.py), appends the rest and records the drops. Each delivery is answered
only after that commit: a 2xx means its events are durable, an error makes the platform retry,
and the retry's events (same ids) are duplicates of whatever was stored.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import orjson

from chatpulse.connectors.ids import Ids
from chatpulse.connectors.model import (
    RECEIVED_AT_HEADER,
    Delivery,
    Fact,
    PayloadError,
)
from chatpulse.connectors.reconcile import Drop, Reconciler
from chatpulse.domain.errors import MalformedBody, NotFound, Unauthorized
from chatpulse.domain.events import Event
from chatpulse.domain.timeutil import format_instant_exact
from chatpulse.services import connector_directory
from chatpulse.services.connector_config import opened, platform
from chatpulse.services.runtime import Runtime
from chatpulse.store import connectors as store
from chatpulse.store.connectors import Connector
from chatpulse.store.eventlog import IngestTransaction

log = logging.getLogger("chatpulse.connectors")
MAX_FACTS = 1000  # per transaction: a burst goes in several, in order


# ------------------------------------------------------------------------ deliveries


@dataclass(slots=True)
class DeliveryResult:
    """What became of one delivery's facts."""

    accepted: int = 0  # events stored (repairs included)
    duplicates: int = 0  # facts already stored (a redelivery)
    skipped: int = 0  # facts that said nothing new
    dropped: int = 0
    repaired: int = 0
    last_sequence: int = 0
    ignored: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "skipped": self.skipped,
            "dropped": self.dropped,
            "repaired": self.repaired,
            "lastSequence": self.last_sequence,
        }
        if self.ignored is not None:
            out["ignored"] = self.ignored
        return out


async def open_webhook(
    runtime: Runtime, connector_id: str, secret: str, headers: Mapping[str, str], body: bytes
) -> tuple[Connector, Delivery]:
    """Authenticate a delivery and map it. A payload that is JSON but not the platform's
    documented shape is not refused (the platform would retry it forever): it maps to one
    drop, recorded with its reason. Only a connector this process has not opened in the last
    second is read from the database (in a worker thread); the rest is CPU work of a fraction
    of a millisecond, done in the event loop."""
    try:
        key = str(uuid.UUID(connector_id))
    except ValueError:
        raise NotFound("connector") from None
    connector = opened.cached(key, secret)
    if connector is None:
        connector = await anyio.to_thread.run_sync(opened.get, runtime.engine, key, secret)
    if connector is None:
        raise NotFound("connector")
    module = platform(connector.kind)
    # The time of receipt, for the platforms whose payloads do not always say when (LiveChat);
    # never the sender's.
    headers = {**headers, RECEIVED_AT_HEADER: format_instant_exact(runtime.clock.now())}
    problem = module.authenticate(headers, body, connector.settings)
    if problem is not None:
        raise Unauthorized(problem)
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise MalformedBody("must be a JSON object") from None
    if not isinstance(payload, dict):
        raise MalformedBody("must be a JSON object")
    try:
        return connector, module.map_delivery(payload, headers)
    except PayloadError as err:
        return connector, Delivery(unreadable=f"{err.field}: {err.message}")


@dataclass(slots=True)
class _Held:
    deliveries: list[Delivery] = field(default_factory=list)
    waiters: list[asyncio.Future[DeliveryResult]] = field(default_factory=list)
    facts: int = 0
    flushing: bool = False


class Intake:
    """The deliveries held for their connector's reorder time, per process (one per app)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._held: dict[str, _Held] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, connector: Connector, delivery: Delivery) -> DeliveryResult:
        """Answered once the delivery's events are stored (with those held with it)."""
        loop = asyncio.get_running_loop()
        held = self._held.get(connector.id)
        if held is None:
            held = self._held[connector.id] = _Held()
            loop.call_later(connector.reorder_ms / 1000, self._start_flush, connector, held)
        waiter: asyncio.Future[DeliveryResult] = loop.create_future()
        held.deliveries.append(delivery)
        held.waiters.append(waiter)
        held.facts += len(delivery.facts)
        if held.facts >= MAX_FACTS:
            self._start_flush(connector, held)
        return await waiter

    def _start_flush(self, connector: Connector, held: _Held) -> None:
        if held.flushing:
            return  # it filled up before its time: flushed already
        held.flushing = True
        if self._held.get(connector.id) is held:
            del self._held[connector.id]  # deliveries from now on wait in the next batch
        task = asyncio.get_running_loop().create_task(self._flush(connector, held))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush(self, connector: Connector, held: _Held) -> None:
        lock = self._locks.setdefault(connector.id, asyncio.Lock())
        async with lock:  # one batch of a connector at a time, in arrival order
            try:
                results = await anyio.to_thread.run_sync(
                    ingest, self._runtime, connector, held.deliveries
                )
            except BaseException as err:
                for waiter in held.waiters:
                    if not waiter.done():
                        waiter.set_exception(err)
                if not isinstance(err, Exception):
                    raise
                return
        for waiter, result in zip(held.waiters, results, strict=True):
            if not waiter.done():
                waiter.set_result(result)


def ingest(
    runtime: Runtime, connector: Connector, deliveries: Sequence[Delivery]
) -> list[DeliveryResult]:
    """Store the deliveries' facts (blocking): in time order, repaired or dropped against the
    state, in transactions of at most MAX_FACTS facts; one result per delivery."""
    results = [DeliveryResult(ignored=d.ignored) for d in deliveries]
    connector_directory.ensure(runtime, connector, connector_directory.wanted(deliveries))
    ordered = sorted(
        ((fact, n) for n, d in enumerate(deliveries) for fact in d.facts),
        key=lambda pair: pair[0].occurred_at,
    )
    unreadable = [(n, d.unreadable) for n, d in enumerate(deliveries) if d.unreadable]
    last = 0
    for start in range(0, max(len(ordered), 1), MAX_FACTS):
        chunk = ordered[start : start + MAX_FACTS]
        last = _ingest_chunk(runtime, connector, deliveries, chunk, results, unreadable)
        unreadable = []
    for result in results:
        result.last_sequence = last
    return results


def _ingest_chunk(
    runtime: Runtime,
    connector: Connector,
    deliveries: Sequence[Delivery],
    chunk: Sequence[tuple[Fact, int]],
    results: list[DeliveryResult],
    unreadable: Sequence[tuple[int, str]],
) -> int:
    now = runtime.clock.now()
    ids = Ids(connector.site_id, connector.id)
    drops: list[tuple[Drop, str | None]] = [
        (Drop("", "payload", None, f"unreadable payload: {why}"), deliveries[n].delivery_id)
        for n, why in unreadable
    ]
    for n, _ in unreadable:
        results[n].dropped += 1
    candidates: list[tuple[Fact, int, Event]] = []
    seen: set[str] = set()
    for fact, n in chunk:
        event = ids.event(fact, now)
        if isinstance(event, str):
            results[n].dropped += 1
            drops.append((Drop(fact.key, fact.type, None, event), deliveries[n].delivery_id))
        elif event.id in seen:
            results[n].duplicates += 1
        else:
            seen.add(event.id)
            candidates.append((fact, n, event))
    with IngestTransaction(runtime.engine, connector.site_id) as tx:
        stored = tx.stored_events([event.id for _, _, event in candidates])
        fresh = []
        for fact, n, event in candidates:
            if event.id in stored:
                results[n].duplicates += 1
            else:
                fresh.append((fact, n, event))
        projector = tx.projector_for(_to_load(ids, fresh))
        reconciler = Reconciler(projector, ids)
        for fact, n, event in fresh:
            before = (len(reconciler.events), len(reconciler.drops))
            before_more = (reconciler.repairs, reconciler.skipped)
            reconciler.take(fact, event)
            result = results[n]
            result.accepted += len(reconciler.events) - before[0]
            result.dropped += len(reconciler.drops) - before[1]
            result.repaired += reconciler.repairs - before_more[0]
            result.skipped += reconciler.skipped - before_more[1]
            drops.extend(
                (drop, deliveries[n].delivery_id) for drop in reconciler.drops[before[1] :]
            )
        store.record_drops(tx.conn, connector, drops, now)
        last = tx.commit(reconciler.events, projector, now)
        changed = tx.changed_departments
    if reconciler.events:
        runtime.notify(connector.site_id, last, changed)
    for drop, delivery_id in drops:  # after the commit: only what was recorded
        log.warning(
            "connector %s dropped %s: %s",
            connector.id,
            drop.type,
            drop.reason,
            extra={"connector": connector.id, "delivery": delivery_id, "fact": drop.fact_key},
        )
    return last


def _to_load(ids: Ids, fresh: Sequence[tuple[Fact, int, Event]]) -> list[Event]:
    """The events whose entities the transaction loads: the facts', and the departments a
    repair may start a chat in."""
    events = [event for _, _, event in fresh]
    for fact, _, event in fresh:
        if fact.department is not None and "chatId" in event.data:
            stub = {
                "chatId": event.data["chatId"],
                "departmentId": ids.of("department", fact.department),
            }
            events.append(Event(event.id, "chat.queued", event.occurred_at, stub))
    return events
