"""The web app factory: routers, error handlers, middleware, shared state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from chatpulse import __version__
from chatpulse.api import (
    fast_paths,
    limits,
    metrics,
    openapi,
    problems,
    routes_admin,
    routes_alert_webhooks,
    routes_alerts,
    routes_config,
    routes_connectors,
    routes_events,
    routes_ops,
    routes_stream,
    routes_views,
    routes_wallboard,
    security,
)
from chatpulse.api.middleware import (
    CaseInsensitivePaths,
    HeadAsGet,
    RequestIdMiddleware,
    configure_logging,
)
from chatpulse.clock import Clock
from chatpulse.domain.errors import ChatPulseError
from chatpulse.services import alert_dispatch, alert_eval, connector_poll, connectors
from chatpulse.services.runtime import Database, Runtime, StorageError
from chatpulse.services.stream import listening
from chatpulse.settings import Settings

DESCRIPTION = """ChatPulse keeps the live state of a live-chat operation and answers the four
questions of the Comm100 Live Chat Real Time API (Agents, Queue, Today, RightNow).
Authenticate with `Authorization: Bearer <token>`, or as Comm100's API-key clients do, with
`Authorization: Basic base64(anything:token)`. The Real Time paths are served under
`/v4/livechat/realTime/…` and `/api/v4/livechat/realTime/…` too (Comm100's v4 base paths),
with the same answers."""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """While serving: on PostgreSQL, the stream hub hears other processes' ingests (LISTEN);
    the connectors' availability poller runs (services/connector_poll.py); the alert evaluator
    runs (services/alert_eval.py: it evaluates only while this process holds its lease), and the
    alert webhooks' dispatcher (services/alert_dispatch.py)."""
    poller = connector_poll.Poller(app.state.runtime)
    if app.state.settings.connector_poll:
        poller.start()
    evaluator: alert_eval.Evaluator = app.state.alert_evaluator
    if app.state.settings.alert_evaluation:
        evaluator.start()
    dispatcher = alert_dispatch.Dispatcher(app.state.runtime, metrics.count_alert_webhook_delivery)
    if app.state.settings.alert_webhooks_dispatch:
        dispatcher.start()
    app.state.dispatcher = dispatcher
    async with listening(app.state.stream_hub), limits.streams_end_on_shutdown(app):
        try:
            yield
        finally:
            await evaluator.stop()
            await anyio.to_thread.run_sync(dispatcher.stop)
            await anyio.to_thread.run_sync(poller.stop)
            await app.state.runtime.close()


def create_app(
    settings: Settings | None = None,
    engine: Database | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    settings = settings or Settings()
    app = FastAPI(
        title="ChatPulse",
        version=__version__,
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        lifespan=lifespan,
        # No redirect to the other spelling of a trailing slash: Starlette would build its
        # absolute URL from the Host header. Such a path is a 404 (/wallboard/ excepted).
        redirect_slashes=False,
    )
    runtime = Runtime.start(settings, engine, clock)
    app.state.runtime = runtime
    app.state.settings = settings
    app.state.clock = runtime.clock
    app.state.intake = connectors.Intake(runtime)
    hub = routes_stream.install(app)
    app.state.alert_evaluator = alert_eval.Evaluator(runtime, hub)
    app.state.alert_evaluator.listeners.append(hub.alerts_changed)

    app.add_exception_handler(ChatPulseError, problems.on_chatpulse_error)
    app.add_exception_handler(StarletteHTTPException, problems.on_http_error)
    app.add_exception_handler(RequestValidationError, problems.on_validation_error)
    app.add_exception_handler(StorageError, problems.on_database_error)
    app.add_exception_handler(Exception, problems.on_unexpected)

    paths: list[str] = []
    routes: list[Any] = []
    for module in (
        routes_views,
        routes_stream,
        routes_events,
        routes_config,
        routes_admin,
        routes_connectors,
        routes_alerts,
        routes_alert_webhooks,
        routes_ops,
        routes_wallboard,
        metrics,
    ):
        app.include_router(module.router)
        paths.extend(getattr(route, "path", "") for route in module.router.routes)
        routes.extend(module.router.routes)

    openapi.install(app, routes)
    fast_paths.install(app, routes, {**routes_views.FAST, **routes_admin.FAST, **routes_ops.FAST})
    metrics.instrument(runtime)
    limits.install(app, settings)  # rate, body and stream limits (api/limits.py)
    security.install(app, settings)  # CORS, nosniff (api/security.py)
    app.add_middleware(metrics.MetricsMiddleware)  # inside: sees the route the router matched
    app.add_middleware(CaseInsensitivePaths, paths=paths)
    app.add_middleware(HeadAsGet)
    app.add_middleware(RequestIdMiddleware, log_requests=settings.log_requests)
    return app


def app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` and for worker processes: settings from CHATPULSE_*."""
    configure_logging()  # each worker process logs JSON lines too
    return create_app(Settings())
