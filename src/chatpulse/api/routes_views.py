"""The four Real Time views (SPEC.md §3): parse the query, ask the views service, answer JSON."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from chatpulse.api.auth import Principal, authorize, require
from chatpulse.api.openapi import AUTHENTICATED, problems
from chatpulse.api.schemas import AgentsPage, IntervalModel, QueueRow, RightNowModel, TodayModel
from chatpulse.services import views
from chatpulse.views.query import VIEWS, ViewQuery, parameters

router = APIRouter(
    prefix="/api/v3/livechat/realTime", tags=["Real Time"], responses=problems(*AUTHENTICATED)
)
Reader = Annotated[Principal, Depends(require("realtime.read"))]


def _documented(view: str) -> dict[str, Any]:
    # For the OpenAPI document only: `ViewQuery.parse` reads and checks the parameters
    # (declared as FastAPI parameters they were parsed twice, a share of every request).
    return {"parameters": parameters(view)}


async def _respond(request: Request, who: Principal, view: str) -> Response:
    query = ViewQuery.parse(request.query_params)
    found = await views.respond(request.app.state.runtime, who.site_id, view, query)
    return Response(found.body, media_type="application/json")


@router.get(
    "/RightNow",
    response_model=RightNowModel,
    summary="Counts of the present moment",
    openapi_extra=_documented("RightNow"),
)
async def get_right_now(request: Request, who: Reader) -> Any:
    return await _respond(request, who, "RightNow")


@router.get(
    "/Queue",
    response_model=list[QueueRow],
    summary="Waiting visitors per route target",
    openapi_extra=_documented("Queue"),
)
async def get_queue(request: Request, who: Reader) -> Any:
    return await _respond(request, who, "Queue")


@router.get(
    "/Today",
    response_model=TodayModel,
    summary="The day so far, over a window",
    openapi_extra=_documented("Today"),
)
async def get_today(request: Request, who: Reader) -> Any:
    return await _respond(request, who, "Today")


@router.get(
    "/Agents",
    response_model=AgentsPage,
    summary="Agents, one page, over a window",
    openapi_extra=_documented("Agents"),
)
async def get_agents(request: Request, who: Reader) -> Any:
    return await _respond(request, who, "Agents")


@router.get(
    "/Intervals",
    response_model=list[IntervalModel],
    summary="Today for each 15, 30 or 60 minutes of a window (extension)",
    openapi_extra=_documented("Intervals"),
)
async def get_intervals(request: Request, who: Reader) -> Any:
    return await _respond(request, who, "Intervals")


def _fast(view: str) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        return await _respond(request, await authorize(request, ("realtime.read",)), view)

    return handle


# The same GETs without FastAPI's dependency machinery (api/fast_paths.py).
FAST = {f"{router.prefix}/{view}": _fast(view) for view in VIEWS}
