"""Recovery: `chatpulse serve` killed with SIGKILL again and again while clients ingest; every
acknowledged event is stored exactly once, every batch whole or not at all, and the projections
still equal a replay of the log."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from tests.factories import bearer, tenant
from tests.integration.procs import ServerProcess

KILLS = 5
CLIENTS = 3
BATCH = 20  # events per request
ACKS_BETWEEN_KILLS = 8  # acknowledged batches (all clients) to wait for before each kill


@pytest.fixture
def proc(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(database_url, tmp_path / "server.log")
    yield server
    server.stop()


class Client(threading.Thread):
    """Sends batches of new visitors; a batch whose answer was lost is sent again, same ids,
    until the server answers 200 (a retry of a stored batch is then all duplicates)."""

    def __init__(self, url: str, token: str, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.url, self.token, self.stop = url, token, stop
        self.acked: list[list[str]] = []  # ids of each batch the server acknowledged
        self.answers: list[dict[str, int]] = []
        self.lost = 0  # requests whose answer never came (killed mid-way)
        self.pending: list[dict[str, Any]] | None = None

    def batch(self) -> list[dict[str, Any]]:
        moment = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30)).isoformat()
        return [
            {
                "id": str(uuid.uuid4()),
                "type": "visitor.arrived",
                "occurredAt": moment,
                "data": {"visitorId": str(uuid.uuid4())},
            }
            for _ in range(BATCH)
        ]

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=10) as http:
            while not self.stop.is_set() or self.pending is not None:
                batch = self.pending or self.batch()
                self.pending = batch
                try:
                    response = http.post("/api/v3/livechat/events", json=batch)
                except httpx.TransportError:
                    self.lost += 1
                    time.sleep(0.02)  # the server is down: retry pacing, not synchronisation
                    continue
                assert response.status_code in (200, 503), response.text
                if response.status_code == 200:
                    self.acked.append([e["id"] for e in batch])
                    self.answers.append(response.json())
                    self.pending = None


def _wait(condition: Any, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)  # polling a condition with a deadline


def test_repeated_kills_under_load_lose_no_acknowledged_event(
    proc: ServerProcess, engine: Engine, database_url: str
) -> None:
    site_id, token = tenant(engine, "kills")
    proc.start()
    stop = threading.Event()
    clients = [Client(proc.url, token, stop) for _ in range(CLIENTS)]
    for client in clients:
        client.start()

    def acked() -> int:
        return sum(len(c.acked) for c in clients)

    for _ in range(KILLS):
        target = acked() + ACKS_BETWEEN_KILLS
        _wait(lambda target=target: acked() >= target)  # type: ignore[misc]
        proc.kill()
        proc.start()
    target = acked() + ACKS_BETWEEN_KILLS
    _wait(lambda: acked() >= target)
    stop.set()
    for client in clients:
        client.join(timeout=60)
        assert not client.is_alive()

    headers = bearer(token)
    events: list[dict[str, Any]] = []
    with httpx.Client(base_url=proc.url, headers=headers, timeout=30) as http:
        after = 0
        while page := http.get(
            "/api/v3/livechat/events", params={"after": after, "limit": 1000}
        ).json()["events"]:
            events.extend(page)
            after = page[-1]["sequence"]
        right_now = http.get("/api/v3/livechat/realTime/RightNow").json()

    batches = [ids for c in clients for ids in c.acked]
    told = {i for ids in batches for i in ids}
    stored = [e["id"] for e in events]
    # Every batch a client was told about is stored, once, and nothing else is (a batch whose
    # answer was lost was sent again until acknowledged): whole batches, no gaps, no extras.
    assert len(stored) == len(set(stored)) == len(told) == len(batches) * BATCH
    assert set(stored) == told
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
    position = {event_id: n for n, event_id in enumerate(stored)}
    for ids in batches:  # each batch is contiguous in the log: stored by one transaction
        places = sorted(position[i] for i in ids)
        assert places == list(range(places[0], places[0] + BATCH))
    assert right_now["visitorOnSite"] == len(told)
    # Each answer is all or nothing: a batch stored whole (accepted), or a retry of a batch
    # whose first answer was cut off by the kill after its commit (all duplicates).
    answers = [a for c in clients for a in c.answers]
    assert {(a["accepted"], a["duplicates"]) for a in answers} <= {(BATCH, 0), (0, BATCH)}
    retried = sum(1 for a in answers if a["duplicates"])
    assert sum(a["accepted"] for a in answers) == len(told) - retried * BATCH

    lost = sum(c.lost for c in clients)
    print(  # the figures of docs/operations.md (pytest -s)
        f"\n{KILLS} kills survived; {len(batches)} batches, {len(told)} events checked; "
        f"{lost} requests cut off and retried"
    )
    proc.stop()
    check = subprocess.run(
        [
            sys.executable,
            "-m",
            "chatpulse",
            "check",
            "--site",
            str(site_id),
            "--database",
            database_url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.stdout == f"site {site_id}: ok ({len(told)} events replayed)\n", check.stderr
