"""The Server-Sent Events stream (SPEC.md §3.5) over real HTTP, on both backends."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from chatpulse.api import routes_stream
from chatpulse.clock import FixedClock
from chatpulse.services.ingest import ingest
from chatpulse.services.stream import StreamHub
from tests.factories import (
    agent_status,
    alice_in_sales,
    problem,
    right_now,
    visitor_arrived,
    waiting_chat,
)
from tests.sse import Event, RawStream, SseReader
from tests.support import AWAY, ONLINE, Server, SiteClient, ev, running_server, uid

STREAM = "/api/v3/livechat/realTime/stream"


@pytest.fixture
def hubs(monkeypatch: pytest.MonkeyPatch) -> list[StreamHub]:
    """The hub of every app created during the test (the real one, just remembered)."""
    made: list[StreamHub] = []
    real_install = routes_stream.install

    def install(app: Any) -> StreamHub:
        hub = real_install(app)
        made.append(hub)
        return hub

    monkeypatch.setattr(routes_stream, "install", install)
    return made


@pytest.fixture
def server(
    engine: Engine, clock: FixedClock, monkeypatch: pytest.MonkeyPatch, hubs: list[StreamHub]
) -> Iterator[Server]:
    """The shared fixture's server, with short refresh and ping intervals (read from the env)."""
    monkeypatch.setenv("CHATPULSE_STREAM_REFRESH_INTERVAL_MS", "200")
    monkeypatch.setenv("CHATPULSE_STREAM_PING_INTERVAL_MS", "200")
    with running_server(engine, clock) as srv:
        yield srv


@contextmanager
def stream(site: SiteClient, **params: Any) -> Iterator[tuple[httpx.Response, SseReader]]:
    with site.http.stream("GET", STREAM, params=params, timeout=20) as response:
        yield response, SseReader(response.iter_lines())


def next_of(reader: SseReader, view: str) -> Event:
    """The next event (pings skipped); it must be of `view`."""
    event = reader.next_event()
    assert event.event == view, event
    return event


def wait_until(condition: Any, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)  # polling a condition with a deadline


def test_connect_sends_each_view_once_equal_to_its_get(site: SiteClient) -> None:
    alice_in_sales(site)
    answer = site.ok_events(agent_status(1, -600), *waiting_chat(1, arrived=-130, requested=-120))
    assert answer["lastSequence"] == 3
    with stream(site) as (response, reader):
        assert response.status_code == 200
        assert response.headers["content-type"].split(";")[0] == "text/event-stream"
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        events = [reader.next_event() for _ in range(4)]
    assert [(e.event, e.id) for e in events] == [
        ("Agents", "3"),
        ("Queue", "3"),
        ("Today", "3"),
        ("RightNow", "3"),
    ]
    base = "/api/v3/livechat/realTime/"
    for event in events:
        assert event.json() == site.get(base + event.event)
    assert events[3].json() == right_now(loggedInAgents=1, visitorOnSite=1, currentQueueLength=1)
    queue = events[1].json()
    assert [v["waitTime"] for row in queue for v in row["visitors"]] == [120]


def test_a_reconnect_with_last_event_id_gets_every_change_since_as_snapshots(
    site: SiteClient,
) -> None:
    site.ok_events(visitor_arrived(1))
    with stream(site, views="RightNow") as (_, reader):
        seen = next_of(reader, "RightNow")
    assert (seen.id, seen.json()) == ("1", right_now(visitorOnSite=1))
    site.ok_events(visitor_arrived(2), visitor_arrived(3))  # while the client was away
    headers = {"Last-Event-ID": seen.id}
    with site.http.stream("GET", STREAM, params={"views": "RightNow"}, headers=headers) as again:
        first = next_of(SseReader(again.iter_lines()), "RightNow")
    # Views are states: the first snapshot after the reconnect holds both events made since.
    assert (first.id, first.json()) == ("3", right_now(visitorOnSite=3))


@pytest.mark.parametrize("value", ["soon", "-1", "12.5", "1" * 25])
def test_a_last_event_id_that_is_no_sequence_is_a_400(site: SiteClient, value: str) -> None:
    response = site.http.get(STREAM, headers={"Last-Event-ID": value})
    message = f"must be an integer from 0 to {2**62}"
    assert (response.status_code, response.json()) == (
        400,
        problem(400, f"Last-Event-ID {message}", [{"field": "Last-Event-ID", "message": message}]),
    )


