"""The alert webhooks' dispatcher (docs/alert_webhooks.md): sends the outbox that the
evaluator fills, at least once, in order per endpoint.

One per server process, in its own thread with its own asyncio loop and HTTP client, so that
sending never takes a worker thread, a pooled connection or a moment of the event loop from
ingest and the views. Each endpoint (webhook) is served by its own task: a slow or dead one
delays only itself. A task first takes the endpoint's lease (`alert_webhooks.lease_until`,
wall clock), so that however many processes run, one sends an endpoint at a time; then it sends
the head (the lowest pending transition) until delivered or given up, then the next one, and
lets the lease go when nothing is due within HOLD_S.

A delivery is marked delivered only after a 2xx: a process killed mid-request leaves it
pending, and whoever holds the lease next sends it again, same delivery id (receivers dedupe
on it). Waits are asyncio sleeps: a timed threading wait never returns under Debian's faketime.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from chatpulse.domain import addresses
from chatpulse.domain.alert_webhooks import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    USER_AGENT,
    backoff_micros,
    host_and_port,
    signature,
)
from chatpulse.domain.timeutil import MICROS
from chatpulse.services.runtime import Runtime, is_unavailable
from chatpulse.store import alert_webhooks as store
from chatpulse.store.alert_webhooks import Delivery, Webhook

log = logging.getLogger("chatpulse.alerts")
T = TypeVar("T")

POLL_S = 0.2  # the outbox is looked at this often (and at once when woken)
HOLD_S = 5.0  # a task keeps its endpoint through a retry due within this; longer: it lets go
LEASE_MARGIN_S = 5.0  # a lease must outlast an attempt's timeout by this much when it starts

# Outcomes of an attempt, as counted (chatpulse_alert_webhook_deliveries_total{outcome}).
DELIVERED, RETRIED, FAILED, REFUSED = "delivered", "retried", "failed", "refused"


def wall_micros() -> int:
    """The wall clock, for leases between processes (never an injected clock)."""
    return time.time_ns() // 1000


@dataclass(frozen=True, slots=True)
class Attempt:
    status: int | None  # the HTTP status, when one came
    error: str | None  # None: delivered
    refused: bool = False  # the address policy refused the host


class Dispatcher:
    """The process's dispatcher; `count` hears each attempt's outcome (the metrics)."""

    def __init__(
        self,
        runtime: Runtime,
        count: Callable[[str], None] = lambda outcome: None,
        rng: random.Random | None = None,
    ) -> None:
        self._runtime = runtime
        self._count = count
        self._rng = rng or random.Random()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stopping = False
        self._started = threading.Event()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        settings = runtime.settings
        self._timeout_s = settings.alert_webhook_timeout_ms / 1000
        self._lease_us = int(
            max(settings.alert_webhook_lease_ms / 1000, self._timeout_s + LEASE_MARGIN_S) * MICROS
        )

    # ---- from other threads -----------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="alert-dispatcher", daemon=True)
        self._thread.start()
        self._started.wait()  # untimed: set first thing by the thread
        self._runtime.outbox_listeners.append(self.wake)

    def wake(self) -> None:
        """Look at the outbox now (thread-safe): call after committing transitions."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: stopping
                loop.call_soon_threadsafe(wake.set)

    def stop(self) -> None:
        """Stop sending: a request in flight is abandoned (its delivery stays pending and is
        sent again), leases are let go."""
        self._stopping = True
        if self.wake in self._runtime.outbox_listeners:
            self._runtime.outbox_listeners.remove(self.wake)
        self.wake()
        if self._thread is not None:
            self._thread.join(timeout=self._timeout_s + 10)

    # ---- the dispatcher's loop --------------------------------------------------------------

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        finally:
            self._started.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._started.set()
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=20)
        async with httpx.AsyncClient(
            follow_redirects=False, limits=limits, trust_env=False
        ) as client:
            while not self._stopping:
                await self._round(client)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), POLL_S)
                self._wake.clear()
            tasks = list(self._tasks.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _db(self, call: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(call, self._runtime.engine, *args)

    async def _round(self, client: httpx.AsyncClient) -> None:
        """Start a task for every endpoint with a due head that no task of ours serves."""
        try:
            due = await self._db(store.due_endpoints, self._runtime.clock.now(), wall_micros())
        except Exception as err:
            _log_failure("alert webhook round skipped", err)
            return
        for webhook_id in due:
            if webhook_id in self._tasks or self._stopping:
                continue
            task = asyncio.create_task(self._serve(webhook_id, client))
            self._tasks[webhook_id] = task
            task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        for key, running in list(self._tasks.items()):
            if running is task:
                del self._tasks[key]

    async def _serve(self, webhook_id: str, client: httpx.AsyncClient) -> None:
        """Send the endpoint's due deliveries in order while this process holds its lease."""
        held = wall_micros() + self._lease_us
        try:
            if not await self._db(store.claim, webhook_id, wall_micros(), held):
                return
        except Exception as err:
            _log_failure("alert webhook lease not taken", err)
            return
        try:
            while not self._stopping:
                found = await self._db(store.head, webhook_id)
                if found is None:
                    return
                hook, delivery = found
                if hook.deleted_at is not None:  # queued while it was being deleted
                    await self._db(store.fail_pending, webhook_id, "webhook deleted")
                    return
                wait_s = (delivery.next_attempt_at - self._runtime.clock.now()) / MICROS
                if wait_s > 0:
                    if wait_s > HOLD_S:
                        return  # the round finds it again when due, whichever process
                    await self._sleep(wait_s)
                    continue
                if held - wall_micros() < (self._timeout_s + LEASE_MARGIN_S) * MICROS:
                    until = wall_micros() + self._lease_us
                    if not await self._db(store.renew, webhook_id, held, until):
                        return  # taken over (this process stalled past its lease)
                    held = until
                attempt = await self._attempt(client, hook, delivery)
                await self._record(delivery, attempt)
        except asyncio.CancelledError:
            raise
        except Exception as err:
            _log_failure("alert webhook endpoint paused", err)
        finally:
            try:
                await asyncio.shield(self._db(store.release, webhook_id, held))
            except (Exception, asyncio.CancelledError) as err:
                if not isinstance(err, asyncio.CancelledError):
                    _log_failure("alert webhook lease not released", err)

    async def _sleep(self, seconds: float) -> None:
        """Sleep, or less when stopping (the wake event is the stop signal too)."""
        assert self._wake is not None
        deadline = asyncio.get_running_loop().time() + seconds
        while not self._stopping:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return
            await asyncio.sleep(min(left, POLL_S))

    async def _attempt(
        self, client: httpx.AsyncClient, hook: Webhook, delivery: Delivery
    ) -> Attempt:
        """One POST of the delivery's stored body, signed now."""
        settings = self._runtime.settings
        if not settings.alert_webhooks_allow_private:
            refused = await _refusal(hook.url)
            if refused is not None:
                return Attempt(None, refused, refused=True)
        body = delivery.body.encode()
        timestamp = self._runtime.clock.now() // MICROS
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            DELIVERY_HEADER: delivery.id,
            SIGNATURE_HEADER: signature(hook.secret, timestamp, body),
        }
        try:
            async with asyncio.timeout(self._timeout_s):
                request = client.build_request(
                    "POST", hook.url, content=body, headers=headers, timeout=self._timeout_s
                )
                response = await client.send(request, stream=True)
                await response.aclose()  # the answer's body is never read
        except TimeoutError:
            return Attempt(None, f"timeout after {self._timeout_s:g} s")
        except httpx.TimeoutException:
            return Attempt(None, f"timeout after {self._timeout_s:g} s")
        except httpx.ConnectError as err:
            return Attempt(None, _connect_error(err))
        except httpx.HTTPError as err:
            return Attempt(None, f"{type(err).__name__}: {err}" if str(err) else type(err).__name__)
        if 200 <= response.status_code < 300:
            return Attempt(response.status_code, None)
        return Attempt(response.status_code, f"HTTP {response.status_code}")

    async def _record(self, delivery: Delivery, attempt: Attempt) -> None:
        settings = self._runtime.settings
        now = self._runtime.clock.now()
        next_at: int | None = None
        if attempt.error is None:
            outcome = DELIVERED
        else:
            delay = backoff_micros(
                delivery.attempts + 1,
                settings.alert_webhook_retry_base_ms,
                settings.alert_webhook_retry_cap_ms,
                self._rng,
            )
            deadline = delivery.created_at + int(settings.alert_webhook_retry_for_s * MICROS)
            if now + delay <= deadline:
                next_at = now + delay
                outcome = REFUSED if attempt.refused else RETRIED
            else:
                outcome = FAILED
        if await self._db(
            store.record_attempt, delivery, now, attempt.status, attempt.error, next_at
        ):
            self._count(outcome)
            if outcome == FAILED:
                log.warning(
                    "alert webhook delivery %s given up after %d attempts: %s",
                    delivery.id,
                    delivery.attempts + 1,
                    attempt.error,
                )


async def _refusal(url: str) -> str | None:
    """Why the URL's host may not be sent to now (None: it may): resolved at each attempt, so
    that a name pointed at an inside address after its check is refused too."""
    host, port = host_and_port(url)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return f"host {host[:100]} does not resolve"
    refused = addresses.first_refusal([str(info[4][0]) for info in infos])
    if refused is None:
        return None
    return f"address {refused[0]} refused: {refused[1]}"


def _connect_error(err: httpx.ConnectError) -> str:
    text = str(err)
    if "refused" in text.lower():
        return "connection refused"
    return f"cannot connect: {text}" if text else "cannot connect"


def _log_failure(what: str, err: Exception) -> None:
    if is_unavailable(err):
        log.warning("%s: database unavailable", what)
    else:
        log.error("%s", what, exc_info=err)
