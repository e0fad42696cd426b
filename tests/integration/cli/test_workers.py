"""Several worker processes over one database, against a real `chatpulse serve --workers 2`:
every response names its worker, an ingest on one worker reaches streams and reads on the other
(PostgreSQL: LISTEN/NOTIFY, polling off; SQLite: polling), a dropped LISTEN connection comes
back by itself, and `serve` refuses more workers than PostgreSQL's max_connections can hold."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from chatpulse.store.db import make_engine
from chatpulse.store.notify import APPLICATION_NAME
from tests.factories import bearer, right_now, tenant
from tests.integration.procs import ServerProcess
from tests.sse import Event, SseReader
from tests.support import Server

STREAM = "/api/v3/livechat/realTime/stream"
RIGHT_NOW = "/api/v3/livechat/realTime/RightNow"
WORKER = "x-chatpulse-worker"
TRIES = 100  # new connections tried before giving up on reaching the other worker


@pytest.fixture
def proc(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ServerProcess]:
    if database_url.startswith("postgresql"):
        # Only LISTEN/NOTIFY can tell a worker of the other's ingests.
        monkeypatch.setenv("CHATPULSE_STREAM_POLL_INTERVAL_MS", "0")
    monkeypatch.setenv("CHATPULSE_STREAM_PING_INTERVAL_MS", "500")  # reads never block long
    quiet(monkeypatch)
    server = ServerProcess(database_url, tmp_path / "server.log", workers=2)
    yield server
    server.stop()


def quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    """No request logs, and no per-token rate or stream limits: these tests make many requests
    on purpose to reach both workers."""
    monkeypatch.setenv("CHATPULSE_LOG_REQUESTS", "false")
    monkeypatch.setenv("CHATPULSE_RATE_LIMIT_PER_SECOND", "0")
    monkeypatch.setenv("CHATPULSE_MAX_STREAMS_PER_TOKEN", "0")


class Workers:
    """A site on a running two-worker server; each request on a new connection."""

    def __init__(self, server: ServerProcess, engine: Engine) -> None:
        token = tenant(engine, "workers")[1]
        self.url = server.url
        self.headers = {**bearer(token), "Connection": "close"}
        self.sequence = 0
        self.stack = ExitStack()
        self.pids: list[int] = []

    def start(self, server: ServerProcess) -> None:
        """Start the server and wait until both workers answer (the second may start later)."""
        server.start()
        answered: set[int] = set()
        deadline = time.monotonic() + 60
        while len(answered) < 2:
            assert time.monotonic() < deadline, f"only workers {answered} answered"
            with httpx.Client(base_url=self.url, timeout=10) as http:
                answered.add(int(http.get("/healthz").headers[WORKER]))
        self.pids = sorted(answered)

    def request(self, method: str, path: str, **kwargs: Any) -> tuple[int, httpx.Response]:
        with httpx.Client(base_url=self.url, headers=self.headers, timeout=30) as http:
            response = http.request(method, path, **kwargs)
        assert response.status_code == 200, response.text
        return int(response.headers[WORKER]), response

    def request_status(
        self, method: str, path: str, status: int, **kwargs: Any
    ) -> tuple[int, httpx.Response]:
        with httpx.Client(base_url=self.url, headers=self.headers, timeout=30) as http:
            response = http.request(method, path, **kwargs)
        assert response.status_code == status, response.text
        return int(response.headers[WORKER]), response

    def ingest(self) -> tuple[int, int]:
        """One visitor arrives: (the worker that stored it, its sequence)."""
        moment = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
        event = {
            "id": str(uuid.uuid4()),
            "type": "visitor.arrived",
            "occurredAt": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "data": {"visitorId": str(uuid.uuid4())},
        }
        worker, response = self.request("POST", "/api/v3/livechat/events", json=event)
        assert response.json() == {
            "accepted": 1,
            "duplicates": 0,
            "lastSequence": self.sequence + 1,
        }
        self.sequence += 1
        return worker, self.sequence

    def streams_on_both_workers(self) -> dict[int, SseReader]:
        """Open RightNow streams until one is held on each worker (the others stay open)."""
        held: dict[int, SseReader] = {}
        for _ in range(TRIES):
            with ExitStack() as attempt:
                http = attempt.enter_context(
                    httpx.Client(base_url=self.url, headers=self.headers, timeout=20)
                )
                response = attempt.enter_context(
                    http.stream("GET", STREAM, params={"views": "RightNow"})
                )
                assert response.status_code == 200
                reader = SseReader(response.iter_lines())
                first = reader.next_event(10)
                assert (first.event, first.id, first.json()) == ("RightNow", "0", right_now())
                worker = int(response.headers[WORKER])
                if worker not in held:  # kept open; a second stream on one worker is closed
                    held[worker] = reader
                    self.stack.enter_context(attempt.pop_all())
            if len(held) == 2:
                return held
        raise AssertionError(f"every stream was served by one worker: {sorted(held)}")

    def ingest_until_served_by_other(self, worker: int, reader: SseReader) -> int:
        """Ingest until a batch is stored by a worker other than `worker`; each batch's RightNow
        must reach `reader` (a stream on `worker`) before the next, so the last one can only
        have come from the other process. Returns the other worker's pid."""
        for _ in range(TRIES):
            served, sequence = self.ingest()
            event = next_right_now(reader, sequence)
            assert (event.id, event.json()) == (str(sequence), right_now(visitorOnSite=sequence))
            if served != worker:
                return served
        raise AssertionError(f"every ingest was served by worker {worker}")


