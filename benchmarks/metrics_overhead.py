"""What the metrics middleware costs a request: GET /healthz through the whole ASGI stack, with
and without MetricsMiddleware, called in-process (no sockets, so the difference is not lost in
network noise), then over HTTP through uvicorn.

.venv/bin/python -m benchmarks.metrics_overhead [--requests 5000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from chatpulse.api import metrics
from chatpulse.api.app import create_app
from chatpulse.settings import Settings
from chatpulse.store import migrate
from chatpulse.store.db import make_engine
from tests.support import free_port


def build(url: str, with_metrics: bool) -> FastAPI:
    app = create_app(Settings(database_url=url, log_requests=False, rate_limit_per_second=0))
    if not with_metrics:
        app.user_middleware = [
            m for m in app.user_middleware if m.cls is not metrics.MetricsMiddleware
        ]
    return app


async def asgi_rounds(app: Any, requests: int) -> float:
    """Microseconds per GET /healthz, calling the app directly."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/healthz",
        "raw_path": b"/healthz",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: Any) -> None:
        return None

    started = time.perf_counter()
    for _ in range(requests):
        await app(dict(scope), receive, send)
    return (time.perf_counter() - started) / requests * 1e6


class _Route:
    path = "/healthz"


async def bare_app(scope: Any, _receive: Any, send: Any) -> None:
    """The least an app can do: what the router would note, and an empty 200."""
    scope["route"] = _Route
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def http_rounds(app: FastAPI, requests: int) -> float:
    """Microseconds per GET /healthz over one keep-alive connection to uvicorn."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(200):
                http.get("/healthz")
            started = time.perf_counter()
            for _ in range(requests):
                http.get("/healthz")
            return (time.perf_counter() - started) / requests * 1e6
    finally:
        server.should_exit = True
        thread.join(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{Path(directory) / 'bench.db'}"
        migrate.upgrade(make_engine(url))
        apps: dict[str, Any] = {"with": build(url, True), "without": build(url, False)}
        bare: dict[str, Any] = {"with": metrics.MetricsMiddleware(bare_app), "without": bare_app}
        alone: dict[str, list[float]] = {"with": [], "without": []}
        for _ in range(args.rounds):
            for name, app in bare.items():
                alone[name].append(asyncio.run(asgi_rounds(app, args.requests * 4)))
        for app in apps.values():
            asyncio.run(asgi_rounds(app, 500))  # build the middleware stack, warm up
        asgi: dict[str, list[float]] = {"with": [], "without": []}
        for _ in range(args.rounds):  # interleaved, so drift hits both alike
            for name, app in apps.items():
                asgi[name].append(asyncio.run(asgi_rounds(app, args.requests)))
        over_http = {name: http_rounds(app, args.requests) for name, app in apps.items()}
    for name in ("without", "with"):
        print(
            f"{name:>7} metrics: in-process {statistics.median(asgi[name]):7.1f} µs/request "
            f"(median of {args.rounds}), over HTTP {over_http[name]:7.1f} µs/request"
        )
    cost = statistics.median(asgi["with"]) - statistics.median(asgi["without"])
    print(f"whole app: {cost:+.1f} µs per request in-process (within the noise)")
    alone_cost = statistics.median(alone["with"]) - statistics.median(alone["without"])
    print(
        f"MetricsMiddleware around an empty app: {statistics.median(alone['with']):.1f} vs "
        f"{statistics.median(alone['without']):.1f} µs: {alone_cost:+.1f} µs per request"
    )


if __name__ == "__main__":
    main()
