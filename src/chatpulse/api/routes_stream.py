"""The Server-Sent Events endpoint (SPEC.md §3.5): validate, snapshot, then stream changes."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from chatpulse.api.auth import Principal, require
from chatpulse.api.openapi import AUTHENTICATED, problems
from chatpulse.api.problems import problem_body
from chatpulse.domain.errors import BadParameter
from chatpulse.domain.events import normalize_uuid
from chatpulse.domain.params import bool_param, int_param
from chatpulse.services.stream import StreamHub
from chatpulse.services.stream_loop import (
    AlertEvent,
    OpenStream,
    ProblemEvent,
    StreamItem,
    ViewEvent,
)
from chatpulse.services.stream_loop import open_stream as open_hub_stream
from chatpulse.views.query import COMM100_VIEWS, VIEWS, ViewQuery, parameters

router = APIRouter(prefix="/api/v3/livechat/realTime", tags=["Real Time"])
Reader = Annotated[Principal, Depends(require("realtime.read"))]

LAST_EVENT_ID = "Last-Event-ID"
VIEWS_PARAMETER = {
    "in": "query",
    "name": "views",
    "required": False,
    "description": "Comma list of Agents,Queue,Today,RightNow",
    "schema": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Views"},
}
ALERTS_PARAMETER = {
    "in": "query",
    "name": "alerts",
    "required": False,
    "description": "Also send `event: alert` with the site's firing alerts, on connect and "
    "whenever they change (docs/alerts.md)",
    "schema": {"type": "boolean", "title": "Alerts"},
}
LAST_EVENT_ID_PARAMETER = {
    "in": "header",
    "name": LAST_EVENT_ID,
    "required": False,
    "description": "On reconnect: the id of the last event received (a sequence number). "
    "Every view's current snapshot comes first, as on any connect; it holds every change "
    "made after that id.",
    "schema": {"type": "integer", "minimum": 0, "title": LAST_EVENT_ID},
}


def install(app: FastAPI) -> StreamHub:
    """Give the app its stream hub and let the services' notifications reach it."""
    runtime = app.state.runtime
    hub = StreamHub(runtime)
    app.state.stream_hub = hub
    runtime.observers.append(hub)
    return hub


def parse_views(text: str | None) -> list[str]:
    """The requested views, case-insensitive, in the order named, without repeats."""
    if text is None:
        return list(COMM100_VIEWS)
    known = {view.lower(): view for view in VIEWS}
    names: list[str] = []
    for part in text.split(","):
        name = known.get(part.strip().lower())
        if name is None:
            shown = part.strip()[:40]
            raise BadParameter(
                "views", f"unknown view {shown!r}; use a comma list of {', '.join(VIEWS)}"
            )
        if name not in names:
            names.append(name)
    return names


async def _opened(request: Request, who: Reader) -> AsyncIterator[OpenStream]:
    """The stream, open and with its first snapshots, or a problem-details answer before it
    starts (bad parameter, too many streams); closed when the response ends."""
    names = parse_views(request.query_params.get("views"))
    # Views are states, not deltas: a reconnect gets every view's snapshot, which holds every
    # change after the id it names. The id is checked all the same (it must be one we sent).
    int_param(LAST_EVENT_ID, request.headers.get(LAST_EVENT_ID), 0, 0, 2**62)
    query = ViewQuery.parse(request.query_params)
    alerts = bool_param("alerts", request.query_params.get("alerts"))
    release = request.app.state.limits.open_stream(who.token_id)  # 429 beyond the cap
    department = normalize_uuid(query.department_id.strip()) if query.department_id else None
    try:
        opened = await open_hub_stream(
            request.app.state.stream_hub,
            who.site_id,
            who.token_id,
            names,
            query,
            department,
            alerts,
        )
    except BaseException:
        release()
        raise
    try:
        yield opened
    finally:
        opened.close()
        release()


def _sse(item: StreamItem) -> ServerSentEvent:
    if isinstance(item, ViewEvent):
        body = item.answer.body.decode()
        return ServerSentEvent(event=item.view, id=str(item.answer.sequence), raw_data=body)
    if isinstance(item, AlertEvent):  # no id: a reconnect gets the firing alerts anyway
        return ServerSentEvent(event="alert", raw_data=item.body.decode())
    if isinstance(item, ProblemEvent):
        body = problem_body(item.status, item.detail, item.errors).decode()
        return ServerSentEvent(event="problem", raw_data=body)
    return ServerSentEvent(comment=item)


@router.get(
    "/stream",
    summary="Server-Sent Events: each view on connect, then whenever it changes",
    response_class=EventSourceResponse,
    responses=problems(*AUTHENTICATED),
    openapi_extra={
        "parameters": [
            VIEWS_PARAMETER,
            *parameters(*VIEWS),
            ALERTS_PARAMETER,
            LAST_EVENT_ID_PARAMETER,
        ]
    },
)
async def get_stream(
    opened: Annotated[OpenStream, Depends(_opened)],
) -> AsyncIterable[ServerSentEvent]:
    async for item in opened.events():
        yield _sse(item)
