"""Connectors: webhook → figures visible, and bursts of webhooks checked for loss (issue
"Connectors"; docs/performance.md).

.venv/bin/python -m benchmarks.connectors [--samples 300] [--rate 100] [--seconds 10]
    [--connections 256] [--database URL]

A real `chatpulse serve` on a fresh database (SQLite by default), a Chatwoot connector made
through the API, webhooks shaped as Chatwoot sends them (sim/chatwoot.py).

1. **Latency**: one new conversation's `conversation_created` at a time; the time from posting
   it to the first `GET RightNow` (polled back to back) whose `currentQueueLength` counts it.
   It includes the reorder buffer (100 ms by default): the time a platform's change takes to
   reach a wallboard's next read.
2. **Burst, whole conversations** (a Python client, open loop): `--rate` webhooks a second for
   `--seconds` (created, a visitor's message, assigned, the agent's answer, resolved; 2 s
   apart), each posted at its instant whatever the answers; then every answer's status, the
   events stored (`GET /events`), the connector's drops and Today's counts, which must equal
   what was sent. The same schedule against `/healthz` shows what the client itself can do.
3. **Burst, `wrk`** (a C client, `--connections` connections posting new conversations as fast
   as they are answered, for `--seconds`): webhooks a second and p99 beside `/healthz`'s,
   and every answered delivery stored (Debian: `apt-get install wrk`).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import subprocess
import tempfile
import time
import uuid
from typing import Any

import httpx
import orjson

from benchmarks.common import machine, percentile, served
from chatpulse.domain.events import Event
from chatpulse.domain.timeutil import MICROS
from chatpulse.sim.chatwoot import Account
from chatpulse.sim.plan import plan_site

AGENTS = 100
DEPARTMENTS = 4
STEP_S = 2.0  # between a conversation's webhooks (a real one's are seconds to minutes apart)


def _connector(http: httpx.Client) -> str:
    created = http.post("/api/v3/connectors", json={"kind": "chatwoot", "name": "bench"})
    created.raise_for_status()
    webhook: str = created.json()["webhookUrl"]
    return webhook


def _conversation(account: Account, at: int, agent: str, team: str) -> list[dict[str, Any]]:
    """A whole conversation's five webhooks, STEP_S apart from `at`."""
    chat, visitor = str(uuid.uuid4()), str(uuid.uuid4())
    step = int(STEP_S * MICROS)
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


async def _fire(
    url: str, bodies: list[bytes] | None, count: int, rate: float
) -> tuple[list[int], float]:
    """`count` requests at the instants of a `rate`-per-second schedule, whatever the answers:
    POSTs of `bodies`, or GETs when None; (statuses, seconds)."""
    limits = httpx.Limits(max_connections=2000, max_keepalive_connections=2000)
    headers = {"Content-Type": "application/json"}
    async with httpx.AsyncClient(limits=limits, timeout=60, headers=headers) as http:
        start = time.perf_counter()

        async def one(n: int) -> int:
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                if bodies is None:
                    response = await http.get(url)
                else:
                    response = await http.post(url, content=bodies[n])
            except httpx.HTTPError:
                return 0
            return response.status_code

        statuses = await asyncio.gather(*(one(n) for n in range(count)))
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
                timed.append((at + k * int(STEP_S * MICROS), payload))
        bodies = [orjson.dumps(p) for _, p in sorted(timed, key=lambda pair: pair[0])]
        statuses, took = asyncio.run(_fire(webhook, bodies, len(bodies), rate))
        ceiling_statuses, ceiling_took = asyncio.run(
            _fire(url + "/healthz", None, len(bodies), rate)
        )
        stored = 0
        after = 0
        while True:
            page = http.get("/api/v3/livechat/events", params={"after": after, "limit": 1000})
            page.raise_for_status()
            events = page.json()["events"]
            if not events:
                break
            stored += len(events)
            after = page.json()["nextAfter"]
        today = http.get("/api/v3/livechat/realTime/Today").json()
        connector = http.get("/api/v3/connectors").json()[0]["id"]
        drops = http.get(f"/api/v3/connectors/{connector}/drops", params={"limit": 1000}).json()
    return {
        "sent": len(bodies),
        "ok": sum(1 for s in statuses if s == 200),
        "other": sorted({s for s in statuses if s != 200}),
        "took": took,
        "ceiling_ok": sum(1 for s in ceiling_statuses if s == 200),
        "ceiling_took": ceiling_took,
        "conversations": conversations,
        "stored": stored,
        "today": today,
        "drops": drops["total"],
    }


