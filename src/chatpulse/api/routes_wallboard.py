"""The wallboard page (SPEC.md §6): one self-contained HTML page, its scripts (the board and its
alerts banner), style and icon, and the vendored code it loads (static/vendor/, pinned in
static/vendor/VERSIONS): the stream client and uPlot, the chart of today's intervals, with
uPlot's stylesheet."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

router = APIRouter(tags=["Wallboard"])

# The page runs no inline script or style and talks only to its own origin.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidate every load, so a new release's script is never mixed with an old page.
    "Cache-Control": "no-cache",
}

ASSETS = {
    "wallboard.html": "text/html; charset=utf-8",
    "wallboard.js": "text/javascript; charset=utf-8",
    "wallboard-alerts.js": "text/javascript; charset=utf-8",
    "wallboard.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
    "vendor/eventsource-client.js": "text/javascript; charset=utf-8",
    "vendor/eventsource-parser.js": "text/javascript; charset=utf-8",
    "vendor/uplot.js": "text/javascript; charset=utf-8",
    "vendor/uplot.css": "text/css; charset=utf-8",
}


def _asset(name: str) -> Response:
    body = resources.files("chatpulse.api").joinpath("static", *name.split("/")).read_bytes()
    return Response(body, media_type=ASSETS[name], headers=SECURITY_HEADERS)


@router.get("/wallboard", include_in_schema=False)
def wallboard_page() -> Response:
    return _asset("wallboard.html")


@router.get("/wallboard/", include_in_schema=False)
def wallboard_slash(request: Request) -> Response:
    query = request.url.query
    return RedirectResponse("/wallboard" + (f"?{query}" if query else ""), status_code=308)


def _serving(name: str) -> Callable[[], Response]:
    def serve() -> Response:
        return _asset(name)

    return serve


# The page's script and style, its icon (linked from the page, so the browser asks for it
# instead of /favicon.ico, a 404 otherwise), and the vendored code: the stream client and its
# parser, ES modules imported by wallboard.js; uPlot, the chart of today's intervals, its ES
# module and its stylesheet as a file (`style-src 'self'` admits no inline style; the style
# properties it sets from script go through the CSSOM).
for _name in ASSETS:
    if _name != "wallboard.html":
        router.add_api_route(
            f"/wallboard/{_name}", _serving(_name), methods=["GET"], include_in_schema=False
        )
