"""Connectors: webhook → figures visible, and a burst of webhooks without loss (issue
"Connectors"; docs/performance.md).

.venv/bin/python -m benchmarks.connectors [--samples 300] [--rate 1000] [--seconds 10]
    [--database URL]

A real `chatpulse serve` on a fresh database (SQLite by default), a Chatwoot connector made
through the API, webhooks shaped as Chatwoot sends them (sim/chatwoot.py).

1. **Latency**: one new conversation's `conversation_created` at a time; the time from posting
   it to the first `GET RightNow` (polled back to back) whose `currentQueueLength` counts it.
   It includes the reorder buffer (100 ms by default): the figure a platform's change takes to
   reach a wallboard's next read.
2. **Burst**: `--rate` webhooks a second for `--seconds` (full conversations: created, a
   visitor's message, assigned, the agent's answer, resolved; one fifth of all per kind),
   each posted at its scheduled instant whatever the answers; then every answer's status, the
   events stored (`GET /events`) and Today's counts, which must equal what was sent. The same
   schedule against `/healthz` gives the server's ceiling for the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from typing import Any

import httpx

from benchmarks.common import machine, percentile, served
from chatpulse.domain.events import Event
from chatpulse.domain.timeutil import MICROS
from chatpulse.sim.chatwoot import Account
from chatpulse.sim.plan import plan_site

AGENTS = 100
DEPARTMENTS = 4


def _connector(http: httpx.Client) -> str:
    created = http.post("/api/v3/connectors", json={"kind": "chatwoot", "name": "bench"})
    created.raise_for_status()
    webhook: str = created.json()["webhookUrl"]
    return webhook


def _conversation(account: Account, at: int, agent: str, team: str) -> list[dict[str, Any]]:
    """A whole conversation's five webhooks, 0.3 s apart from `at`."""
    chat, visitor = str(uuid.uuid4()), str(uuid.uuid4())
    step = int(0.3 * MICROS)
    events = [
        Event(
            "", "chat.requested", at, {"chatId": chat, "visitorId": visitor, "departmentId": team}
        ),
        Event("", "chat.message", at + step, {"chatId": chat, "sender": "visitor"}),
        Event("", "chat.accepted", at + 2 * step, {"chatId": chat, "agentId": agent}),
        Event("", "chat.message", at + 3 * step, {"chatId": chat, "sender": "agent"}),
        Event("", "chat.ended", at + 4 * step, {"chatId": chat}),
    ]
    return [payload for event in events for payload in account.webhooks(event)]


def latency(url: str, token: str, samples: int) -> list[float]:
    account = Account(plan_site(random.Random(1), AGENTS, DEPARTMENTS))
    headers = {"Authorization": f"Bearer {token}"}
    out: list[float] = []
    with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        webhook = _connector(http)
        for n in range(samples):
            event = Event(
                "",
                "chat.requested",
                time.time_ns() // 1000,
                {"chatId": str(uuid.uuid4()), "visitorId": str(uuid.uuid4()), "departmentId": "1"},
            )
            (payload,) = account.webhooks(event)
            started = time.perf_counter()
            http.post(webhook, json=payload).raise_for_status()
            while http.get("/api/v3/livechat/realTime/RightNow").json()["currentQueueLength"] <= n:
                pass
            out.append((time.perf_counter() - started) * 1000)
    return out


async def _fire(url: str, payloads: list[dict[str, Any]], rate: float) -> tuple[list[int], float]:
    """Post each payload at its instant of a `rate`-per-second schedule; (statuses, seconds)."""
    limits = httpx.Limits(max_connections=2000, max_keepalive_connections=2000)
    async with httpx.AsyncClient(limits=limits, timeout=60) as http:
        start = time.perf_counter()

        async def one(n: int, payload: dict[str, Any]) -> int:
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                response = await http.post(url, json=payload)
            except httpx.HTTPError:
                return 0
            return response.status_code

        statuses = await asyncio.gather(*(one(n, p) for n, p in enumerate(payloads)))
        return list(statuses), time.perf_counter() - start


def burst(url: str, token: str, rate: float, seconds: float) -> dict[str, Any]:
    account = Account(plan_site(random.Random(2), AGENTS, DEPARTMENTS))
    headers = {"Authorization": f"Bearer {token}"}
    total = int(rate * seconds)
    conversations = total // 5
    rng = random.Random(3)
    now = time.time_ns() // 1000
    with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
        webhook = _connector(http)
        timed: list[tuple[int, dict[str, Any]]] = []
        for n in range(conversations):
            at = now + int(n * seconds / conversations * MICROS)
            agent, team = str(rng.randint(1, AGENTS)), str(rng.randint(1, DEPARTMENTS))
            for k, payload in enumerate(_conversation(account, at, agent, team)):
                timed.append((at + k * int(0.3 * MICROS), payload))
        payloads = [p for _, p in sorted(timed, key=lambda pair: pair[0])]
        statuses, took = asyncio.run(_fire(webhook, payloads, rate))
        ceiling_statuses, ceiling_took = asyncio.run(
            _fire(url + "/healthz", [{} for _ in payloads], rate)
        )
        stored = 0
        after = 0
        while True:
            page = http.get("/api/v3/livechat/events", params={"after": after, "limit": 1000})
            page.raise_for_status()
            events = page.json()
            if not events:
                break
            stored += len(events)
            after = events[-1]["sequence"]
        today = http.get("/api/v3/livechat/realTime/Today").json()
    return {
        "sent": len(payloads),
        "ok": sum(1 for s in statuses if s == 200),
        "other": sorted({s for s in statuses if s != 200}),
        "took": took,
        "ceiling_ok": sum(1 for s in ceiling_statuses if s == 200),
        "ceiling_took": ceiling_took,
        "conversations": conversations,
        "stored": stored,
        "today": today,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--database", default=None)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with served(args.database) as target:
        got = latency(target.url, target.token, args.samples)
        print(
            f"webhook -> RightNow visible: median {percentile(got, 50):.1f} ms, "
            f"p99 {percentile(got, 99):.1f} ms, max {max(got):.1f} ms (n={len(got)})"
        )
    with served(args.database) as target:
        b = burst(target.url, target.token, args.rate, args.seconds)
    today = b["today"]
    print(
        f"burst: {b['sent']} webhooks scheduled at {args.rate:g}/s over {args.seconds:g} s, "
        f"sent in {b['took']:.1f} s; {b['ok']} answered 200, others {b['other']}; "
        f"/healthz on the same schedule: {b['ceiling_ok']} in {b['ceiling_took']:.1f} s"
    )
    print(
        f"burst: {b['stored']} events stored (expected {b['conversations'] * 5}); Today: "
        f"totalChats {today['totalChats']}, chats {today['chats']} "
        f"(expected {b['conversations']} each)"
    )


if __name__ == "__main__":
    main()
