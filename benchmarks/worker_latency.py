"""Cross-worker stream latency: ingest returned on one worker → RightNow received on another.

.venv/bin/python -m benchmarks.worker_latency --database postgresql://… [--mode listen|poll]
    [--workers 2] [--streams 20] [--ingests 40] [--gap-ms 400]

`serve --workers N`; streams and ingests each on their own connection, so the kernel spreads
them over the workers, and `X-ChatPulse-Worker` tells which one served each. `--mode listen`
(PostgreSQL only): LISTEN/NOTIFY with polling off; `--mode poll`: LISTEN off, the hub polls the
sites' last sequence every `stream_poll_interval_ms` (500). The latency of ingest k on a stream
is the arrival of that stream's first RightNow event with `id` ≥ k's `lastSequence`, minus the
instant the ingest's response was read; pairs are split by whether the stream and the ingest
were on the same worker. Client and server share the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import time
import uuid

import httpx

from benchmarks.common import machine, percentile, served


async def listen(
    url: str,
    headers: dict[str, str],
    arrivals: list[tuple[int, float]],
    worker: list[int],
    ready: asyncio.Event,
) -> None:
    """Read one stream on a connection of its own; record (id, arrival) of each RightNow."""
    timeout = httpx.Timeout(60, read=None)
    async with (
        httpx.AsyncClient(base_url=url, headers=headers, timeout=timeout) as http,
        http.stream("GET", "/api/v3/livechat/realTime/stream?views=RightNow") as response,
    ):
        response.raise_for_status()
        worker.append(int(response.headers["x-chatpulse-worker"]))
        ident, data = 0, False
        async for line in response.aiter_lines():  # an event ends with a blank line
            if line.startswith("id: "):
                ident = int(line[4:])
            elif line.startswith("data: "):
                data = True
            elif not line and data:
                arrivals.append((ident, time.perf_counter()))
                ready.set()
                data = False


def line(name: str, values: list[float]) -> str:
    if not values:
        return f"{name}: none"
    return (
        f"{name}: p50 {percentile(values, 50):.1f} ms, p99 {percentile(values, 99):.1f} ms, "
        f"max {max(values):.1f} ms (n={len(values)})"
    )


async def run(url: str, token: str, streams: int, ingests: int, gap: float) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    arrivals: list[list[tuple[int, float]]] = [[] for _ in range(streams)]
    workers: list[list[int]] = [[] for _ in range(streams)]
    readies = [asyncio.Event() for _ in range(streams)]
    tasks = [
        asyncio.create_task(listen(url, headers, arrivals[i], workers[i], readies[i]))
        for i in range(streams)
    ]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 120)
    await asyncio.sleep(1)  # past the 250 ms that follow each stream's snapshot
    returned: list[tuple[int, float, int]] = []
    occurred = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    for _ in range(ingests):
        event = {
            "id": str(uuid.uuid4()),
            "type": "visitor.arrived",
            "occurredAt": occurred.isoformat().replace("+00:00", "Z"),
            "data": {"visitorId": str(uuid.uuid4())},
        }
        async with httpx.AsyncClient(
            base_url=url, headers={**headers, "Connection": "close"}, timeout=60
        ) as http:
            response = await http.post("/api/v3/livechat/events", json=event)
        done = time.perf_counter()
        assert response.status_code == 200, response.text
        pid = int(response.headers["x-chatpulse-worker"])
        returned.append((response.json()["lastSequence"], done, pid))
        await asyncio.sleep(gap)
    await asyncio.sleep(2)  # let the last events arrive (a benchmark, not a test)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

    same: list[float] = []
    cross: list[float] = []
    missing = 0
    for got, (stream_pid,) in zip(arrivals, workers, strict=True):
        for sequence, at, ingest_pid in returned:
            first = next((t for ident, t in got if ident >= sequence), None)
            if first is None:
                missing += 1
            else:
                (same if ingest_pid == stream_pid else cross).append((first - at) * 1000)
    spread = sorted({w[0] for w in workers})
    print(f"{streams} streams on workers {spread}; {ingests} ingests; missing {missing}")
    print(line("same worker (in-process notify)", same))
    print(line("other worker", cross))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default=None)
    parser.add_argument("--mode", choices=("listen", "poll"), default="listen")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--ingests", type=int, default=40)
    parser.add_argument("--gap-ms", type=int, default=400)
    args = parser.parse_args()
    os.environ["CHATPULSE_RATE_LIMIT_PER_SECOND"] = "0"
    os.environ["CHATPULSE_MAX_STREAMS_PER_TOKEN"] = "0"
    if args.mode == "listen":
        os.environ["CHATPULSE_STREAM_POLL_INTERVAL_MS"] = "0"
    else:
        os.environ["CHATPULSE_STREAM_LISTEN"] = "false"
    with served(args.database, workers=args.workers) as target:
        backend = target.database.split(":")[0]
        print(f"machine: {machine()}; database: {backend}; mode: {args.mode}")
        asyncio.run(run(target.url, target.token, args.streams, args.ingests, args.gap_ms / 1000))


if __name__ == "__main__":
    main()
