"""Request limits over real HTTP: per-token rates, failed-auth limits, body size and time,
open streams per token, header size, and a clean stop on SIGTERM."""

from __future__ import annotations

import shutil
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from chatpulse.api import limits
from chatpulse.clock import FixedClock
from chatpulse.settings import Settings
from chatpulse.store import sites
from chatpulse.store.db import make_engine
from tests.factories import tenant
from tests.integration.procs import ServerProcess
from tests.sse import SseReader
from tests.support import SiteClient, ev, new_site, running_server, uid

STREAM = "/api/v3/livechat/realTime/stream"
RIGHT_NOW = "/api/v3/livechat/realTime/RightNow"


class FakeMonotonic:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += seconds


@dataclass
class Limited:
    site: SiteClient
    limits: limits.Limits
    clock: FakeMonotonic

    def token(self, name: str = "second") -> str:
        _, secret = sites.create_token(
            self.site.server.engine, self.site.site_id, name, sites.ALL_SCOPES, 0
        )
        return secret


@contextmanager
def limited_server(
    engine: Engine, clock: FixedClock, monkeypatch: pytest.MonkeyPatch, **env: str
) -> Iterator[Limited]:
    """A real server with CHATPULSE_<name> settings from `env` and a fake monotonic clock in
    its limiters."""
    for name, value in env.items():
        monkeypatch.setenv(f"CHATPULSE_{name}", value)
    fake = FakeMonotonic()
    made: list[limits.Limits] = []
    real_install = limits.install

    def install(app: FastAPI, settings: Settings) -> limits.Limits:
        installed = real_install(app, settings)
        installed.now = fake
        made.append(installed)
        return installed

    monkeypatch.setattr(limits, "install", install)
    with running_server(engine, clock) as server:
        site = new_site(server)
        try:
            yield Limited(site, made[0], fake)
        finally:
            site.http.close()


def problem(status: int, title: str, detail: str, field: str) -> dict[str, Any]:
    return {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "errors": [{"field": field, "message": detail}],
    }


TOO_MANY = problem(429, "Too Many Requests", "too many requests for this token", "authorization")


def answer(response: httpx.Response) -> tuple[int, str | None, Any]:
    return response.status_code, response.headers.get("retry-after"), response.json()


def test_a_token_gets_exactly_burst_requests_then_429_until_its_bucket_refills(
    engine: Engine, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"RATE_LIMIT_PER_SECOND": "0.5", "RATE_LIMIT_BURST": "3"}
    with limited_server(engine, clock, monkeypatch, **env) as limited:
        http = limited.site.http
        assert [http.get("/api/v3/site").status_code for _ in range(3)] == [200, 200, 200]
        # Empty: one token takes 1 / 0.5 = 2 s.
        assert answer(http.get("/api/v3/site")) == (429, "2", TOO_MANY)
        assert answer(http.get("/api/v3/site")) == (429, "2", TOO_MANY)  # a 429 costs nothing
        limited.clock.advance(1.5)  # 0.75 of a token: 0.5 s to go, rounded up to 1
        assert answer(http.get("/api/v3/site")) == (429, "1", TOO_MANY)
        limited.clock.advance(0.5)
        assert http.get("/api/v3/site").status_code == 200
        assert answer(http.get("/api/v3/site")) == (429, "2", TOO_MANY)


def test_ingest_reads_config_and_streams_draw_on_one_bucket_per_token(
    engine: Engine, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"RATE_LIMIT_PER_SECOND": "0.5", "RATE_LIMIT_BURST": "4"}
    with limited_server(engine, clock, monkeypatch, **env) as limited:
        site = limited.site
        assert site.post_events(ev("visitor.arrived", -5, visitorId=uid("visitor", 1))).is_success
        assert site.http.get(RIGHT_NOW).status_code == 200
        assert site.http.get("/api/v3/departments").status_code == 200
        assert site.http.post("/api/v3/departments", json={"name": "Sales"}).status_code == 201
        assert answer(site.http.get(STREAM)) == (429, "2", TOO_MANY)
        assert answer(site.post_events()) == (429, "2", TOO_MANY)
        # Another token of the same site has its own bucket.
        with httpx.Client(
            base_url=site.server.base_url, headers={"Authorization": f"Bearer {limited.token()}"}
        ) as other:
            assert other.get(RIGHT_NOW).json()["visitorOnSite"] == 1


