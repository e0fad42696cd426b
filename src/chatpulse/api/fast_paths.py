"""The hot GETs (the four views, `GET /api/v3/site`, `/healthz`) answered without the router's
search and FastAPI's dependency machinery: one dictionary lookup, then the same handler code.

Installed as the router's own middleware stack, so everything around the router is unchanged:
the middleware (request ids, HEAD, case-insensitive paths, metrics, limits, security headers)
before it, the exception handlers (problem details) around it. The route found is put in the
scope as the router would, so metrics and logs name its template. Every other request goes to
the router. The routes themselves stay declared in FastAPI: they are the OpenAPI document, and
they answer whatever this table does not hold.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

Handler = Callable[[Request], Awaitable[Response]]
_METHODS = ("GET", "HEAD")


class FastPaths:
    """Exact paths → handler, in front of the router (`install`)."""

    def __init__(
        self, app: ASGIApp, router: Any, table: dict[str, tuple[APIRoute, Handler]]
    ) -> None:
        self.app = app
        self.router = router
        self.table = table

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in _METHODS and not scope.get("root_path"):
            found = self.table.get(scope["path"])
            if found is not None:
                route, handler = found
                scope.setdefault("router", self.router)  # as the router sets it
                scope["route"] = route
                scope["endpoint"] = route.endpoint
                scope["path_params"] = {}
                response = await handler(Request(scope, receive, send))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install(app: FastAPI, routes: Iterable[Any], handlers: dict[str, Handler]) -> None:
    """Answer the GETs of these paths through their handlers (each doing what its FastAPI route
    among `routes` does, authentication included)."""
    table: dict[str, tuple[APIRoute, Handler]] = {}
    for route in routes:
        if (
            isinstance(route, APIRoute)
            and route.path in handlers
            and "GET" in (route.methods or ())
        ):
            table[route.path] = (route, handlers[route.path])
    missing = set(handlers) - set(table)
    assert not missing, f"no GET route for {sorted(missing)}"
    app.router.middleware_stack = FastPaths(app.router.middleware_stack, app.router, table)
