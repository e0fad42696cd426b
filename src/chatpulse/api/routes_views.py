"""The four Real Time views (SPEC.md §3): parse the query, run the view, answer JSON."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import WithJsonSchema

from chatpulse.api.auth import Principal, require
from chatpulse.api.openapi import AUTHENTICATED, BOOLEAN, UUID, problems
from chatpulse.api.responses import Json
from chatpulse.api.schemas import AgentsPage, QueueRow, RightNowModel, TodayModel
from chatpulse.views.request import ViewQuery, answer

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


def _respond(request: Request, who: Principal, view: str) -> Json:
    query = ViewQuery.parse(request.query_params)
    state = request.app.state
    return Json(answer(state.engine, who.site_id, view, query, state.clock.now()))


@router.get("/RightNow", response_model=RightNowModel, summary="Counts of the present moment")
def get_right_now(
    request: Request,
    who: Reader,
    department_id: DepartmentId = None,
    time_zone: TimeZone = None,
    utc_offset: UtcOffset = None,
    start_time: StartTime = None,
    end_time: EndTime = None,
) -> Any:
    return _respond(request, who, "RightNow")


@router.get("/Queue", response_model=list[QueueRow], summary="Waiting visitors per route target")
def get_queue(request: Request, who: Reader, department_id: DepartmentId = None) -> Any:
    return _respond(request, who, "Queue")


@router.get("/Today", response_model=TodayModel, summary="The day so far, over a window")
def get_today(
    request: Request,
    who: Reader,
    department_id: DepartmentId = None,
    time_zone: TimeZone = None,
    utc_offset: UtcOffset = None,
    start_time: StartTime = None,
    end_time: EndTime = None,
) -> Any:
    return _respond(request, who, "Today")


@router.get("/Agents", response_model=AgentsPage, summary="Agents, one page, over a window")
def get_agents(
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
    return _respond(request, who, "Agents")
