"""Agents' availability read from a platform's API (Chatwoot sends no webhook for it).

Each process runs one poller thread. Every second it looks for connectors whose poll is due;
a lease in the connector's row (store.connectors.claim_poll) lets one process poll each round,
however many workers serve. A poll reads the agents' availability, creates or updates the
agents, and feeds a status change for each whose status differs from ChatPulse's (the others
are skipped by the repairs), through the same ingest as the webhooks.

`sync` reads the platform's agents and teams on demand (POST /api/v3/connectors/{id}/sync).
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from typing import Any

import httpx

from chatpulse.connectors.model import AgentInfo, Delivery, Fact
from chatpulse.domain.errors import ChatPulseError, FieldError, InvalidBody
from chatpulse.domain.timeutil import MICROS, from_micros
from chatpulse.services import connector_directory, connectors
from chatpulse.services.runtime import Runtime, is_unavailable
from chatpulse.store import connectors as store
from chatpulse.store.connectors import Connector

log = logging.getLogger("chatpulse.connectors")
TICK_S = 1.0
API_TIMEOUT_S = 10.0


def poll(runtime: Runtime, connector: Connector, client: httpx.Client) -> connectors.DeliveryResult:
    """One availability poll of `connector` (raises the API module's PlatformApiError)."""
    api: Any = importlib.import_module(f"chatpulse.connectors.{connector.kind}_api")
    now = runtime.clock.now()
    moment = from_micros(now)
    facts: list[Fact] = []
    agents: list[AgentInfo] = []
    for agent, status in api.fetch_agents(connector.settings, client):
        agents.append(agent)
        facts.append(
            Fact(
                f"poll:{agent.key}:{now}",
                "agent.status_changed",
                moment,
                {"agentId": agent.key, "statusId": status},
            )
        )
    connector_directory.ensure(
        runtime, connector, connector_directory.wanted([Delivery(agents=tuple(agents))]), True
    )
    delivery = Delivery(tuple(facts), delivery_id=f"poll:{now}")
    return connectors.ingest(runtime, connector, [delivery])[0]


class Poller:
    """The process's poller thread (started and stopped with the app)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="connector-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=API_TIMEOUT_S + 5)

    def _run(self) -> None:
        with httpx.Client(timeout=API_TIMEOUT_S) as client:
            while not self._stop.is_set():
                # A sleep, not a timed Event.wait: that never returns under Debian's faketime,
                # which the suite runs under to try other hours; stopping waits ≤ one tick.
                time.sleep(TICK_S)
                if self._stop.is_set():
                    break
                try:
                    self.round(client)
                except Exception as err:  # the database away: try again next tick
                    if not is_unavailable(err):
                        log.exception("connector poll round failed")
                    else:  # a known condition: one warning line, no traceback
                        log.warning("connector poll round skipped: database unavailable")

    def round(self, client: httpx.Client) -> int:
        """Poll every due connector this process wins the lease of; how many it polled."""
        runtime = self._runtime
        polled = 0
        for connector in store.pollable(runtime.engine):
            now = runtime.clock.now()
            until = now + connector.poll_seconds * MICROS
            if not store.claim_poll(runtime.engine, connector, now, until):
                continue
            error: str | None = None
            try:
                poll(runtime, connector, client)
            except Exception as err:  # the platform's API failing is reported, not fatal
                error = str(err) or type(err).__name__
                log.warning("poll of connector %s failed: %s", connector.id, error)
            store.poll_done(runtime.engine, connector, runtime.clock.now(), error)
            polled += 1
        return polled


class PlatformApiFailed(ChatPulseError):
    """The platform's API could not be read (502): its answer or the reason, one line."""

    def __init__(self, message: str) -> None:
        super().__init__(message, [FieldError("apiUrl", message)], 502)


def sync(runtime: Runtime, connector: Connector) -> tuple[int, int]:
    """Read the platform's agents and teams (groups) from its API, and create or update them
    in ChatPulse now; (agents, departments) read. A 422 when the connector has no API."""
    settings = connector.settings
    missing = [
        FieldError(name, "is not set: the connector has no API access")
        for name, value in (("apiUrl", settings.api_url), ("apiToken", settings.api_token))
        if not value
    ]
    if missing:
        raise InvalidBody(missing)
    api: Any = importlib.import_module(f"chatpulse.connectors.{connector.kind}_api")
    try:
        with httpx.Client(timeout=API_TIMEOUT_S) as client:
            if hasattr(api, "fetch_directory"):  # Chatwoot: teams' members asked separately
                agents, teams = api.fetch_directory(settings, client)
            else:
                agents = api.fetch_agents(settings, client)
                teams = api.fetch_groups(settings, client)
    except api.PlatformApiError as err:
        raise PlatformApiFailed(f"the platform's API failed: {err}") from None
    delivery = Delivery(agents=tuple(agents), teams=tuple(teams))
    connector_directory.ensure(
        runtime, connector, connector_directory.wanted([delivery]), update=True
    )
    return len(agents), len(teams)
