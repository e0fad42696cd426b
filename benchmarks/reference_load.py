"""The reference load benchmark of issue "Scale": one command, one table with targets.

    .venv/bin/python -m benchmarks.reference_load [--backend sqlite|postgres|all]
        [--workers 1 2] [--agents 2000] [--days 1] [--quick] [--growth] [--large yes|no|only]
        [--alerts yes|no|only] [--alert-pairs N] [--py-spy PATH]

Builds the load once (the simulator's model, benchmarks/dataset.py: N agents in 20 departments,
20 chats an agent a day, `--days` × 24 h of history ending in a peak of ~0.15 chats waiting and
~0.75 ongoing an agent), installs it through the real ingest path on each backend (PostgreSQL:
a fresh database on the local server, dropped afterwards), starts `chatpulse serve` on it with
each worker count and measures:

- start-up: process start → first `/readyz` 200 on the loaded database;
- server time of each view: loopback HTTP, one sequential keep-alive client (`/healthz` timed
  the same way is the client + HTTP overhead included in every figure);
- throughput: 8 keep-alive clients (threads) for `--seconds` each against RightNow, against
  `/api/v3/site` (authenticated, one row: the fair "trivial endpoint", since every API request
  pays authentication; the target is judged on this ratio) and `/healthz` (no auth), with no
  ingest (RightNow answered from its cache) and with a background ingest of ~20 events/s (each
  event moves the last sequence, so RightNow is mostly recomputed);
- each windowed view over the last 7 × 24 h;
- event-to-stream latency (ingest response read → RightNow event received, 20 streams);
- every endpoint at 8 connections with `wrk` (a C client), as a share of `/healthz`;
- each view computed from scratch (no cached answer), in this process on the same database;
- fan-out (benchmarks/fanout.py): 100 streams over 20 departments, all four views, while 20
  single events a second arrive: event → stream latency and the server's CPU;
- ingest: 1,000-event batches (whole chat lifecycles) and single-event requests (1 and 8 clients);
- resident memory: VmRSS of the server process and its workers after all of the above.

`--alerts` (on by default; `only`: this stage alone, on the same site): on a server of its own,
1,000 alert rules; event → stream `alert` and event → webhook received, and the fan-out's server
CPU without and with the rules (benchmarks/alerts.py). `--py-spy PATH` records the server during
the fan-out with rules (py-spy's collapsed stacks, the file named in the table).

`--large` (on by default, off with `--quick`): then 1,000 streams over the 200 departments of a
10,000-agent site (SQLite, 1 day of history, built for it: ~10 minutes).

`--growth` instead times the views (sequential HTTP) on SQLite for 200 / 2,000 / 10,000 agents
(1 day) and for 1 / 7 / 30 days of history at 2,000 agents (see `growth()` for the exact grid).
Targets live here, never in tests.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import create_engine, text

from benchmarks.alerts import ALERT_ENV, alert_figures
from benchmarks.common import SERVER_ENV, _free_port, machine, percentile
from benchmarks.dataset import Load, install, simulate_load
from benchmarks.fanout import fan_out
from benchmarks.ingest import chat_batch
from benchmarks.stream_latency import listen
from chatpulse.store import reads
from chatpulse.store.db import make_engine, read_connection
from chatpulse.store.live import load
from chatpulse.views.compute import compute_at
from chatpulse.views.query import WINDOWED, ViewQuery, window_for

PG_SERVER = "postgresql://postgres@127.0.0.1:5432/"
VIEWS = "/api/v3/livechat/realTime/"


# ---------------------------------------------------------------- plumbing


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@dataclass
class Server:
    url: str
    host: str
    port: int
    proc: subprocess.Popen[bytes]
    startup_s: float
    log: Path

    def pids(self) -> list[int]:
        """The server process and its descendants (uvicorn's workers)."""
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
        out, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            out.append(pid)
            todo.extend(children.get(pid, []))
        return out

    def rss_mb(self) -> tuple[float, list[float]]:
        each = []
        for pid in self.pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            kb = next(int(line.split()[1]) for line in status.splitlines() if line[:6] == "VmRSS:")
            each.append(kb / 1024)
        return sum(each), each


@contextmanager
def serve(database: str, workers: int, env: dict[str, str] | None = None) -> Iterator[Server]:
    port = _free_port()
    workdir = Path(tempfile.mkdtemp(prefix="chatpulse-ref-"))
    log_path = workdir / "server.log"
    log = open(log_path, "wb")  # noqa: SIM115 - lives as long as the server
    began = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "chatpulse", "serve", "--port", str(port), "--database", database]
        + (["--workers", str(workers)] if workers > 1 else []),
        stdout=log,
        stderr=subprocess.STDOUT,
        # No cap on streams per token: the fan-out opens 1,000.
        env={**os.environ, **SERVER_ENV, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError(f"server did not start; see {log_path}")
        time.sleep(0.02)  # polling a port that is not open yet, bounded by the deadline
    startup = time.perf_counter() - began
    try:
        yield Server(url, "127.0.0.1", port, proc, startup, log_path)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        log.close()


class Client:
    """One keep-alive HTTP/1.1 connection (http.client: far less client overhead than httpx)."""

    def __init__(self, server: Server, token: str) -> None:
        self.conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}"}

    def _send(self, method: str, path: str, body: str | None, headers: dict[str, str]) -> Any:
        """Send on the kept-alive connection; reconnect once if the server closed it while
        idle (uvicorn closes idle keep-alive connections after 5 s). Repeating is safe: GETs,
        and events carry their ids (a repeat is a duplicate)."""
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                return self.conn.getresponse()
            except (ConnectionError, http.client.RemoteDisconnected):
                self.conn.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def get(self, path: str) -> bytes:
        response = self._send("GET", path, None, self.headers)
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status} {body[:300]!r}")
        return body

    def post(self, path: str, doc: Any) -> Any:
        """POST a document (a `str` is sent as already-encoded JSON)."""
        headers = {**self.headers, "Content-Type": "application/json"}
        body = doc if isinstance(doc, str) else json.dumps(doc)
        response = self._send("POST", path, body, headers)
        body = response.read()
        if response.status not in (200, 201):
            raise RuntimeError(f"POST {path}: {response.status} {body[:300]!r}")
        return json.loads(body)

    def close(self) -> None:
        self.conn.close()


