"""Connectors (docs/connectors.md): configure them, and turn their webhooks into stored events.

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
import importlib
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import anyio
import orjson
from sqlalchemy import Engine

from chatpulse.connectors.ids import Ids
from chatpulse.connectors.model import (
    RECEIVED_AT_HEADER,
    ConnectorSettings,
    Delivery,
    Fact,
    PayloadError,
    Platform,
)
from chatpulse.connectors.reconcile import Drop, Reconciler
from chatpulse.domain.errors import FieldError, InvalidBody, MalformedBody, NotFound, Unauthorized
from chatpulse.domain.events import Event
from chatpulse.domain.timeutil import format_instant, format_instant_exact
from chatpulse.services import connector_directory
from chatpulse.services.runtime import Runtime
from chatpulse.store import connectors as store
from chatpulse.store.connectors import Connector
from chatpulse.store.eventlog import IngestTransaction

log = logging.getLogger("chatpulse.connectors")
KINDS = ("chatwoot", "livechat")
DEFAULT_REORDER_MS = 100
REORDER_RANGE = (0, 5000)
POLL_RANGE = (0, 86_400)
DEFAULT_POLL_S = {"chatwoot": 30, "livechat": 0}
MAX_FACTS = 1000  # per transaction: a burst goes in several, in order


def platform(kind: str) -> Platform:
    """The mapping module of a platform (connectors/<kind>.py)."""
    return cast(Platform, importlib.import_module(f"chatpulse.connectors.{kind}"))


# ------------------------------------------------------------------------ configuration


@dataclass(frozen=True, slots=True)
class NewConnector:
    kind: str
    name: str | None = None
    signing_secret: str | None = None
    api_url: str | None = None
    api_token: str | None = None
    account_id: str | None = None
    poll_seconds: int | None = None
    reorder_ms: int | None = None


def _check(new: NewConnector) -> list[FieldError]:
    errors: list[FieldError] = []
    if new.kind not in KINDS:
        errors.append(FieldError("kind", f"must be one of {', '.join(KINDS)}"))
    for name, number, (low, high) in (
        ("pollSeconds", new.poll_seconds, POLL_RANGE),
        ("reorderMs", new.reorder_ms, REORDER_RANGE),
    ):
        if number is not None and not low <= number <= high:
            errors.append(FieldError(name, f"must be an integer from {low} to {high}"))
    if new.api_url is not None and not new.api_url.startswith(("http://", "https://")):
        errors.append(FieldError("apiUrl", "must be an http:// or https:// URL"))
    if new.kind == "chatwoot" and (new.poll_seconds or 0) > 0:
        for name, value in (
            ("apiUrl", new.api_url),
            ("apiToken", new.api_token),
            ("accountId", new.account_id),
        ):
            if not value:
                errors.append(FieldError(name, "is required for the availability poll"))
    if new.name is not None and not new.name.strip():
        errors.append(FieldError("name", "must not be blank"))
    return errors


def create(engine: Engine, site_id: int, new: NewConnector, now: int) -> tuple[Connector, str]:
    """A new connector and its URL secret (shown once; only its hash is kept)."""
    kind = new.kind
    poll = new.poll_seconds
    if poll is None:
        has_api = bool(new.api_url and new.api_token and new.account_id)
        poll = DEFAULT_POLL_S.get(kind, 0) if has_api else 0
        new = NewConnector(**{**_fields(new), "poll_seconds": poll})
    errors = _check(new)
    if errors:
        raise InvalidBody(errors)
    connector = Connector(
        str(uuid.uuid4()),
        site_id,
        kind,
        (new.name or kind.capitalize()).strip()[:200],
        ConnectorSettings(kind, new.signing_secret, new.api_url, new.api_token, new.account_id),
        poll,
        DEFAULT_REORDER_MS if new.reorder_ms is None else new.reorder_ms,
        now,
    )
    secret = secrets.token_hex(32)
    return store.create(engine, connector, secret), secret


def _fields(new: NewConnector) -> dict[str, Any]:
    return {name: getattr(new, name) for name in NewConnector.__slots__}


def webhook_path(connector: Connector, secret: str) -> str:
    return f"/api/v3/connectors/{connector.id}/webhook/{secret}"


def get(engine: Engine, site_id: int, connector_id: str) -> Connector:
    found = store.get(engine, site_id, _key(connector_id))
    if found is None:
        raise NotFound("connector")
    return found


def _key(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise NotFound("connector") from None


def remove(engine: Engine, site_id: int, connector_id: str, now: int) -> None:
    key = _key(connector_id)
    if not store.remove(engine, site_id, key, now):
        raise NotFound("connector")
    _opened.forget(key)


class _Opened:
    """Connectors recently opened by their webhook URL, per process, for OPEN_CACHE_S: a busy
    connector's deliveries read no row. A removal through this process takes effect at once,
    through another within OPEN_CACHE_S."""

    def __init__(self) -> None:
        self._found: dict[tuple[str, str], tuple[Connector, float]] = {}
        self._lock = threading.Lock()

    def cached(self, key: str, secret: str) -> Connector | None:
        """The connector if this process opened it within OPEN_CACHE_S (no I/O)."""
        with self._lock:
            found = self._found.get((key, secret))
        if found is not None and time.monotonic() - found[1] < OPEN_CACHE_S:
            return found[0]
        return None

    def get(self, engine: Engine, key: str, secret: str) -> Connector | None:
        found = self.cached(key, secret)
        if found is not None:
            return found
        connector = store.by_webhook(engine, key, secret)
        if connector is not None:
            with self._lock:
                if len(self._found) > 10_000:
                    self._found.clear()
                self._found[(key, secret)] = (connector, time.monotonic())
        return connector

    def forget(self, key: str) -> None:
        with self._lock:
            for cached in [k for k in self._found if k[0] == key]:
                del self._found[cached]


_opened = _Opened()
OPEN_CACHE_S = 1.0


def describe(connector: Connector) -> dict[str, Any]:
    """The connector as the API shows it (never its secrets)."""
    s = connector.settings
    return {
        "id": connector.id,
        "siteId": connector.site_id,
        "kind": connector.kind,
        "name": connector.name,
        "signingSecretSet": s.signing_secret is not None,
        "apiUrl": s.api_url,
        "apiTokenSet": s.api_token is not None,
        "accountId": s.account_id,
        "pollSeconds": connector.poll_seconds,
        "reorderMs": connector.reorder_ms,
        "createdTime": format_instant(connector.created_at),
        "lastPollTime": None
        if connector.last_poll_at is None
        else format_instant(connector.last_poll_at),
        "lastPollError": connector.last_poll_error,
    }


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
    connector = _opened.cached(key, secret)
    if connector is None:
        connector = await anyio.to_thread.run_sync(_opened.get, runtime.engine, key, secret)
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
