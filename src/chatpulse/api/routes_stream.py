"""The Server-Sent Events endpoint (SPEC.md §3.5): validate, snapshot, then stream changes."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request

from chatpulse.api.auth import Principal, require
from chatpulse.api.openapi import AUTHENTICATED, problems
from chatpulse.api.stream import EventStream, StreamHub
from chatpulse.domain.errors import BadParameter
from chatpulse.domain.events import normalize_uuid
from chatpulse.views.request import VIEWS, ViewQuery

router = APIRouter(prefix="/api/v3/livechat/realTime", tags=["Real Time"])
Reader = Annotated[Principal, Depends(require("realtime.read"))]
Text = str | None

HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def install(app: FastAPI) -> StreamHub:
    """Give the app its stream hub and let ingest notifications reach it."""
    state = app.state
    hub = StreamHub(state.engine, state.clock, state.settings, state.versions, state.probe)
    state.stream_hub = hub
    state.listeners.append(hub.notify)
    return hub


def parse_views(text: str | None) -> list[str]:
    """The requested views, case-insensitive, in the order named, without repeats."""
    if text is None:
        return list(VIEWS)
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


@router.get(
    "/stream",
    summary="Server-Sent Events: each view on connect, then whenever it changes",
    response_class=EventStream,
    status_code=200,
    responses={
        200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}},
        **problems(*AUTHENTICATED),
    },
)
async def get_stream(
    request: Request,
    who: Reader,
    views: Annotated[Text, Query(description="Comma list of Agents,Queue,Today,RightNow")] = None,
    department_id: Annotated[Text, Query(alias="departmentId")] = None,
    time_zone: Annotated[Text, Query(alias="timeZone")] = None,
    utc_offset: Annotated[Text, Query(alias="utcOffset")] = None,
    start_time: Annotated[Text, Query(alias="startTime")] = None,
    end_time: Annotated[Text, Query(alias="endTime")] = None,
    include_status_distribution: Annotated[Text, Query(alias="includeStatusDistribution")] = None,
    page_index: Annotated[Text, Query(alias="pageIndex")] = None,
    page_size: Annotated[Text, Query(alias="pageSize")] = None,
) -> Any:
    names = parse_views(views)
    query = ViewQuery.parse(request.query_params)
    hub: StreamHub = request.app.state.stream_hub
    release = request.app.state.limits.open_stream(who.token_id)  # 429 beyond the cap
    department = query.department_id
    subscriber = hub.subscribe(
        who.site_id, who.token_id, normalize_uuid(department.strip()) if department else None
    )

    def close() -> None:
        hub.unsubscribe(subscriber)
        release()

    try:
        # Subscribed first, so no ingest between the snapshot and the subscription is missed.
        # A bad parameter fails here, as a problem-details answer before the stream starts.
        first = list(
            await asyncio.gather(
                *(hub.snapshot(who.site_id, name, query, fresh=True) for name in names)
            )
        )
    except BaseException:
        close()
        raise
    hub.seen(who.site_id, min(snap.sequence for snap in first))
    return EventStream(
        hub.events(subscriber, names, query, first),
        on_close=close,
        headers=HEADERS,
    )
