"""Durability: a 200 on ingest survives SIGKILL at once; a rejected batch leaves no trace."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from chatpulse.store import sites
from tests.integration.procs import ServerProcess

ONLINE = "00000000-0000-0000-0000-000000000000"


def _at(seconds_ago: float) -> str:
    moment = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds_ago)
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def proc(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(database_url, tmp_path / "server.log")
    yield server
    server.stop()


def test_acknowledged_batch_survives_kill_and_rejected_batch_leaves_nothing(
    proc: ServerProcess, engine: Engine
) -> None:
    site = sites.create_site(engine, "crash", "UTC", 0)
    _, token = sites.create_token(engine, site.id, "t", sites.ALL_SCOPES, 0)
    headers = {"Authorization": f"Bearer {token}"}
    proc.start()
    visitors = [str(uuid.uuid4()) for _ in range(500)]
    batch = [
        {
            "id": str(uuid.uuid4()),
            "type": "visitor.arrived",
            "occurredAt": _at(30),
            "data": {"visitorId": v},
        }
        for v in visitors
    ]
    response = httpx.post(proc.url + "/api/v3/livechat/events", json=batch, headers=headers)
    assert response.json() == {"accepted": 500, "duplicates": 0, "lastSequence": 500}
    proc.kill()

    proc.start()
    log = httpx.get(
        proc.url + "/api/v3/livechat/events", params={"limit": 1000}, headers=headers
    ).json()
    assert [e["id"] for e in log["events"]] == [e["id"] for e in batch]
    right_now = httpx.get(proc.url + "/api/v3/livechat/realTime/RightNow", headers=headers)
    assert right_now.json()["visitorOnSite"] == 500

    bad = [
        {
            "id": str(uuid.uuid4()),
            "type": "visitor.left",
            "occurredAt": _at(10),
            "data": {"visitorId": visitors[0]},
        },
        {
            "id": str(uuid.uuid4()),
            "type": "chat.accepted",
            "occurredAt": _at(10),
            "data": {"chatId": str(uuid.uuid4()), "agentId": str(uuid.uuid4())},
        },
    ]
    response = httpx.post(proc.url + "/api/v3/livechat/events", json=bad, headers=headers)
    assert response.status_code == 422
    proc.kill()

    proc.start()
    log = httpx.get(
        proc.url + "/api/v3/livechat/events", params={"after": 0, "limit": 1000}, headers=headers
    ).json()
    assert (len(log["events"]), log["lastSequence"]) == (500, 500)
    right_now = httpx.get(proc.url + "/api/v3/livechat/realTime/RightNow", headers=headers)
    assert right_now.json()["visitorOnSite"] == 500
