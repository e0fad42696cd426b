"""The four Real Time views (SPEC.md §3): parse the query, run the view, answer JSON."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from chatpulse.api.auth import Principal, authorize, require
from chatpulse.api.openapi import AUTHENTICATED, problems
from chatpulse.api.schemas import AgentsPage, QueueRow, RightNowModel, TodayModel
from chatpulse.store.versions import versions_now
from chatpulse.views.request import (
    Answer,
    ViewQuery,
    answer,
    cacheable,
    cached_answer,
    version_keys,
)

log = logging.getLogger("chatpulse.views")

router = APIRouter(
    prefix="/api/v3/livechat/realTime", tags=["Real Time"], responses=problems(*AUTHENTICATED)
)
Reader = Annotated[Principal, Depends(require("realtime.read"))]


def _param(name: str, description: str | None, schema: dict[str, Any]) -> dict[str, Any]:
    title = name[0].upper() + name[1:].lower()
    doc: dict[str, Any] = {"in": "query", "name": name, "required": False}
    if description is not None:
        doc["description"] = description
    if not schema:  # free text: what FastAPI writes for an optional str
        schema = {"anyOf": [{"type": "string"}, {"type": "null"}], "description": description}
    doc["schema"] = {**schema, "title": title}
    return doc


# The views' query parameters, for the OpenAPI document only: `ViewQuery.parse` reads and checks
# them (declared as FastAPI parameters they were parsed twice, a share of every request).
DEPARTMENT = _param("departmentId", "Only this department", {"type": "string", "format": "uuid"})
WINDOW = [
    _param("timeZone", "IANA zone; wins over utcOffset", {}),
    _param(
        "utcOffset", "Minutes east of UTC", {"type": "integer", "minimum": -720, "maximum": 840}
    ),
    _param("startTime", "ISO 8601 date or date-time", {}),
    _param("endTime", "ISO 8601 date or date-time", {}),
]
PAGE = [
    _param("includeStatusDistribution", None, {"type": "boolean"}),
    _param("pageIndex", "From 1", {"type": "integer", "minimum": 1, "maximum": 999_999_999}),
    _param("pageSize", "1 to 100", {"type": "integer", "minimum": 1, "maximum": 100}),
]


def _documented(*parameters: dict[str, Any]) -> dict[str, Any]:
    return {"parameters": list(parameters)}


async def _respond(request: Request, who: Principal, view: str) -> Response:
    """From memory when the answer for the site's committed state is cached (no thread, no
    transaction: `versions_now`); otherwise computed in a worker thread and cached for
    everyone."""
    query = ViewQuery.parse(request.query_params)
    state = request.app.state
    now = state.clock.now()
    max_age = state.settings.view_max_age_ms * 1000
    site_id = who.site_id
    engine = state.engine
    found: Answer | None = None
    due = False
    if cacheable(view, max_age):  # else nothing to look up: no probe
        versions = await versions_now(state.versions, state.probe, site_id, version_keys(query))
        if versions is not None:
            found, due = cached_answer(engine, versions, site_id, view, query, now, max_age)
    if found is None:
        found = await run_in_threadpool(answer, engine, site_id, view, query, now, max_age)
    if due:
        _refresh_later(engine, site_id, view, query, now, max_age)
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


@router.get(
    "/RightNow",
    response_model=RightNowModel,
    summary="Counts of the present moment",
    openapi_extra=_documented(DEPARTMENT, *WINDOW),
)
async def get_right_now(request: Request, who: Reader) -> Any:
    return await _respond(request, who, "RightNow")


@router.get(
    "/Queue",
    response_model=list[QueueRow],
    summary="Waiting visitors per route target",
    openapi_extra=_documented(DEPARTMENT),
)
async def get_queue(request: Request, who: Reader) -> Any:
    return await _respond(request, who, "Queue")


@router.get(
    "/Today",
    response_model=TodayModel,
    summary="The day so far, over a window",
    openapi_extra=_documented(DEPARTMENT, *WINDOW),
)
async def get_today(request: Request, who: Reader) -> Any:
    return await _respond(request, who, "Today")


@router.get(
    "/Agents",
    response_model=AgentsPage,
    summary="Agents, one page, over a window",
    openapi_extra=_documented(DEPARTMENT, *PAGE, *WINDOW),
)
async def get_agents(request: Request, who: Reader) -> Any:
    return await _respond(request, who, "Agents")


def _fast(view: str) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        return await _respond(request, await authorize(request, ("realtime.read",)), view)

    return handle


# The same GETs without FastAPI's dependency machinery (api/fast_paths.py).
FAST = {f"{router.prefix}/{view}": _fast(view) for view in ("RightNow", "Queue", "Today", "Agents")}
