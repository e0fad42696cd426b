"""Security over real HTTP: nosniff everywhere, tokens never logged, revocation at once, and
CORS (off by default, on for the configured origins only)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from chatpulse.api import limits
from chatpulse.api.middleware import JsonLogFormatter
from chatpulse.clock import FixedClock
from chatpulse.settings import Settings
from tests.factories import problem
from tests.support import Server, SiteClient, new_site, running_server

SITE = "/api/v3/site"
BOARD = "https://board.example.com"
OTHER = "https://elsewhere.example.com"


def test_every_response_says_nosniff_once(site: SiteClient) -> None:
    http = site.http
    answers = [
        http.get(SITE),  # JSON
        http.get("/api/v3/nowhere"),  # 404 problem
        httpx.get(site.server.base_url + SITE),  # 401 problem
        http.post("/api/v3/departments", content=b"x" * 70_000),  # 413 from the body limit
        http.get("/healthz"),
        http.get("/wallboard"),  # sets its own, with its CSP
    ]
    assert [r.status_code for r in answers] == [200, 404, 401, 413, 200, 200]
    assert [r.headers.get_list("x-content-type-options") for r in answers] == [["nosniff"]] * 6
    assert answers[-1].headers["content-security-policy"] == (
        "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; frame-ancestors 'none'"
    )


@pytest.fixture
def logged_server(
    engine: Engine, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Server, list[str]]]:
    """A server that writes its JSON request log (the shared one keeps it off) into a list."""
    real_install = limits.install

    def install(app: FastAPI, settings: Settings) -> limits.Limits:
        settings.log_requests = True  # read when the request-id middleware is added, after this
        return real_install(app, settings)

    monkeypatch.setattr(limits, "install", install)
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect()
    handler.setFormatter(JsonLogFormatter())
    logger = logging.getLogger("chatpulse.access")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        with running_server(engine, clock) as server:
            yield server, lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_tokens_never_reach_the_request_log(logged_server: tuple[Server, list[str]]) -> None:
    server, lines = logged_server
    site = new_site(server)
    with site.http as http, server.client("cp_not-a-real-token") as stranger:
        assert http.get(SITE, headers={"X-Request-Id": "req-1"}).status_code == 200
        assert stranger.get(SITE, headers={"X-Request-Id": "req-2"}).status_code == 401
    # Each line is written once its response has gone out: wait for both.
    deadline = time.monotonic() + 20
    while len(lines) < 2:
        assert time.monotonic() < deadline, lines
        time.sleep(0.01)  # polling a condition with a deadline
    logged = [json.loads(line) for line in lines]
    assert [(r["request_id"], r["method"], r["route"], r["status"]) for r in logged] == [
        ("req-1", "GET", SITE, 200),
        ("req-2", "GET", SITE, 401),
    ]
    for line in lines:
        assert site.token not in line
        assert "not-a-real-token" not in line
        assert "Bearer" not in line


def test_a_revoked_token_is_refused_on_its_next_request(site: SiteClient) -> None:
    created = site.http.post("/api/v3/tokens", json={"name": "wallboard"}).json()
    with site.server.client(created["token"]) as wallboard:
        assert wallboard.get(SITE).status_code == 200
        assert site.http.delete(f"/api/v3/tokens/{created['id']}").status_code == 204
        refused = wallboard.get(SITE)
    assert (refused.status_code, refused.json()) == (
        401,
        problem(
            401,
            "unknown or revoked token",
            [{"field": "authorization", "message": "unknown or revoked token"}],
        ),
    )


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {
        name: value
        for name, value in response.headers.items()
        if name.startswith("access-control-") or name == "vary"
    }


def preflight(
    http: httpx.Client,
    origin: str,
    method: str = "GET",
    headers: str = "authorization",
    path: str = SITE,
) -> httpx.Response:
    return http.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
    )


def test_without_configured_origins_no_cors_headers_are_sent(site: SiteClient) -> None:
    simple = site.http.get(SITE, headers={"Origin": BOARD})
    assert (simple.status_code, cors_headers(simple)) == (200, {})
    refused = preflight(site.http, BOARD)
    assert (refused.status_code, cors_headers(refused)) == (405, {})


@pytest.fixture
def cors_site(
    engine: Engine, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SiteClient]:
    monkeypatch.setenv("CHATPULSE_CORS_ORIGINS", f" {BOARD}, https://ops.example.com/ ")
    with running_server(engine, clock) as server:
        site = new_site(server)
        with site.http:
            yield site


def test_a_preflight_from_a_configured_origin_is_allowed(cors_site: SiteClient) -> None:
    answer = preflight(cors_site.http, BOARD, "POST")
    assert (answer.status_code, answer.text) == (200, "OK")
    assert cors_headers(answer) == {
        "access-control-allow-origin": BOARD,
        "access-control-allow-methods": "GET, POST, PUT, PATCH, DELETE",
        "access-control-allow-headers": (
            "Accept, Accept-Language, Authorization, Content-Language, Content-Type, "
            "Last-Event-ID, X-Request-Id"
        ),
        "access-control-max-age": "600",
        "vary": (
            "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, "
            "Access-Control-Request-Private-Network"
        ),
    }
    ops = preflight(cors_site.http, "https://ops.example.com")
    assert ops.headers["access-control-allow-origin"] == "https://ops.example.com"


def test_a_stream_of_another_origin_may_reconnect_with_last_event_id(
    cors_site: SiteClient,
) -> None:
    stream = "/api/v3/livechat/realTime/stream"
    answer = preflight(cors_site.http, BOARD, "GET", "authorization, last-event-id", stream)
    assert (answer.status_code, answer.headers["access-control-allow-origin"]) == (200, BOARD)


def test_responses_to_a_configured_origin_expose_the_request_id(cors_site: SiteClient) -> None:
    answer = cors_site.http.get(SITE, headers={"Origin": BOARD})
    assert answer.status_code == 200
    assert cors_headers(answer) == {
        "access-control-allow-origin": BOARD,
        "access-control-expose-headers": "X-Request-Id, Retry-After",
        "vary": "Origin",
    }


def test_other_origins_get_no_cors_headers_and_a_refused_preflight(cors_site: SiteClient) -> None:
    simple = cors_site.http.get(SITE, headers={"Origin": OTHER})
    assert simple.status_code == 200
    assert "access-control-allow-origin" not in simple.headers
    refused = preflight(cors_site.http, OTHER)
    body: dict[str, Any] = refused.json()
    assert (refused.status_code, refused.headers["content-type"], body) == (
        400,
        "application/problem+json",
        problem(
            400,
            "Disallowed CORS origin",
            [{"field": "Origin", "message": "is not allowed by the CORS policy"}],
        ),
    )
    assert "access-control-allow-origin" not in refused.headers
    wrong_method = preflight(cors_site.http, BOARD, "TRACE")
    assert (wrong_method.status_code, wrong_method.json()["errors"]) == (
        400,
        [
            {
                "field": "Access-Control-Request-Method",
                "message": "is not allowed by the CORS policy",
            }
        ],
    )
