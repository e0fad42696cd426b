"""Alert webhooks (docs/alert_webhooks.md): their configuration (config.read to read,
config.write to change) and each one's delivery log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field, StrictStr

from chatpulse.api.auth import Principal, require
from chatpulse.api.openapi import AUTHENTICATED, WITH_BODY, problems
from chatpulse.api.responses import Json
from chatpulse.api.schemas import Body
from chatpulse.services import alert_webhooks

router = APIRouter(
    prefix="/api/v3/alerts/webhooks", tags=["Alerts"], responses=problems(*AUTHENTICATED)
)
Reader = Annotated[Principal, Depends(require("config.read"))]
Writer = Annotated[Principal, Depends(require("config.write"))]

_LEVELS: dict[str, Any] = {"type": "string", "enum": ["warning", "critical"]}


class WebhookBody(Body):
    """A new webhook. Its URL's host must resolve to public addresses only (unless the server
    allows private ones)."""

    id: StrictStr | None = Field(None, json_schema_extra={"format": "uuid"})
    name: StrictStr = Field(json_schema_extra={"maxLength": 200, "pattern": r"\S"})
    url: StrictStr = Field(description="http:// or https://", json_schema_extra={"maxLength": 2000})
    secret: StrictStr | None = Field(
        None,
        description="signs every delivery; generated when absent",
        json_schema_extra={"minLength": 16, "maxLength": 200},
    )
    severities: list[StrictStr] | None = Field(
        None,
        description="the levels whose transitions (entering or leaving) are sent; default both",
        json_schema_extra={"items": _LEVELS, "minItems": 1},
    )


class WebhookModel(BaseModel):
    id: str
    name: str
    url: str
    severities: list[str]
    createdTime: str


class NewWebhookModel(WebhookModel):
    secret: str = Field(description="shown only in this answer")


class LastDeliveryModel(BaseModel):
    deliveryId: str
    transitionId: int
    status: str
    attempts: int
    lastAttemptTime: str | None
    lastStatus: int | None
    lastError: str | None


class WebhookStateModel(WebhookModel):
    pending: int = Field(description="deliveries waiting to be sent")
    lastDelivery: LastDeliveryModel | None = Field(
        description="the latest delivery delivered or given up, by transition order"
    )


class WebhookDeliveryModel(BaseModel):
    deliveryId: str
    transitionId: int
    status: str = Field(description="pending, delivered or failed (given up)")
    attempts: int
    createdTime: str
    lastAttemptTime: str | None
    nextAttemptTime: str | None
    lastStatus: int | None
    lastError: str | None
    deliveredTime: str | None
    alert: dict[str, Any] = Field(description="the transition, as in the delivery's body")


class WebhookDeliveriesModel(BaseModel):
    list: list[WebhookDeliveryModel]
    nextAfter: int = Field(description="the `after` of the next page")


@router.post(
    "",
    status_code=201,
    response_model=NewWebhookModel,
    responses=problems(*WITH_BODY, 409),
)
def create_webhook(request: Request, who: Writer, body: WebhookBody) -> Any:
    hook = alert_webhooks.create(
        request.app.state.runtime,
        who.site_id,
        body.name,
        body.url,
        body.secret,
        body.severities,
        body.id,
    )
    return Json({**alert_webhooks.describe(hook), "secret": hook.secret}, 201)


@router.get("", response_model=list[WebhookModel])
def list_webhooks(request: Request, who: Reader) -> Any:
    return Json(alert_webhooks.list_all(request.app.state.runtime, who.site_id))


@router.get("/{webhook_id}", response_model=WebhookStateModel, responses=problems(404))
def get_webhook(request: Request, who: Reader, webhook_id: str) -> Any:
    return Json(alert_webhooks.read(request.app.state.runtime, who.site_id, webhook_id))


@router.delete("/{webhook_id}", status_code=204, responses=problems(404))
def delete_webhook(request: Request, who: Writer, webhook_id: str) -> Response:
    """Stop sending to it: its pending deliveries fail ("webhook deleted"). The rows stay in
    the database; through the API the webhook and its log are gone (404)."""
    alert_webhooks.delete(request.app.state.runtime, who.site_id, webhook_id)
    return Response(status_code=204)


@router.get(
    "/{webhook_id}/deliveries", response_model=WebhookDeliveriesModel, responses=problems(404)
)
def webhook_deliveries(
    request: Request,
    who: Reader,
    webhook_id: str,
    after: Annotated[int, Query(ge=0, description="a transition id: those after it")] = 0,
    limit: Annotated[int, Query(ge=1, le=alert_webhooks.MAX_PAGE)] = 100,
) -> Any:
    """The delivery log, oldest first (by transition id); page on with `after=nextAfter`."""
    runtime = request.app.state.runtime
    return Json(alert_webhooks.deliveries(runtime, who.site_id, webhook_id, after, limit))