def iso(micros: int) -> str:
    return dt.datetime.fromtimestamp(micros / 1e6, dt.UTC).isoformat().replace("+00:00", "Z")


def visitor_event(minutes_ago: float = 1) -> dict[str, Any]:
    at = time.time_ns() // 1000 - int(minutes_ago * 60e6)
    return {
        "id": str(uuid.uuid4()),
        "type": "visitor.arrived",
        "occurredAt": iso(at),
        "data": {"visitorId": str(uuid.uuid4())},
    }


def timed(
    fn: Callable[[], Any], repeat: int, before: Callable[[], Any] | None = None
) -> list[float]:
    fn()
    out = []
    for _ in range(repeat):
        if before is not None:
            before()
        began = time.perf_counter()
        fn()
        out.append((time.perf_counter() - began) * 1000)
    return out


def throughput(server: Server, token: str, path: str, seconds: float, clients: int = 8) -> float:
    """Requests per second of `clients` keep-alive connections hammering `path`."""
    stop = time.perf_counter() + seconds
    counts = [0] * clients
    errors: list[BaseException] = []

    def run(k: int) -> None:
        client = Client(server, token)
        try:
            client.get(path)
            while time.perf_counter() < stop:
                client.get(path)
                counts[k] += 1
        except BaseException as err:  # reported below, not swallowed
            errors.append(err)
        finally:
            client.close()

    threads = [threading.Thread(target=run, args=(k,)) for k in range(clients)]
    began = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise errors[0]
    return sum(counts) / (time.perf_counter() - began)


# Targets of issue "Live at contact-centre scale": throughput as a share of /healthz of the same
# server in the same run (no auth, no database), 8 connections, and p99 (None: no p99 target).
CEILING_TARGETS: tuple[tuple[str, str, float, float | None], ...] = (
    ("/healthz", "/healthz", 1.0, None),
    ("/api/v3/site (token + one row)", "/api/v3/site", 0.85, 10.0),
    ("RightNow", VIEWS + "RightNow", 0.7, 10.0),
    ("Queue", VIEWS + "Queue", 0.5, 10.0),
    ("Today", VIEWS + "Today", 0.5, 10.0),
    ("Agents, 100 a page", VIEWS + "Agents?pageSize=100", 0.5, 10.0),
)


