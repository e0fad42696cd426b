"""Drives a connector's webhook URL with the simulator's traffic, as a chat platform would:
one POST per change, several in flight at once (platforms deliver concurrently)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from chatpulse.domain.timeutil import MICROS
from chatpulse.sim.chatwoot import Account
from chatpulse.sim.driver import Log, Progress, SimulationError
from chatpulse.sim.model import Model

IN_FLIGHT = 32  # deliveries posted at once
RETRIES = 5


@dataclass(slots=True)
class WebhookStats:
    deliveries: int = 0
    accepted: int = 0
    duplicates: int = 0
    dropped: int = 0
    failures: int = 0  # posts that failed and were retried


class WebhookDriver:
    """Posts each model event's webhooks to `webhook_url`."""

    def __init__(self, webhook_url: str, account: Account, model: Model, log: Log) -> None:
        self.url = webhook_url
        self.account = account
        self.model = model
        self.log = log
        self.stats = WebhookStats()
        self._client = httpx.Client(timeout=30)
        self._pool = ThreadPoolExecutor(IN_FLIGHT, thread_name_prefix="webhook")
        self._lock = threading.Lock()

    def close(self) -> None:
        self._pool.shutdown()
        self._client.close()

    def advance(self, until: int) -> None:
        payloads: list[dict[str, Any]] = []
        for event in self.model.advance(until):
            payloads.extend(self.account.webhooks(event))
        for start in range(0, len(payloads), IN_FLIGHT * 8):
            list(self._pool.map(self._post, payloads[start : start + IN_FLIGHT * 8]))

    def _post(self, payload: dict[str, Any]) -> None:
        for _attempt in range(RETRIES):
            try:
                response = self._client.post(self.url, json=payload)
            except httpx.HTTPError as err:
                with self._lock:
                    self.stats.failures += 1
                self.log(f"cannot post a webhook: {err}; will retry")
                time.sleep(0.5)
                continue
            if response.status_code == 200:
                body = response.json()
                with self._lock:
                    self.stats.deliveries += 1
                    self.stats.accepted += int(body.get("accepted", 0))
                    self.stats.duplicates += int(body.get("duplicates", 0))
                    self.stats.dropped += int(body.get("dropped", 0))
                return
            if response.status_code in (401, 404):
                raise SimulationError(f"the connector refused the webhook ({response.status_code})")
            with self._lock:
                self.stats.failures += 1
            time.sleep(0.5)
        self.log("a webhook could not be delivered; given up")

    def catch_up(self, until: int, step_s: float = 60.0, progress: Progress | None = None) -> None:
        """Replay the model's traffic up to `until` (past times), a minute at a time."""
        start = t = self.model.now
        while t < until:
            t = min(until, t + int(step_s * MICROS))
            self.advance(t)
            if progress is not None:
                progress((t - start) // MICROS, (until - start) // MICROS)

    def run(
        self,
        duration_s: float | None = None,
        stop: threading.Event | None = None,
        check: Callable[[], None] | None = None,
    ) -> WebhookStats:
        """Live: every second, the second's webhooks."""
        started = time.monotonic()
        while not (duration_s and time.monotonic() - started >= duration_s):
            if check is not None:
                check()
            self.advance(time.time_ns() // 1000)
            if stop is None:
                time.sleep(1.0)  # (a timed Event wait never returns under Debian's faketime)
            elif stop.wait(1.0):
                break
        return self.stats