def test_views_and_their_parameters_choose_what_is_sent(site: SiteClient) -> None:
    site.department(1, "Sales")
    site.agent(1, "Alice", (1,))
    site.agent(2, "Bob")
    params = {"views": "rightnow, AGENTS,RightNow", "departmentId": uid("dept", 1), "pageSize": 1}
    with stream(site, **params) as (_, reader):
        first, second = reader.next_event(), reader.next_event()
    assert (first.event, first.id, first.json()) == ("RightNow", "0", right_now())
    assert second.event == "Agents"
    assert second.json() == site.get(
        "/api/v3/livechat/realTime/Agents", departmentId=uid("dept", 1), pageSize=1
    )
    assert second.json()["total"] == 1


def test_an_ingest_pushes_the_new_right_now(site: SiteClient) -> None:
    with stream(site, views="RightNow") as (_, reader):
        assert next_of(reader, "RightNow").json() == right_now()
        answer = site.ok_events(visitor_arrived(1), visitor_arrived(2))
        update = next_of(reader, "RightNow")
    assert answer["lastSequence"] == 2
    assert update.id == "2"
    assert update.json() == right_now(visitorOnSite=2)


def test_a_burst_of_ingests_yields_few_events_ending_in_the_final_state(site: SiteClient) -> None:
    with stream(site, views="RightNow") as (_, reader):
        next_of(reader, "RightNow")
        for n in range(1, 51):
            site.ok_events(visitor_arrived(n))
        updates: list[Event] = []
        while not updates or updates[-1].json()["visitorOnSite"] < 50:
            updates.append(next_of(reader, "RightNow"))
    counts = [u.json()["visitorOnSite"] for u in updates]
    assert counts == sorted(set(counts))  # each event shows a later state than the one before
    assert len(updates) < 25
    assert updates[-1].id == "50"
    assert updates[-1].json() == site.get("/api/v3/livechat/realTime/RightNow")
    assert updates[-1].json() == right_now(visitorOnSite=50)


def test_a_stream_sees_only_its_own_site(site: SiteClient, other_site: SiteClient) -> None:
    with stream(other_site, views="RightNow") as (_, reader):
        assert next_of(reader, "RightNow").json() == right_now()
        assert site.ok_events(visitor_arrived(1))["lastSequence"] == 1
        assert other_site.ok_events(visitor_arrived(2), visitor_arrived(3))["lastSequence"] == 2
        update = next_of(reader, "RightNow")
    assert (update.id, update.json()) == ("2", right_now(visitorOnSite=2))


def test_another_sites_id_is_forbidden(site: SiteClient, other_site: SiteClient) -> None:
    response = other_site.http.get(STREAM, params={"siteId": site.site_id})
    assert response.status_code == 403
    assert response.json() == problem(
        403,
        "siteId is not the site of this token",
        [{"field": "siteId", "message": "siteId is not the site of this token"}],
    )


