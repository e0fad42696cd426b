"""The log of a real `chatpulse serve` process: one JSON object per line, no secrets, and an
unexpected error logged with its request id and traceback while the client learns nothing."""

from __future__ import annotations

import io
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, text

from chatpulse.api.app import create_app
from chatpulse.api.middleware import configure_logging
from chatpulse.settings import Settings
from tests.factories import bearer, problem, tenant
from tests.integration.procs import ServerProcess
from tests.support import free_port

RIGHT_NOW = "/api/v3/livechat/realTime/RightNow"


@pytest.fixture
def proc(proc: ServerProcess) -> ServerProcess:
    """The integration tests' server process, started."""
    proc.start()
    return proc


def json_lines(proc: ServerProcess) -> list[dict[str, Any]]:
    """Every line of the server's output, each parsed as a JSON object (fails on any other)."""
    proc.stop()  # everything written and flushed
    lines = proc.log.read_text().splitlines()
    assert lines
    parsed = [json.loads(line) for line in lines]
    for entry in parsed:
        assert isinstance(entry, dict)
        assert {"time", "level", "logger", "message"} <= entry.keys()
        assert entry["time"].endswith("Z")
        assert entry["level"] in ("debug", "info", "warning", "error", "critical")
    return parsed


def requests_logged(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["request_id"]: e for e in entries if e["logger"] == "chatpulse.access"}


def test_each_request_is_one_json_line_with_its_route_template_and_no_secret(
    proc: ServerProcess, engine: Engine
) -> None:
    _, token = tenant(engine, "Logging")
    secret_in_query = "qs-secret-5f1e"
    with httpx.Client(base_url=proc.url, headers={"Authorization": f"Bearer {token}"}) as http:
        named = http.get(RIGHT_NOW, headers={"X-Request-Id": "trace-abc-123"})
        assert named.status_code == 200
        assert named.headers["x-request-id"] == "trace-abc-123"
        queried = http.get(
            RIGHT_NOW, params={"token": secret_in_query, "access_token": secret_in_query}
        )
        department = "dddddddd-0000-4000-8000-0000000000f7"
        missing = http.get(f"/api/v3/departments/{department}")
        assert missing.status_code == 404
        scanned = http.get("/.env", headers={"X-Request-Id": "bad id with spaces"})
        assert scanned.status_code == 404
        refused = http.get(RIGHT_NOW, headers={"Authorization": "Bearer wrong-token-9c2d"})
        assert refused.status_code == 401
    entries = json_lines(proc)
    logged = requests_logged(entries)

    assert logged["trace-abc-123"] == {
        **{k: logged["trace-abc-123"][k] for k in ("time", "duration_ms")},
        "level": "info",
        "logger": "chatpulse.access",
        "message": "request",
        "request_id": "trace-abc-123",
        "method": "GET",
        "route": RIGHT_NOW,
        "status": 200,
    }
    assert logged["trace-abc-123"]["duration_ms"] >= 0
    assert logged[queried.headers["x-request-id"]]["route"] == RIGHT_NOW
    assert logged[missing.headers["x-request-id"]]["route"] == "/api/v3/departments/{department_id}"
    assert logged[missing.headers["x-request-id"]]["status"] == 404
    # A request id that is not sane is replaced by ours (32 hex digits).
    scanned_id = scanned.headers["x-request-id"]
    assert len(scanned_id) == 32 and int(scanned_id, 16) >= 0
    assert logged[scanned_id]["route"] == "unmatched"
    assert logged[refused.headers["x-request-id"]]["status"] == 401
    everything = proc.log.read_text()
    for secret in (token, secret_in_query, "wrong-token-9c2d", department):
        assert secret not in everything
    assert "Authorization" not in everything and "authorization" not in everything


def _rename(engine: Engine, old: str, new: str) -> None:
    with engine.begin() as conn:
        conn.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))


