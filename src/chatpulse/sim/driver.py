"""Drives a running ChatPulse server with the model's traffic, over the public HTTP API only:
sets up the roster, then posts each tick's events as one batch."""

from __future__ import annotations

import datetime as dt
import random
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from chatpulse.domain.events import Event
from chatpulse.domain.timeutil import MICROS, format_instant_exact
from chatpulse.domain.window import load_zone
from chatpulse.sim.model import Model
from chatpulse.sim.plan import CUSTOM_STATUSES, Plan, Roster, RosterAgent, plan_site

MAX_BATCH = 1000
MAX_PENDING = 100_000  # events kept for a server that does not answer; older ones are dropped
EVENTS_PATH = "/api/v3/livechat/events"

Log = Callable[[str], None]
# Told (seconds of past traffic replayed, seconds to replay) as the replay goes on.
Progress = Callable[[int, int], None]


class SimulationError(Exception):
    """The simulation cannot go on (server unreachable at set-up, token refused); one line."""


@dataclass(slots=True)
class Stats:
    requests: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0  # events the server found invalid (a simulator bug)
    dropped: int = 0  # events never stored: rejected, of a rejected entity, or over MAX_PENDING
    failures: int = 0  # requests that failed and were retried


def connect(url: str, token: str, timeout: float = 30.0) -> httpx.Client:
    return httpx.Client(
        base_url=url.rstrip("/"),
        headers={"Authorization": f"Bearer {token}"},
        timeout=timeout,
    )


def _call(client: httpx.Client, method: str, path: str, body: Any = None) -> Any:
    try:
        response = client.request(method, path, json=body)
    except httpx.HTTPError as err:
        raise SimulationError(f"cannot reach {client.base_url}: {err}") from None
    if response.status_code in (401, 403):
        raise SimulationError(
            f"the server refused the token ({response.status_code} on {method} {path})"
        )
    if response.status_code >= 300:
        raise SimulationError(
            f"{method} {path} answered {response.status_code}: {response.text[:200]}"
        )
    return response.json()


def site_zone(client: httpx.Client) -> dt.tzinfo:
    """The site's time zone (UTC if the server names one this machine does not know)."""
    site = _call(client, "GET", "/api/v3/site")
    return load_zone(str(site.get("timeZone") or "UTC")) or dt.UTC


def ensure_roster(client: httpx.Client, plan: Plan) -> Roster:
    """Create what the plan needs and the site lacks; reuse statuses and departments with the
    plan's names and agents with its e-mails (so a second run joins the first one's staff)."""
    statuses = {
        s["name"].casefold(): s["id"]
        for s in _call(client, "GET", "/api/v3/livechat/agentStatuses")
    }
    for name, kind in CUSTOM_STATUSES:
        if name.casefold() not in statuses:
            made = _call(
                client, "POST", "/api/v3/livechat/agentStatuses", {"name": name, "type": kind}
            )
            statuses[name.casefold()] = made["id"]
    departments = {
        d["name"].casefold(): d["id"] for d in _call(client, "GET", "/api/v3/departments")
    }
    for name in plan.departments:
        if name.casefold() not in departments:
            made = _call(
                client,
                "POST",
                "/api/v3/departments",
                {"name": name, "description": "Created by the ChatPulse simulator"},
            )
            departments[name.casefold()] = made["id"]
    department_ids = tuple(departments[n.casefold()] for n in plan.departments)
    existing = {a["email"].casefold(): a for a in _call(client, "GET", "/api/v3/agents")}
    agents = []
    for planned in plan.agents:
        doc = existing.get(planned.email.casefold())
        if doc is None:
            doc = _call(
                client,
                "POST",
                "/api/v3/agents",
                {
                    "displayName": planned.display_name,
                    "email": planned.email,
                    "firstName": planned.first_name,
                    "lastName": planned.last_name,
                    "departmentIds": [department_ids[i] for i in planned.departments],
                    "maxConcurrentChats": planned.max_concurrent_chats,
                },
            )
        agents.append(
            RosterAgent(doc["id"], tuple(doc["departmentIds"]), int(doc["maxConcurrentChats"]))
        )
    return Roster(
        department_ids,
        tuple(agents),
        lunch_status_id=statuses["lunch"],
        meeting_status_id=statuses["meeting"],
    )


def event_json(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "type": event.type,
        "occurredAt": format_instant_exact(event.occurred_at),
        "data": event.data,
    }


