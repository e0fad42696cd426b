"""Test helpers: event builders relative to a fixed instant T, and a real server in a thread."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from sqlalchemy import Engine

from chatpulse.api.app import create_app
from chatpulse.api.limits import server_options
from chatpulse.clock import FixedClock
from chatpulse.settings import Settings
from chatpulse.store import sites

# T: the instant every test's events are placed around (a Tuesday, 12:00 UTC).
T = dt.datetime(2026, 11, 24, 12, 0, 0, tzinfo=dt.UTC)
T_MICROS = int(T.timestamp()) * 1_000_000

ONLINE = "00000000-0000-0000-0000-000000000000"
AWAY = "00000000-0000-0000-0000-000000000001"
OFFLINE = "00000000-0000-0000-0000-000000000002"


def uid(kind: str, n: int) -> str:
    """Readable fixed UUIDs: uid("agent", 1) -> aaaaaaaa-0000-4000-8000-000000000001."""
    prefix = {
        "agent": "aaaaaaaa",
        "dept": "dddddddd",
        "chat": "cccccccc",
        "visitor": "ffffffff",
        "status": "55555555",
        "invitation": "99999999",
        "bot": "bbbbbbbb",
        "contact": "eeeeeeee",
        "event": "77777777",
    }[kind]
    return f"{prefix}-0000-4000-8000-{n:012d}"


def at(seconds: float) -> str:
    """The instant T + seconds as ISO 8601 UTC with microseconds."""
    moment = T + dt.timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ev(kind: str, seconds: float, event_id: str | None = None, **data: Any) -> dict[str, Any]:
    """One event envelope at T + seconds."""
    return {
        "id": event_id or str(uuid.uuid4()),
        "type": kind,
        "occurredAt": at(seconds),
        "data": data,
    }


class RunningClock(FixedClock):
    """A clock that starts at a chosen instant and then runs with real time: a server on it
    reads the same at any hour the suite runs, yet sees time pass between requests."""

    def __init__(self, start: int) -> None:
        super().__init__(start)
        self._origin = time.monotonic_ns()

    def now(self) -> int:
        return self.value + (time.monotonic_ns() - self._origin) // 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    base_url: str
    engine: Engine
    clock: FixedClock
    app: Any = None  # the FastAPI app it serves (its state, for white-box checks)

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30)


@contextmanager
def running_server(
    engine: Engine,
    clock: FixedClock,
    port: int = 0,
    shutdown_s: float | None = None,
    **settings_given: Any,
) -> Iterator[Server]:
    """A real uvicorn server on loopback `port` (0: a free one), serving the app over `engine`;
    it can be stopped and started again on the same port over the same database. `shutdown_s`:
    how long in-flight requests (open streams) get at shutdown, else the server's setting;
    `settings_given`: other settings than the defaults."""
    settings = Settings(
        database_url=str(engine.url),
        log_requests=False,
        **settings_given,
    )
    app = create_app(settings, engine, clock)
    options = server_options(settings)  # the protocol and event loop `chatpulse serve` runs
    if shutdown_s is not None:
        options["timeout_graceful_shutdown"] = shutdown_s
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", **options
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"test server did not start on port {port}")
        time.sleep(0.01)  # polling a flag the server sets, not standing in for synchronisation
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Server(f"http://127.0.0.1:{bound}", engine, clock, app)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        if thread.is_alive():
            raise RuntimeError("test server did not stop")


@dataclass
class SiteClient:
    """A site with an all-scope token and an HTTP client speaking for it."""

    site_id: int
    token: str
    http: httpx.Client
    server: Server

    def post_events(self, *events: dict[str, Any]) -> httpx.Response:
        return self.http.post("/api/v3/livechat/events", json=list(events))

    def ok_events(self, *events: dict[str, Any]) -> dict[str, Any]:
        response = self.post_events(*events)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def get(self, path: str, **params: Any) -> Any:
        response = self.http.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def department(self, n: int, name: str, **extra: Any) -> dict[str, Any]:
        response = self.http.post(
            "/api/v3/departments", json={"id": uid("dept", n), "name": name, **extra}
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def agent(
        self, n: int, name: str, departments: tuple[int, ...] = (), capacity: int = 3, **extra: Any
    ) -> dict[str, Any]:
        response = self.http.post(
            "/api/v3/agents",
            json={
                "id": uid("agent", n),
                "displayName": name,
                "email": f"{name.lower()}{n}@example.com",
                "departmentIds": [uid("dept", d) for d in departments],
                "maxConcurrentChats": capacity,
                **extra,
            },
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body


def new_site(server: Server, name: str = "Test site", time_zone: str = "UTC") -> SiteClient:
    site = sites.create_site(server.engine, name, time_zone, server.clock.now())
    _, token = sites.create_token(server.engine, site.id, "test", sites.ALL_SCOPES, 0)
    return SiteClient(site.id, token, server.client(token), server)