def wrk(url: str, token: str, seconds: float) -> tuple[float, float]:
    """(requests/s, p99 ms) of `wrk -t1 -c8` against `url`: a C client, so that the figures
    are the server's, not a Python client's (Debian: `apt-get install wrk`)."""
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            "-c8",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "-H",
            f"Authorization: Bearer {token}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(next(line.split()[1] for line in out.splitlines() if "Requests/sec" in line))
    p99 = next(line.split()[1] for line in out.splitlines() if line.strip().startswith("99%"))
    unit = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    number = p99.rstrip("usm")
    return rate, float(number) * unit[p99[len(number) :]]


def ceiling(results: Results, config: str, server: Server, token: str, seconds: float) -> float:
    """Each endpoint's throughput and p99 at 8 connections, as a share of /healthz (returned)."""
    if shutil.which("wrk") is None:
        results.add(config, "8 connections (wrk): not measured", "wrk is not installed")
        return 0.0
    healthz = 0.0
    for name, path, share, p99_target in CEILING_TARGETS:
        # Warm: the database pages in memory and the answer computed once, as on a server that
        # has been running (the cost of a computation from scratch is measured apart).
        wrk(server.url + path, token, 1)
        rate, p99 = wrk(server.url + path, token, seconds)
        healthz = healthz or rate
        ratio = rate / healthz
        target = f"≥ {share:g}× /healthz" + (f", p99 ≤ {p99_target:g} ms" if p99_target else "")
        met = ratio >= share and (p99_target is None or p99 <= p99_target)
        results.add(
            config,
            f"wrk -c8 {name}: requests/s, p99, ÷ /healthz",
            f"{rate:,.0f}/s, {p99:.1f} ms, {ratio:.2f}",
            target,
            None if path == "/healthz" else met,
        )
    return healthz


@contextmanager
def background_ingest(server: Server, token: str, per_second: float) -> Iterator[list[int]]:
    """One single-event ingest every 1/per_second s in a thread; yields the count sent."""
    sent = [0]
    done = threading.Event()

    def run() -> None:
        client = Client(server, token)
        gap = 1 / per_second
        next_at = time.perf_counter()
        while not done.is_set():
            client.post("/api/v3/livechat/events", visitor_event())
            sent[0] += 1
            next_at += gap
            done.wait(max(0.0, next_at - time.perf_counter()))
        client.close()

    th = threading.Thread(target=run)
    th.start()
    try:
        yield sent
    finally:
        done.set()
        th.join()


# ---------------------------------------------------------------- figures


@dataclass
class Row:
    config: str
    figure: str
    value: str
    target: str = ""
    met: bool | None = None


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)

    def add(self, config: str, figure: str, value: str, target: str = "", met: bool | None = None):
        self.rows.append(Row(config, figure, value, target, met))
        mark = "" if met is None else (" met" if met else " MISSED")
        print(f"  {figure:58s} {value:34s} {target}{mark}", flush=True)

    def table(self) -> str:
        lines = [
            "| config | figure | value | target | met? |",
            "|---|---|---|---|---|",
        ]
        for r in self.rows:
            met = "" if r.met is None else ("met" if r.met else "**missed**")
            lines.append(f"| {r.config} | {r.figure} | {r.value} | {r.target} | {met} |")
        return "\n".join(lines)


def p50_p99(values: list[float]) -> str:
    return f"{percentile(values, 50):.2f} / {percentile(values, 99):.2f} ms (n={len(values)})"