class Driver:
    """Posts the model's events; keeps them when the server does not answer, and drops (with a
    log line) those the server rejects, with every later event of the same entities."""

    def __init__(self, client: httpx.Client, model: Model, log: Log) -> None:
        self.client = client
        self.model = model
        self.log = log
        self.stats = Stats()
        self.pending: list[Event] = []
        self.poisoned: set[tuple[str, str]] = set()

    def catch_up(
        self, until: int, step: int = 60 * MICROS, progress: Progress | None = None
    ) -> None:
        """Run the model quickly from its start up to `until`, posting in full batches."""
        start = t = self.model.now
        while t < until:
            t = min(until, t + step)
            self.pending.extend(self.model.advance(t))
            while len(self.pending) >= MAX_BATCH:
                if not self.flush(limit=MAX_BATCH):
                    raise SimulationError(f"the server at {self.client.base_url} stopped answering")
            if progress is not None and t < until:  # the last step is told after the flush
                progress((t - start) // MICROS, (until - start) // MICROS)
        if not self.flush():
            raise SimulationError(f"the server at {self.client.base_url} stopped answering")
        if progress is not None:
            progress((until - start) // MICROS, (until - start) // MICROS)

    def tick(self, now: int) -> None:
        """Post the events that happened since the last tick, in one request (if under 1,000)."""
        self.pending.extend(self.model.advance(now))
        self.flush()

    def flush(self, limit: int | None = None) -> bool:
        """Post pending events in batches; False if the server could not take them now."""
        sent = 0
        while self.pending and (limit is None or sent < limit):
            size = min(MAX_BATCH, len(self.pending))
            batch = self.pending[:size]
            if not self._post(batch):
                if len(self.pending) > MAX_PENDING:
                    extra = len(self.pending) - MAX_PENDING
                    self.log(f"dropping {extra} events the server could not take")
                    self.stats.dropped += extra
                    del self.pending[:extra]
                return False
            del self.pending[:size]
            sent += size
        return True

    def _post(self, batch: list[Event]) -> bool:
        """Post one batch; True when it is settled (stored, or rejected and dropped)."""
        batch = [e for e in batch if e.entity() not in self.poisoned]
        for _attempt in range(5):
            if not batch:
                return True
            self.stats.requests += 1
            try:
                response = self.client.post(EVENTS_PATH, json=[event_json(e) for e in batch])
            except httpx.HTTPError as err:
                self.stats.failures += 1
                self.log(f"cannot post events: {err}; will retry")
                return False
            if response.status_code == 200:
                body = response.json()
                self.stats.accepted += int(body.get("accepted", 0))
                self.stats.duplicates += int(body.get("duplicates", 0))
                return True
            if response.status_code in (401, 403):
                raise SimulationError(f"the server refused the token ({response.status_code})")
            if response.status_code != 422:
                self.stats.failures += 1
                self.log(f"posting events answered {response.status_code}; will retry")
                return False
            batch = self._drop_rejected(batch, response)
        return True

    def _drop_rejected(self, batch: list[Event], response: httpx.Response) -> list[Event]:
        try:
            errors = response.json().get("errors") or []
        except ValueError:
            errors = []
        bad = {e["index"] for e in errors if isinstance(e.get("index"), int)}
        for error in errors[:3]:
            index = error.get("index")
            kind = batch[index].type if isinstance(index, int) and index < len(batch) else "?"
            self.log(
                f"simulator bug: the server rejected event {index} ({kind}): "
                f"{error.get('field')}: {error.get('message')}"
            )
        if not bad:  # a 422 without indexes: nothing to learn from, give the batch up
            self.log(f"the server rejected a batch: {response.text[:200]}")
            bad = set(range(len(batch)))
        self.stats.rejected += len(bad)
        self.poisoned.update(batch[i].entity() for i in bad if i < len(batch))
        kept = [e for e in batch if e.entity() not in self.poisoned]
        self.stats.dropped += len(batch) - len(kept)
        return kept

    def run(
        self,
        duration_s: float | None = None,
        stop: threading.Event | None = None,
        tick_s: float = 1.0,
        check: Callable[[], None] | None = None,
    ) -> Stats:
        """Tick every `tick_s` with the wall clock until `duration_s` passes or `stop` is set."""
        started = time.monotonic()
        next_tick = started
        while True:
            if check is not None:
                check()
            self.tick(time.time_ns() // 1000)
            if duration_s and time.monotonic() - started >= duration_s:
                break
            next_tick += tick_s
            wait = next_tick - time.monotonic()
            if wait < 0:  # fell behind (slow server): tick again at once, from now on
                next_tick, wait = time.monotonic(), 0.0
            if duration_s:
                wait = min(wait, max(0.0, started + duration_s - time.monotonic()))
            if stop is None:
                # Nothing else can stop this loop: sleep. (A timed wait on an Event never
                # returns under Debian's faketime, which tests of the hour of day run under.)
                time.sleep(wait)
            elif stop.wait(wait):
                break
        self.flush()
        return self.stats


def simulate(
    url: str,
    token: str,
    *,
    agents: int = 40,
    departments: int = 4,
    rate: float = 1.0,
    duration_s: float | None = None,
    seed: int | None = None,
    prefill_s: float = 0.0,
    prefill_progress: Progress | None = None,
    log: Log,
    ready: Callable[[Stats], None] | None = None,
    check: Callable[[], None] | None = None,
    stop: threading.Event | None = None,
) -> Stats:
    """Set up the roster on the server at `url`, replay the last `prefill_s` seconds of traffic
    quickly (past times, in order; telling `prefill_progress`), call `ready`, then send live
    traffic until stopped."""
    seed = secrets.randbits(32) if seed is None else seed
    with connect(url, token) as client:
        zone = site_zone(client)
        roster = ensure_roster(client, plan_site(random.Random(seed), agents, departments))
        now = time.time_ns() // 1000
        model = Model(roster, now - int(prefill_s * MICROS), seed, rate, zone)
        driver = Driver(client, model, log)
        if prefill_s > 0:
            driver.catch_up(now, progress=prefill_progress)
        if ready is not None:
            ready(driver.stats)
        return driver.run(duration_s, stop, check=check)
