"""Site settings and API tokens (SPEC.md §5, scope admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from chatpulse.api.auth import Principal, authorize, require
from chatpulse.api.openapi import AUTHENTICATED, WITH_BODY, problems
from chatpulse.api.responses import Json
from chatpulse.api.schemas import NewTokenModel, SiteBody, SiteModel, TokenBody, TokenModel
from chatpulse.domain.errors import FieldError, InvalidBody, NotFound
from chatpulse.domain.events import normalize_uuid
from chatpulse.domain.timeutil import format_instant
from chatpulse.services import sites

router = APIRouter(prefix="/api/v3", tags=["Site and tokens"], responses=problems(*AUTHENTICATED))
Anyone = Annotated[Principal, Depends(require())]
Admin = Annotated[Principal, Depends(require("admin"))]


def _site_doc(site: sites.Site) -> dict[str, Any]:
    return {
        "id": site.id,
        "name": site.name,
        "timeZone": site.time_zone,
        "serviceLevelSeconds": site.service_level_seconds,
        "shortAbandonSeconds": site.short_abandon_seconds,
    }


@router.get("/site", response_model=SiteModel)
async def get_site(request: Request, who: Anyone) -> Any:
    return await _site(request, who)


async def _site(request: Request, who: Principal) -> Response:
    return Json(_site_doc(await sites.current_site(request.app.state.runtime, who.site_id)))


async def _fast_site(request: Request) -> Response:
    return await _site(request, await authorize(request, ()))


# `GET /api/v3/site` without FastAPI's dependency machinery (api/fast_paths.py).
FAST = {"/api/v3/site": _fast_site}


@router.put("/site", response_model=SiteModel, responses=problems(*WITH_BODY))
def put_site(request: Request, who: Admin, body: SiteBody) -> Any:
    if body.id is not None and body.id != who.site_id:
        raise InvalidBody([FieldError("id", "must be the id of this token's site")])
    site = sites.update_site(
        request.app.state.runtime,
        who.site_id,
        body.name,
        body.timeZone,
        body.serviceLevelSeconds,
        body.shortAbandonSeconds,
    )
    return Json(_site_doc(site))


def _token_doc(token: sites.TokenInfo) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "scopes": list(token.scopes),
        "createdTime": format_instant(token.created_at),
    }


@router.get("/tokens", response_model=list[TokenModel])
def list_tokens(request: Request, who: Admin) -> Any:
    return Json([_token_doc(t) for t in sites.list_tokens(request.app.state.runtime, who.site_id)])


@router.post(
    "/tokens", status_code=201, response_model=NewTokenModel, responses=problems(*WITH_BODY)
)
def create_token(request: Request, who: Admin, body: TokenBody) -> Any:
    info, secret = sites.create_token(
        request.app.state.runtime, who.site_id, body.name, body.scopes
    )
    return Json({**_token_doc(info), "token": secret}, 201)


@router.delete("/tokens/{token_id}", status_code=204, responses=problems(404))
def revoke_token(request: Request, who: Admin, token_id: str) -> Response:
    key = normalize_uuid(token_id)
    if key is None or not sites.revoke_token(request.app.state.runtime, who.site_id, key):
        raise NotFound("token")
    request.app.state.stream_hub.revoke(key)  # this process's streams of the token end now
    return Response(status_code=204)