def test_a_client_that_never_reads_does_not_hold_up_ingest(
    site: SiteClient, hubs: list[StreamHub]
) -> None:
    for n in range(1, 101):
        site.agent(n, f"Agent{n:03d}")
    path = f"{STREAM}?views=Agents&pageSize=100"
    stalled = RawStream(site.server.base_url, path, site.token)
    try:
        assert stalled.status() == 200
        wait_until(lambda: hubs[0].open_streams == 1)
        for i in range(200):
            status = ONLINE if (i // 100) % 2 == 0 else AWAY
            event = ev(
                "agent.status_changed",
                -1000 + i,
                agentId=uid("agent", i % 100 + 1),
                statusId=status,
            )
            assert site.post_events(event).status_code == 200
        final = site.get("/api/v3/livechat/realTime/Agents", pageSize=100)
        assert [a["currentStatusId"] for a in final["list"]] == [AWAY] * 100
        with stream(site, views="Agents", pageSize=100) as (_, fresh):
            first = next_of(fresh, "Agents")
        assert (first.id, first.json()) == ("200", final)
        # Read the stalled stream now: it catches up with the latest state, not every step.
        reader = SseReader(stalled.lines())
        seen = [next_of(reader, "Agents")]
        while seen[-1].json() != final:
            seen.append(next_of(reader, "Agents"))
        assert seen[-1].id == "200"
        assert len(seen) < 200
    finally:
        stalled.close()


def test_closing_a_stream_frees_its_subscription(
    site: SiteClient, other_site: SiteClient, hubs: list[StreamHub]
) -> None:
    (hub,) = hubs
    assert hub.open_streams == 0
    with stream(site, views="RightNow") as (_, reader):
        next_of(reader, "RightNow")
        with stream(other_site, views="Queue") as (_, other):
            next_of(other, "Queue")
            assert hub.open_streams == 2
        wait_until(lambda: hub.open_streams == 1)
    wait_until(lambda: hub.open_streams == 0)
    # The hub still serves new streams and ingest after everything closed.
    with stream(site, views="RightNow") as (_, reader):
        next_of(reader, "RightNow")
        site.ok_events(visitor_arrived(1))
        assert next_of(reader, "RightNow").json() == right_now(visitorOnSite=1)
    wait_until(lambda: hub.open_streams == 0)


def test_time_dependent_views_are_refreshed_as_the_clock_moves(
    site: SiteClient, clock: FixedClock
) -> None:
    site.department(1, "Sales")
    site.ok_events(
        ev(
            "chat.requested",
            -30,
            chatId=uid("chat", 1),
            visitorId=uid("visitor", 1),
            departmentId=uid("dept", 1),
        )
    )
    with stream(site, views="Queue") as (_, reader):
        first = next_of(reader, "Queue").json()
        assert [v["waitTime"] for row in first for v in row["visitors"]] == [30]
        clock.advance(10_000_000)
        later = next_of(reader, "Queue")
    assert later.id == "1"
    assert [v["waitTime"] for row in later.json() for v in row["visitors"]] == [40]
    assert later.json() == site.get("/api/v3/livechat/realTime/Queue")


def test_an_idle_stream_sends_ping_comments(site: SiteClient) -> None:
    with stream(site, views="RightNow") as (_, reader):
        next_of(reader, "RightNow")
        assert reader.next_comment() == "ping"


def test_an_unknown_view_is_a_bad_request_naming_views(site: SiteClient) -> None:
    response = site.http.get(STREAM, params={"views": "RightNow,Bogus"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    message = "unknown view 'Bogus'; use a comma list of Agents, Queue, Today, RightNow, Intervals"
    assert response.json() == problem(
        400, f"views {message}", [{"field": "views", "message": message}]
    )


def test_a_bad_view_parameter_is_refused_before_the_stream_starts(
    site: SiteClient, hubs: list[StreamHub]
) -> None:
    response = site.http.get(STREAM, params={"views": "Agents", "pageSize": "0"})
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "pageSize", "message": "must be an integer from 1 to 100"}
    ]
    unknown = uid("dept", 9)
    response = site.http.get(STREAM, params={"departmentId": unknown})
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "departmentId", "message": f"unknown department {unknown}"}
    ]
    assert hubs[0].open_streams == 0


def test_a_stream_without_a_token_is_unauthorized(server: Server) -> None:
    with server.client() as anonymous:
        response = anonymous.get(STREAM)
    assert response.status_code == 401
    message = (
        "an Authorization: Bearer <token> (or Basic, with the token as password) header is required"
    )
    assert response.json() == problem(
        401, message, [{"field": "authorization", "message": message}]
    )


