"""The reference load: a site with N agents in D departments and a day of chats, built through
the real ingest path (in-process, batches of 1,000) on a database of your choice."""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from chatpulse.domain.timeutil import MICROS, format_instant_exact
from chatpulse.ingest import ingest
from chatpulse.store import config, migrate, sites
from chatpulse.store.db import make_engine

ONLINE = "00000000-0000-0000-0000-000000000000"
AWAY = "00000000-0000-0000-0000-000000000001"
OFFLINE = "00000000-0000-0000-0000-000000000002"


@dataclass
class Dataset:
    engine: Engine
    site_id: int
    token: str
    departments: list[str]
    agents: list[str]
    time_zone: str
    events: int
    build_seconds: float


def afternoon_zone(now: dt.datetime) -> str:
    """An Etc/GMT zone where it is about 17:00 now, so that "today" is a long day."""
    hours = 17 - now.hour
    hours = (hours + 12) % 24 - 12
    return "UTC" if hours == 0 else f"Etc/GMT{-hours:+d}"


def build(
    database: str,
    agents: int = 2000,
    departments: int = 20,
    chats: int = 40_000,
    waiting: int = 300,
    ongoing: int = 1500,
    days: int = 1,
    seed: int = 7,
) -> Dataset:
    rng = random.Random(seed)
    started = time.perf_counter()
    engine = make_engine(database)
    migrate.upgrade(engine)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    zone = afternoon_zone(now)
    site = sites.create_site(engine, "reference load", zone, _us(now))
    _, token = sites.create_token(engine, site.id, "bench", sites.ALL_SCOPES, 0)
    dept_ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(departments)]
    for n, d in enumerate(dept_ids):
        config.insert_department(
            engine,
            site.id,
            {
                "id": d,
                "siteId": site.id,
                "name": f"Department {n:02d}",
                "description": "",
                "isAvailableInLiveChat": True,
                "isAvailableInTicketingAndMessaging": False,
                "isDeleted": False,
            },
        )
    agent_ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(agents)]
    agent_dept = {}
    for n, a in enumerate(agent_ids):
        agent_dept[a] = dept_ids[n % departments]
        config.insert_agent(engine, site.id, _agent_doc(site.id, a, n, agent_dept[a]))

    events: list[tuple[int, str, dict[str, Any]]] = []
    history_start = now - dt.timedelta(days=days)
    # Statuses: every agent online from shift start, a break or two, some logged off.
    for a in agent_ids:
        for day in range(days, -1, -1):
            shift = now - dt.timedelta(days=day, hours=rng.uniform(8, 16))
            if shift < history_start:
                shift = history_start + dt.timedelta(seconds=rng.uniform(0, 600))
            events.append((_us(shift), "agent.status_changed", {"agentId": a, "statusId": ONLINE}))
            lunch = shift + dt.timedelta(hours=rng.uniform(2, 5))
            if lunch < now - dt.timedelta(minutes=30):
                events.append(
                    (_us(lunch), "agent.status_changed", {"agentId": a, "statusId": AWAY})
                )
                back = lunch + dt.timedelta(minutes=rng.uniform(10, 40))
                events.append(
                    (_us(back), "agent.status_changed", {"agentId": a, "statusId": ONLINE})
                )
    span = (now - history_start).total_seconds() - 600
    total_chats = chats * days
    for i in range(total_chats):
        chat, visitor = _uuid(rng), _uuid(rng)
        dept = dept_ids[i % departments]
        members = [a for a in agent_ids[i % departments :: departments]]
        agent = rng.choice(members)
        if i < ongoing:
            t0 = now - dt.timedelta(seconds=rng.uniform(120, 1800))
        elif i < ongoing + waiting:
            t0 = now - dt.timedelta(seconds=rng.uniform(5, 300))
        else:
            t0 = history_start + dt.timedelta(seconds=rng.uniform(0, span))
        t = _us(t0)
        events.append(
            (t, "chat.requested", {"chatId": chat, "visitorId": visitor, "departmentId": dept})
        )
        if ongoing <= i < ongoing + waiting:
            continue
        wait = int(rng.uniform(3, 90) * MICROS)
        if i >= ongoing + waiting and rng.random() < 0.06:
            kind = "chat.abandoned" if rng.random() < 0.7 else "chat.switched_to_message"
            events.append((t + wait, kind, {"chatId": chat}))
            continue
        t += wait
        events.append((t, "chat.accepted", {"chatId": chat, "agentId": agent}))
        for _k in range(rng.randint(1, 3)):
            t += int(rng.uniform(5, 40) * MICROS)
            events.append((t, "chat.message", {"chatId": chat, "sender": "visitor"}))
            t += int(rng.uniform(5, 60) * MICROS)
            events.append((t, "chat.message", {"chatId": chat, "sender": "agent"}))
        if i < ongoing:
            continue
        t += int(rng.uniform(60, 600) * MICROS)
        if t >= _us(now):
            t = _us(now) - 1
        events.append((t, "chat.ended", {"chatId": chat}))
        if rng.random() < 0.3:
            events.append((t + MICROS, "chat.rated", {"chatId": chat, "score": rng.randint(1, 5)}))
    cap = _us(now) - 1  # clamping keeps each chat's order: min(t, cap) never decreases
    events = sorted(((min(at, cap), kind, data) for at, kind, data in events), key=lambda e: e[0])
    now_us = _us(now) + 60 * MICROS
    for start in range(0, len(events), 1000):
        batch = [
            {"id": _uuid(rng), "type": kind, "occurredAt": format_instant_exact(at), "data": data}
            for at, kind, data in events[start : start + 1000]
        ]
        ingest(engine, site.id, batch, now_us)
    return Dataset(
        engine,
        site.id,
        token,
        dept_ids,
        agent_ids,
        zone,
        len(events),
        time.perf_counter() - started,
    )


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _us(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _agent_doc(site_id: int, agent_id: str, n: int, department: str) -> dict[str, Any]:
    return {
        "id": agent_id,
        "siteId": site_id,
        "displayName": f"Agent {n:05d}",
        "email": f"agent{n}@example.com",
        "firstName": "",
        "lastName": "",
        "isAdmin": False,
        "isActive": True,
        "phone": "",
        "title": "",
        "bio": "",
        "apiKey": None,
        "createdTime": "2026-01-01T00:00:00.000Z",
        "isLocked": False,
        "lockedTime": None,
        "isDeleted": False,
        "systemAvatarId": None,
        "ifCustomizeAvatar": False,
        "customizeAvatar": "",
        "avatar": "",
        "departmentIds": [department],
        "maxConcurrentChats": 3,
    }
