"""Server time of each Real Time view on the reference load (2,000 agents, 40,000 chats today).

    .venv/bin/python -m benchmarks.views [--database URL] [--repeat 200]

Measures each view's use case in-process (the server's own work, one read transaction each)
and over HTTP against a `chatpulse serve` process on the same database.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import machine, summary
from benchmarks.dataset import build
from chatpulse.domain.window import resolve_window
from chatpulse.store.db import read_connection
from chatpulse.views.agents import agents_page
from chatpulse.views.queue import queue
from chatpulse.views.rightnow import right_now
from chatpulse.views.today import today


def timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    fn()
    out = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        out.append((time.perf_counter() - began) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default=None)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--agents", type=int, default=2000)
    parser.add_argument("--chats", type=int, default=40_000)
    parser.add_argument("--days", type=int, default=1)
    args = parser.parse_args()
    database = args.database or f"sqlite:///{Path(tempfile.mkdtemp()) / 'views.db'}"
    data = build(database, agents=args.agents, chats=args.chats, days=args.days)
    print(f"machine: {machine()}; database: {database.split(':')[0]}")
    print(
        f"load: {len(data.agents)} agents, {len(data.departments)} departments, "
        f"{data.events} events ingested in {data.build_seconds:.1f} s; site zone {data.time_zone}"
    )
    engine, site = data.engine, data.site_id
    dept = data.departments[0]

    def clock() -> int:
        return time.time_ns() // 1000

    def view(fn: Callable[..., Any], *a: Any) -> Callable[[], Any]:
        def run() -> Any:
            with read_connection(engine) as conn:
                return fn(conn, site, *a)

        return run

    def today_window() -> Any:
        now = clock()
        window = resolve_window(now, data.time_zone)
        with read_connection(engine) as conn:
            return today(conn, site, window, None)

    def agents_window(size: int) -> Callable[[], Any]:
        def run() -> Any:
            window = resolve_window(clock(), data.time_zone)
            with read_connection(engine) as conn:
                return agents_page(conn, site, window, None, 1, size, True)

        return run

    cases = {
        "RightNow": view(right_now, None),
        "RightNow (department)": view(right_now, dept),
        "Queue": lambda: view(queue, clock(), None)(),
        "Today": today_window,
        "Agents (page of 10)": agents_window(10),
        "Agents (page of 100)": agents_window(100),
    }
    print("\nin-process server time per view:")
    for name, fn in cases.items():
        print(f"  {name:24s} {summary(timed(fn, args.repeat))}")
    engine.dispose()

    from benchmarks.common import served_existing

    with served_existing(database, data.token) as url:
        http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {data.token}"})
        paths = {
            "RightNow": "/api/v3/livechat/realTime/RightNow",
            "Queue": "/api/v3/livechat/realTime/Queue",
            "Today": "/api/v3/livechat/realTime/Today",
            "Agents (page of 10)": "/api/v3/livechat/realTime/Agents",
            "healthz (trivial)": "/healthz",
        }
        print("\nover HTTP (loopback, one client, sequential):")
        for name, path in paths.items():
            figures = summary(timed(lambda p=path: http.get(p).raise_for_status(), args.repeat))
            print(f"  {name:24s} {figures}")


if __name__ == "__main__":
    main()