def test_the_stream_is_described_in_the_openapi_document(server: Server) -> None:
    with server.client() as anonymous:
        response = anonymous.get("/openapi.json")
    assert response.status_code == 200
    operation = response.json()["paths"][STREAM]["get"]
    # FastAPI's own description of a Server-Sent Events answer (OpenAPI 3.2's itemSchema).
    assert operation["responses"]["200"]["content"] == {
        "text/event-stream": {
            "itemSchema": {
                "type": "object",
                "properties": {
                    "data": {"type": "string"},
                    "event": {"type": "string"},
                    "id": {"type": "string"},
                    "retry": {"type": "integer", "minimum": 0},
                },
            }
        }
    }
    # The parameters are those of the views, declared once (views/query.py), and the header
    # of a reconnect.
    assert [(p["in"], p["name"]) for p in operation["parameters"]] == [
        ("query", "views"),
        ("query", "departmentId"),
        ("query", "includeStatusDistribution"),
        ("query", "pageIndex"),
        ("query", "pageSize"),
        ("query", "timeZone"),
        ("query", "utcOffset"),
        ("query", "startTime"),
        ("query", "endTime"),
        ("query", "extended"),
        ("query", "intervalMinutes"),
        ("query", "alerts"),
        ("header", "Last-Event-ID"),
        ("query", "siteId"),
        ("header", "x-api-siteid"),
    ]


def test_a_view_that_fails_mid_stream_sends_a_problem_and_ends(
    site: SiteClient, hubs: list[StreamHub]
) -> None:
    site.department(1, "Sales")
    department = uid("dept", 1)
    with stream(site, views="RightNow", departmentId=department) as (_, reader):
        assert next_of(reader, "RightNow").json() == right_now()
        assert site.http.delete(f"/api/v3/departments/{department}").status_code == 204
        site.ok_events(visitor_arrived(1))
        failure = next_of(reader, "problem")
        with pytest.raises(EOFError):
            reader.next_event()
    message = f"department {department} is deleted"
    assert failure.json() == problem(
        400, f"departmentId {message}", [{"field": "departmentId", "message": message}]
    )
    wait_until(lambda: hubs[0].open_streams == 0)


def test_an_ingest_by_another_process_reaches_the_stream(
    site: SiteClient, server: Server, clock: FixedClock
) -> None:
    with stream(site, views="RightNow") as (_, reader):
        assert next_of(reader, "RightNow").json() == right_now()
        # Stored without this server's notify, as another worker process would store it.
        result = ingest(server.engine, site.site_id, [visitor_arrived(1)], clock.now())
        assert result.last_sequence == 1
        update = next_of(reader, "RightNow")
    assert (update.id, update.json()) == ("1", right_now(visitorOnSite=1))


def test_revoking_its_token_ends_an_open_stream(site: SiteClient, hubs: list[StreamHub]) -> None:
    created = site.http.post("/api/v3/tokens", json={"name": "board", "scopes": ["realtime.read"]})
    assert created.status_code == 201, created.text
    board = created.json()
    reader_http = site.server.client(board["token"])
    try:
        with reader_http.stream("GET", STREAM, params={"views": "RightNow"}, timeout=20) as resp:
            reader = SseReader(resp.iter_lines())
            assert next_of(reader, "RightNow").json() == right_now()
            revoked = site.http.delete(f"/api/v3/tokens/{board['id']}")
            assert revoked.status_code == 204
            failure = next_of(reader, "problem")
            with pytest.raises(EOFError):
                reader.next_event()
    finally:
        reader_http.close()
    assert failure.json() == problem(401, "the token of this stream was revoked")
    wait_until(lambda: hubs[0].open_streams == 0)


def test_a_configuration_change_alone_pushes_the_new_right_now(site: SiteClient) -> None:
    site.agent(1, "Alice", capacity=4)
    chat = uid("chat", 1)
    site.ok_events(
        ev("agent.status_changed", -600, agentId=uid("agent", 1), statusId=ONLINE),
        ev("chat.requested", -500, chatId=chat, visitorId=uid("visitor", 1)),
        ev("chat.accepted", -490, chatId=chat, agentId=uid("agent", 1)),
    )
    with stream(site, views="RightNow") as (_, reader):
        assert next_of(reader, "RightNow").json()["chatUtilization"] == 25  # 1 chat of 4
        alice = site.http.get(f"/api/v3/agents/{uid('agent', 1)}").json()
        alice["maxConcurrentChats"] = 2
        assert site.http.put(f"/api/v3/agents/{uid('agent', 1)}", json=alice).status_code == 200
        pushed = next_of(reader, "RightNow")
    assert pushed.json() == right_now(
        loggedInAgents=1,
        agentsInChat=1,
        chatUtilization=50,
        ongoingChats=1,
        ongoingChatsWithAgent=1,
    )
    assert pushed.id == "3"  # no event was stored: the same sequence as before
