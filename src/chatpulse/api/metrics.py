"""Prometheus metrics (SPEC.md §6): request, ingest, stream and database numbers, no tenant data.

Every label value comes from a small fixed set: route templates (never raw paths), methods,
status codes and rejection reasons. Nothing names a site, token, department or agent.

Several worker processes (`chatpulse serve --workers N`) share one port, so a scrape reaches
one worker at random: `cmd_serve` then gives them a PROMETHEUS_MULTIPROC_DIR and every worker
answers /metrics with the sum over all workers (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import hmac
import os
import threading
import time
from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, Request
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatpulse.api.openapi import problems
from chatpulse.api.problems import problem
from chatpulse.domain.errors import FieldError
from chatpulse.services import alerts
from chatpulse.services.runtime import Runtime, is_unavailable, pool_sizes

# No `_created` series: half the text, and nothing a dashboard uses.
disable_created_metrics()  # type: ignore[no-untyped-call]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED = "unmatched"  # every path no route serves: one label, whatever a scanner tries
STREAM_ROUTE = "/api/v3/livechat/realTime/stream"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# Latency buckets (seconds): views answer in milliseconds; the tail shows slow disks or locks.
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
QUERY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5)

HTTP_REQUESTS = Counter(
    "chatpulse_http_requests",
    "HTTP requests answered, by route template, method and status code",
    ("route", "method", "status"),
)
HTTP_DURATION = Histogram(
    "chatpulse_http_request_duration_seconds",
    "Time from receiving a request to the start of its response, by route template and method",
    ("route", "method"),
    buckets=HTTP_BUCKETS,
)
EVENTS_ACCEPTED = Counter("chatpulse_events_accepted", "Events stored by ingest")
EVENTS_DUPLICATE = Counter(
    "chatpulse_events_duplicate", "Events ingest answered as duplicates (already stored)"
)
INGEST_REJECTED = Counter(
    "chatpulse_ingest_rejected_batches",
    "Ingest requests (batches) rejected whole, by reason: malformed (400), too_slow (408), "
    "conflict (409), too_large (413), unsupported_media_type (415), invalid (422), "
    "rate_limited (429)",
    ("reason",),
)
CONNECTOR_DELIVERIES = Counter(
    "chatpulse_connector_deliveries",
    "Webhook deliveries to connectors, by platform and outcome: stored, dropped (some of its "
    "facts could not go into the log), ignored (an event the connector does not use), refused "
    "(unknown connector, bad secret or signature, not JSON; platform unknown)",
    ("platform", "outcome"),
)
CONNECTOR_DROPPED = Counter(
    "chatpulse_connector_dropped_facts",
    "Facts of connector deliveries that could not go into the log (listed per connector by "
    "GET /api/v3/connectors/{id}/drops), by platform",
    ("platform",),
)
CONNECTOR_REPAIRED = Counter(
    "chatpulse_connector_repaired_facts",
    "Facts of connector deliveries stored after a repair (order, implied start), by platform",
    ("platform",),
)
ALERT_WEBHOOK_DELIVERIES = Counter(
    "chatpulse_alert_webhook_deliveries",
    "Alert webhook delivery attempts, by outcome: delivered (a 2xx), retried (failed, tried "
    "again later), refused (the host resolved to an address the policy refuses; tried again "
    "later), failed (failed, and given up: its retry time is over)",
    ("outcome",),
)
for _outcome in ("delivered", "retried", "refused", "failed"):  # each shown from the start
    ALERT_WEBHOOK_DELIVERIES.labels(_outcome)
STREAMS_OPEN = Gauge(
    "chatpulse_streams_open",
    "Server-Sent Events streams open now",
    multiprocess_mode="livesum",
)
ALERTS_FIRING = Gauge(
    "chatpulse_alerts_firing",
    "Alerts firing now (rule subjects at warning or critical, every site), by severity; read "
    "from the database at each scrape",
    ("severity",),
    multiprocess_mode="livemostrecent",
)
POOL_SIZE = Gauge(
    "chatpulse_db_pool_size",
    "Configured database connections per pool",
    multiprocess_mode="livesum",
)
POOL_CHECKED_OUT = Gauge(
    "chatpulse_db_pool_checked_out",
    "Database connections in use now",
    multiprocess_mode="livesum",
)
POOL_OVERFLOW = Gauge(
    "chatpulse_db_pool_overflow",
    "Database connections open beyond the pool size now",
    multiprocess_mode="livesum",
)
QUERY_DURATION = Histogram(
    "chatpulse_db_query_duration_seconds",
    "Time the database driver took for one statement",
    buckets=QUERY_BUCKETS,
)

INGEST_ROUTE = "/api/v3/livechat/events"
REJECTION_REASONS: dict[int, str] = {
    400: "malformed",
    408: "too_slow",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
}


def count_ingest(accepted: int, duplicates: int) -> None:
    if accepted:
        EVENTS_ACCEPTED.inc(accepted)
    if duplicates:
        EVENTS_DUPLICATE.inc(duplicates)


def count_delivery(platform: str, outcome: str, result: Any = None) -> None:
    """One connector delivery (`result`: its DeliveryResult, when it got that far)."""
    CONNECTOR_DELIVERIES.labels(platform, outcome).inc()
    if result is not None:
        if result.dropped:
            CONNECTOR_DROPPED.labels(platform).inc(result.dropped)
        if result.repaired:
            CONNECTOR_REPAIRED.labels(platform).inc(result.repaired)
        count_ingest(result.accepted, result.duplicates)


def count_alert_webhook_delivery(outcome: str) -> None:
    """One attempt of the alert webhooks' dispatcher (services/alert_dispatch.py)."""
    ALERT_WEBHOOK_DELIVERIES.labels(outcome).inc()


