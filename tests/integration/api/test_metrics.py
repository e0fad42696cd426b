"""GET /metrics of a real `chatpulse serve`: exact counts, route templates, no tenant data."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from chatpulse.api.app import create_app
from chatpulse.settings import Settings
from chatpulse.store import sites
from tests.factories import problem
from tests.integration.procs import ServerProcess
from tests.sse import SseReader

RIGHT_NOW = "/api/v3/livechat/realTime/RightNow"
EVENTS = "/api/v3/livechat/events"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(base_url: str, headers: dict[str, str] | None = None) -> Samples:
    """Every sample of /metrics, parsed by prometheus_client's own text-format parser."""
    response = httpx.get(base_url + "/metrics", headers=headers or {}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def wait_until(condition: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.05)  # polling a condition, bounded by the deadline


def _at(seconds_ago: float) -> str:
    moment = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds_ago)
    return moment.isoformat().replace("+00:00", "Z")


def arrived(event_id: str | None = None, visitor: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id or str(uuid.uuid4()),
        "type": "visitor.arrived",
        "occurredAt": _at(30),
        "data": {"visitorId": visitor or str(uuid.uuid4())},
    }


class Tenant:
    def __init__(self, engine: Engine, name: str, site_id: int) -> None:
        site = sites.create_site(engine, name, "UTC", 0, site_id)
        _, self.token = sites.create_token(engine, site.id, f"{name} token", sites.ALL_SCOPES, 0)
        self.site_id = site.id
        self.headers = {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def proc(proc: ServerProcess) -> ServerProcess:
    """The integration tests' server process, started. Without the alert webhooks' dispatcher:
    its look at the outbox every 200 ms would count among the statements and pooled
    connections these tests compare between two scrapes."""
    proc.env["CHATPULSE_ALERT_WEBHOOKS_DISPATCH"] = "false"
    proc.start()
    return proc


def route_templates(routes: Any) -> set[str]:
    """The path templates of every route, inside included routers too."""
    found: set[str] = set()
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            found |= route_templates(included.routes)
        elif isinstance(getattr(route, "path", None), str):
            found.add(route.path)
    return found


def _site_id() -> int:
    return 1_700_000_000 + uuid.uuid4().int % 100_000_000  # distinctive, unlike any metric value


def test_requests_are_counted_by_route_template_method_and_status(
    proc: ServerProcess, engine: Engine
) -> None:
    tenant = Tenant(engine, "Counting", _site_id())
    before = scrape(proc.url)
    with httpx.Client(base_url=proc.url, headers=tenant.headers) as http:
        assert http.get(RIGHT_NOW).status_code == 200
        assert http.get(RIGHT_NOW, params={"timeZone": "Europe/Paris"}).status_code == 200
        assert http.get("/API/V3/LIVECHAT/REALTIME/RIGHTNOW").status_code == 200
        assert http.get(RIGHT_NOW + "/12345").status_code == 404
        assert http.get("/wp-admin/install.php").status_code == 404
        assert http.delete(RIGHT_NOW).status_code == 405
        assert http.request("PROPFIND", "/healthz").status_code == 405
        # A method the HTTP parser does not know is refused before the app: not counted.
        assert http.request("BREW", "/healthz").status_code == 400
    after = scrape(proc.url)

    route = {"route": RIGHT_NOW, "method": "GET"}
    assert delta(before, after, "chatpulse_http_requests_total", **route, status="200") == 3
    assert delta(before, after, "chatpulse_http_request_duration_seconds_count", **route) == 3
    unmatched = {"route": "unmatched", "method": "GET", "status": "404"}
    assert delta(before, after, "chatpulse_http_requests_total", **unmatched) == 2
    deleted = {"route": RIGHT_NOW, "method": "DELETE", "status": "405"}
    assert delta(before, after, "chatpulse_http_requests_total", **deleted) == 1
    brewed = {"route": "/healthz", "method": "other", "status": "405"}
    assert delta(before, after, "chatpulse_http_requests_total", **brewed) == 1
    # The first scrape itself, counted once its answer started.
    scraped = {"route": "/metrics", "method": "GET", "status": "200"}
    assert delta(before, after, "chatpulse_http_requests_total", **scraped) == 1
    # Every request above and nothing else.
    changed = {
        key: after[key] - before.get(key, 0.0)
        for key in after
        if key[0] == "chatpulse_http_requests_total" and after[key] != before.get(key, 0.0)
    }
    assert sum(changed.values()) == 8


def test_ingest_counts_events_accepted_and_duplicate_and_batches_rejected_by_reason(
    proc: ServerProcess, engine: Engine
) -> None:
    tenant = Tenant(engine, "Ingesting", _site_id())
    batch = [arrived() for _ in range(3)]
    before = scrape(proc.url)
    with httpx.Client(base_url=proc.url, headers=tenant.headers) as http:
        assert http.post(EVENTS, json=batch).json()["accepted"] == 3
        again = http.post(EVENTS, json=[*batch[:2], arrived()]).json()
        assert (again["accepted"], again["duplicates"]) == (1, 2)
        invalid = http.post(
            EVENTS,
            json=[
                {**arrived(), "data": {}},
                arrived(),
                {**arrived(), "type": "visitor.teleported"},
            ],
        )
        assert invalid.status_code == 422
        assert [e["index"] for e in invalid.json()["errors"]] == [0, 2]
        conflict = http.post(EVENTS, json=[arrived(batch[0]["id"])])
        assert conflict.status_code == 409
        too_large = http.post(
            EVENTS,
            content=b"[" + b" " * (1024 * 1024) + b"]",
            headers={"Content-Type": "application/json"},
        )
        assert too_large.status_code == 413
        text = http.post(EVENTS, content=b"{}", headers={"Content-Type": "text/plain"})
        assert text.status_code == 415
        broken = http.post(EVENTS, content=b"[{", headers={"Content-Type": "application/json"})
        assert broken.status_code == 400
        assert http.post(EVENTS, json=[]).json()["accepted"] == 0
        unauthorized = http.post(EVENTS, json=batch, headers={"Authorization": "Bearer nope"})
        assert unauthorized.status_code == 401
    after = scrape(proc.url)

    assert delta(before, after, "chatpulse_events_accepted_total") == 4
    assert delta(before, after, "chatpulse_events_duplicate_total") == 2
    rejected = "chatpulse_ingest_rejected_batches_total"
    # One per rejected batch, whatever the number of bad events in it; a 401 is no rejection.
    assert {
        reason: delta(before, after, rejected, reason=reason)
        for reason in ("invalid", "conflict", "too_large", "unsupported_media_type", "malformed")
    } == {
        "invalid": 1,
        "conflict": 1,
        "too_large": 1,
        "unsupported_media_type": 1,
        "malformed": 1,
    }
    posted = {"route": EVENTS, "method": "POST"}
    assert {
        status: delta(before, after, "chatpulse_http_requests_total", **posted, status=status)
        for status in ("200", "400", "401", "409", "413", "415", "422")
    } == {"200": 3, "400": 1, "401": 1, "409": 1, "413": 1, "415": 1, "422": 1}


def test_open_streams_gauge_follows_streams_opening_and_closing(
    proc: ServerProcess, engine: Engine
) -> None:
    tenant = Tenant(engine, "Streaming", _site_id())
    open_now = "chatpulse_streams_open"
    assert value(scrape(proc.url), open_now) == 0
    path = "/api/v3/livechat/realTime/stream"
    with httpx.Client(base_url=proc.url, headers=tenant.headers, timeout=30) as http:
        # Each reader is kept: dropping its line iterator would close the response.
        with http.stream("GET", path, params={"views": "RightNow"}) as first:
            first_reader = SseReader(first.iter_lines())
            assert first_reader.next_event().event == "RightNow"
            with http.stream("GET", path, params={"views": "Queue"}) as second:
                second_reader = SseReader(second.iter_lines())
                assert second_reader.next_event().event == "Queue"
                assert value(scrape(proc.url), open_now) == 2
                # A stream refused before it starts (400) is no open stream.
                assert http.get(path, params={"views": "Nope"}).status_code == 400
                assert value(scrape(proc.url), open_now) == 2
            wait_until(lambda: value(scrape(proc.url), open_now) == 1)
        wait_until(lambda: value(scrape(proc.url), open_now) == 0)
    samples = scrape(proc.url)
    route = {"route": path, "method": "GET"}
    assert value(samples, "chatpulse_http_requests_total", **route, status="200") == 2
    assert value(samples, "chatpulse_http_requests_total", **route, status="400") == 1


def test_pool_gauges_and_query_times(proc: ServerProcess, engine: Engine) -> None:
    tenant = Tenant(engine, "Pooling", _site_id())
    before = scrape(proc.url)
    # Settings().pool_size; nothing holds a connection between requests.
    assert value(before, "chatpulse_db_pool_size") == Settings().pool_size
    assert value(before, "chatpulse_db_pool_checked_out") == 0
    assert value(before, "chatpulse_db_pool_overflow") == 0
    queries = "chatpulse_db_query_duration_seconds_count"
    counts = []
    for _ in range(3):
        # The departments list reads the database every time (a view may come from memory).
        with httpx.Client(base_url=proc.url, headers=tenant.headers) as http:
            assert http.get("/api/v3/departments").status_code == 200
        after = scrape(proc.url)
        counts.append(delta(before, after, queries))
        before = after
    # Once the first request has filled the caches, the same request runs the same statements
    # each time, and every one is timed.
    assert counts[1] > 0
    assert counts[1:] == [counts[1]] * 2
    assert value(after, "chatpulse_db_query_duration_seconds_sum") > 0
    assert value(after, "chatpulse_db_pool_checked_out") == 0


def test_metrics_name_no_site_token_or_tenant_name(proc: ServerProcess, engine: Engine) -> None:
    tenants = [
        Tenant(engine, "Zebra Unicorn Ltd", _site_id()),
        Tenant(engine, "Qwerty", _site_id()),
    ]
    department = "dddddddd-0000-4000-8000-00000000e1e1"
    agent = "aaaaaaaa-0000-4000-8000-00000000a7a7"
    for tenant in tenants:
        with httpx.Client(base_url=proc.url, headers=tenant.headers) as http:
            created = http.post(
                "/api/v3/departments", json={"id": department, "name": "Dept Kangaroo"}
            )
            assert created.status_code == 201, created.text
            agent_body = {
                "id": agent,
                "displayName": "Agent Platypus",
                "email": "platypus@example.com",
                "departmentIds": [department],
            }
            assert http.post("/api/v3/agents", json=agent_body).status_code == 201
            assert http.get(f"/api/v3/departments/{department}").status_code == 200
            assert http.get(f"/api/v3/agents/{agent}").status_code == 200
            assert http.get(f"/api/v3/agents/{uuid.uuid4()}").status_code == 404
            assert http.get(RIGHT_NOW, params={"departmentId": department}).status_code == 200
            assert http.get(f"/api/v3/sites/{tenant.site_id}/x").status_code == 404
            assert http.post(EVENTS, json=[arrived()]).status_code == 200
            other = tenants[1] if tenant is tenants[0] else tenants[0]
            assert http.get(RIGHT_NOW, params={"siteId": other.site_id}).status_code == 403
    text = httpx.get(proc.url + "/metrics").text
    for tenant in tenants:
        assert str(tenant.site_id) not in text
        assert tenant.token not in text
        assert tenant.token[:12] not in text
    for secret in ("Zebra", "Qwerty", "Kangaroo", "Platypus", "e1e1", "a7a7", "example.com"):
        assert secret not in text
    # Every route label is a route template of the app, or the one bucket for the rest.
    templates = route_templates(create_app(Settings()).router.routes) | {"unmatched"}
    routes = {
        sample.labels["route"]
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if "route" in sample.labels
    }
    assert "/api/v3/departments/{department_id}" in routes
    assert "/api/v3/agents/{agent_id}" in routes
    assert routes <= templates


def test_a_metrics_token_when_set_is_required(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATPULSE_METRICS_TOKEN", "scrape-secret")
    server = ServerProcess(database_url, tmp_path / "server.log")
    server.start()
    try:
        missing = httpx.get(server.url + "/metrics")
        assert missing.status_code == 401
        assert missing.headers["content-type"] == "application/problem+json"
        assert missing.json() == problem(
            401,
            "/metrics needs the metrics token (CHATPULSE_METRICS_TOKEN)",
            [{"field": "Authorization", "message": "must be Bearer and the metrics token"}],
        )
        wrong = httpx.get(server.url + "/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        good = scrape(server.url, {"Authorization": "Bearer scrape-secret"})
        assert (
            value(
                good, "chatpulse_http_requests_total", route="/metrics", method="GET", status="401"
            )
            == 2
        )
    finally:
        server.stop()


@pytest.mark.slow
def test_several_workers_answer_with_the_sum_over_all_workers(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    tenant = Tenant(engine, "Workers", _site_id())
    server = ServerProcess(database_url, tmp_path / "server.log", workers=2)
    server.start()
    try:
        workers: set[str] = set()
        for _ in range(20):  # a new connection each time: the kernel spreads them over workers
            response = httpx.get(server.url + RIGHT_NOW, headers=tenant.headers)
            assert response.status_code == 200
            workers.add(response.headers["x-chatpulse-worker"])
        route = {"route": RIGHT_NOW, "method": "GET", "status": "200"}
        # Whichever worker answers the scrape, it counts every worker's requests.
        for _ in range(6):
            assert value(scrape(server.url), "chatpulse_http_requests_total", **route) == 20
        assert value(scrape(server.url), "chatpulse_db_pool_size") == 2 * Settings().pool_size
    finally:
        server.stop()