def test_a_client_whose_tokens_keep_failing_gets_429_before_any_lookup(
    engine: Engine, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"AUTH_FAILURES_PER_SECOND": "0.25", "AUTH_FAILURES_BURST": "2"}
    with limited_server(engine, clock, monkeypatch, **env) as limited:
        server = limited.site.server
        with server.client("cp_guessed") as guesser:
            unknown = problem(401, "Unauthorized", "unknown or revoked token", "authorization")
            assert answer(guesser.get("/api/v3/site")) == (401, None, unknown)
            assert answer(guesser.get("/api/v3/site")) == (401, None, unknown)
            refused = problem(
                429,
                "Too Many Requests",
                "too many requests with unknown or revoked tokens from this client",
                "authorization",
            )
            assert answer(guesser.get("/api/v3/site")) == (429, "4", refused)
            # The address is refused whatever the token: a guesser learns nothing meanwhile.
            assert answer(limited.site.http.get("/api/v3/site")) == (429, "4", refused)
            # No token at all costs no lookup and is not limited.
            with server.client() as anonymous:
                assert anonymous.get("/api/v3/site").status_code == 401
            limited.clock.advance(4)  # one failure may be spent again
            assert limited.site.http.get("/api/v3/site").status_code == 200  # spends none
            assert answer(guesser.get("/api/v3/site")) == (401, None, unknown)
            assert answer(guesser.get("/api/v3/site")) == (429, "4", refused)


