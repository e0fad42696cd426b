"""Connectors (docs/connectors.md): their configuration (scope admin) and their webhooks.

A webhook carries no bearer token: the platform proves itself with the connector's URL secret
(and its own signature, where it has one). A wrong id or secret is a 404, the same for both, so
that nobody learns which connectors exist.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from chatpulse.api import metrics
from chatpulse.api.auth import Principal, require
from chatpulse.api.openapi import AUTHENTICATED, WITH_BODY, problems
from chatpulse.api.responses import Json
from chatpulse.api.schemas import (
    ConnectorBody,
    ConnectorDropsModel,
    ConnectorModel,
    DeliveryModel,
    NewConnectorModel,
    SyncModel,
)
from chatpulse.domain.errors import ChatPulseError
from chatpulse.domain.timeutil import format_instant
from chatpulse.services import connector_config, connector_poll, connectors
from chatpulse.store import connectors as store

router = APIRouter(prefix="/api/v3", tags=["Connectors"])
Admin = Annotated[Principal, Depends(require("admin"))]
ADMIN_PROBLEMS = problems(*AUTHENTICATED)


def public_url(request: Request) -> str:
    configured = request.app.state.settings.public_url
    return (configured or str(request.base_url)).rstrip("/")


@router.post(
    "/connectors",
    status_code=201,
    response_model=NewConnectorModel,
    responses={**ADMIN_PROBLEMS, **problems(*WITH_BODY)},
)
def create_connector(request: Request, who: Admin, body: ConnectorBody) -> Any:
    runtime = request.app.state.runtime
    connector, secret = connector_config.create(
        runtime.engine,
        who.site_id,
        connector_config.NewConnector(
            body.kind,
            body.name,
            body.signingSecret,
            body.apiUrl,
            body.apiToken,
            body.accountId,
            body.pollSeconds,
            body.reorderMs,
        ),
        runtime.clock.now(),
    )
    url = public_url(request) + connector_config.webhook_path(connector, secret)
    setup = connector_config.platform(connector.kind).setup_text(url, connector.settings)
    return Json({**connector_config.describe(connector), "webhookUrl": url, "setup": setup}, 201)


@router.get("/connectors", response_model=list[ConnectorModel], responses=ADMIN_PROBLEMS)
def list_connectors(request: Request, who: Admin) -> Any:
    found = store.list_site(request.app.state.runtime.engine, who.site_id)
    return Json([connector_config.describe(c) for c in found])


@router.get(
    "/connectors/{connector_id}",
    response_model=ConnectorModel,
    responses={**ADMIN_PROBLEMS, **problems(404)},
)
def get_connector(request: Request, who: Admin, connector_id: str) -> Any:
    return Json(
        connector_config.describe(
            connector_config.get(request.app.state.runtime.engine, who.site_id, connector_id)
        )
    )


@router.delete(
    "/connectors/{connector_id}", status_code=204, responses={**ADMIN_PROBLEMS, **problems(404)}
)
def delete_connector(request: Request, who: Admin, connector_id: str) -> Response:
    runtime = request.app.state.runtime
    connector_config.remove(runtime.engine, who.site_id, connector_id, runtime.clock.now())
    return Response(status_code=204)


@router.get(
    "/connectors/{connector_id}/drops",
    response_model=ConnectorDropsModel,
    responses={**ADMIN_PROBLEMS, **problems(400, 404)},
)
def connector_drops(
    request: Request,
    who: Admin,
    connector_id: str,
    limit: Annotated[int, Query(ge=1, le=store.KEEP_DROPS)] = 100,
) -> Any:
    runtime = request.app.state.runtime
    connector = connector_config.get(runtime.engine, who.site_id, connector_id)
    total, rows = store.drops(runtime.engine, who.site_id, connector.id, limit)
    return Json(
        {
            "total": total,
            "list": [
                {
                    "id": row.id,
                    "recordedTime": format_instant(row.recorded_at),
                    "occurredTime": None
                    if row.occurred_at is None
                    else format_instant(row.occurred_at),
                    "deliveryId": row.delivery_id,
                    "factKey": row.fact_key,
                    "type": row.type,
                    "reason": row.reason,
                }
                for row in rows
            ],
        }
    )


@router.post(
    "/connectors/{connector_id}/sync",
    response_model=SyncModel,
    responses={**ADMIN_PROBLEMS, **problems(404, 422, 502)},
)
def sync_connector(request: Request, who: Admin, connector_id: str) -> Any:
    """Create or update the platform's agents and teams (groups) now, from its API."""
    runtime = request.app.state.runtime
    connector = connector_config.get(runtime.engine, who.site_id, connector_id)
    agents, departments = connector_poll.sync(runtime, connector)
    return Json({"agents": agents, "departments": departments})


@router.post(
    "/connectors/{connector_id}/webhook/{secret}",
    response_model=DeliveryModel,
    responses=problems(400, 401, 404, 413, 503),
    openapi_extra={"security": []},
)
async def webhook(request: Request, connector_id: str, secret: str) -> Any:
    """A delivery of the platform's webhook: answered once its events are stored."""
    runtime = request.app.state.runtime
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        connector, delivery = await connectors.open_webhook(
            runtime, connector_id, secret, headers, body
        )
    except ChatPulseError:
        metrics.count_delivery("unknown", "refused")
        raise
    if delivery.ignored is not None and not delivery.facts:
        metrics.count_delivery(connector.kind, "ignored")
        return Json(connectors.DeliveryResult(ignored=delivery.ignored).as_json())
    result = await request.app.state.intake.submit(connector, delivery)
    metrics.count_delivery(connector.kind, "dropped" if result.dropped else "stored", result)
    return Json(result.as_json())
