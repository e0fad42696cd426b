"""Ingest throughput over HTTP: 1,000-event batches, and single-event requests.

.venv/bin/python -m benchmarks.ingest [--batches 20] [--singles 1000] [--database URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from benchmarks.common import machine, served

ONLINE = "00000000-0000-0000-0000-000000000000"


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def chat_batch(agents: list[str], department: str, start: dt.datetime, n_chats: int) -> list[Any]:
    """n_chats whole chat lifecycles of ten events each: request, accept, 6 messages, end, rate."""
    events: list[dict[str, Any]] = []
    for i in range(n_chats):
        chat, visitor = str(uuid.uuid4()), str(uuid.uuid4())
        t0 = start + dt.timedelta(seconds=i)
        steps: list[tuple[str, dict[str, Any]]] = [
            ("chat.requested", {"visitorId": visitor, "departmentId": department}),
            ("chat.accepted", {"agentId": agents[i % len(agents)]}),
            *[("chat.message", {"sender": s}) for s in ("visitor", "agent") * 3],
            ("chat.ended", {}),
            ("chat.rated", {"score": 1 + i % 5}),
        ]
        for k, (kind, data) in enumerate(steps):
            events.append(
                {
                    "id": str(uuid.uuid4()),
                    "type": kind,
                    "occurredAt": _iso(t0 + dt.timedelta(milliseconds=10 * k)),
                    "data": {"chatId": chat, **data},
                }
            )
    return events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--singles", type=int, default=1000)
    parser.add_argument("--database", default=None)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--clients", type=int, default=1, help="concurrent clients for single-event requests"
    )
    args = parser.parse_args()
    with served(args.database, workers=args.workers) as target:
        http = httpx.Client(
            base_url=target.url, headers={"Authorization": f"Bearer {target.token}"}, timeout=60
        )
        department = str(uuid.uuid4())
        http.post("/api/v3/departments", json={"id": department, "name": "Sales"})
        agents = [str(uuid.uuid4()) for _ in range(50)]
        for n, agent in enumerate(agents):
            http.post(
                "/api/v3/agents",
                json={
                    "id": agent,
                    "displayName": f"A{n}",
                    "email": f"a{n}@x.io",
                    "departmentIds": [department],
                    "maxConcurrentChats": 100,
                },
            )
        now = dt.datetime.now(dt.UTC)
        http.post(
            "/api/v3/livechat/events",
            json=[
                {
                    "id": str(uuid.uuid4()),
                    "type": "agent.status_changed",
                    "occurredAt": _iso(now - dt.timedelta(hours=3)),
                    "data": {"agentId": a, "statusId": ONLINE},
                }
                for a in agents
            ],
        ).raise_for_status()
        start = now - dt.timedelta(hours=2)
        batches = [
            chat_batch(agents, department, start + dt.timedelta(seconds=100 * b), 100)
            for b in range(args.batches)
        ]
        began = time.perf_counter()
        for batch in batches:
            response = http.post("/api/v3/livechat/events", json=batch)
            assert response.status_code == 200, response.text
        elapsed = time.perf_counter() - began
        total = sum(len(b) for b in batches)
        print(f"machine: {machine()}; database: {target.database.split(':')[0]}")
        print(
            f"batched ingest: {total} events in {args.batches} requests of 1000: "
            f"{total / elapsed:,.0f} events/s ({elapsed / args.batches * 1000:.1f} ms per batch)"
        )
        singles = [
            {
                "id": str(uuid.uuid4()),
                "type": "visitor.arrived",
                "occurredAt": _iso(now - dt.timedelta(minutes=1)),
                "data": {"visitorId": str(uuid.uuid4())},
            }
            for _ in range(args.singles)
        ]
        clients = [
            httpx.Client(
                base_url=target.url, headers={"Authorization": f"Bearer {target.token}"}, timeout=60
            )
            for _ in range(args.clients)
        ]

        def send(k: int) -> None:
            client = clients[k % args.clients]
            for event in singles[k :: args.clients]:
                response = client.post("/api/v3/livechat/events", json=event)
                assert response.status_code == 200, response.text

        began = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(send, range(args.clients)))
        elapsed = time.perf_counter() - began
        print(
            f"single-event requests: {args.singles} from {args.clients} client(s), "
            f"{args.workers} worker(s): {args.singles / elapsed:,.0f} requests/s "
            f"({elapsed / args.singles * 1000:.2f} ms each)"
        )


if __name__ == "__main__":
    main()
