"""Screenshot the wallboard with Debian's chromium (docs/wallboard.png: 1920×1080).

Without --url: serves a temporary SQLite database holding a realistic afternoon (4 departments,
24 agents, a queue with waits on both sides of the thresholds) and shoots that. With --url and
--token: shoots a server that is already running (docs/wallboard.png is `chatpulse demo`'s).

    .venv/bin/python scripts/screenshot_wallboard.py --out docs/wallboard.png
    .venv/bin/python scripts/screenshot_wallboard.py --size 1366x768 --out /tmp/laptop.png
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import re
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from playwright.sync_api import expect, sync_playwright

from chatpulse.api.app import create_app
from chatpulse.clock import SystemClock
from chatpulse.settings import Settings
from chatpulse.store import migrate, sites
from chatpulse.store.db import make_engine

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ONLINE = "00000000-0000-0000-0000-000000000000"
AWAY = "00000000-0000-0000-0000-000000000001"
OFFLINE = "00000000-0000-0000-0000-000000000002"
SECOND = 1_000_000
MINUTE = 60 * SECOND

DEPARTMENTS = ("Sales", "Support", "Billing", "Technical")
NAMES = (
    "Ada Costa", "Ben Okafor", "Chloé Dubois", "Dev Patel", "Eva Jensen", "Farid Haddad",
    "Grace Lee", "Hugo Moreau", "Ines Silva", "Jon Evans", "Kemi Adeyemi", "Luca Rossi",
    "Mei Tanaka", "Nora Fischer", "Omar Farouk", "Priya Nair", "Quinn Hall", "Rosa García",
    "Sam Brown", "Tariq Aziz", "Uma Ito", "Vera Novak", "Wen Zhang", "Yusuf Kaya",
)  # fmt: skip
# Current waits of the queue, seconds: (department index or None, seconds).
WAITING: tuple[tuple[int | None, int], ...] = (
    (0, 142),
    (0, 75),
    (0, 31),
    (1, 96),
    (1, 64),
    (1, 12),
    (2, 47),
    (3, 128),
    (None, 22),
)


@dataclass
class Agent:
    id: str
    name: str
    department: int
    capacity: int
    busy: list[tuple[int, int]] = field(default_factory=list)

    def load_at(self, moment: int) -> int:
        return sum(1 for start, end in self.busy if start <= moment < end)


def iso(micros: int) -> str:
    moment = dt.datetime.fromtimestamp(micros / SECOND, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def afternoon_zone(now: int) -> str:
    """An Etc/GMT zone where it is 14:xx now, so 'Today' holds the whole simulated history."""
    hour = dt.datetime.fromtimestamp(now / SECOND, dt.UTC).hour
    offset = 14 - hour  # hours east of UTC, -9…14
    return "UTC" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def realistic_day(
    now: int, rng: random.Random
) -> tuple[list[dict[str, Any]], list[Agent], list[dict[str, Any]]]:
    """Departments, agents and the events of the last 4 hours, in order."""
    departments = [{"id": str(uuid.uuid4()), "name": name} for name in DEPARTMENTS]
    agents = [
        Agent(str(uuid.uuid4()), name, n % len(DEPARTMENTS), rng.choice((2, 3, 3, 4)))
        for n, name in enumerate(NAMES)
    ]
    events: list[tuple[int, int, str, dict[str, Any]]] = []

    def add(at: int, kind: str, **data: Any) -> None:
        events.append((at, len(events), kind, data))

    start = now - 240 * MINUTE
    # 17 agents online, 2 at lunch, 1 in a meeting, 1 away, 3 offline (one left an hour ago).
    plan = [ONLINE] * 17 + ["lunch", "lunch", "meeting", AWAY] + [OFFLINE] * 3
    statuses = {"lunch": str(uuid.uuid4()), "meeting": str(uuid.uuid4())}
    working: dict[str, tuple[int, int]] = {}
    for agent, status in zip(agents, plan, strict=True):
        if status == OFFLINE and agent is not agents[-1]:
            continue
        add(start + rng.randrange(0, 20) * MINUTE, "agent.status_changed", agentId=agent.id,
            statusId=ONLINE)  # fmt: skip
        until = now
        if status in statuses:
            until = now - rng.randrange(8, 35) * MINUTE
            add(until, "agent.status_changed", agentId=agent.id, statusId=statuses[status])
        elif status == AWAY:
            until = now - 6 * MINUTE
            add(until, "agent.status_changed", agentId=agent.id, statusId=AWAY)
        elif status == OFFLINE:
            until = now - 60 * MINUTE
            add(until, "agent.status_changed", agentId=agent.id, statusId=OFFLINE)
        working[agent.id] = (start + 20 * MINUTE, until)

    visitors_on_site = 0
    moment = start + 25 * MINUTE
    while moment < now - 3 * MINUTE:
        moment += rng.randrange(20, 95) * SECOND
        visitor, chat = str(uuid.uuid4()), str(uuid.uuid4())
        add(moment - 90 * SECOND, "visitor.arrived", visitorId=visitor)
        if rng.random() < 0.08:  # served by the bot alone
            add(moment, "chat.requested", chatId=chat, visitorId=visitor, botId=str(uuid.uuid4()))
            add(moment + rng.randrange(60, 300) * SECOND, "chat.ended", chatId=chat)
            add(moment + 320 * SECOND, "visitor.left", visitorId=visitor)
            continue
        department = rng.randrange(len(DEPARTMENTS))
        add(moment, "chat.requested", chatId=chat, visitorId=visitor,
            departmentId=departments[department]["id"])  # fmt: skip
        wait = int(rng.triangular(4, 170, 25)) * SECOND
        answered = moment + wait
        length = int(rng.triangular(3, 24, 8) * MINUTE)
        free = [
            a
            for a in agents
            if a.department == department
            and a.id in working
            and working[a.id][0] <= answered
            and (working[a.id][1] == now or answered + length < working[a.id][1])
            and a.load_at(answered) < a.capacity
        ]
        if not free or rng.random() < 0.06:
            ending = "chat.switched_to_message" if rng.random() < 0.3 else "chat.abandoned"
            add(answered, ending, chatId=chat)
            add(answered + SECOND, "visitor.left", visitorId=visitor)
            continue
        agent = min(free, key=lambda a: (a.load_at(answered), rng.random()))
        agent.busy.append((answered, answered + length))
        add(answered, "chat.accepted", chatId=chat, agentId=agent.id)
        asked = answered + 8 * SECOND
        add(asked, "chat.message", chatId=chat, sender="visitor")
        add(asked + rng.randrange(9, 70) * SECOND, "chat.message", chatId=chat, sender="agent")
        if answered + length < now:
            add(answered + length, "chat.ended", chatId=chat)
            if rng.random() < 0.55:
                score = rng.choices((5, 4, 3, 2, 1), (55, 25, 10, 6, 4))[0]
                add(answered + length + 20 * SECOND, "chat.rated", chatId=chat, score=score)
            add(answered + length + 30 * SECOND, "visitor.left", visitorId=visitor)
        else:
            visitors_on_site += 1

    for where, seconds in WAITING:
        visitor, chat = str(uuid.uuid4()), str(uuid.uuid4())
        add(now - (seconds + 40) * SECOND, "visitor.arrived", visitorId=visitor)
        target = {} if where is None else {"departmentId": departments[where]["id"]}
        add(now - seconds * SECOND, "chat.requested", chatId=chat, visitorId=visitor, **target)
    for _ in range(2):  # with the bot right now
        visitor, chat = str(uuid.uuid4()), str(uuid.uuid4())
        add(now - 3 * MINUTE, "visitor.arrived", visitorId=visitor)
        add(now - 2 * MINUTE, "chat.requested", chatId=chat, visitorId=visitor,
            botId=str(uuid.uuid4()))  # fmt: skip
    for _ in range(31):  # browsing, no chat
        add(now - rng.randrange(1, 40) * MINUTE, "visitor.arrived", visitorId=str(uuid.uuid4()))

    ordered = sorted(events)
    envelopes = [
        {"id": str(uuid.uuid4()), "type": kind, "occurredAt": iso(at), "data": data}
        for at, _, kind, data in ordered
    ]
    statuses_out = [
        {"id": statuses["lunch"], "name": "Lunch", "type": "away"},
        {"id": statuses["meeting"], "name": "Meeting", "type": "away"},
    ]
    return departments, agents, [*statuses_out, *envelopes]


def populate(base_url: str, token: str, now: int) -> None:
    rng = random.Random(20261124)
    departments, agents, rest = realistic_day(now, rng)
    custom, events = rest[:2], rest[2:]
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}) as http:
        for department in departments:
            http.post("/api/v3/departments", json=department).raise_for_status()
        for status in custom:
            http.post("/api/v3/livechat/agentStatuses", json=status).raise_for_status()
        for agent in agents:
            first = agent.name.split()[0].lower()
            body = {
                "id": agent.id,
                "displayName": agent.name,
                "email": f"{first}@example.com",
                "departmentIds": [departments[agent.department]["id"]],
                "maxConcurrentChats": agent.capacity,
            }
            http.post("/api/v3/agents", json=body).raise_for_status()
        for offset in range(0, len(events), 1000):
            answer = http.post("/api/v3/livechat/events", json=events[offset : offset + 1000])
            if answer.status_code != 200:
                raise SystemExit(f"ingest failed: {answer.status_code} {answer.text[:2000]}")


@contextmanager
def demo_server() -> Iterator[tuple[str, str]]:
    """A server over a temporary SQLite database with a realistic site; yields (url, token)."""
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'wallboard.db'}"
        engine = make_engine(url)
        migrate.upgrade(engine)
        clock = SystemClock()
        now = clock.now()
        site = sites.create_site(engine, "Wallboard demo", afternoon_zone(now), now)
        _, token = sites.create_token(engine, site.id, "wallboard", sites.ALL_SCOPES, now)
        config = uvicorn.Config(
            create_app(
                Settings(database_url=url, log_requests=False, rate_limit_per_second=0),
                engine,
                clock,
            ),
            host="127.0.0.1",
            port=0,
            log_level="warning",
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            if not thread.is_alive():
                raise SystemExit("the server did not start")
            time.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        base_url = f"http://127.0.0.1:{port}"
        try:
            populate(base_url, token, now)
            yield base_url, token
        finally:
            server.should_exit = True
            thread.join(timeout=15)
            engine.dispose()


def viewport_size(text: str) -> tuple[int, int]:
    """'1366x768' -> (1366, 768)."""
    match = re.fullmatch(r"(\d{3,5})[x×](\d{3,5})", text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 1920x1080, not {text!r}")
    return int(match[1]), int(match[2])


def screenshot(
    base_url: str, token: str, out: Path, query: str = "", size: tuple[int, int] = (1920, 1080)
) -> None:
    """Open the wallboard, enter the token, wait for live data, save a PNG of the viewport."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": size[0], "height": size[1]})
        page.goto(f"{base_url}/wallboard{query}")
        page.get_by_test_id("token-input").fill(token)
        page.get_by_test_id("token-submit").click()
        expect(page.get_by_test_id("connection-state")).to_have_text("Live", timeout=30_000)
        expect(page.get_by_test_id("agent-row").first).to_be_visible(timeout=30_000)
        expect(page.get_by_test_id("today-totalChats")).not_to_have_text("–", timeout=30_000)
        page.wait_for_function("document.querySelectorAll('[data-testid=queue-row]').length > 0")
        # The chart of today's intervals is drawn at its first Intervals event.
        page.wait_for_function("() => window.wallboardChart?.data[0].length > 0")
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out))
        browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/wallboard.png"))
    parser.add_argument("--url", help="a running server (default: a temporary demo server)")
    parser.add_argument("--token", help="a realtime.read token for --url")
    parser.add_argument("--query", default="", help="page query, e.g. ?alertWait=90")
    parser.add_argument(
        "--size", type=viewport_size, default=(1920, 1080), help="viewport, e.g. 1366x768"
    )
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: apt-get install -y chromium", file=sys.stderr)
        return 2
    if args.url:
        if not args.token:
            parser.error("--url needs --token")
        screenshot(args.url.rstrip("/"), args.token, args.out, args.query, args.size)
    else:
        with demo_server() as (base_url, token):
            screenshot(base_url, token, args.out, args.query, args.size)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
