"""PostgreSQL going away and coming back: /readyz and the views answer 503, then recover by
themselves, without a restart. A TCP proxy in the test stands between the server and PostgreSQL,
so the shared PostgreSQL server never stops."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from chatpulse.store.db import make_engine
from tests.factories import bearer, problem, tenant
from tests.integration.procs import ServerProcess
from tests.support import free_port

pytestmark = pytest.mark.postgres

RIGHT_NOW = "/api/v3/livechat/realTime/RightNow"


class TcpProxy:
    """127.0.0.1:port → target, one pair of pump threads per connection. `stop` closes the
    listener and every connection (the database is gone); `start` listens on the same port again."""

    def __init__(self, target: tuple[str, int], port: int) -> None:
        self.target = target
        self.port = port
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            doomed, self._sockets = self._sockets, set()
        for sock in doomed:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was closed
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # stopped meanwhile
                    client.close()
                    upstream.close()
                    return
                self._sockets.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[TcpProxy]:
    url = make_url(postgres_url)
    tcp = TcpProxy((url.host or "127.0.0.1", url.port or 5432), free_port())
    tcp.start()
    yield tcp
    tcp.stop()


def test_readyz_and_views_answer_503_while_the_database_is_away_and_recover_by_themselves(
    postgres_url: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    engine: Engine = make_engine(postgres_url)
    token = tenant(engine, "Recovery")[1]
    engine.dispose()
    headers = bearer(token)
    through_proxy = make_url(postgres_url).set(host="127.0.0.1", port=proxy.port)
    server = ServerProcess(through_proxy.render_as_string(hide_password=False), tmp_path / "log")
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            assert http.get("/readyz").json() == {"status": "ready"}
            healthy = http.get(RIGHT_NOW, headers=headers)
            assert healthy.status_code == 200

            proxy.stop()  # PostgreSQL is gone: pooled connections break, new ones are refused
            for _ in range(3):
                ready = http.get("/readyz")
                assert ready.status_code == 503
                assert ready.headers["content-type"] == "application/problem+json"
                assert ready.json() == problem(
                    503,
                    "the database does not answer",
                    [{"field": "database", "message": "unreachable"}],
                )
                view = http.get(RIGHT_NOW, headers=headers)
                assert view.status_code == 503
                assert view.headers["retry-after"] == "5"
                assert view.headers["content-type"] == "application/problem+json"
                assert view.json() == problem(
                    503,
                    "database unavailable; try again shortly",
                    [{"field": "database", "message": "unreachable"}],
                )
            assert http.get("/healthz").json() == {"status": "ok"}  # the process still serves

            proxy.start()  # back, on the same port; the server was never restarted
            assert http.get("/readyz").json() == {"status": "ready"}
            again = http.get(RIGHT_NOW, headers=headers)
            assert again.status_code == 200
            assert again.json() == healthy.json()
    finally:
        server.stop()
    log = (tmp_path / "log").read_text()
    assert "Traceback" not in log  # a known condition, logged as a warning line, not a crash


def test_a_database_outage_under_load_gives_503s_and_loses_nothing(
    postgres_url: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    from tests.integration.ingest.test_kill_under_load import BATCH, Client, _wait

    engine: Engine = make_engine(postgres_url)
    site_id, token = tenant(engine, "Outage under load")
    through_proxy = make_url(postgres_url).set(host="127.0.0.1", port=proxy.port)
    server = ServerProcess(through_proxy.render_as_string(hide_password=False), tmp_path / "log")
    server.start()
    stop = threading.Event()
    clients = [Client(server.url, token, stop) for _ in range(3)]
    try:
        for client in clients:
            client.start()  # a client accepts only 200 and 503, and resends after a 503

        def acked() -> int:
            return sum(len(c.acked) for c in clients)

        for _ in range(2):  # two outages while the clients keep sending
            target = acked() + 6
            _wait(lambda target=target: acked() >= target)  # type: ignore[misc]
            proxy.stop()
            with httpx.Client(base_url=server.url, timeout=30) as http:
                _wait(lambda: http.get("/readyz").status_code == 503)
            proxy.start()
        target = acked() + 6
        _wait(lambda: acked() >= target)
        stop.set()
        for client in clients:
            client.join(timeout=60)
            assert not client.is_alive()
    finally:
        server.stop()
    told = {i for c in clients for ids in c.acked for i in ids}
    with engine.connect() as conn:
        stored = [
            row[0]
            for row in conn.execute(
                text("SELECT id FROM events WHERE site_id = :s ORDER BY seq"), {"s": site_id}
            )
        ]
        sequences = [
            row[0]
            for row in conn.execute(
                text("SELECT seq FROM events WHERE site_id = :s ORDER BY seq"), {"s": site_id}
            )
        ]
    engine.dispose()
    assert set(stored) == told and len(stored) == len(told) == BATCH * len(
        [ids for c in clients for ids in c.acked]
    )
    assert sequences == list(range(1, len(stored) + 1))
    assert "Traceback" not in (tmp_path / "log").read_text()


def test_the_alert_evaluator_waits_out_an_outage_and_judges_again(
    postgres_url: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    engine: Engine = make_engine(postgres_url)
    token = tenant(engine, "Alerts through an outage")[1]
    engine.dispose()
    headers = bearer(token)
    through_proxy = make_url(postgres_url).set(host="127.0.0.1", port=proxy.port)
    server = ServerProcess(through_proxy.render_as_string(hide_password=False), tmp_path / "log")
    server.start()
    rule = {
        "name": "visitors",
        "view": "RightNow",
        "field": "visitorOnSite",
        "comparison": ">=",
        "warning": 1,
    }

    def until(condition: Any) -> None:
        deadline = time.monotonic() + 30
        while not condition():
            assert time.monotonic() < deadline, "condition not met in time"
            time.sleep(0.05)

    try:
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
            assert http.post("/api/v3/alerts/rules", json=rule).status_code == 201
            proxy.stop()
            until(lambda: http.get("/readyz").status_code == 503)
            skipped = "alert evaluation skipped: database unavailable"
            until(lambda: skipped in (tmp_path / "log").read_text())
            proxy.start()
            until(lambda: http.get("/readyz").status_code == 200)
            moment = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
            event = {
                "id": str(uuid.uuid4()),
                "type": "visitor.arrived",
                "occurredAt": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "data": {"visitorId": str(uuid.uuid4())},
            }
            assert http.post("/api/v3/livechat/events", json=event).status_code == 200
            until(lambda: len(http.get("/api/v3/alerts").json()["alerts"]) == 1)
            (alert,) = http.get("/api/v3/alerts").json()["alerts"]
            assert (alert["severity"], alert["value"]) == ("warning", 1)
    finally:
        server.stop()
    log = (tmp_path / "log").read_text()
    assert "Traceback" not in log
    # One warning a tick at most while the database was away (the suite's tick: 100 ms), not a
    # loop retrying as fast as it fails.
    assert log.count(skipped) < 600
