"""Shared benchmark plumbing: a real `chatpulse serve` process on a fresh database."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from chatpulse.store import migrate, sites
from chatpulse.store.db import make_engine


@dataclass
class Target:
    url: str
    token: str
    site_id: int
    database: str


def machine() -> str:
    cores = os.cpu_count()
    python = platform.python_version()
    return f"{platform.node()} {platform.machine()}, {cores} cores, Python {python}"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# One client measures the server: no request log, no per-token rate limit (it would measure
# the limiter: 429s after CHATPULSE_RATE_LIMIT_BURST requests), no cap on one token's streams.
SERVER_ENV = {
    "CHATPULSE_LOG_REQUESTS": "false",
    "CHATPULSE_RATE_LIMIT_PER_SECOND": "0",
    "CHATPULSE_MAX_STREAMS_PER_TOKEN": "0",
}


@contextmanager
def served(database: str | None = None, workers: int = 1) -> Iterator[Target]:
    """Serve a fresh site on `database` (default: a new SQLite file) in a separate process."""
    workdir = Path(tempfile.mkdtemp(prefix="chatpulse-bench-"))
    database = database or f"sqlite:///{workdir / 'bench.db'}"
    engine = make_engine(database)
    migrate.upgrade(engine)
    site = sites.create_site(engine, "bench", "UTC", time.time_ns() // 1000)
    _, token = sites.create_token(engine, site.id, "bench", sites.ALL_SCOPES, 0)
    engine.dispose()
    port = _free_port()
    log = open(workdir / "server.log", "wb")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        [sys.executable, "-m", "chatpulse", "serve", "--port", str(port), "--database", database]
        + (["--workers", str(workers)] if workers > 1 else []),
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **SERVER_ENV},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"server did not start; see {workdir / 'server.log'}") from None
            time.sleep(0.05)
    try:
        yield Target(url, token, site.id, database)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):.2f} ms, p99 {percentile(values, 99):.2f} ms "
        f"(n={len(values)})"
    )


@contextmanager
def served_existing(database: str, token: str, workers: int = 1) -> Iterator[str]:
    """Serve an existing database in a separate process; yields the base URL."""
    port = _free_port()
    workdir = Path(tempfile.mkdtemp(prefix="chatpulse-bench-"))
    log = open(workdir / "server.log", "wb")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        [sys.executable, "-m", "chatpulse", "serve", "--port", str(port), "--database", database]
        + (["--workers", str(workers)] if workers > 1 else []),
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **SERVER_ENV},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"server did not start; see {workdir / 'server.log'}") from None
            time.sleep(0.05)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
