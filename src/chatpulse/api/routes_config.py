"""Configuration (SPEC.md §5): departments, agents and agent statuses, Comm100 v3 shapes. The
five routes of each kind are written once (`_crud`) and bound to the kind's service."""

# No `from __future__ import annotations`: the routes' annotations name the kind's body model,
# a variable of `_crud`, which FastAPI must see as a type, not as a name to look up.

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel

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
from chatpulse.services import config
from chatpulse.services.config import AGENTS, DEPARTMENTS, STATUSES, Kind

router = APIRouter(prefix="/api/v3", tags=["Configuration"], responses=problems(*AUTHENTICATED))
Reader = Annotated[Principal, Depends(require("config.read"))]
Writer = Annotated[Principal, Depends(require("config.write"))]
IncludeDeleted = Annotated[bool, Query(alias="includeDeleted")]


def _crud(
    kind: Kind,
    path: str,
    key: str,
    plural: str,
    body_model: type[BaseModel],
    model: type[BaseModel],
) -> None:
    """GET (list), POST, GET one, PUT and DELETE of one kind on `path` and `path/{key}`."""
    item = f"{path}/{{{key}}}"
    ItemId = Annotated[str, Path(alias=key)]

    def list_items(request: Request, who: Reader, include_deleted: IncludeDeleted = False) -> Any:
        runtime = request.app.state.runtime
        return Json(config.list_all(runtime, kind, who.site_id, include_deleted))

    def create_item(request: Request, who: Writer, body: body_model) -> Any:  # type: ignore[valid-type]
        doc = config.create(request.app.state.runtime, kind, who.site_id, _fields(body))
        return Json(doc, 201)

    def get_item(request: Request, who: Reader, item_id: ItemId) -> Any:
        return Json(config.get(request.app.state.runtime, kind, who.site_id, item_id))

    def replace_item(
        request: Request,
        who: Writer,
        item_id: ItemId,
        body: body_model,  # type: ignore[valid-type]
    ) -> Any:
        runtime = request.app.state.runtime
        return Json(config.replace(runtime, kind, who.site_id, item_id, _fields(body)))

    def delete_item(request: Request, who: Writer, item_id: ItemId) -> Response:
        config.delete(request.app.state.runtime, kind, who.site_id, item_id)
        return Response(status_code=204)

    name = key.removesuffix("_id")
    router.add_api_route(
        path,
        list_items,
        methods=["GET"],
        response_model=list[model],  # type: ignore[valid-type]
        name=f"list_{plural}",
    )
    router.add_api_route(
        path,
        create_item,
        methods=["POST"],
        status_code=201,
        response_model=model,
        responses=problems(*WITH_BODY, 409),
        name=f"create_{name}",
    )
    router.add_api_route(
        item,
        get_item,
        methods=["GET"],
        response_model=model,
        responses=problems(404),
        name=f"get_{name}",
    )
    router.add_api_route(
        item,
        replace_item,
        methods=["PUT"],
        response_model=model,
        responses=problems(*WITH_BODY, 404, 409),
        name=f"replace_{name}",
    )
    router.add_api_route(
        item,
        delete_item,
        methods=["DELETE"],
        status_code=204,
        responses=problems(404, 409),
        name=f"delete_{name}",
    )


def _fields(body: Any) -> dict[str, Any]:
    fields: dict[str, Any] = body.model_dump()
    return fields


_crud(DEPARTMENTS, "/departments", "department_id", "departments", DepartmentBody, DepartmentModel)
_crud(AGENTS, "/agents", "agent_id", "agents", AgentBody, AgentModel)
_crud(STATUSES, "/livechat/agentStatuses", "status_id", "statuses", StatusBody, StatusModel)