def test_a_token_may_hold_max_streams_open_and_the_next_gets_429(
    engine: Engine, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    with limited_server(engine, clock, monkeypatch, MAX_STREAMS_PER_TOKEN="2") as limited:
        site = limited.site
        params = {"views": "RightNow"}
        with (
            site.http.stream("GET", STREAM, params=params) as first,
            site.http.stream("GET", STREAM, params=params) as second,
        ):
            # Readers kept: a dropped line iterator closes its response.
            readers = [SseReader(response.iter_lines()) for response in (first, second)]
            assert [reader.next_event().event for reader in readers] == ["RightNow", "RightNow"]
            refused = problem(
                429, "Too Many Requests", "this token already has 2 open streams", "stream"
            )
            assert answer(site.http.get(STREAM, params=params)) == (429, "10", refused)
            with (
                httpx.Client(
                    base_url=site.server.base_url,
                    headers={"Authorization": f"Bearer {limited.token()}"},
                ) as other,
                other.stream("GET", STREAM, params=params) as third,
            ):
                assert third.status_code == 200
        # Both closed by the client; the server notices and frees the slots.
        deadline = time.monotonic() + 20
        while limited.limits.open_streams:
            assert time.monotonic() < deadline, "the stream slots were not released"
            time.sleep(0.01)  # polling a condition with a deadline
        with site.http.stream("GET", STREAM, params=params) as again:
            assert again.status_code == 200


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_bodies_over_the_limit_get_413_and_ingest_has_its_own_limit(
    engine: Engine, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"MAX_CONFIG_BODY_BYTES": "1024", "MAX_BODY_BYTES": "4096"}
    with limited_server(engine, clock, monkeypatch, **env) as limited:
        http = limited.site.http
        large = problem(
            413, "Request Entity Too Large", "the body is larger than 1024 bytes", "body"
        )
        body = b'{"name": "Sales", "description": "' + b"x" * 1000 + b'"}'
        declared = http.post(
            "/api/v3/departments", content=body, headers={"Content-Type": "application/json"}
        )
        assert (declared.status_code, declared.json()) == (413, large)
        assert declared.headers["connection"] == "close"
        # Chunked, without Content-Length: counted as it arrives.
        chunked = http.post(
            "/api/v3/departments",
            content=chunks(body, 100),
            headers={"Content-Type": "application/json"},
        )
        assert (chunked.status_code, chunked.json()) == (413, large)
        assert http.get("/api/v3/departments").json() == []
        # Ingest: up to CHATPULSE_MAX_BODY_BYTES.
        events = [ev("visitor.arrived", -5, visitorId=uid("visitor", n)) for n in range(1, 11)]
        accepted = limited.site.post_events(*events)
        assert 1024 < len(accepted.request.content) <= 4096
        assert accepted.json()["accepted"] == 10
        many = [ev("visitor.arrived", -5, visitorId=uid("visitor", n)) for n in range(1, 41)]
        refused = limited.site.post_events(*many)
        too_large = problem(
            413, "Request Entity Too Large", "the body is larger than 4096 bytes", "body"
        )
        assert (refused.status_code, refused.json()) == (413, too_large)


def raw_exchange(base_url: str, head: bytes, body: bytes) -> bytes:
    """Send a request head and part of its body, then read until the server closes."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head + body)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def split_response(raw: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return lines[0], headers, body


@pytest.mark.parametrize(
    ("path", "media"),
    [("/api/v3/departments", "application/json"), ("/api/v3/livechat/events", "application/json")],
)
def test_a_body_that_never_finishes_arriving_gets_408(
    engine: Engine, clock: FixedClock, monkeypatch: pytest.MonkeyPatch, path: str, media: str
) -> None:
    with limited_server(engine, clock, monkeypatch, BODY_TIMEOUT_S="0.5") as limited:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {limited.site.token}"
            f"\r\nContent-Type: {media}\r\nContent-Length: 100\r\n\r\n"
        ).encode()
        # Ten of the hundred bytes promised; the client then waits for the server's answer.
        status, headers, body = split_response(
            raw_exchange(limited.site.server.base_url, head, b'{"name": "')
        )
        assert status == "HTTP/1.1 408 Request Timeout"
        assert headers["content-type"] == "application/problem+json"
        assert headers["connection"] == "close"
        slow = problem(408, "Request Timeout", "the body did not arrive within 0.5 seconds", "body")
        assert httpx.Response(408, content=body).json() == slow


@pytest.fixture
def sqlite_file(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "served.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def site_token(url: str) -> str:
    engine = make_engine(url)
    try:
        return tenant(engine, "Served")[1]
    finally:
        engine.dispose()


def test_serve_refuses_request_heads_over_the_header_limit(
    sqlite_file: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATPULSE_MAX_HEADER_BYTES", "4096")
    proc = ServerProcess(sqlite_file, tmp_path / "serve.log")
    proc.start()
    try:
        fits = httpx.get(proc.url + "/healthz", headers={"X-Padding": "p" * 3000})
        assert (fits.status_code, fits.json()) == (200, {"status": "ok"})
        over = httpx.get(proc.url + "/healthz", headers={"X-Padding": "p" * 5000})
        detail = "the request line and headers are larger than 4096 bytes"
        assert (over.status_code, over.json()) == (
            431,
            problem(431, "Request Header Fields Too Large", detail, "headers"),
        )
        assert over.headers["connection"] == "close"
        # A head that is still incomplete past the limit: the server stops buffering it and
        # answers before the app sees anything (api/http_protocol.py), connection closed.
        unfinished = b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Padding: " + b"p" * 5000
        status, headers, body = split_response(raw_exchange(proc.url, unfinished, b""))
        assert status == "HTTP/1.1 431 Request Header Fields Too Large"
        assert headers["content-type"] == "application/problem+json"
        assert headers["connection"] == "close"
        too_large = problem(431, "Request Header Fields Too Large", detail, "headers")
        assert httpx.Response(431, content=body).json() == too_large
        # What the HTTP parser refuses gets problem details too, and the connection closed.
        for head, why, field in (
            (b"BREW /healthz HTTP/1.1\r\nHost: test\r\n\r\n", "unknown HTTP method", "method"),
            (
                b"GET /healthz HTTP/1.1\r\nHo st: test\r\n\r\n",
                "malformed HTTP request: Invalid header token",
                "request",
            ),
        ):
            status, headers, body = split_response(raw_exchange(proc.url, head, b""))
            assert (status, headers["connection"]) == ("HTTP/1.1 400 Bad Request", "close")
            refused = problem(400, "Bad Request", why, field)
            assert httpx.Response(400, content=body).json() == refused
    finally:
        proc.stop()


def test_sigterm_ends_open_streams_cleanly_and_serve_exits_0(
    sqlite_file: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Graceful shutdown would wait a minute for the stream: it ends because the hub closes it.
    monkeypatch.setenv("CHATPULSE_SHUTDOWN_TIMEOUT_S", "60")
    token = site_token(sqlite_file)
    proc = ServerProcess(sqlite_file, tmp_path / "serve.log")
    proc.start()
    assert proc.proc is not None
    try:
        headers = {"Authorization": f"Bearer {token}"}
        with (
            httpx.Client(base_url=proc.url, headers=headers, timeout=30) as http,
            http.stream("GET", STREAM, params={"views": "RightNow"}) as response,
        ):
            lines = response.iter_lines()
            assert SseReader(lines).next_event().event == "RightNow"
            proc.proc.send_signal(signal.SIGTERM)
            # The rest of the stream: read to its end without a protocol error (a cancelled
            # response would end the chunked body abruptly and httpx would raise).
            rest = list(lines)
        assert all(line == "" or line.startswith(":") for line in rest), rest
        assert proc.proc.wait(timeout=30) == 0
    finally:
        proc.stop()
