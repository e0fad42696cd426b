"""Configuration (SPEC.md §5): departments, agents and agent statuses, Comm100 v3 shapes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from chatpulse.api.auth import Principal, require
from chatpulse.api.openapi import AUTHENTICATED, WITH_BODY, problems
from chatpulse.api.responses import Json
from chatpulse.api.schemas import (
    AgentBody,
    AgentModel,
    DepartmentBody,
    DepartmentModel,
    StatusBody,
    StatusModel,
)
from chatpulse.domain.errors import FieldError, InvalidBody, NotFound
from chatpulse.domain.events import normalize_uuid
from chatpulse.domain.timeutil import OUT_OF_RANGE, format_instant, instant_in_range, parse_iso
from chatpulse.store import config

router = APIRouter(prefix="/api/v3", tags=["Configuration"], responses=problems(*AUTHENTICATED))
Reader = Annotated[Principal, Depends(require("config.read"))]


def _config_writer(
    request: Request, who: Annotated[Principal, Depends(require("config.write"))]
) -> Iterator[Principal]:
    """A configuration write; once it has succeeded, this process's open streams of the site
    recompute their views (a capacity or a status type changes RightNow without any event)."""
    yield who
    request.app.state.stream_hub.config_changed(who.site_id)


Writer = Annotated[Principal, Depends(_config_writer)]
IncludeDeleted = Annotated[bool, Query(alias="includeDeleted")]


def _id(value: str, what: str) -> str:
    canonical = normalize_uuid(value)
    if canonical is None:
        raise NotFound(what)
    return canonical


def _new_id(given: str | None) -> str:
    return given or str(uuid.uuid4())


def _body_id(path_id: str, given: str | None) -> None:
    if given is not None and given != path_id:
        raise InvalidBody([FieldError("id", "must match the id in the path")])


def _body_site(site_id: int, given: int | None) -> None:
    if given is not None and given != site_id:
        raise InvalidBody([FieldError("siteId", "must be the id of this token's site")])


# ---------------------------------------------------------------- departments


def _department_doc(site_id: int, department_id: str, body: DepartmentBody) -> dict[str, Any]:
    _body_site(site_id, body.siteId)
    return {
        "id": department_id,
        "siteId": site_id,
        "name": body.name,
        "description": body.description,
        "isAvailableInLiveChat": body.isAvailableInLiveChat,
        "isAvailableInTicketingAndMessaging": body.isAvailableInTicketingAndMessaging,
        "isDeleted": False,
    }


@router.get("/departments", response_model=list[DepartmentModel])
def list_departments(request: Request, who: Reader, include_deleted: IncludeDeleted = False) -> Any:
    return Json(config.list_departments(request.app.state.engine, who.site_id, include_deleted))


@router.post(
    "/departments",
    status_code=201,
    response_model=DepartmentModel,
    responses=problems(*WITH_BODY, 409),
)
def create_department(request: Request, who: Writer, body: DepartmentBody) -> Any:
    doc = _department_doc(who.site_id, _new_id(body.id), body)
    return Json(config.insert_department(request.app.state.engine, who.site_id, doc), 201)


@router.get("/departments/{department_id}", response_model=DepartmentModel, responses=problems(404))
def get_department(request: Request, who: Reader, department_id: str) -> Any:
    doc = config.get_department(
        request.app.state.engine, who.site_id, _id(department_id, "department")
    )
    if doc is None:
        raise NotFound("department")
    return Json(doc)


@router.put(
    "/departments/{department_id}",
    response_model=DepartmentModel,
    responses=problems(*WITH_BODY, 404, 409),
)
def replace_department(
    request: Request, who: Writer, department_id: str, body: DepartmentBody
) -> Any:
    key = _id(department_id, "department")
    _body_id(key, body.id)
    doc = config.replace_department(
        request.app.state.engine, who.site_id, _department_doc(who.site_id, key, body)
    )
    if doc is None:
        raise NotFound("department")
    return Json(doc)


@router.delete("/departments/{department_id}", status_code=204, responses=problems(404, 409))
def delete_department(request: Request, who: Writer, department_id: str) -> Response:
    key = _id(department_id, "department")
    if not config.delete_department(request.app.state.engine, who.site_id, key):
        raise NotFound("department")
    return Response(status_code=204)


# ---------------------------------------------------------------- agents


def _agent_doc(site_id: int, agent_id: str, body: AgentBody, now: int) -> dict[str, Any]:
    _body_site(site_id, body.siteId)
    locked_time = None
    if body.lockedTime is not None:
        moment = parse_iso(body.lockedTime)
        if moment is None or moment.tzinfo is None:
            raise InvalidBody(
                [FieldError("lockedTime", "must be an ISO 8601 date-time with offset")]
            )
        micros = instant_in_range(moment)
        if micros is None:
            raise InvalidBody([FieldError("lockedTime", OUT_OF_RANGE)])
        locked_time = format_instant(micros)
    return {
        "id": agent_id,
        "siteId": site_id,
        "displayName": body.displayName,
        "email": body.email,
        "firstName": body.firstName,
        "lastName": body.lastName,
        "isAdmin": body.isAdmin,
        "isActive": body.isActive,
        "phone": body.phone,
        "title": body.title,
        "bio": body.bio,
        "apiKey": None,
        "createdTime": format_instant(now),
        "isLocked": body.isLocked,
        "lockedTime": locked_time,
        "isDeleted": False,
        "systemAvatarId": body.systemAvatarId,
        "ifCustomizeAvatar": body.ifCustomizeAvatar,
        "customizeAvatar": body.customizeAvatar,
        "avatar": body.avatar,
        "departmentIds": list(dict.fromkeys(body.departmentIds)),
        "maxConcurrentChats": body.maxConcurrentChats,
    }


@router.get("/agents", response_model=list[AgentModel])
def list_agents(request: Request, who: Reader, include_deleted: IncludeDeleted = False) -> Any:
    return Json(config.list_agents(request.app.state.engine, who.site_id, include_deleted))


@router.post(
    "/agents",
    status_code=201,
    response_model=AgentModel,
    responses=problems(*WITH_BODY, 409),
)
def create_agent(request: Request, who: Writer, body: AgentBody) -> Any:
    now = request.app.state.clock.now()
    doc = _agent_doc(who.site_id, _new_id(body.id), body, now)
    return Json(config.insert_agent(request.app.state.engine, who.site_id, doc), 201)


@router.get("/agents/{agent_id}", response_model=AgentModel, responses=problems(404))
def get_agent(request: Request, who: Reader, agent_id: str) -> Any:
    doc = config.get_agent(request.app.state.engine, who.site_id, _id(agent_id, "agent"))
    if doc is None:
        raise NotFound("agent")
    return Json(doc)


@router.put(
    "/agents/{agent_id}", response_model=AgentModel, responses=problems(*WITH_BODY, 404, 409)
)
def replace_agent(request: Request, who: Writer, agent_id: str, body: AgentBody) -> Any:
    key = _id(agent_id, "agent")
    _body_id(key, body.id)
    now = request.app.state.clock.now()
    doc = config.replace_agent(
        request.app.state.engine, who.site_id, _agent_doc(who.site_id, key, body, now)
    )
    if doc is None:
        raise NotFound("agent")
    return Json(doc)


@router.delete("/agents/{agent_id}", status_code=204, responses=problems(404, 409))
def delete_agent(request: Request, who: Writer, agent_id: str) -> Response:
    if not config.delete_agent(request.app.state.engine, who.site_id, _id(agent_id, "agent")):
        raise NotFound("agent")
    return Response(status_code=204)


# ---------------------------------------------------------------- agent statuses


def _status_doc(status_id: str, body: StatusBody) -> dict[str, Any]:
    return {"id": status_id, "name": body.name, "type": body.type, "order": body.order}


@router.get("/livechat/agentStatuses", response_model=list[StatusModel])
def list_statuses(request: Request, who: Reader, include_deleted: IncludeDeleted = False) -> Any:
    return Json(config.list_statuses(request.app.state.engine, who.site_id, include_deleted))


@router.post(
    "/livechat/agentStatuses",
    status_code=201,
    response_model=StatusModel,
    responses=problems(*WITH_BODY, 409),
)
def create_status(request: Request, who: Writer, body: StatusBody) -> Any:
    doc = config.insert_status(
        request.app.state.engine, who.site_id, _status_doc(_new_id(body.id), body)
    )
    return Json(_ordered_status(doc), 201)


@router.get(
    "/livechat/agentStatuses/{status_id}", response_model=StatusModel, responses=problems(404)
)
def get_status(request: Request, who: Reader, status_id: str) -> Any:
    found = config.get_status(request.app.state.engine, who.site_id, _id(status_id, "status"))
    if found is None:
        raise NotFound("agent status")
    return Json(found[0])


@router.put(
    "/livechat/agentStatuses/{status_id}",
    response_model=StatusModel,
    responses=problems(*WITH_BODY, 404, 409),
)
def replace_status(request: Request, who: Writer, status_id: str, body: StatusBody) -> Any:
    key = _id(status_id, "agent status")
    _body_id(key, body.id)
    doc = config.replace_status(request.app.state.engine, who.site_id, _status_doc(key, body))
    if doc is None:
        raise NotFound("agent status")
    return Json(_ordered_status(doc))


@router.delete("/livechat/agentStatuses/{status_id}", status_code=204, responses=problems(404, 409))
def delete_status(request: Request, who: Writer, status_id: str) -> Response:
    key = _id(status_id, "agent status")
    if not config.delete_status(request.app.state.engine, who.site_id, key):
        raise NotFound("agent status")
    return Response(status_code=204)


def _ordered_status(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: doc[k] for k in ("id", "name", "type", "isSystem", "order")}