WRK_SCRIPT = """
counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
template = [[%s]]
request = function()
  counter = counter + 1
  local body = template:gsub("424242", tostring(1000000 + counter))
  return wrk.format(nil, nil, nil, body)
end
"""


def wrk_burst(url: str, token: str, seconds: float, connections: int) -> dict[str, Any]:
    """Closed loop: `connections` connections of `wrk` (a C client) post new conversations
    (`conversation_created`, each a new chat) to the webhook URL as fast as the server answers,
    then /healthz the same way; every answered delivery must be stored."""
    account = Account(plan_site(random.Random(4), AGENTS, DEPARTMENTS))
    headers = {"Authorization": f"Bearer {token}"}
    event = Event(
        "",
        "chat.requested",
        time.time_ns() // 1000,
        {"chatId": "c", "visitorId": "v", "departmentId": "1"},
    )
    (payload,) = account.webhooks(event)
    payload["id"] = 424242
    payload["meta"]["sender"]["id"] = 424242
    template = orjson.dumps(payload).decode()
    with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
        webhook = _connector(http)
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(WRK_SCRIPT % template)
        posted = _wrk(webhook, seconds, connections, script.name)
        ceiling = _wrk(url + "/healthz", seconds, connections, None)
        right_now = http.get("/api/v3/livechat/realTime/RightNow").json()
        stored = http.get("/api/v3/livechat/events", params={"limit": 1}).json()["lastSequence"]
    return {
        "posted": posted,
        "ceiling": ceiling,
        "waiting": right_now["currentQueueLength"],
        "stored": stored,
    }


def _wrk(url: str, seconds: float, connections: int, script: str | None) -> dict[str, float]:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{round(seconds)}s", "--latency"]
    command += ["-s", script] if script else []
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    requests = int(next(line.split()[0] for line in lines if "requests in" in line))
    rate = float(next(line.split()[1] for line in lines if "Requests/sec" in line))
    errors = sum(int(line.split()[-1]) for line in lines if "Non-2xx" in line)
    p99 = next(line.split()[1] for line in lines if line.strip().startswith("99%"))
    unit = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    number = p99.rstrip("usm")
    return {
        "requests": requests,
        "rate": rate,
        "errors": errors,
        "p99": float(number) * unit[p99[len(number) :]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--database", default=None)
    parser.add_argument("--connections", type=int, default=256, help="wrk's connections")
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
        f"burst: {b['stored']} events stored (expected {b['conversations'] * 5}),"
        f" {b['drops']} facts dropped; Today: "
        f"totalChats {today['totalChats']}, chats {today['chats']} "
        f"(expected {b['conversations']} each)"
    )
    if shutil.which("wrk") is None:
        print("wrk burst: not measured (Debian: apt-get install wrk)")
        return
    with served(args.database) as target:
        w = wrk_burst(target.url, target.token, args.seconds, args.connections)
    p, c = w["posted"], w["ceiling"]
    print(
        f"wrk -c{args.connections}, {args.seconds:g} s: {p['requests']} new conversations posted,"
        f" {p['rate']:.0f}/s, p99 {p['p99']:.1f} ms, non-2xx {p['errors']}; /healthz"
        f" {c['rate']:.0f}/s (webhooks at {p['rate'] / c['rate']:.0%} of it); stored events"
        f" {w['stored']}, waiting {w['waiting']} (expected each: the {p['requests'] - p['errors']}"
        f" answered, plus up to {args.connections} in flight when wrk stopped)"
    )


if __name__ == "__main__":
    main()