def test_an_unexpected_error_is_logged_with_its_traceback_and_the_client_gets_a_bare_500(
    proc: ServerProcess, engine: Engine
) -> None:
    _, token = tenant(engine, "Logging")
    headers = bearer(token)
    # A broken schema (a table the live state of RightNow loads from, renamed): nothing a
    # request can fix.
    _rename(engine, "agent_states", "agent_states_moved")
    try:
        failed = httpx.get(proc.url + RIGHT_NOW, headers=headers)
    finally:
        _rename(engine, "agent_states_moved", "agent_states")
    assert failed.status_code == 500
    assert failed.headers["content-type"] == "application/problem+json"
    assert failed.json() == problem(
        500, "internal error; the request id identifies it in the server log"
    )
    assert httpx.get(proc.url + RIGHT_NOW, headers=headers).status_code == 200
    request_id = failed.headers["x-request-id"]
    entries = json_lines(proc)

    errors = [e for e in entries if e["level"] == "error"]
    assert len(errors) == 1
    error = errors[0]
    assert (error["logger"], error["message"], error["request_id"]) == (
        "chatpulse",
        "unexpected error",
        request_id,
    )
    assert (error["method"], error["route"]) == ("GET", RIGHT_NOW)
    assert error["error"] in ("OperationalError", "ProgrammingError")
    assert error["traceback"].startswith("Traceback (most recent call last):")
    assert "agent_states" in error["traceback"]
    assert requests_logged(entries)[request_id]["status"] == 500


def _until_closed(port: int, request: bytes) -> bytes:
    """Send one HTTP/1.1 request (keep-alive by default) and read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(request)
        received = b""
        while chunk := conn.recv(65536):  # b"" only when the server closed its end
            received += chunk
    return received


@pytest.fixture
def json_logging() -> Iterator[io.StringIO]:
    """configure_logging() as `serve` does it, its one handler writing to a buffer instead of
    stderr; undone afterwards (it replaces global handlers)."""
    names = ("chatpulse", "uvicorn", "uvicorn.error", "uvicorn.access")
    saved = {
        name: (lg.handlers[:], lg.level, lg.propagate, lg.filters[:], lg.disabled)
        for name in names
        for lg in [logging.getLogger(name)]
    }
    configure_logging()
    buffer = io.StringIO()
    (handler,) = logging.getLogger("chatpulse").handlers
    assert logging.getLogger("uvicorn").handlers == [handler]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    yield buffer
    for name, (handlers, level, propagate, filters, disabled) in saved.items():
        lg = logging.getLogger(name)
        lg.handlers[:], lg.filters[:] = handlers, filters
        lg.level, lg.propagate, lg.disabled = level, propagate, disabled


def test_a_bug_outside_the_database_is_one_json_error_line_and_no_plain_text(
    json_logging: io.StringIO, engine: Engine
) -> None:
    app = create_app(Settings(database_url=str(engine.url)), engine)

    def broken() -> None:
        raise RuntimeError("internal detail 7b3e")

    app.add_api_route("/api/v3/livechat/broken", broken)
    server = uvicorn.Server(uvicorn.Config(app, port=free_port(), log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive()
            time.sleep(0.01)  # polling a flag the server sets
        port = server.config.port
        failed = httpx.get(f"http://127.0.0.1:{port}/api/v3/livechat/broken")
        raw = _until_closed(port, b"GET /api/v3/livechat/broken HTTP/1.1\r\nHost: x\r\n\r\n")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert failed.status_code == 500
    assert failed.json() == problem(
        500, "internal error; the request id identifies it in the server log"
    )
    # The server says it closes the connection, and does (a keep-alive client reads EOF).
    assert failed.headers["connection"] == "close"
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 500 ")
    assert b"\r\nconnection: close" in head.lower()
    assert json.loads(body)["status"] == 500
    lines = json_logging.getvalue().splitlines()
    entries = [json.loads(line) for line in lines]  # every line JSON: no plain-text traceback
    errors = [e for e in entries if e["level"] == "error"]
    raw_id = re.search(rb"\r\nx-request-id: (\w+)", head, re.IGNORECASE)
    assert raw_id is not None
    assert [(e["message"], e["request_id"], e["route"], e["error"]) for e in errors] == [
        ("unexpected error", request_id, "/api/v3/livechat/broken", "RuntimeError")
        for request_id in (failed.headers["x-request-id"], raw_id.group(1).decode())
    ]
    assert "internal detail 7b3e" in errors[0]["traceback"]
    access = requests_logged(entries)[failed.headers["x-request-id"]]
    assert (access["route"], access["status"]) == ("/api/v3/livechat/broken", 500)
