"""The web app factory: routers, error handlers, middleware, shared state."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from chatpulse import __version__
from chatpulse.api import (
    problems,
    routes_admin,
    routes_config,
    routes_events,
    routes_ops,
    routes_stream,
    routes_views,
    routes_wallboard,
)
from chatpulse.api.middleware import CaseInsensitivePaths, RequestIdMiddleware
from chatpulse.clock import Clock, SystemClock
from chatpulse.domain.errors import ChatPulseError
from chatpulse.settings import Settings
from chatpulse.store.db import make_engine

DESCRIPTION = """ChatPulse keeps the live state of a live-chat operation and answers the four
questions of the Comm100 Live Chat Real Time API (Agents, Queue, Today, RightNow).
Authenticate with `Authorization: Bearer <token>`."""


def create_app(
    settings: Settings | None = None,
    engine: Engine | None = None,
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
    )
    app.state.settings = settings
    app.state.engine = engine or make_engine(settings.database_url, settings.pool_size)
    app.state.clock = clock or SystemClock()
    listeners: list[Callable[[int, int], None]] = []
    app.state.listeners = listeners

    def notify(site_id: int, sequence: int) -> None:
        for listener in listeners:
            listener(site_id, sequence)

    app.state.notify = notify
    routes_stream.install(app)

    app.add_exception_handler(ChatPulseError, problems.on_chatpulse_error)
    app.add_exception_handler(StarletteHTTPException, problems.on_http_error)
    app.add_exception_handler(RequestValidationError, problems.on_validation_error)
    app.add_exception_handler(Exception, problems.on_unexpected)

    paths: list[str] = []
    for module in (
        routes_views,
        routes_stream,
        routes_events,
        routes_config,
        routes_admin,
        routes_ops,
        routes_wallboard,
    ):
        app.include_router(module.router)
        paths.extend(getattr(route, "path", "") for route in module.router.routes)

    app.add_middleware(CaseInsensitivePaths, paths=paths)
    app.add_middleware(RequestIdMiddleware, log_requests=settings.log_requests)
    return app


def app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` and for worker processes: settings from CHATPULSE_*."""
    return create_app(Settings())
