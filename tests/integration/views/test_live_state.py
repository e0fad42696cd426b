"""The live state in memory (store/live.py): folded batch by batch it gives the present-moment
views exactly as the reference model does, and equals both the stored projections and a
rebuild from the log, including after a process is killed in the middle of ingesting."""

from __future__ import annotations

import datetime as dt
import random
import threading
import uuid
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import Engine

from chatpulse.domain.live import LiveState
from chatpulse.services.ingest import ingest
from chatpulse.store import reads, replay, sites
from chatpulse.store.db import read_connection
from chatpulse.store.live import LiveStates, events_between, live_states, load
from chatpulse.views.compute import compute
from chatpulse.views.query import ViewQuery
from tests import reference as ref
from tests.integration.procs import ServerProcess, ago
from tests.integration.views.test_match_reference import NOWS, World, iso, make_log, micros
from tests.support import Server, new_site, uid

ONLINE = "00000000-0000-0000-0000-000000000000"
AWAY = "00000000-0000-0000-0000-000000000001"


def snapshots(engine: Engine, site_id: int, now: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the live state loaded from the projections, the live state folded from an empty one
    over the whole log), in one snapshot."""
    with read_connection(engine) as conn:
        row = reads.site_versions(conn, site_id)
        loaded = load(conn, site_id, row, now)
        folded = LiveState.start(0, loaded.config, [], [], [], loaded.horizon, [])
        folded.fold(events_between(conn, site_id, 0, row.last_sequence))
    return loaded.snapshot(), folded.snapshot()


@pytest.mark.parametrize("seed", [3, 17, 21, 35, 39, 2026])  # 21, 35, 39: a chat.missed
def test_memory_follows_every_batch_and_equals_the_projections_and_a_rebuild(
    server: Server, seed: int
) -> None:
    rng = random.Random(seed)
    now = micros(NOWS[0])
    server.clock.value = now
    site = new_site(server)
    world = World(site, rng)
    world.judge(random.Random(seed + 1), world.departments)  # rng untouched: the same log
    log = make_log(world, rng, now)
    config = world.config()
    states = live_states(server.engine)
    department = world.departments[0]
    day = ref.window(now, dt.UTC, None, None)  # the site's default window: today, UTC
    assert day is not None
    loads_at_first_read: int | None = None
    start = 0
    while start < len(log):
        size = rng.randint(1, 4)
        batch = [
            {"id": str(uuid.uuid4()), "type": kind, "occurredAt": iso(t), "data": data}
            for t, kind, data in log[start : start + size]
        ]
        assert site.post_events(*batch).status_code == 200
        start += size
        replayed = ref.replay(log[:start])
        extended = start % 2 == 1  # the extension fields (METRICS.md §7) now and then
        for dept in (None, department):
            query = {"departmentId": dept} if dept else {}
            if extended:
                query["extended"] = "true"
            served = site.get("/api/v3/livechat/realTime/RightNow", **query)
            expected = ref.right_now(replayed, config, dept, now, extended)
            assert served == expected, ("RightNow", start, query)
            served = site.get("/api/v3/livechat/realTime/Queue", **query)
            expected = ref.queue(replayed, config, now, dept, extended)
            assert served == expected, ("Queue", start, query)
            for page in (1, 2):
                served = site.get(
                    "/api/v3/livechat/realTime/Agents", pageSize=2, pageIndex=page, **query
                )
                expected = ref.agents(replayed, config, *day, now, dept, page, 2, False, extended)
                assert served == expected, ("Agents", start, query, page)
        if loads_at_first_read is None:
            loads_at_first_read = states.loads
    assert states.loads == loads_at_first_read  # every later batch was folded, not reloaded

    state = states.peek(site.site_id)
    assert state is not None
    loaded, folded = snapshots(server.engine, site.site_id, now)
    assert state.snapshot() == loaded == folded
    replay.rebuild(server.engine, site.site_id)
    assert snapshots(server.engine, site.site_id, now) == (loaded, loaded)
    site.http.close()


def test_memory_and_projections_answer_alike_when_memory_does_not_reach_back(
    server: Server,
) -> None:
    """A clock set back before what memory holds of the ended waits: the Queue reads them from
    the projections, and says the same."""
    now = micros(NOWS[0])
    server.clock.value = now
    site = new_site(server)
    dept = site.department(1, "Sales")["id"]
    at = [iso(now - s * 1_000_000) for s in (3000, 2990, 1200)]
    site.ok_events(
        {
            "id": str(uuid.uuid4()),
            "type": "chat.requested",
            "occurredAt": at[0],
            "data": {
                "chatId": uid("chat", 1),
                "visitorId": uid("visitor", 1),
                "departmentId": dept,
            },
        },
        {
            "id": str(uuid.uuid4()),
            "type": "chat.abandoned",
            "occurredAt": at[1],
            "data": {"chatId": uid("chat", 1)},
        },
        {
            "id": str(uuid.uuid4()),
            "type": "chat.requested",
            "occurredAt": at[2],
            "data": {
                "chatId": uid("chat", 2),
                "visitorId": uid("visitor", 2),
                "departmentId": dept,
            },
        },
    )
    first = site.get("/api/v3/livechat/realTime/Queue")
    assert first[0]["avgWaitTimeinLast60Mins"] == 10
    assert first[0]["abandonedChatsinLast30Mins"] == 0
    assert first[0]["visitors"] == [
        {"visitorId": uid("visitor", 2), "contactIdentityId": None, "waitTime": 1200}
    ]
    server.clock.value = now - 2 * 3600 * 1_000_000  # before memory's horizon
    earlier = site.get("/api/v3/livechat/realTime/Queue")
    assert earlier[0]["avgWaitTimeinLast60Mins"] == 0  # the wait ended after that instant
    assert earlier[0]["visitors"] == [
        {"visitorId": uid("visitor", 2), "contactIdentityId": None, "waitTime": 0}
    ]
    site.http.close()


# ---------------------------------------------------------------- a crash mid-ingest


def _traffic(rng: random.Random, agents: list[str], departments: list[str]) -> list[list[Any]]:
    """Batches of whole chat lives and status changes, all within the last ten minutes."""
    batches: list[list[Any]] = [
        [
            {
                "id": str(uuid.uuid4()),
                "type": "agent.status_changed",
                "occurredAt": ago(600),
                "data": {"agentId": a, "statusId": rng.choice([ONLINE, AWAY])},
            }
            for a in agents
        ]
    ]
    for n in range(60):
        chat, visitor = uid("chat", n), uid("visitor", n)
        t0 = 590 - n * 5
        events = [("chat.requested", t0, {"departmentId": rng.choice(departments)})]
        fate = rng.random()
        if fate < 0.6:
            events.append(("chat.accepted", t0 - 2, {"agentId": rng.choice(agents)}))
            if rng.random() < 0.5:
                events.append(("chat.ended", t0 - 3, {}))
        elif fate < 0.8:
            events.append(("chat.abandoned", t0 - 1, {}))
        batches.append(
            [
                {
                    "id": str(uuid.uuid4()),
                    "type": kind,
                    "occurredAt": ago(seconds),
                    "data": {"chatId": chat, "visitorId": visitor, **data}
                    if kind == "chat.requested"
                    else {"chatId": chat, **data},
                }
                for kind, seconds, data in events
            ]
        )
    return batches


def test_after_a_kill_mid_ingest_memory_equals_a_rebuild_from_the_log(
    proc: ServerProcess, engine: Engine
) -> None:
    site = sites.create_site(engine, "crash", "UTC", 0)
    _, token = sites.create_token(engine, site.id, "t", sites.ALL_SCOPES, 0)
    http = httpx.Client(base_url=proc.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    proc.start()
    departments = []
    for name in ("Sales", "Support"):
        response = http.post("/api/v3/departments", json={"name": name})
        assert response.status_code == 201, response.text
        departments.append(response.json()["id"])
    agents = []
    for n in range(4):
        body = {
            "displayName": f"agent {n}",
            "email": f"a{n}@example.com",
            "departmentIds": departments[: n % 3],
            "maxConcurrentChats": 3,
        }
        response = http.post("/api/v3/agents", json=body)
        assert response.status_code == 201, response.text
        agents.append(response.json()["id"])
    batches = _traffic(random.Random(7), agents, departments)
    assert http.get("/api/v3/livechat/realTime/Queue").status_code == 200  # memory loaded

    acknowledged: list[int] = []
    half_way = threading.Event()

    def send() -> None:
        with httpx.Client(
            base_url=proc.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as client:
            for n, batch in enumerate(batches):
                try:
                    response = client.post("/api/v3/livechat/events", json=batch)
                    client.get("/api/v3/livechat/realTime/Queue")  # the server folds as it goes
                except httpx.TransportError:
                    return
                assert response.status_code == 200, response.text
                acknowledged.append(response.json()["lastSequence"])
                if n == len(batches) // 2:
                    half_way.set()

    sender = threading.Thread(target=send)
    sender.start()
    assert half_way.wait(60)
    proc.kill()  # while the sender goes on
    sender.join(60)
    assert acknowledged, "nothing was acknowledged before the kill"

    proc.start()
    served_now = http.get("/api/v3/livechat/realTime/RightNow").json()
    served_queue = http.get("/api/v3/livechat/realTime/Queue").json()
    now = micros(dt.datetime.now(dt.UTC))
    with read_connection(engine) as conn:
        row = reads.site_versions(conn, site.id)
        assert row.last_sequence >= acknowledged[-1]  # nothing acknowledged was lost
        from_log = LiveState.start(0, load(conn, site.id, row, now).config, [], [], [], 0, [])
        from_log.fold(events_between(conn, site.id, 0, row.last_sequence))
        query = ViewQuery()
        expected_now = compute(conn, site.id, "RightNow", query, now, None, from_log)
        stored_now = compute(conn, site.id, "RightNow", query, now, None)
        expected_queue = compute(conn, site.id, "Queue", query, now, None, from_log)
    assert served_now == orjson.loads(orjson.dumps(expected_now)) == stored_now
    assert _without_wait_times(served_queue) == _without_wait_times(expected_queue)

    loaded, folded = snapshots(engine, site.id, now)
    assert loaded == folded
    replay.rebuild(engine, site.id)
    assert snapshots(engine, site.id, now) == (loaded, loaded)
    http.close()


def _without_wait_times(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Queue without the visitors' waits so far (the clock moved between the answers)."""
    return [{**row, "visitors": [{**v, "waitTime": None} for v in row["visitors"]]} for row in rows]


