"""A stream and a GET give the same bytes after every event of a random stream.

Both read `services/views.answer`, but the stream reaches it through the hub (notifications,
coalescing, shared computations, answers from memory), a GET through the route. The site-wide
stream and a department's stream stay open while the random log (the property tests' generator)
is ingested one event at a time; after each event the four GETs are the expected state, and each
stream must reach exactly those bodies (waiting on its events, never on a sleep). Time-dependent
views are computed exactly here (`CHATPULSE_VIEW_MAX_AGE_MS=0`: GET and stream each compute
their own), the clock is fixed, and the stream's minimum gap is 0 so that no event is held back.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from sqlalchemy import Engine

from chatpulse.clock import FixedClock
from tests.integration.views.test_match_reference import NOWS, World, iso, make_log, micros
from tests.sse import SseReader
from tests.support import Server, SiteClient, new_site, running_server

VIEWS = ("RightNow", "Queue", "Today", "Agents")
EVERY_VIEW = "RightNow,Queue,Today,Agents,Intervals"
PATH = "/api/v3/livechat/realTime/"
SEEDS = (11, 12, 13)


@pytest.fixture
def server(engine: Engine, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("CHATPULSE_VIEW_MAX_AGE_MS", "0")
    monkeypatch.setenv("CHATPULSE_STREAM_MIN_INTERVAL_MS", "0")
    with running_server(engine, clock) as srv:
        yield srv


def _gets(site: SiteClient, params: dict[str, str]) -> dict[str, bytes]:
    out = {}
    views = params["views"].split(",") if "views" in params else VIEWS
    for view in views:
        response = site.http.get(PATH + view, params=params)
        assert response.status_code == 200, response.text
        out[view] = response.content
    return out


def _catch_up(
    reader: SseReader, latest: dict[str, bytes], expected: dict[str, bytes], sequence: int
) -> None:
    """Read the stream until its last body of every view is the expected one. An event that
    claims the current sequence (`id`) must carry exactly the GET's body; older ones are states
    the stream had not caught up with yet."""
    while any(latest.get(view) != body for view, body in expected.items()):
        event = reader.next_event(10)  # fails (TimeoutError) if the stream never gets there
        body = event.data.encode()
        if int(event.id) >= sequence:
            assert body == expected[event.event], (event.event, event.id)
        latest[event.event] = body


@pytest.mark.parametrize("seed", SEEDS)
def test_after_every_event_each_stream_sends_what_get_answers(server: Server, seed: int) -> None:
    rng = random.Random(seed)
    now = micros(rng.choice(NOWS))
    server.clock.value = now
    site = new_site(server, time_zone=rng.choice(["UTC", "Europe/Paris", "America/Santiago"]))
    world = World(site, rng)
    log = make_log(world, rng, now)
    assert len(log) >= 10  # the seeds give real work
    queries = [
        {},
        {"departmentId": world.departments[0]},
        {"views": EVERY_VIEW, "extended": "true", "intervalMinutes": "15"},
    ]
    with ExitStack() as stack:
        readers = []
        for params in queries:
            response = stack.enter_context(
                site.http.stream("GET", PATH + "stream", params=params, timeout=20)
            )
            assert response.status_code == 200
            readers.append(SseReader(response.iter_lines()))
        latest: list[dict[str, bytes]] = [{} for _ in queries]
        for reader, params, seen in zip(readers, queries, latest, strict=True):
            _catch_up(reader, seen, _gets(site, params), 0)
        for t, kind, data in log:
            event = {"id": str(uuid.uuid4()), "type": kind, "occurredAt": iso(t), "data": data}
            sequence = site.ok_events(event)["lastSequence"]
            for reader, params, seen in zip(readers, queries, latest, strict=True):
                _catch_up(reader, seen, _gets(site, params), sequence)
    site.http.close()