def route_label(scope: Scope) -> str:
    """The matched route's template (`/api/v3/departments/{department_id}`), else `unmatched`.

    A request answered before routing (a body limit, a CORS preflight) is matched here."""
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str):
        return path
    routes = getattr(getattr(scope.get("app"), "router", None), "routes", ())
    return _template(routes, scope.get("path", "")) or UNMATCHED


def _template(routes: Iterable[Any], path: str) -> str | None:
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI's included router
        if included is not None:
            found = _template(included.routes, path)
            if found is not None:
                return found
            continue
        regex = getattr(route, "path_regex", None)
        template = getattr(route, "path", None)
        if regex is not None and isinstance(template, str) and regex.match(path):
            return template
    return None


# The labelled children, looked up once: routes × methods × statuses is a small, bounded set.
_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def _observe(route: str, method: str, status: int, seconds: float) -> None:
    key = (route, method, status)
    children = _children.get(key)
    if children is None:
        children = (
            HTTP_REQUESTS.labels(route, method, str(status)),
            HTTP_DURATION.labels(route, method),
        )
        _children[key] = children
    children[0].inc()
    children[1].observe(seconds)


class MetricsMiddleware:
    """Pure ASGI: counts every response and times it to its start (streams are never waited on).

    Install it inside the router-facing middleware, so that the scope it sees is the one the
    router writes the matched route into.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method = scope["method"] if scope["method"] in METHODS else "other"
        status = 0
        stream = False

        async def send_and_count(message: Message) -> None:
            nonlocal status, stream
            if message["type"] == "http.response.start":
                status = message["status"]
                route = route_label(scope)
                _observe(route, method, status, time.perf_counter() - started)
                if route == INGEST_ROUTE and method == "POST" and status in REJECTION_REASONS:
                    INGEST_REJECTED.labels(REJECTION_REASONS[status]).inc()
                state = scope.get("state")
                if isinstance(state, dict):
                    state["route"] = route  # for the access log
                if route == STREAM_ROUTE and status == 200:
                    stream = True
                    STREAMS_OPEN.inc()
            await send(message)

        try:
            await self.app(scope, receive, send_and_count)
        except BaseException:
            if status == 0:  # failed before answering: the server's handler answers 500
                route = route_label(scope)
                state = scope.get("state")
                if isinstance(state, dict):
                    state["route"] = route  # for the error and access logs
                _observe(route, method, 500, time.perf_counter() - started)
            raise
        finally:
            if stream:
                STREAMS_OPEN.dec()


_sampler: threading.Thread | None = None
SAMPLE_SECONDS = 1.0


def instrument(runtime: Runtime) -> None:
    """The query-time histogram for the runtime's engine, and its pool in the pool gauges."""
    global _sampler
    runtime.instrument(QUERY_DURATION.observe)
    sample_pools()
    if os.environ.get(MULTIPROC_ENV) and _sampler is None:
        # A scrape reaches one worker: the others publish their pools on their own.
        _sampler = threading.Thread(target=_sample_forever, name="metrics-pool", daemon=True)
        _sampler.start()


def sample_pools() -> None:
    """Set the pool gauges from this process's pools (read at scrape time, and every second in
    multiprocess mode)."""
    size, checked_out, overflow = pool_sizes()
    POOL_SIZE.set(size)
    POOL_CHECKED_OUT.set(checked_out)
    POOL_OVERFLOW.set(overflow)


def _sample_forever() -> None:
    while True:
        time.sleep(SAMPLE_SECONDS)
        sample_pools()


def exposition() -> bytes:
    """The metrics in Prometheus text format: this process's, or all workers' in multiprocess
    mode."""
    sample_pools()
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


router = APIRouter(tags=["Operations"])


@router.get(
    "/metrics",
    summary="Prometheus metrics (text format); no tenant data",
    response_class=PlainTextResponse,
    responses=problems(401),
)
def get_metrics(request: Request) -> Response:
    expected: str | None = request.app.state.settings.metrics_token
    if expected:
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), expected.encode()
        ):
            return problem(
                401,
                "/metrics needs the metrics token (CHATPULSE_METRICS_TOKEN)",
                [FieldError("Authorization", "must be Bearer and the metrics token")],
            )
    sample_alerts(request.app.state.runtime)
    return Response(exposition(), media_type=CONTENT_TYPE_PLAIN_0_0_4)


def sample_alerts(runtime: Runtime) -> None:
    """The firing alerts gauge from the database (the same for every worker; the scraped
    worker's reading is the most recent)."""
    try:
        counts = alerts.firing_counts(runtime)
    except Exception as err:  # the database away: the last reading stays
        if not is_unavailable(err):
            raise
        return
    for severity, count in counts.items():
        ALERTS_FIRING.labels(severity).set(count)