# ---------------------------------------------------------------- keeping memory bounded


def _visitors(engine: Engine, site_id: int, first: int, count: int) -> None:
    now = micros(NOWS[0])
    batch = [
        {
            "id": str(uuid.uuid4()),
            "type": "visitor.arrived",
            "occurredAt": iso(now - 60_000_000),
            "data": {"visitorId": uid("visitor", n)},
        }
        for n in range(first, first + count)
    ]
    assert ingest(engine, site_id, batch, now).accepted == count


def _read(states: LiveStates, engine: Engine, site_id: int) -> int:
    """The visitors on site the live state says, at the committed sequence."""
    with read_connection(engine) as conn:
        row = reads.site_versions(conn, site_id)
        with states.at(conn, site_id, row, micros(NOWS[0])) as state:
            assert state is not None
            return state.figures("")["visitors_on_site"]


def test_a_state_far_behind_is_loaded_anew_and_the_least_recent_site_dropped(
    engine: Engine,
) -> None:
    one = sites.create_site(engine, "one", "UTC", 0).id
    two = sites.create_site(engine, "two", "UTC", 0).id
    states = LiveStates(max_sites=1, fold_at_most=3)
    assert (_read(states, engine, one), states.loads) == (0, 1)
    _visitors(engine, one, 1, 3)  # three behind: folded
    assert (_read(states, engine, one), states.loads) == (3, 1)
    _visitors(engine, one, 4, 4)  # four behind: loaded from the projections
    assert (_read(states, engine, one), states.loads) == (7, 2)
    assert (_read(states, engine, two), states.loads) == (0, 3)  # site one dropped
    assert states.peek(one) is None
    assert (_read(states, engine, one), states.loads) == (7, 4)


def test_today_reads_the_configuration_without_loading_the_live_state(server: Server) -> None:
    now = micros(NOWS[0])
    server.clock.value = now
    site = new_site(server)
    dept = site.department(1, "Sales")["id"]
    states = live_states(server.engine)
    today = site.get("/api/v3/livechat/realTime/Today", departmentId=dept)
    assert (today["chatRequests"], today["agentUtilization"]) == (0, 0.0)
    assert states.peek(site.site_id) is None  # the configuration only
    assert site.get("/api/v3/livechat/realTime/RightNow")["ongoingChats"] == 0
    assert states.peek(site.site_id) is not None
    site.http.close()
