"""Fan-out: many wallboards, one per department, while events arrive (issue "Live at scale").

Opens `streams` Server-Sent Event streams spread over the site's first `departments`
departments (stream k watches department k mod `departments`, all four views), then sends one
single-event ingest every 1/`rate` s: a `chat.requested` routed to a department taken in turn,
which changes that department's RightNow (`visitorsWaiting`… ) and Queue. For each ingest and
each stream of its department, the latency is the arrival of the stream's first RightNow (and
Queue) event whose `id` is at least the ingest's `lastSequence`, minus the instant the ingest's
response was read. The server's CPU (user + system, all its processes) over the ingest phase is
read from /proc.

The streams are read by a small raw-socket client (one coroutine each, no HTTP library, no JSON
parsing), so that 1,000 of them cost the client little next to the server on a shared machine.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks.common import percentile

_ID = re.compile(rb"\nid: (\d+)")
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class _Stream:
    department: str
    query: str = ""  # more parameters of the stream, e.g. "&extended=true"
    arrivals: dict[bytes, list[tuple[int, float]]] = field(
        default_factory=lambda: {b"RightNow": [], b"Queue": []}
    )
    ready: asyncio.Event = field(default_factory=asyncio.Event)


async def _listen(host: str, port: int, token: str, stream: _Stream) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        (
            f"GET /api/v3/livechat/realTime/stream?departmentId={stream.department}{stream.query}"
            " HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
            "Accept: text/event-stream\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    status = await reader.readline()
    if b" 200 " not in status:
        writer.close()
        raise RuntimeError(f"stream refused: {status.decode().strip()}")
    pending = b""
    seen = 0
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return
            now = time.perf_counter()
            # Whole events end with a blank line; the fields' order is the server's (the id
            # may follow the data), and HTTP chunk sizes may stand between events.
            *complete, pending = (pending + chunk).split(b"\n\n")
            for block in complete:
                start = block.find(b"event: ")
                if start < 0:
                    continue  # a ping
                view = block[start + 7 : block.index(b"\n", start)]
                found = _ID.search(block, start)
                if found is not None and view in stream.arrivals:
                    stream.arrivals[view].append((int(found.group(1)), now))
                seen += 1
            if seen >= 4:
                stream.ready.set()
    finally:
        writer.close()


async def _first_failure(tasks: list[asyncio.Task[None]]) -> BaseException:
    """The first stream task that ends with an error (a refused stream), whenever it does."""
    for next_done in asyncio.as_completed(tasks):
        try:
            await next_done
        except Exception as err:  # returned, to be raised by the caller
            return err
    await asyncio.Event().wait()  # every stream ended cleanly: never a failure
    raise AssertionError("unreachable")


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICKS


@dataclass
class FanOut:
    streams: int
    departments: int
    rate: float
    connect_s: float
    latency_ms: dict[str, list[float]]
    missing: int
    cpu_share: float  # of one core, over the ingest phase
    ingest_ms: list[float]

    def lines(self) -> list[tuple[str, str]]:
        out = [
            (
                f"{self.streams} streams connected (all four views each)",
                f"{self.connect_s:.1f} s",
            )
        ]
        for view, values in self.latency_ms.items():
            out.append(
                (
                    f"event → stream {view} p50 / p99",
                    f"{percentile(values, 50):.0f} / {percentile(values, 99):.0f} ms "
                    f"(n={len(values)})",
                )
            )
        out.append(("server CPU while events arrive", f"{self.cpu_share * 100:.0f} % of a core"))
        out.append(
            (
                "single-event ingest p50 / p99",
                f"{percentile(self.ingest_ms, 50):.1f} / {percentile(self.ingest_ms, 99):.1f} ms",
            )
        )
        return out


async def fan_out(
    url: str,
    token: str,
    departments: list[str],
    pids: list[int],
    streams: int,
    rate: float = 20,
    seconds: float = 15,
    query: str = "",
) -> FanOut:
    host, port = url.removeprefix("http://").split(":")
    watched = [_Stream(departments[k % len(departments)], query) for k in range(streams)]
    began = time.perf_counter()
    tasks = []
    for stream in watched:  # connect in waves: a burst of 1,000 connects is not the load
        tasks.append(asyncio.create_task(_listen(host, int(port), token, stream)))
        if len(tasks) % 50 == 0:
            await asyncio.sleep(0)
    ready = asyncio.gather(*(s.ready.wait() for s in watched))
    failed = asyncio.ensure_future(_first_failure(tasks))
    done, _ = await asyncio.wait({ready, failed}, timeout=600, return_when="FIRST_COMPLETED")
    if failed in done:
        raise failed.result()
    failed.cancel()
    if ready not in done:
        raise TimeoutError("the streams did not all send their first views in 600 s")
    connect_s = time.perf_counter() - began
    await asyncio.sleep(1)  # past the minimum gap that follows each stream's snapshot
    sent: list[tuple[str, int, float]] = []
    ingest_ms: list[float] = []
    gap = 1 / rate
    count = int(seconds * rate)
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as http:
        cpu_before, wall_before = cpu_seconds(pids), time.perf_counter()
        next_at = time.perf_counter()
        for n in range(count):
            department = departments[n % len(departments)]
            event = {
                "id": str(uuid.uuid4()),
                "type": "chat.requested",
                "occurredAt": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
                "data": {
                    "chatId": str(uuid.uuid4()),
                    "visitorId": str(uuid.uuid4()),
                    "departmentId": department,
                },
            }
            sent_at = time.perf_counter()
            response = await http.post("/api/v3/livechat/events", json=event)
            done = time.perf_counter()
            response.raise_for_status()
            sent.append((department, response.json()["lastSequence"], done))
            ingest_ms.append((done - sent_at) * 1000)
            next_at += gap
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        cpu_share = (cpu_seconds(pids) - cpu_before) / (time.perf_counter() - wall_before)
    await asyncio.sleep(3)  # let the last events arrive (a benchmark, not a test)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    latency: dict[str, list[float]] = {"RightNow": [], "Queue": []}
    missing = 0
    for stream in watched:
        for department, sequence, at in sent:
            if department != stream.department:
                continue
            for view, got in stream.arrivals.items():
                first = next((t for ident, t in got if ident >= sequence), None)
                if first is None:
                    missing += 1
                else:
                    latency[view.decode()].append((first - at) * 1000)
    return FanOut(
        streams, len(departments), rate, connect_s, latency, missing, cpu_share, ingest_ms
    )
