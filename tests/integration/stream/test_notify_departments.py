"""PostgreSQL: another process's ingest reaches this process's stream hub by NOTIFY with the
departments it changed, so that streams of other departments stay asleep (services/stream.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine

from chatpulse.clock import FixedClock
from chatpulse.services.ingest import ingest
from chatpulse.services.runtime import Runtime
from chatpulse.services.stream import StreamHub, Subscriber, listening
from chatpulse.settings import Settings
from chatpulse.store import config, sites
from chatpulse.store.db import make_engine
from tests.factories import chat_requested
from tests.support import T_MICROS, uid


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    yield engine
    engine.dispose()


async def woken(subscriber: Subscriber, changes: int) -> None:
    while subscriber.changes < changes:
        await asyncio.wait_for(subscriber.wake.wait(), 20)
        subscriber.wake.clear()


def test_an_ingest_elsewhere_wakes_only_the_streams_of_its_departments(
    pg_engine: Engine, postgres_url: str
) -> None:
    site = sites.create_site(pg_engine, "Notified", "UTC", T_MICROS)
    for n in (1, 2):
        doc = {"id": uid("dept", n), "name": f"Team {n}", "isAvailableInLiveChat": True}
        with config.writing(pg_engine, site.id) as conn:
            config.insert_department(conn, site.id, {**doc, "isDeleted": False})
    other = make_engine(postgres_url)  # another process's ingest: heard by NOTIFY only

    async def run() -> list[int]:
        settings = Settings(database_url=postgres_url, stream_poll_interval_ms=0)
        hub = StreamHub(Runtime.start(settings, pg_engine, FixedClock(T_MICROS)))
        streams = [
            hub.subscribe(site.id, department=uid("dept", 1)),
            hub.subscribe(site.id, department=uid("dept", 2)),
            hub.subscribe(site.id),  # the whole site
        ]
        hub.seen(site.id, 0)  # as a stream's first snapshot does: nothing stored yet
        async with listening(hub):
            # The first ingest is heard by its notification or by the listener's first resync
            # (which wakes every stream if it reads sequence 1): either way once, and once
            # heard, what follows is by NOTIFY.
            await asyncio.to_thread(
                ingest, other, site.id, [chat_requested(1, department=1)], T_MICROS
            )
            await woken(streams[2], 1)
            before = [stream.changes for stream in streams]
            for n, department in ((2, 2), (3, 1)):
                await asyncio.to_thread(
                    ingest, other, site.id, [chat_requested(n, department=department)], T_MICROS
                )
            # Notifications arrive in commit order: once the third is heard, the second was.
            await woken(streams[0], before[0] + 1)
            await woken(streams[2], before[2] + 2)
        return [stream.changes - was for stream, was in zip(streams, before, strict=True)]

    try:
        # A thread of its own: the test's thread may already run an event loop.
        with ThreadPoolExecutor(1) as pool:
            assert pool.submit(asyncio.run, asyncio.wait_for(run(), 60)).result() == [1, 1, 2]
    finally:
        other.dispose()
