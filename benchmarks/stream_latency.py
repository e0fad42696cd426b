"""Stream latency: ingest returned → RightNow event received, with N open streams (SPEC.md §3.5).

.venv/bin/python -m benchmarks.stream_latency [--streams 100] [--ingests 40] [--gap-ms 400]
    [--database URL]

Each ingest is one `visitor.arrived` (it changes RightNow). Ingests are `--gap-ms` apart, more
than the 250 ms per-view minimum, so every ingest gets its own event; the latency of ingest k on
a stream is the arrival of that stream's first RightNow event with `id` ≥ k's `lastSequence`,
minus the instant the ingest's response was read. Client and server share the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import time
import uuid

import httpx

from benchmarks.common import machine, percentile, served


async def listen(
    http: httpx.AsyncClient, arrivals: list[tuple[int, float]], ready: asyncio.Event
) -> None:
    """Read one stream; record (id, arrival) of every RightNow event."""
    async with http.stream("GET", "/api/v3/livechat/realTime/stream") as response:
        response.raise_for_status()
        event, ident = "", 0
        async for line in response.aiter_lines():  # an event ends with a blank line
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("id: "):
                ident = int(line[4:])
            elif not line and event:
                if event == "RightNow":
                    arrivals.append((ident, time.perf_counter()))
                    ready.set()
                event = ""


async def run(url: str, token: str, streams: int, ingests: int, gap: float) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=streams + 10, max_keepalive_connections=streams + 10)
    timeout = httpx.Timeout(60, read=None)
    async with (
        httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=timeout) as sse,
        httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http,
    ):
        arrivals: list[list[tuple[int, float]]] = [[] for _ in range(streams)]
        readies = [asyncio.Event() for _ in range(streams)]
        tasks = [asyncio.create_task(listen(sse, arrivals[i], readies[i])) for i in range(streams)]
        connect_began = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 120)
        connect_all = time.perf_counter() - connect_began
        await asyncio.sleep(1)  # past the 250 ms that follow each stream's snapshot
        returned: list[tuple[int, float]] = []
        ingest_ms: list[float] = []
        occurred = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
        for _ in range(ingests):
            event = {
                "id": str(uuid.uuid4()),
                "type": "visitor.arrived",
                "occurredAt": occurred.isoformat().replace("+00:00", "Z"),
                "data": {"visitorId": str(uuid.uuid4())},
            }
            began = time.perf_counter()
            response = await http.post("/api/v3/livechat/events", json=event)
            done = time.perf_counter()
            assert response.status_code == 200, response.text
            returned.append((response.json()["lastSequence"], done))
            ingest_ms.append((done - began) * 1000)
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
    print(f"{streams} streams connected (snapshot of all four views each) in {connect_all:.2f} s")
    print(
        f"ingest with {streams} streams open: median {percentile(ingest_ms, 50):.2f} ms, "
        f"p99 {percentile(ingest_ms, 99):.2f} ms (n={len(ingest_ms)})"
    )
    print(
        f"event latency (ingest returned → RightNow event received): "
        f"p50 {percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} ms, "
        f"max {max(latencies):.1f} ms (n={len(latencies)}, missing {missing})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--ingests", type=int, default=40)
    parser.add_argument("--gap-ms", type=int, default=400)
    parser.add_argument("--database", default=None)
    args = parser.parse_args()
    with served(args.database) as target:
        print(f"machine: {machine()}; database: {target.database.split(':')[0]}")
        asyncio.run(run(target.url, target.token, args.streams, args.ingests, args.gap_ms / 1000))


if __name__ == "__main__":
    main()
