"""Concurrent writers into one site, against a real `chatpulse serve` (PostgreSQL with two
worker processes, SQLite with one): sequence numbers, idempotency and per-entity order stay
exact however the batches race."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from tests.factories import bearer, right_now, tenant
from tests.integration.procs import ServerProcess

WRITERS = 4
CHATS_PER_WRITER = 25  # each chat: requested, accepted, 2 messages, ended = 5 events
SHARED = 40  # visitor arrivals every writer sends: stored once, duplicates for the others


@pytest.fixture
def proc(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    workers = 2 if database_url.startswith("postgresql") else 1
    server = ServerProcess(database_url, tmp_path / "server.log", workers=workers)
    yield server
    server.stop()


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _writer_batches(agent: str, base: dt.datetime) -> list[list[dict[str, Any]]]:
    """One writer's chats, each chat's events spread over several batches in time order."""
    chats = [str(uuid.uuid4()) for _ in range(CHATS_PER_WRITER)]
    steps: list[list[dict[str, Any]]] = [[] for _ in range(5)]
    for n, chat in enumerate(chats):
        t = base + dt.timedelta(seconds=n)
        lifecycle = [
            ("chat.requested", {"chatId": chat, "visitorId": str(uuid.uuid4())}),
            ("chat.accepted", {"chatId": chat, "agentId": agent}),
            ("chat.message", {"chatId": chat, "sender": "visitor"}),
            ("chat.message", {"chatId": chat, "sender": "agent"}),
            ("chat.ended", {"chatId": chat}),
        ]
        for step, (kind, data) in enumerate(lifecycle):
            steps[step].append(
                {
                    "id": str(uuid.uuid4()),
                    "type": kind,
                    "occurredAt": _iso(t + dt.timedelta(seconds=10 * step)),
                    "data": data,
                }
            )
    return steps


def test_concurrent_writers_keep_sequence_idempotency_and_order(
    proc: ServerProcess, engine: Engine
) -> None:
    token = tenant(engine, "concurrent")[1]
    headers = bearer(token)
    proc.start()
    agent = str(uuid.uuid4())
    with httpx.Client(base_url=proc.url, headers=headers, timeout=60) as http:
        created = http.post(
            "/api/v3/agents",
            json={"id": agent, "displayName": "Ann", "email": "ann@example.com"},
        )
        assert created.status_code == 201, created.text
    base = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    shared = [
        {
            "id": str(uuid.uuid4()),
            "type": "visitor.arrived",
            "occurredAt": _iso(base),
            "data": {"visitorId": str(uuid.uuid4())},
        }
        for _ in range(SHARED)
    ]
    # The same id with other content from two writers: exactly one of them wins.
    contested_id = str(uuid.uuid4())

    def contested(writer: int) -> dict[str, Any]:
        return {
            "id": contested_id,
            "type": "visitor.arrived",
            "occurredAt": _iso(base),
            "data": {"visitorId": str(uuid.UUID(int=writer + 1))},
        }

    def write(writer: int) -> list[httpx.Response]:
        answers = []
        with httpx.Client(base_url=proc.url, headers=headers, timeout=60) as http:
            for step, batch in enumerate(_writer_batches(agent, base)):
                if step == 2:
                    batch = batch + shared
                answers.append(http.post("/api/v3/livechat/events", json=batch))
            if writer < 2:
                answers.append(http.post("/api/v3/livechat/events", json=[contested(writer)]))
        return answers

    with ThreadPoolExecutor(WRITERS) as pool:
        results = list(pool.map(write, range(WRITERS)))

    lifecycle = [r for answers in results for r in answers[:5]]
    assert [r.status_code for r in lifecycle] == [200] * (WRITERS * 5)
    stored = WRITERS * CHATS_PER_WRITER * 5 + SHARED + 1
    assert sum(r.json()["accepted"] for r in lifecycle) == stored - 1
    assert sum(r.json()["duplicates"] for r in lifecycle) == SHARED * (WRITERS - 1)
    contest = sorted(answers[5].status_code for answers in results[:2])
    assert contest == [200, 409]

    events: list[dict[str, Any]] = []
    with httpx.Client(base_url=proc.url, headers=headers, timeout=60) as http:
        after = 0
        while True:
            page = http.get("/api/v3/livechat/events", params={"after": after, "limit": 1000})
            assert page.status_code == 200, page.text
            body = page.json()
            if not body["events"]:
                break
            events.extend(body["events"])
            after = body["events"][-1]["sequence"]
        served = http.get("/api/v3/livechat/realTime/RightNow").json()
    assert [e["sequence"] for e in events] == list(range(1, stored + 1))
    assert len({e["id"] for e in events}) == stored
    per_chat: dict[str, list[str]] = {}
    for e in events:
        if e["type"].startswith("chat."):
            per_chat.setdefault(e["data"]["chatId"], []).append(e["occurredAt"])
    assert len(per_chat) == WRITERS * CHATS_PER_WRITER
    assert all(times == sorted(times) and len(times) == 5 for times in per_chat.values())
    assert served == right_now(visitorOnSite=SHARED + 1)