def next_right_now(reader: SseReader, sequence: int) -> Event:
    """The first RightNow event that saw `sequence` (earlier ones are skipped)."""
    while True:
        event = reader.next_event(10)
        assert event.event == "RightNow", event
        if int(event.id) >= sequence:
            return event


@pytest.fixture
def workers(proc: ServerProcess, engine: Engine) -> Iterator[Workers]:
    made = Workers(proc, engine)
    made.start(proc)
    with made.stack:
        yield made


def test_ingest_on_one_worker_reaches_a_stream_on_the_other(workers: Workers) -> None:
    streams = workers.streams_on_both_workers()
    (first, first_reader), (second, second_reader) = sorted(streams.items())
    assert workers.ingest_until_served_by_other(first, first_reader) == second
    # The second worker's stream saw every ingest so far, whichever worker stored it.
    event = next_right_now(second_reader, workers.sequence)
    assert (event.id, event.json()) == (
        str(workers.sequence),
        right_now(visitorOnSite=workers.sequence),
    )
    assert workers.ingest_until_served_by_other(second, second_reader) == first


def test_a_read_on_the_other_worker_sees_the_ingest_just_made(workers: Workers) -> None:
    seen: set[int] = set()
    for _ in range(3):
        stored_by, sequence = workers.ingest()
        for _ in range(TRIES):
            read_by, response = workers.request("GET", RIGHT_NOW)
            if read_by != stored_by:
                break
        else:
            raise AssertionError(f"every read was served by worker {stored_by}")
        assert response.json() == right_now(visitorOnSite=sequence)
        seen |= {stored_by, read_by}
    assert len(seen) == 2


def listeners(engine: Engine, workers: list[int]) -> list[int]:
    """The backend pids of the LISTEN connections of these worker processes."""
    names = [APPLICATION_NAME.format(pid=pid) for pid in workers]
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE application_name = ANY(:names) ORDER BY pid"
            ),
            {"names": names},
        ).all()
    return [int(row.pid) for row in rows]


def wait_until(condition: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)  # polling a condition with a deadline


@pytest.fixture
def pg_proc(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ServerProcess]:
    monkeypatch.setenv("CHATPULSE_STREAM_POLL_INTERVAL_MS", "0")
    monkeypatch.setenv("CHATPULSE_STREAM_PING_INTERVAL_MS", "500")
    quiet(monkeypatch)
    server = ServerProcess(postgres_url, tmp_path / "server.log", workers=2)
    yield server
    server.stop()


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    yield engine
    engine.dispose()


def test_a_dropped_listen_connection_reconnects_and_misses_nothing(
    pg_proc: ServerProcess, pg_engine: Engine
) -> None:
    made = Workers(pg_proc, pg_engine)
    made.start(pg_proc)
    with made.stack:
        wait_until(lambda: len(listeners(pg_engine, made.pids)) == 2)
        ours = set(listeners(pg_engine, made.pids))
        streams = made.streams_on_both_workers()
        (first, first_reader), (second, _) = sorted(streams.items())
        with pg_engine.connect() as conn:
            for pid in sorted(ours):
                assert conn.execute(
                    text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}
                ).scalar_one()
        # Stored while the listeners may still be away: the resync on reconnection finds it.
        assert made.ingest_until_served_by_other(first, first_reader) == second
        wait_until(lambda: len(set(listeners(pg_engine, made.pids)) - ours) == 2)
        assert made.ingest_until_served_by_other(first, first_reader) == second


