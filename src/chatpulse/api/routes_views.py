"""The four Real Time views (SPEC.md §3): parse the query, run the view, answer JSON."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import WithJsonSchema
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from chatpulse.api.auth import Principal, require
from chatpulse.api.openapi import AUTHENTICATED, BOOLEAN, UUID, problems
from chatpulse.api.schemas import AgentsPage, QueueRow, RightNowModel, TodayModel
from chatpulse.views.request import Answer, ViewQuery, answer, answer_after_one_query, cached_answer

log = logging.getLogger("chatpulse.views")

router = APIRouter(
    prefix="/api/v3/livechat/realTime", tags=["Real Time"], responses=problems(*AUTHENTICATED)
)
Reader = Annotated[Principal, Depends(require("realtime.read"))]
Text = str | None
DepartmentId = Annotated[
    Text, Query(alias="departmentId", description="Only this department"), UUID
]
TimeZone = Annotated[Text, Query(alias="timeZone", description="IANA zone; wins over utcOffset")]
UtcOffset = Annotated[
    Text,
    Query(alias="utcOffset", description="Minutes east of UTC"),
    WithJsonSchema({"type": "integer", "minimum": -720, "maximum": 840}),
]
StartTime = Annotated[Text, Query(alias="startTime", description="ISO 8601 date or date-time")]
EndTime = Annotated[Text, Query(alias="endTime", description="ISO 8601 date or date-time")]
PAGE_INDEX = WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 999_999_999})
PAGE_SIZE = WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 100})


async def _respond(request: Request, who: Principal, view: str) -> Response:
    """From memory when the answer for the site's committed state is cached (no thread, no
    transaction); otherwise computed in a worker thread and cached for everyone."""
    query = ViewQuery.parse(request.query_params)
    state = request.app.state
    now = state.clock.now()
    max_age = state.settings.view_max_age_ms * 1000
    site_id = who.site_id
    engine = state.engine
    found: Answer | None
    if state.versions.available:  # SQLite: the versions from memory, on the event loop
        found, due = cached_answer(engine, state.versions, site_id, view, query, now, max_age)
        if found is None:
            found = await run_in_threadpool(answer, engine, site_id, view, query, now, max_age)
    else:  # PostgreSQL: one statement for the versions, in a worker thread
        found, due = await run_in_threadpool(
            answer_after_one_query, engine, site_id, view, query, now, max_age
        )
    if due:
        _refresh_later(engine, site_id, view, query, now, max_age)
    assert found is not None
    return Response(found.body, media_type="application/json")


# (site, view, query) → the task recomputing it: one at a time each (on the event loop).
_refreshing: dict[tuple[Any, ...], asyncio.Future[Any]] = {}


def _refresh_later(
    engine: Engine, site_id: int, view: str, query: ViewQuery, now: int, max_age: int
) -> None:
    """Recompute a time-dependent answer past half its age in a worker thread, while readers
    keep getting the current one."""
    slot = (id(engine), site_id, view, query)
    if slot in _refreshing:
        return
    task = asyncio.ensure_future(
        run_in_threadpool(answer, engine, site_id, view, query, now, max_age, True)
    )
    _refreshing[slot] = task
    task.add_done_callback(lambda done: _refreshed(slot, done))


def _refreshed(slot: tuple[Any, ...], task: asyncio.Future[Any]) -> None:
    _refreshing.pop(slot, None)
    if not task.cancelled() and task.exception() is not None:
        log.warning("refreshing a view failed: %r", task.exception())


@router.get("/RightNow", response_model=RightNowModel, summary="Counts of the present moment")
async def get_right_now(
    request: Request,
    who: Reader,
    department_id: DepartmentId = None,
    time_zone: TimeZone = None,
    utc_offset: UtcOffset = None,
    start_time: StartTime = None,
    end_time: EndTime = None,
) -> Any:
    return await _respond(request, who, "RightNow")


@router.get("/Queue", response_model=list[QueueRow], summary="Waiting visitors per route target")
async def get_queue(request: Request, who: Reader, department_id: DepartmentId = None) -> Any:
    return await _respond(request, who, "Queue")


@router.get("/Today", response_model=TodayModel, summary="The day so far, over a window")
async def get_today(
    request: Request,
    who: Reader,
    department_id: DepartmentId = None,
    time_zone: TimeZone = None,
    utc_offset: UtcOffset = None,
    start_time: StartTime = None,
    end_time: EndTime = None,
) -> Any:
    return await _respond(request, who, "Today")


@router.get("/Agents", response_model=AgentsPage, summary="Agents, one page, over a window")
async def get_agents(
    request: Request,
    who: Reader,
    department_id: DepartmentId = None,
    include_status_distribution: Annotated[
        Text, Query(alias="includeStatusDistribution"), BOOLEAN
    ] = None,
    page_index: Annotated[Text, Query(alias="pageIndex", description="From 1"), PAGE_INDEX] = None,
    page_size: Annotated[Text, Query(alias="pageSize", description="1 to 100"), PAGE_SIZE] = None,
    time_zone: TimeZone = None,
    utc_offset: UtcOffset = None,
    start_time: StartTime = None,
    end_time: EndTime = None,
) -> Any:
    return await _respond(request, who, "Agents")
