"""Answers shared across requests (services/views.AnswerCache, docs/metrics.md decision 24).

A time-dependent view may be reused while younger than CHATPULSE_VIEW_MAX_AGE_MS (1 s by
default), never longer; any stored change — an event, a configuration write, the site's zone,
a write by another process — is seen by the very next request.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, text

from chatpulse.clock import FixedClock
from chatpulse.services.ingest import ingest
from chatpulse.services.views import answer
from chatpulse.store import sites
from chatpulse.store.db import make_engine
from chatpulse.store.prune import prune
from chatpulse.store.versions import VersionProbe
from chatpulse.views.query import ViewQuery
from tests.factories import chat_requested, visitor_arrived
from tests.integration.views.test_match_reference import NOWS, World, iso, make_log, micros
from tests.support import (
    T_MICROS,
    Server,
    SiteClient,
    ev,
    new_site,
    running_server,
    uid,
)

QUEUE = "/api/v3/livechat/realTime/Queue"
TODAY = "/api/v3/livechat/realTime/Today"
VIEWS = "/api/v3/livechat/realTime/"
MS = 1000


def waits(site: SiteClient) -> list[int]:
    rows = site.get(QUEUE)
    return [visitor["waitTime"] for row in rows for visitor in row["visitors"]]


def test_a_waiting_time_is_reused_under_a_second_and_never_beyond(
    site: SiteClient, clock: FixedClock
) -> None:
    site.department(1, "Sales")
    site.ok_events(chat_requested(1, -29.5))  # 29.5 s before T
    assert waits(site) == [29]
    clock.advance(600 * MS)  # 30.1 s exactly: the answer of 0.6 s ago is still served
    assert waits(site) == [29]
    clock.advance(400 * MS)  # 1 s old: never served again (30.5 s, or the refresh at 30.1 s)
    assert waits(site) == [30]
    clock.advance(1_100 * MS)  # 31.6 s
    assert waits(site) == [31]


def test_an_event_is_seen_by_the_next_request_whatever_the_age(
    site: SiteClient, clock: FixedClock
) -> None:
    site.department(1, "Sales")
    site.ok_events(chat_requested(1, -29.5))
    assert waits(site) == [29]
    clock.advance(100 * MS)
    site.ok_events(chat_requested(2, -5))
    assert waits(site) == [29, 5]  # computed anew at T + 0.1 s: 29.6 s and 5.1 s


def test_a_configuration_change_is_seen_by_the_next_request(site: SiteClient) -> None:
    site.department(1, "Sales")
    site.ok_events(chat_requested(1, -10))
    assert site.get(QUEUE)[0]["routeToDepartment"]["name"] == "Sales"
    response = site.http.put(f"/api/v3/departments/{uid('dept', 1)}", json={"name": "Ventes"})
    assert response.status_code == 200, response.text
    assert site.get(QUEUE)[0]["routeToDepartment"]["name"] == "Ventes"


def test_a_new_site_zone_moves_todays_window_at_once(site: SiteClient) -> None:
    # T is 2026-11-24 12:00 UTC. A chat at 09:00 UTC is today in UTC; in Honolulu (UTC-10)
    # today began at 10:00 UTC, so it was yesterday there.
    site.ok_events(
        ev("chat.requested", -3 * 3600, chatId=uid("chat", 1), visitorId=uid("visitor", 1))
    )
    assert site.get(TODAY)["totalChats"] == 1
    response = site.http.put(
        "/api/v3/site", json={"name": "Test site", "timeZone": "Pacific/Honolulu"}
    )
    assert response.status_code == 200, response.text
    assert site.get(TODAY)["totalChats"] == 0


def test_an_ingest_by_another_process_is_seen_by_the_next_request(
    site: SiteClient, database_url: str
) -> None:
    site.department(1, "Sales")
    site.ok_events(chat_requested(1, -10))
    assert waits(site) == [10]
    other = make_engine(database_url)  # another process's connections: no notification here
    try:
        result = ingest(other, site.site_id, [chat_requested(2, -3)], T_MICROS)
        assert result.accepted == 1
    finally:
        other.dispose()
    assert waits(site) == [10, 3]


@pytest.fixture
def pg_site(postgres_url: str, clock: FixedClock) -> Iterator[tuple[SiteClient, Engine]]:
    engine = make_engine(postgres_url)
    with running_server(engine, clock) as srv:
        client = new_site(srv)
        yield client, engine
        client.http.close()
    engine.dispose()


def test_a_lost_probe_connection_costs_no_answer_and_is_replaced(
    pg_site: tuple[SiteClient, Engine],
) -> None:
    site, engine = pg_site  # PostgreSQL's (SQLite asks PRAGMA data_version)
    probe: VersionProbe = site.server.app.state.runtime.probe
    site.department(1, "Sales")
    site.ok_events(chat_requested(1, -10))
    assert waits(site) == [10]
    first = probe.backend_pid
    assert first is not None
    with engine.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first}).scalar()
    site.ok_events(chat_requested(2, -3))
    # The probe fails on the dead connection: this answer comes from a worker thread's query.
    assert waits(site) == [10, 3]
    assert probe.backend_pid is None  # dropped
    site.ok_events(chat_requested(3, -1))
    assert waits(site) == [10, 3, 1]  # a new probe connection read the new versions
    assert probe.backend_pid not in (None, first)


def test_with_a_max_age_of_zero_time_dependent_views_cost_no_probe(
    postgres_url: str, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATPULSE_VIEW_MAX_AGE_MS", "0")
    engine = make_engine(postgres_url)
    try:
        with running_server(engine, clock) as srv:
            site = new_site(srv)
            probe: VersionProbe = srv.app.state.runtime.probe
            site.department(1, "Sales")
            site.ok_events(chat_requested(1, -10))
            assert waits(site) == [10]
            site.get(TODAY)
            assert probe.round_trips == 0  # computed at the request's instant: nothing to look up
            site.get(VIEWS + "RightNow")
            site.get(VIEWS + "RightNow")
            assert probe.round_trips == 2  # RightNow does not depend on the clock: cached
            site.http.close()
    finally:
        engine.dispose()


@pytest.fixture
def exact(engine: Engine, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("CHATPULSE_VIEW_MAX_AGE_MS", "0")
    with running_server(engine, clock) as srv:
        yield srv


def test_a_max_age_of_zero_computes_every_request_at_its_instant(
    exact: Server, clock: FixedClock
) -> None:
    site = new_site(exact)
    site.department(1, "Sales")
    site.ok_events(chat_requested(1, -29.5))
    assert waits(site) == [29]
    clock.advance(600 * MS)
    assert waits(site) == [30]
    site.http.close()


def test_a_prune_is_seen_by_the_next_request(site: SiteClient, engine: Engine) -> None:
    site.ok_events(
        ev("chat.requested", -3 * 86_400, chatId=uid("chat", 1), visitorId=uid("visitor", 1)),
        ev("chat.abandoned", -3 * 86_400 + 10, chatId=uid("chat", 1)),
    )
    params = {"startTime": "2026-11-20T00:00:00Z"}  # T is 2026-11-24 12:00 UTC
    assert site.get(TODAY, **params)["totalChats"] == 1
    result = prune(engine, site.site_id, T_MICROS - 2 * 86_400 * 1_000_000)
    assert result.batches == 1
    assert site.get(TODAY, **params)["totalChats"] == 0


@pytest.mark.parametrize("seed", [21, 22])
def test_each_departments_answers_follow_every_event_of_a_random_log(
    server: Server, seed: int
) -> None:
    """Department views are keyed by the last sequence that changed the department (with the
    cache on): after every event, each department's four answers (GET) must be exactly a
    computation from scratch at the same instant."""
    rng = random.Random(seed)
    now = micros(rng.choice(NOWS))
    server.clock.value = now
    site = new_site(server, time_zone="Europe/Paris")
    world = World(site, rng)
    log = make_log(world, rng, now)
    assert len(log) >= 10  # the seeds give real work
    queries = [None, *world.departments]
    for t, kind, data in log:
        event = {"id": str(uuid.uuid4()), "type": kind, "occurredAt": iso(t), "data": data}
        site.ok_events(event)
        for department, extended in itertools.product(queries, (False, True)):
            query = ViewQuery(department_id=department, extended=extended)
            params = {"departmentId": department} if department else {}
            if extended:
                params["extended"] = "true"
            for view in ("RightNow", "Queue", "Today", "Agents", "Intervals"):
                if view == "Intervals" and not extended:
                    continue  # the same answer either way
                served = site.http.get(VIEWS + view, params=params)
                assert served.status_code == 200, served.text
                fresh = answer(server.engine, site.site_id, view, query, now).body
                assert served.content == fresh, (kind, view, department, extended)
    site.http.close()


def test_todays_answer_is_never_yesterdays_after_midnight(
    site: SiteClient, clock: FixedClock
) -> None:
    # T is 2026-11-24 12:00 UTC (the site's zone); a chat at 23:00 is today until midnight.
    clock.value = T_MICROS + (12 * 3600 - 1) * 1_000_000 + 500 * MS  # 23:59:59.5
    chat = ev("chat.requested", 11 * 3600, chatId=uid("chat", 1), visitorId=uid("visitor", 1))
    site.ok_events(chat)
    assert site.get(TODAY)["totalChats"] == 1
    clock.advance(700 * MS)  # 00:00:00.2 the next day: 0.7 s later, but another day
    assert site.get(TODAY)["totalChats"] == 0


def test_probes_asked_together_share_one_round_trip_and_later_ones_see_later_writes(
    postgres_url: str,
) -> None:
    engine = make_engine(postgres_url)
    try:
        site = sites.create_site(engine, "Probed", "UTC", T_MICROS)
        key = uid("dept", 1)

        async def run() -> list[tuple[int, int | None]]:
            probe = VersionProbe(engine)
            try:
                asked = [probe.probe(site.id, (key,) if n % 2 else ()) for n in range(10)]
                together = await asyncio.gather(*asked)
                assert probe.round_trips == 1  # ten requests, one statement
                stored = await asyncio.to_thread(
                    ingest, engine, site.id, [visitor_arrived(1, -5)], T_MICROS
                )
                later = await probe.probe(site.id, (key,))
                assert probe.round_trips == 2
                found = [*together, later]
                return [
                    (row.last_sequence, p.department(site.id, key))
                    for p in found
                    if p is not None and (row := p.read(site.id)) is not None
                ] + [(stored.last_sequence, None)]
            finally:
                await probe.close()

        with ThreadPoolExecutor(1) as pool:  # a loop of its own, whatever the test thread runs
            seen = pool.submit(asyncio.run, run()).result()
        assert seen == [(0, 0)] * 10 + [(1, 0), (1, None)]
    finally:
        engine.dispose()