def test_serve_refuses_more_connections_than_postgresql_allows(
    postgres_url: str, pg_engine: Engine
) -> None:
    with pg_engine.connect() as conn:
        most, reserved = conn.execute(
            text(
                "SELECT current_setting('max_connections')::int,"
                " current_setting('superuser_reserved_connections')::int"
            )
        ).one()
    allowed = most - reserved
    pool = allowed  # two workers of one full pool each cannot fit
    done = subprocess.run(
        [sys.executable, "-m", "chatpulse", "serve", "--workers", "2", "--database", postgres_url],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "CHATPULSE_POOL_SIZE": str(pool), "CHATPULSE_POOL_OVERFLOW": "0"},
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        f"chatpulse: --workers 2 may open {2 * (pool + 2)} database connections "
        f"(2 × ({pool} pool + 0 overflow + 1 listener + 1 probe)), but the server allows "
        f"{allowed} "
        f"(max_connections {most} − {reserved} reserved): lower --workers, CHATPULSE_POOL_SIZE "
        "or CHATPULSE_POOL_OVERFLOW\n"
    )


def test_every_response_names_the_process_that_served_it(server: Server) -> None:
    with httpx.Client(base_url=server.base_url) as http:
        answers = [http.get("/healthz"), http.get("/api/v3/site"), http.get("/nowhere")]
    assert [r.status_code for r in answers] == [200, 401, 404]
    assert [r.headers[WORKER] for r in answers] == [str(os.getpid())] * 3


def test_a_revoked_token_is_refused_at_once_here_and_within_a_second_on_the_other_worker(
    workers: Workers,
) -> None:
    """Tokens are trusted from memory for at most CHATPULSE_TOKEN_CACHE_S (1 s by default):
    the worker that revoked refuses the token's very next request, the other within 1 s."""
    _, created = workers.request_status("POST", "/api/v3/tokens", 201, json={"name": "board"})
    board = {"Authorization": f"Bearer {created.json()['token']}", "Connection": "close"}

    def read() -> tuple[int, int]:
        with httpx.Client(base_url=workers.url, headers=board, timeout=30) as http:
            response = http.get(RIGHT_NOW)
        return int(response.headers[WORKER]), response.status_code

    warmed: set[int] = set()
    for _ in range(TRIES):  # both workers now hold the token in memory
        worker, status = read()
        assert status == 200
        warmed.add(worker)
        if len(warmed) == 2:
            break
    assert len(warmed) == 2, f"every read was served by one worker: {warmed}"

    revoker, _ = workers.request_status("DELETE", f"/api/v3/tokens/{created.json()['id']}", 204)
    revoked_at = time.monotonic()
    refused_by: set[int] = set()
    while refused_by != set(warmed):
        sent = time.monotonic()
        assert sent < revoked_at + 5, f"still accepted by {set(warmed) - refused_by}"
        worker, status = read()
        if worker == revoker or sent > revoked_at + 1.0:
            assert status == 401, (worker, sent - revoked_at)
        if status == 401:
            refused_by.add(worker)
        else:
            assert status == 200


def next_alert(reader: SseReader) -> list[tuple[str, Any]]:
    """The next `alert` event (view events skipped): (severity, value) of each alert."""
    while True:
        event = reader.next_event(10)
        if event.event == "alert":
            return [(a["severity"], a["value"]) for a in event.json()["alerts"]]


def test_one_worker_judges_the_rules_and_both_workers_streams_hear_the_alerts(
    workers: Workers,
) -> None:
    rule = {
        "name": "visitors",
        "view": "RightNow",
        "field": "visitorOnSite",
        "comparison": ">=",
        "warning": 1,
        "critical": 3,
    }
    with httpx.Client(base_url=workers.url, headers=workers.headers, timeout=30) as http:
        assert http.post("/api/v3/alerts/rules", json=rule).status_code == 201
    held: dict[int, SseReader] = {}
    for _ in range(TRIES):
        with ExitStack() as attempt:
            http = attempt.enter_context(
                httpx.Client(base_url=workers.url, headers=workers.headers, timeout=20)
            )
            response = attempt.enter_context(
                http.stream("GET", STREAM, params={"views": "RightNow", "alerts": "true"})
            )
            reader = SseReader(response.iter_lines())
            assert reader.next_event(10).event == "RightNow"
            assert next_alert(reader) == []
            worker = int(response.headers[WORKER])
            if worker not in held:
                held[worker] = reader
                workers.stack.enter_context(attempt.pop_all())
        if len(held) == 2:
            break
    assert sorted(held) == workers.pids
    workers.ingest()
    for reader in held.values():
        assert next_alert(reader) == [("warning", 1)]
    workers.ingest()
    workers.ingest()
    for reader in held.values():
        assert next_alert(reader) == [("critical", 3)]
    _, response = workers.request("GET", "/api/v3/alerts/history")
    assert [(t["from"], t["to"], t["value"]) for t in response.json()["transitions"]] == [
        ("ok", "warning", 1),
        ("warning", "critical", 3),
    ]
