"""Durability: a 200 on ingest survives SIGKILL at once; a rejected batch leaves no trace."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import Engine

from tests.factories import bearer, tenant
from tests.integration.procs import ServerProcess, ago

ONLINE = "00000000-0000-0000-0000-000000000000"


def test_acknowledged_batch_survives_kill_and_rejected_batch_leaves_nothing(
    proc: ServerProcess, engine: Engine
) -> None:
    token = tenant(engine, "crash")[1]
    headers = bearer(token)
    proc.start()
    visitors = [str(uuid.uuid4()) for _ in range(500)]
    batch = [
        {
            "id": str(uuid.uuid4()),
            "type": "visitor.arrived",
            "occurredAt": ago(30),
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
            "occurredAt": ago(10),
            "data": {"visitorId": visitors[0]},
        },
        {
            "id": str(uuid.uuid4()),
            "type": "chat.accepted",
            "occurredAt": ago(10),
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
