"""Alerts on the reference site (issue "Alerts"; docs/alerts.md, docs/performance.md "Alerts").

A stage of benchmarks/reference_load.py (`--alerts yes|no|only`), on its own server (so that
the rules touch no other figure), 1 worker, with alert webhooks to loopback allowed:

1. **Rules.** 1,000 rules made through `POST /api/v3/alerts/rules`: every numeric field of
   RightNow (site-wide and per department), Queue (per department and every row) and Today
   (site-wide and per department), round-robin over the site's 20 departments, with thresholds
   put well past the values read just before (`rule_bodies`), so that almost none fires; plus
   one **trigger rule** the benchmark controls: Queue `currentQueueLength >= 1` on a department
   of its own that nothing else routes to. A `chat.requested` into that department makes it
   fire (ok → warning); a `chat.abandoned` of that chat clears it (warning → ok).
2. **Event → stream `alert`** and **event → webhook received**, from the same ingests,
   alternating fire and clear: one stream (`?alerts=true`) open, one webhook registered through
   `POST /api/v3/alerts/webhooks` pointing at a receiver in this process (ThreadingHTTPServer,
   which checks the signature). Each latency is the instant the ingest's response was read to
   the arrival of the first `alert` event whose firing set shows the change (resp. the POST of
   that transition). One change at a time: the next ingest waits until both arrived (or 5 s),
   then a random 100-300 ms, so that samples do not lock to the evaluator's 1 s tick.
   Without the webhook API (a server built before it), the webhook figure says so.
3. **CPU.** The standard fan-out (benchmarks/fanout.py: 100 streams over 20 departments, all
   four views, 20 `chat.requested` a second) run on the same server without rules and with the
   1,000 rules (twice each, alternating, unless `--quick`); the server's CPU of each and the
   share the rules add. The same server process and the same session: only the ratio counts.
   Then once each with the streams the wallboard opens (`extended=true`), whose department
   views are the ones the rules read (no target: the standard fan-out is the one judged).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import random
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from benchmarks.common import percentile
from benchmarks.fanout import fan_out
from chatpulse.domain.alerts import FIELDS

if TYPE_CHECKING:
    from benchmarks.reference_load import Client, Results, Server

RULES = 1000  # the trigger rule included
STREAM_TARGET_MS = 250.0
WEBHOOK_TARGET_MS = 1000.0
CPU_TARGET = 0.10  # added share of the fan-out's server CPU
# The server settings of the stage: webhooks to this process's loopback receiver.
ALERT_ENV = {"CHATPULSE_ALERT_WEBHOOKS_ALLOW_PRIVATE": "true"}

REALTIME = "/api/v3/livechat/realTime/"
RULES_PATH = "/api/v3/alerts/rules"
WEBHOOKS_PATH = "/api/v3/alerts/webhooks"

# Fields where a low value is the trouble (comparison `<`); every other field is watched for a
# high value (`>`). Percentages cannot go past 100.
LOW_IS_BAD = {
    "loggedInAgents",
    "availableAgents",
    "freeChatSlots",
    "chatAcceptanceRate",
    "serviceAccessibilityRate",
    "uniqueChatRate",
    "avgScore",
    "serviceLevel",
    "serviceLevelinLast30Mins",
    "serviceLevelinLast60Mins",
}
PERCENT = {"chatUtilization", "agentUtilization"}
SECONDS_WORDS = ("Time", "Wait", "wait")

# Every numeric field a rule may watch, as the server declares them (domain/alerts.py).
RIGHT_NOW_FIELDS = FIELDS["RightNow"]
QUEUE_FIELDS = FIELDS["Queue"]
TODAY_FIELDS = FIELDS["Today"]


# ---------------------------------------------------------------- the rules


def _number(raw: Any) -> float:
    return float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else 0.0


def _thresholds(name: str, value: float, variant: int) -> dict[str, Any]:
    """Thresholds well past `value` (the figure now), so that the rule does not fire; the
    benchmark's own load (the fan-out's waiting chats: +300 site-wide a run, waits of minutes)
    does not reach them either."""
    hold = (0, 15, 60)[variant % 3]
    if name in LOW_IS_BAD:
        warning = float(int(value * 0.5) - 1)
        body: dict[str, Any] = {"comparison": "<", "warning": warning, "holdSeconds": hold}
        if variant % 2:
            body["critical"] = warning - 1
        return body
    if name in PERCENT:
        warning = 100.0
    elif any(word in name for word in SECONDS_WORDS):
        warning = float(int(value * 2) + 3600)
    else:
        warning = float(int(value * 2) + 5000)
    body = {"comparison": ">", "warning": warning, "holdSeconds": hold}
    if variant % 2:
        body["critical"] = warning * 2 if name not in PERCENT else 100.0
        body["clearMargin"] = 1
    return body


def rule_bodies(client: Client, departments: list[str], count: int) -> list[dict[str, Any]]:
    """`count` threshold rules over every field of RightNow (site-wide, per department), Queue
    (per department, every row) and Today (site-wide, per department), in turn; the thresholds
    from the values read now (extended=true, as the evaluator reads them)."""
    right_now = {None: json.loads(client.get(REALTIME + "RightNow?extended=true"))}
    today = {None: json.loads(client.get(REALTIME + "Today?extended=true"))}
    for dept in departments:
        right_now[dept] = json.loads(
            client.get(f"{REALTIME}RightNow?extended=true&departmentId={dept}")
        )
        today[dept] = json.loads(client.get(f"{REALTIME}Today?extended=true&departmentId={dept}"))
    rows = json.loads(client.get(REALTIME + "Queue?extended=true"))
    by_department = {row.get("routeToDepartmentId"): row for row in rows if isinstance(row, dict)}
    subjects: list[tuple[str, str | None, str, float]] = []  # view, department, field, value
    for name in RIGHT_NOW_FIELDS:
        subjects.append(("RightNow", None, name, _number(right_now[None].get(name))))
    for name in TODAY_FIELDS:
        subjects.append(("Today", None, name, _number(today[None].get(name))))
    for name in QUEUE_FIELDS:  # every row: the row nearest the trouble (lowest or highest)
        values = [_number(row.get(name)) for row in rows if isinstance(row, dict)] or [0.0]
        subjects.append(("Queue", None, name, min(values) if name in LOW_IS_BAD else max(values)))
    for dept in departments:
        for name in RIGHT_NOW_FIELDS:
            subjects.append(("RightNow", dept, name, _number(right_now[dept].get(name))))
        for name in QUEUE_FIELDS:
            subjects.append(("Queue", dept, name, _number(by_department.get(dept, {}).get(name))))
        for name in TODAY_FIELDS:
            subjects.append(("Today", dept, name, _number(today[dept].get(name))))
    bodies = []
    for k in range(count):
        view, dept, name, value = subjects[k % len(subjects)]
        body = {
            "name": f"bench {k}: {view} {name}" + (f" ({dept[:8]})" if dept else ""),
            "view": view,
            "field": name,
            "departmentId": dept,
            **_thresholds(name, value, k // len(subjects) + k),
        }
        bodies.append(body)
    return bodies


def trigger_body(department: str) -> dict[str, Any]:
    return {
        "name": "bench trigger: the quiet department's queue",
        "view": "Queue",
        "field": "currentQueueLength",
        "departmentId": department,
        "comparison": ">=",
        "warning": 1,
    }


def create_rules(client: Client, bodies: list[dict[str, Any]]) -> tuple[list[str], float]:
    began = time.perf_counter()
    ids = [client.post(RULES_PATH, body)["id"] for body in bodies]
    return ids, time.perf_counter() - began


def delete_rules(server: Server, token: str, ids: list[str]) -> None:
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as http:
        for rule_id in ids:
            http.delete(f"{RULES_PATH}/{rule_id}").raise_for_status()


# ---------------------------------------------------------------- the webhook receiver


@dataclass
class Received:
    at: float
    alert: dict[str, Any]
    signed: bool


@dataclass
class Receiver:
    """A loopback HTTP server that answers 204 to every POST and keeps what it got."""

    got: list[Received] = field(default_factory=list)
    secret: str = ""
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def check(self, header: str, body: bytes) -> bool:
        parts = dict(part.strip().partition("=")[::2] for part in header.split(","))
        expected = hmac.new(
            self.secret.encode(), f"{parts.get('t', '')}.".encode() + body, hashlib.sha256
        ).hexdigest()
        return hmac.compare_digest(expected, parts.get("v1", ""))


@contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            at = time.perf_counter()
            doc = json.loads(body)
            signed = receiver.check(self.headers.get("ChatPulse-Signature", ""), body)
            receiver.got.append(Received(at, doc.get("alert", {}), signed))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    receiver.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.server.daemon_threads = True
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


# ---------------------------------------------------------------- event → alert


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")


async def _read_alerts(
    http: httpx.AsyncClient,
    path: str,
    trigger: str,
    arrivals: list[tuple[float, bool]],
    ready: asyncio.Event,
) -> None:
    """Read one stream; record (arrival, whether the trigger rule fires) of each `alert`."""
    async with http.stream("GET", path) as response:
        response.raise_for_status()
        event, data = "", ""
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif not line and event:
                if event == "alert":
                    at = time.perf_counter()
                    alerts = json.loads(data)["alerts"]
                    arrivals.append((at, any(a["ruleId"] == trigger for a in alerts)))
                    ready.set()
                event, data = "", ""


@dataclass
class Latencies:
    stream_ms: list[float] = field(default_factory=list)
    webhook_ms: list[float] = field(default_factory=list)
    stream_missing: int = 0
    webhook_missing: int = 0
    unsigned: int = 0


async def event_to_alert(
    url: str,
    token: str,
    department: str,
    trigger: str,
    receiver: Receiver | None,
    samples: int,
) -> Latencies:
    headers = {"Authorization": f"Bearer {token}"}
    out = Latencies()
    arrivals: list[tuple[float, bool]] = []
    ready = asyncio.Event()
    path = f"{REALTIME}stream?views=RightNow&departmentId={department}&alerts=true"
    async with (
        httpx.AsyncClient(
            base_url=url, headers=headers, timeout=httpx.Timeout(60, read=None)
        ) as sse,
        httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http,
    ):
        reader = asyncio.create_task(_read_alerts(sse, path, trigger, arrivals, ready))
        await asyncio.wait_for(ready.wait(), 60)
        await asyncio.sleep(1)
        chat = ""
        for n in range(samples):
            firing = n % 2 == 0
            if firing:
                chat = str(uuid.uuid4())
                data = {"chatId": chat, "visitorId": str(uuid.uuid4()), "departmentId": department}
                event = {"type": "chat.requested", "data": data}
            else:
                event = {"type": "chat.abandoned", "data": {"chatId": chat}}
            event |= {"id": str(uuid.uuid4()), "occurredAt": _now_iso()}
            stream_mark = len(arrivals)
            hook_mark = len(receiver.got) if receiver else 0
            response = await http.post("/api/v3/livechat/events", json=event)
            done = time.perf_counter()
            response.raise_for_status()
            to = "warning" if firing else "ok"

            def seen_stream(mark: int = stream_mark, firing: bool = firing) -> float | None:
                return next((at for at, f in arrivals[mark:] if f == firing), None)

            def seen_hook(mark: int = hook_mark, to: str = to) -> Received | None:
                if receiver is None:
                    return None
                return next(
                    (
                        r
                        for r in receiver.got[mark:]
                        if r.alert.get("ruleId") == trigger and r.alert.get("to") == to
                    ),
                    None,
                )

            deadline = done + 5
            while time.perf_counter() < deadline and (
                seen_stream() is None or (receiver is not None and seen_hook() is None)
            ):
                await asyncio.sleep(0.002)
            at = seen_stream()
            if at is None:
                out.stream_missing += 1
            else:
                out.stream_ms.append((at - done) * 1000)
            if receiver is not None:
                hook = seen_hook()
                if hook is None:
                    out.webhook_missing += 1
                else:
                    out.webhook_ms.append((hook.at - done) * 1000)
                    out.unsigned += not hook.signed
            await asyncio.sleep(random.uniform(0.1, 0.3))
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    return out


# ---------------------------------------------------------------- the stage


def _ms(values: list[float]) -> str:
    return (
        f"{percentile(values, 50):.0f} / {percentile(values, 99):.0f} ms "
        f"(max {max(values, default=0):.0f}, n={len(values)})"
    )


@contextmanager
def profiled(py_spy: str | None, pid: int) -> Iterator[Path | None]:
    """py-spy recording `pid` (collapsed stacks) for the duration, when `py_spy` is given."""
    if py_spy is None:
        yield None
        return
    out = Path(tempfile.mkdtemp(prefix="chatpulse-alerts-")) / "fanout-rules.txt"
    proc = subprocess.Popen(
        [py_spy, "record", "--pid", str(pid), "--nonblocking", "--format", "raw", "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield out
    finally:
        proc.send_signal(2)  # SIGINT: py-spy writes its file and stops
        proc.wait(timeout=60)


def alert_figures(
    results: Results,
    config: str,
    server: Server,
    client_for: Callable[[], Client],
    token: str,
    departments: list[str],
    seconds: float,
    samples: int,
    pairs: int,
    py_spy: str | None = None,
) -> None:
    """The stage on a fresh server of the installed reference site (see the module doc)."""
    add = results.add
    client = client_for()
    quiet = client.post("/api/v3/departments", {"name": f"bench alerts {uuid.uuid4().hex[:6]}"})[
        "id"
    ]

    def fanned(label: str, query: str = "") -> float:
        spy = py_spy if label == "1,000 rules" and not query else None
        with profiled(spy, server.proc.pid) as out:
            found = asyncio.run(
                fan_out(server.url, token, departments, server.pids(), 100, 20, seconds, query)
            )
        if out is not None:
            add(config, "py-spy profile of the fan-out with rules", str(out))
        p99 = max(percentile(v, 99) for v in found.latency_ms.values())
        streams = "100 streams" + (f" ({query.lstrip('&')})" if query else "")
        add(
            config,
            f"fan-out ({streams}, 20 events/s), {label}: server CPU; view p99",
            f"{found.cpu_share * 100:.1f} % of a core; {p99:.0f} ms",
        )
        return found.cpu_share

    cpu: dict[str, list[float]] = {"none": [], "rules": []}
    cpu["none"].append(fanned("no rules"))
    bodies = [*rule_bodies(client, departments, RULES - 1), trigger_body(quiet)]
    ids, took = create_rules(client, bodies)
    add(config, f"{RULES:,} rules created through the API", f"{took:.1f} s")
    firing = json.loads(client.get("/api/v3/alerts"))["alerts"]
    add(config, f"alerts firing at baseline with {RULES:,} rules", f"{len(firing)}")
    for alert in firing[:10]:
        print(f"    firing: {alert['ruleName']} = {alert['value']}", flush=True)

    receiver_cm = receiving()
    receiver: Receiver | None = receiver_cm.__enter__()
    try:
        assert receiver is not None
        hook = httpx.post(
            server.url + WEBHOOKS_PATH,
            headers={"Authorization": f"Bearer {token}"},
            json={"name": "bench", "url": receiver.url, "severities": ["warning", "critical"]},
            timeout=30,
        )
        if hook.status_code == 201:
            receiver.secret = hook.json()["secret"]
        else:
            add(
                config,
                "event → webhook received: not measured",
                f"POST {WEBHOOKS_PATH}: {hook.status_code} (no webhook API in this build)",
            )
            receiver = None
        found = asyncio.run(event_to_alert(server.url, token, quiet, ids[-1], receiver, samples))
        label = f"{RULES:,} rules, one change at a time (fire / clear alternately)"
        p99 = percentile(found.stream_ms, 99)
        add(
            config,
            f"{label}: event → stream `alert` p50 / p99",
            _ms(found.stream_ms) + f", missing {found.stream_missing}",
            f"p99 ≤ {STREAM_TARGET_MS:g} ms",
            p99 <= STREAM_TARGET_MS and found.stream_missing == 0 and bool(found.stream_ms),
        )
        if receiver is not None:
            p99 = percentile(found.webhook_ms, 99)
            add(
                config,
                f"{label}: event → webhook received p50 / p99",
                _ms(found.webhook_ms)
                + f", missing {found.webhook_missing}, bad signature {found.unsigned}",
                f"p99 ≤ {WEBHOOK_TARGET_MS:g} ms",
                p99 <= WEBHOOK_TARGET_MS
                and found.webhook_missing == 0
                and found.unsigned == 0
                and bool(found.webhook_ms),
            )
        cpu["rules"].append(fanned("1,000 rules"))
        for _ in range(pairs - 1):
            delete_rules(server, token, ids)
            cpu["none"].append(fanned("no rules"))
            py_spy = None  # one profile is enough
            ids, _ = create_rules(client, bodies)
            cpu["rules"].append(fanned("1,000 rules"))
        # The same with the streams the wallboard opens (extended=true, docs/wallboard.md): its
        # department views are then the evaluator's too (one computation, ViewQuery.for_view).
        wallboard = [fanned("1,000 rules", "&extended=true")]
        delete_rules(server, token, ids)
        wallboard.insert(0, fanned("no rules", "&extended=true"))
    finally:
        receiver_cm.__exit__(None, None, None)
        client.close()
    none, rules = sum(cpu["none"]) / len(cpu["none"]), sum(cpu["rules"]) / len(cpu["rules"])
    added = (rules - none) / none if none else 0.0
    add(
        config,
        f"fan-out server CPU, no rules → {RULES:,} rules (mean of {len(cpu['none'])} each)",
        f"{none * 100:.1f} → {rules * 100:.1f} % of a core: {added * 100:+.1f} %",
        f"≤ +{CPU_TARGET * 100:g} %",
        added <= CPU_TARGET,
    )
    none, rules = wallboard
    add(
        config,
        "the same with extended=true streams (as the wallboard asks), once each",
        f"{none * 100:.1f} → {rules * 100:.1f} % of a core: {(rules - none) / none * 100:+.1f} %",
    )
