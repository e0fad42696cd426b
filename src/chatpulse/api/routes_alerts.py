"""Alerts (docs/alerts.md): rules (scopes config.read / config.write), the firing alerts and
their history (realtime.read or config.read)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from chatpulse.api.auth import Principal, require
from chatpulse.api.openapi import AUTHENTICATED, WITH_BODY, problems
from chatpulse.api.responses import Json
from chatpulse.api.schemas import (
    AlertHistoryModel,
    AlertRuleBody,
    AlertRuleModel,
    AlertsModel,
)
from chatpulse.domain.params import int_param
from chatpulse.services import alerts

router = APIRouter(prefix="/api/v3/alerts", tags=["Alerts"], responses=problems(*AUTHENTICATED))
Reader = Annotated[Principal, Depends(require("config.read"))]
Writer = Annotated[Principal, Depends(require("config.write"))]
Watcher = Annotated[Principal, Depends(require("realtime.read", "config.read"))]


def _body(body: AlertRuleBody) -> dict[str, Any]:
    return body.model_dump(exclude_unset=True)


@router.post(
    "/rules",
    status_code=201,
    response_model=AlertRuleModel,
    responses=problems(*WITH_BODY, 409),
)
def create_rule(request: Request, who: Writer, body: AlertRuleBody) -> Any:
    return Json(alerts.create(request.app.state.runtime, who.site_id, _body(body)), 201)


@router.get("/rules", response_model=list[AlertRuleModel])
def list_rules(request: Request, who: Reader) -> Any:
    return Json(alerts.list_rules(request.app.state.runtime, who.site_id))


@router.get("/rules/{rule_id}", response_model=AlertRuleModel, responses=problems(404))
def get_rule(request: Request, who: Reader, rule_id: str) -> Any:
    return Json(alerts.get(request.app.state.runtime, who.site_id, rule_id))


@router.put("/rules/{rule_id}", response_model=AlertRuleModel, responses=problems(*WITH_BODY, 404))
def replace_rule(request: Request, who: Writer, rule_id: str, body: AlertRuleBody) -> Any:
    runtime = request.app.state.runtime
    return Json(alerts.replace(runtime, who.site_id, rule_id, _body(body)))


@router.delete("/rules/{rule_id}", status_code=204, responses=problems(404))
def delete_rule(request: Request, who: Writer, rule_id: str) -> Response:
    alerts.delete(request.app.state.runtime, who.site_id, rule_id)
    return Response(status_code=204)


@router.get("", response_model=AlertsModel, summary="The firing alerts now")
def firing(request: Request, who: Watcher) -> Any:
    return Json(alerts.firing_json(request.app.state.runtime, who.site_id))


@router.get(
    "/history",
    response_model=AlertHistoryModel,
    responses=problems(400),
    summary="Every transition, oldest first, a page at a time",
)
def history(
    request: Request,
    who: Watcher,
    after: Annotated[
        str | None, Query(description="Transition id to start after (0: from the first)")
    ] = None,
    limit: Annotated[str | None, Query(description="1…1000, default 100")] = None,
) -> Any:
    start = int_param("after", after, 0, 0, 2**62)
    count = int_param("limit", limit, 100, 1, 1000)
    return Json(alerts.history(request.app.state.runtime, who.site_id, start, count))