def measure(
    results: Results,
    config: str,
    backend: str,
    database: str,
    token: str,
    workers: int,
    departments: list[str],
    agents: list[str],
    repeat: int,
    seconds: float,
    site_id: int,
) -> None:
    department = departments[0]
    print(f"\n[{config}] load average {load_average()}", flush=True)
    with serve(database, workers) as server:
        add = results.add
        add(config, "load average (1, 5, 15 min) at start", load_average())
        add(config, "start-up: process start → /readyz 200", f"{server.startup_s:.2f} s")
        c = Client(server, token)
        health = timed(lambda: c.get("/healthz"), repeat)
        add(config, "/healthz p50 / p99 (client + HTTP overhead)", p50_p99(health))
        site = timed(lambda: c.get("/api/v3/site"), repeat)
        add(config, "/api/v3/site p50 / p99 (auth + one row)", p50_p99(site))
        views = {
            "RightNow (cached: no ingest between requests)": (VIEWS + "RightNow", 5.0),
            "RightNow, department (cached)": (VIEWS + f"RightNow?departmentId={department}", 5.0),
            "Queue": (VIEWS + "Queue", 20.0),
            "Today": (VIEWS + "Today", 20.0),
            "Agents, page of 10": (VIEWS + "Agents", 20.0),
            "Agents, page of 100": (VIEWS + "Agents?pageSize=100", None),
        }
        for name, (path, target) in views.items():
            ms = timed(lambda p=path: c.get(p), repeat)
            p99 = percentile(ms, 99)
            add(
                config,
                f"{name} p50 / p99",
                p50_p99(ms),
                f"p99 ≤ {target:g} ms" if target else "",
                None if target is None else p99 <= target,
            )
        ingester = Client(server, token)
        miss = timed(
            lambda: c.get(VIEWS + "RightNow"),
            repeat,
            before=lambda: ingester.post("/api/v3/livechat/events", visitor_event()),
        )
        add(
            config,
            "RightNow after an ingest (cache miss) p50 / p99",
            p50_p99(miss),
            "p99 ≤ 5 ms",
            percentile(miss, 99) <= 5,
        )
        week = iso(time.time_ns() // 1000 - 7 * 86_400_000_000)
        for name, path, target in (
            ("RightNow", "RightNow", None),
            ("Today", "Today", 100.0),
            ("Agents, page of 10", "Agents", None),
        ):
            ms = timed(lambda p=path: c.get(f"{VIEWS}{p}?startTime={week}"), max(10, repeat // 5))
            add(
                config,
                f"{name} over the last 7 × 24 h p50 / p99",
                p50_p99(ms),
                f"≤ {target:g} ms (p99)" if target else "",
                None if target is None else percentile(ms, 99) <= target,
            )
        # Throughput: RightNow against the trivial endpoints of the same app, same run.
        rates: dict[str, float] = {}
        for label, path in (
            ("healthz", "/healthz"),
            ("site", "/api/v3/site"),
            ("RightNow", VIEWS + "RightNow"),
        ):
            rates[label] = throughput(server, token, path, seconds)
        with background_ingest(server, token, 20) as sent:
            began = time.perf_counter()
            rates["site+ingest"] = throughput(server, token, "/api/v3/site", seconds)
            rates["RightNow+ingest"] = throughput(server, token, VIEWS + "RightNow", seconds)
            ingest_rate = sent[0] / (time.perf_counter() - began)
        for label in ("healthz", "site", "RightNow"):
            add(config, f"8 clients, no ingest: {label} requests/s", f"{rates[label]:,.0f}")
        ratio = rates["RightNow"] / rates["site"]
        add(
            config,
            "RightNow ÷ /api/v3/site throughput, no ingest (cached)",
            f"{ratio:.2f}",
            "≥ 0.7",
            ratio >= 0.7,
        )
        add(
            config,
            "RightNow ÷ /healthz throughput, no ingest",
            f"{rates['RightNow'] / rates['healthz']:.2f}",
        )
        add(
            config,
            f"8 clients, ingest {ingest_rate:.0f} events/s: site / RightNow requests/s",
            f"{rates['site+ingest']:,.0f} / {rates['RightNow+ingest']:,.0f}",
        )
        ratio = rates["RightNow+ingest"] / rates["site+ingest"]
        add(
            config,
            "RightNow ÷ /api/v3/site throughput, under ingest",
            f"{ratio:.2f}",
            "≥ 0.7",
            ratio >= 0.7,
        )
        healthz = ceiling(results, config, server, token, seconds)
        scratch(results, config, database, site_id, department, repeat)
        fan_out_figures(results, config, server, token, departments[:20], 100, seconds * 3)
        # Event-to-stream latency, 20 streams.
        lat, missing = asyncio.run(stream_latency(server.url, token, 20, 20, 0.4))
        p99 = percentile(lat, 99)
        add(
            config,
            "event → stream latency, 20 streams, p50 / p99",
            f"{percentile(lat, 50):.1f} / {p99:.1f} ms (n={len(lat)}, missing {missing})",
            "p99 ≤ 100 ms",
            p99 <= 100 and missing == 0,
        )
        # Ingest: 1,000-event batches of whole chat lifecycles, then single events.
        # In time order, by 50 agents of their own: back-dated chats of agents with later
        # chats make every batch rebuild those agents' busy intervals (the out-of-order path,
        # eventlog._rebuild_busy_intervals), which is not what live traffic does.
        fresh = []
        for n in range(50):
            doc = {
                "displayName": f"Bench {n}",
                "email": f"bench{n}.{uuid.uuid4().hex[:8]}@example.com",
                "departmentIds": [department],
                "maxConcurrentChats": 100,
            }
            fresh.append(ingester.post("/api/v3/agents", doc)["id"])
        now = dt.datetime.now(dt.UTC)
        count = max(3, repeat // 10)
        ingester.post(
            "/api/v3/livechat/events",
            [
                {
                    "id": str(uuid.uuid4()),
                    "type": "agent.status_changed",
                    "occurredAt": iso(int((now.timestamp() - 100 * count - 60) * 1e6)),
                    "data": {"agentId": a, "statusId": "00000000-0000-0000-0000-000000000000"},
                }
                for a in fresh
            ],
        )
        # Encoded before the clock starts: the figure is the server's, not the client's JSON
        # encoder's (~10 ms a batch here, on the same two cores).
        batches = [
            json.dumps(
                chat_batch(fresh, department, now - dt.timedelta(seconds=100 * (count - b)), 100)
            )
            for b in range(count)
        ]
        events = sum(len(json.loads(body)) for body in batches)
        began = time.perf_counter()
        for batch in batches:
            ingester.post("/api/v3/livechat/events", batch)
        rate = events / (time.perf_counter() - began)
        target_met = rate >= 20_000 if backend == "sqlite" else None
        add(
            config,
            "ingest, 1,000-event batches, events/s",
            f"{rate:,.0f}",
            "≥ 20,000 (SQLite)",
            target_met,
        )
        for clients in (1, 8):
            n = max(100, repeat * 2)
            began = time.perf_counter()
            per = n // clients

            def send(_: int, per: int = per) -> None:
                cl = Client(server, token)
                for _i in range(per):
                    cl.post("/api/v3/livechat/events", visitor_event())
                cl.close()

            threads = [threading.Thread(target=send, args=(k,)) for k in range(clients)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            rate = per * clients / (time.perf_counter() - began)
            share = rate / healthz if healthz else 0.0
            add(
                config,
                f"ingest, single-event requests, {clients} client(s), requests/s (÷ /healthz)",
                f"{rate:,.0f} ({share:.2f})",
                "≥ 0.4× /healthz" if clients == 8 else "",
                (share >= 0.4) if clients == 8 and healthz else None,
            )
        total, each = server.rss_mb()
        add(
            config,
            "resident memory (VmRSS) after the run",
            f"{total:,.0f} MB"
            + (f" ({' + '.join(f'{m:.0f}' for m in each)})" if len(each) > 1 else ""),
            "≤ 500 MB",
            total <= 500,
        )
        c.close()
        ingester.close()


async def stream_latency(
    url: str, token: str, streams: int, ingests: int, gap: float
) -> tuple[list[float], int]:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=streams + 10, max_keepalive_connections=streams + 10)
    timeout = httpx.Timeout(120, read=None)
    async with (
        httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=timeout) as sse,
        httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http_,
    ):
        arrivals: list[list[tuple[int, float]]] = [[] for _ in range(streams)]
        readies = [asyncio.Event() for _ in range(streams)]
        tasks = [asyncio.create_task(listen(sse, arrivals[i], readies[i])) for i in range(streams)]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 120)
        await asyncio.sleep(1)  # past the 250 ms that follow each stream's snapshot
        returned: list[tuple[int, float]] = []
        for _ in range(ingests):
            response = await http_.post("/api/v3/livechat/events", json=visitor_event(0.1))
            done = time.perf_counter()
            response.raise_for_status()
            returned.append((response.json()["lastSequence"], done))
            await asyncio.sleep(gap)
        await asyncio.sleep(2)  # let the last events arrive (a benchmark, not a test)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    latencies: list[float] = []
    missing = 0
    for got in arrivals:
        for sequence, at in returned:
            first = next((t for ident, t in got if ident >= sequence), None)
            if first is None:
                missing += 1
            else:
                latencies.append((first - at) * 1000)
    return latencies, missing


# Issue "Live at contact-centre scale": a view computed from scratch (no cached answer), p50 of
# the server's own time: read the site's versions, compute, encode.
SCRATCH_TARGETS = {"RightNow": 1.0, "Queue": 1.0, "Today": 3.0, "Agents": 3.0}
HOUR_S = 3600


def intervals_cases(department: str) -> list[tuple[str, ViewQuery, float, str]]:
    """The Intervals view over the last 24 whole hours in 15-minute buckets (96, target 10 ms)
    and over the 31 days before the current hour in 60-minute buckets (744, target 100 ms)."""
    hour = int(time.time()) // HOUR_S * HOUR_S

    def iso(seconds: int) -> str:
        return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    day = {"start_time": iso(hour - 24 * HOUR_S), "end_time": iso(hour)}
    month = {"start_time": iso(hour - 31 * 24 * HOUR_S), "end_time": iso(hour)}
    return [
        (
            "Intervals, 24 h in 15-min buckets",
            ViewQuery(**day, interval_minutes=15),
            10.0,
            "Intervals",
        ),
        (
            "Intervals, 24 h in 15-min buckets",
            ViewQuery(department_id=department, **day, interval_minutes=15),
            10.0,
            "Intervals",
        ),
        (
            "Intervals, 31 days in 60-min buckets",
            ViewQuery(**month, interval_minutes=60),
            100.0,
            "Intervals",
        ),
    ]


def scratch(
    results: Results, config: str, database: str, site_id: int, department: str, repeat: int
) -> None:
    """Each view computed from scratch in this process on the server's database (the server
    idle meanwhile), site-wide and for one department."""
    engine = make_engine(database)
    try:
        with read_connection(engine) as conn:
            began = time.perf_counter()
            load(conn, site_id, reads.site_versions(conn, site_id), time.time_ns() // 1000)
            results.add(
                config,
                "live state loaded whole (a process's first present-moment view of the site)",
                f"{(time.perf_counter() - began) * 1000:.0f} ms",
            )
        cases = [
            (view, ViewQuery(department_id=dept), target, view)
            for view, target in SCRATCH_TARGETS.items()
            for dept in (None, department)
        ]
        cases += [
            (f"{view} extended", ViewQuery(department_id=dept, extended=True), target, view)
            for view, target in SCRATCH_TARGETS.items()
            for dept in (None, department)
        ]
        cases += intervals_cases(department)
        for label, query, target, view in cases:
            ms = []
            for _ in range(max(20, repeat // 4)):
                now = time.time_ns() // 1000
                began = time.perf_counter()
                with read_connection(engine) as conn:
                    row = reads.site_versions(conn, site_id)
                    window = window_for(row.time_zone, query, now) if view in WINDOWED else None
                    answer = compute_at(engine, conn, row, site_id, view, query, now, window)
                    orjson.dumps(answer)
                ms.append((time.perf_counter() - began) * 1000)
            p50 = percentile(ms, 50)
            results.add(
                config,
                f"{label}{', a department' if query.department_id else ''} from scratch p50 / p99",
                p50_p99(ms),
                f"p50 ≤ {target:g} ms",
                p50 <= target,
            )
    finally:
        engine.dispose()


def fan_out_figures(
    results: Results,
    config: str,
    server: Server,
    token: str,
    departments: list[str],
    streams: int,
    seconds: float,
    p99_target: float = 250.0,
    cpu_target: float | None = 0.5,
) -> None:
    """Many wallboards, one department each, all four views, while 20 events/s arrive."""
    found = asyncio.run(
        fan_out(server.url, token, departments, server.pids(), streams, 20, seconds)
    )
    label = f"fan-out, {streams} streams over {len(departments)} departments, 20 events/s"
    results.add(config, f"{label}: streams connected in", f"{found.connect_s:.1f} s")
    for view, values in found.latency_ms.items():
        p99 = percentile(values, 99)
        results.add(
            config,
            f"{label}: event → {view} p50 / p99",
            f"{percentile(values, 50):.0f} / {p99:.0f} ms (n={len(values)})",
            f"p99 ≤ {p99_target:g} ms",
            p99 <= p99_target and found.missing == 0,
        )
    results.add(
        config,
        f"{label}: server CPU",
        f"{found.cpu_share * 100:.0f} % of a core",
        f"≤ {cpu_target * 100:.0f} %" if cpu_target is not None else "",
        None if cpu_target is None else found.cpu_share <= cpu_target,
    )
    results.add(
        config,
        f"{label}: single-event ingest p50 / p99",
        f"{percentile(found.ingest_ms, 50):.1f} / {percentile(found.ingest_ms, 99):.1f} ms",
    )


def large_fan_out(results: Results, seconds: float) -> None:
    """1,000 streams, 5 for each of 200 departments of a 10,000-agent site (SQLite, 1 day)."""
    load = simulate_load(agents=10_000, departments=200, days=1, progress=print)
    print(f"large load: {describe(load)}", flush=True)
    with database_for("sqlite") as database:
        data = install(load, database)
        data.engine.dispose()
        config = "sqlite, 1 worker, 10,000 agents"
        results.add(config, "load installed through ingest", f"{data.build_seconds:.0f} s")
        with serve(database, 1) as server:
            fan_out_figures(
                results,
                config,
                server,
                data.token,
                data.departments,
                1000,
                seconds,
                p99_target=1000.0,
                cpu_target=None,
            )


# ---------------------------------------------------------------- databases


@contextmanager
def database_for(backend: str) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{Path(tempfile.mkdtemp(prefix='chatpulse-ref-')) / 'ref.db'}"
        return
    name = f"chatpulse_ref_{os.getpid()}"
    admin = create_engine(
        PG_SERVER.replace("postgresql://", "postgresql+psycopg://") + "postgres",
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_SERVER + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def describe(load: Load) -> str:
    return (
        f"{len(load.agents):,} agents in {len(load.departments)} departments, "
        f"{load.days} × 24 h of history, {load.chats:,} chats "
        f"({load.chats / load.days:,.0f} a day), "
        f"{len(load.events):,} events; at the end {load.waiting} waiting and {load.ongoing} "
        f"ongoing; site zone {load.zone}; generated in {load.generate_seconds:.0f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres", "all"), default="all")
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1, 2],
        help="PostgreSQL worker counts (SQLite runs 1)",
    )
    parser.add_argument("--agents", type=int, default=2000)
    parser.add_argument(
        "--days",
        type=int,
        default=1,
        help="history (the issue's load is 7; here it installs at ~6-9k events/s, ~1.1 M a day)",
    )
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=5.0, help="per throughput measurement")
    parser.add_argument("--quick", action="store_true", help="1 day, 200 agents, fewer repeats")
    parser.add_argument("--growth", action="store_true", help="view times as the load grows")
    parser.add_argument(
        "--large",
        choices=("yes", "no", "only"),
        default="yes",
        help="the 1,000-stream fan-out on a 10,000-agent site (builds it: ~10 min)",
    )
    parser.add_argument(
        "--alerts",
        choices=("yes", "no", "only"),
        default="yes",
        help="1,000 alert rules: event → stream alert / webhook, the fan-out's CPU with them",
    )
    parser.add_argument(
        "--alert-pairs",
        type=int,
        default=None,
        help="fan-outs without / with the rules, alternating (default 2; 1 with --quick)",
    )
    parser.add_argument("--py-spy", default=None, help="py-spy binary: profile the alert stage")
    parser.add_argument("--growth-agents", type=int, nargs="*", default=list(GROWTH_AGENTS))
    parser.add_argument("--growth-days", type=int, nargs="*", default=list(GROWTH_DAYS))
    parser.add_argument(
        "--older-rate", type=float, default=2.0, help="growth: chats an agent a day before 24 h"
    )
    args = parser.parse_args()
    if args.quick:
        args.days, args.agents, args.repeat, args.seconds = 1, 200, 50, 2.0
    when = f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
    print(f"machine: {machine()}; {when}; load average {load_average()}")
    print(f"command: .venv/bin/python -m benchmarks.reference_load {' '.join(sys.argv[1:])}")
    if args.growth:
        growth(args.repeat, args.growth_agents, args.growth_days, args.older_rate)
        return
    started = time.perf_counter()
    results = Results()
    if args.large == "only":
        large_fan_out(results, args.seconds * 3)
        print(results.table())
        return
    load = simulate_load(agents=args.agents, days=args.days, progress=print)
    print(f"load: {describe(load)}", flush=True)
    backends = ("sqlite", "postgres") if args.backend == "all" else (args.backend,)
    for backend in backends:
        with database_for(backend) as database:
            print(f"\n[{backend}] installing the load… (load average {load_average()})", flush=True)
            data = install(load, database)
            data.engine.dispose()
            results.add(
                backend,
                "load installed through ingest (1,000-event batches, in-process)",
                f"{data.build_seconds:.0f} s ({data.events / data.build_seconds:,.0f} events/s)",
            )
            for workers in (1,) if backend == "sqlite" else tuple(args.workers):
                if args.alerts == "only":
                    break
                config = f"{backend}, {workers} worker{'s' if workers > 1 else ''}"
                measure(
                    results,
                    config,
                    backend,
                    database,
                    data.token,
                    workers,
                    data.departments,
                    data.agents[:200],
                    args.repeat,
                    args.seconds,
                    data.site_id,
                )
            if args.alerts != "no":
                alerts_stage(results, backend, database, data.token, data.departments, args)
    if args.large == "yes" and not args.quick and args.alerts != "only":
        large_fan_out(results, args.seconds * 3)
    print(f"\nload: {describe(load)}")
    print(f"total run time {time.perf_counter() - started:.0f} s; load average {load_average()}\n")
    print(results.table())


def alerts_stage(
    results: Results,
    backend: str,
    database: str,
    token: str,
    departments: list[str],
    args: argparse.Namespace,
) -> None:
    """benchmarks/alerts.py on a server of its own (1 worker): the rules touch no other figure."""
    config = f"{backend}, 1 worker, alerts"
    print(f"\n[{config}] load average {load_average()}", flush=True)
    with serve(database, 1, ALERT_ENV) as server:
        alert_figures(
            results,
            config,
            server,
            lambda: Client(server, token),
            token,
            departments[:20],
            args.seconds * 3,
            samples=20 if args.quick else 100,
            pairs=args.alert_pairs or (1 if args.quick else 2),
            py_spy=args.py_spy,
        )


GROWTH_AGENTS = (200, 2000, 10_000)  # at 1 day of history
GROWTH_DAYS = (1, 7, 30)  # at 2,000 agents; 20 chats an agent in the last 24 h, 2 before


def growth(repeat: int, agents_grid: list[int], days_grid: list[int], older_rate: float) -> None:
    """View server times (sequential HTTP, SQLite, 1 worker) as the site and its history grow.

    History growth keeps the last 24 h at the full rate and fills the older days at
    `older_rate` chats an agent a day, so that "today" is the same size in every row and
    only the history behind it grows."""
    grid = [(a, 1, None) for a in agents_grid] + [
        (2000, d, older_rate) for d in days_grid if d != 1 or 2000 not in agents_grid
    ]
    rows = []
    for agents, days, older in grid:
        load = simulate_load(agents=agents, days=days, older_chats_per_agent_day=older)
        with database_for("sqlite") as database:
            data = install(load, database)
            data.engine.dispose()
            print(f"\n{describe(load)}; installed in {data.build_seconds:.0f} s", flush=True)
            with serve(database, 1) as server:
                c = Client(server, data.token)
                week = iso(time.time_ns() // 1000 - 7 * 86_400_000_000)
                figures = [f"{server.startup_s:.2f} s"]
                for path in (
                    "/healthz",
                    VIEWS + "RightNow",
                    VIEWS + "Queue",
                    VIEWS + "Today",
                    VIEWS + "Agents",
                    f"{VIEWS}Today?startTime={week}",
                ):
                    ms = timed(lambda p=path, c=c: c.get(p), repeat)
                    figures.append(f"{percentile(ms, 50):.1f} / {percentile(ms, 99):.1f}")
                total, _ = server.rss_mb()
                figures.append(f"{total:,.0f} MB")
                c.close()
        rows.append(
            f"| {agents:,} | {days} | {load.chats:,} | {len(load.events):,} | "
            f"{load.waiting} / {load.ongoing} | " + " | ".join(figures) + f" | {load_average()} |"
        )
        print(rows[-1], flush=True)
    print(
        "\n| agents | days | chats | events | waiting / ongoing | start-up | /healthz "
        "| RightNow | Queue | Today | Agents | Today, 7 × 24 h | RSS | load average |"
    )
    print("|---" * 14 + "|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
