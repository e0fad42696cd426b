"""Site settings and API tokens (SPEC.md §5, scope admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from chatpulse.api.auth import Principal, authorize, require
from chatpulse.api.openapi import AUTHENTICATED, WITH_BODY, problems
from chatpulse.api.responses import Json
from chatpulse.api.schemas import NewTokenModel, SiteBody, SiteModel, TokenBody, TokenModel
from chatpulse.domain.errors import FieldError, InvalidBody, NotFound
from chatpulse.domain.events import normalize_uuid
from chatpulse.domain.timeutil import format_instant
from chatpulse.domain.window import load_zone
from chatpulse.store import sites
from chatpulse.store.sites import ALL_SCOPES, DEFAULT_SCOPES, TokenInfo
from chatpulse.store.versions import query_versions, versions_now

router = APIRouter(prefix="/api/v3", tags=["Site and tokens"], responses=problems(*AUTHENTICATED))
Anyone = Annotated[Principal, Depends(require())]
Admin = Annotated[Principal, Depends(require("admin"))]


def _site_doc(site: sites.Site) -> dict[str, Any]:
    return {"id": site.id, "name": site.name, "timeZone": site.time_zone}


@router.get("/site", response_model=SiteModel)
async def get_site(request: Request, who: Anyone) -> Any:
    return await _site(request, who)


async def _site(request: Request, who: Principal) -> Response:
    state = request.app.state
    versions = await versions_now(state.versions, state.probe, who.site_id, ())
    row = versions.read(who.site_id) if versions is not None else None
    if row is None:  # not from memory (SQLite busy, no probe): one statement in a worker thread
        queried = await run_in_threadpool(query_versions, state.engine, who.site_id, ())
        row = queried.read(who.site_id)
    if row is None:
        raise NotFound("site")
    return Json(_site_doc(sites.Site(who.site_id, row.name, row.time_zone or "UTC")))


async def _fast_site(request: Request) -> Response:
    return await _site(request, await authorize(request, ()))


# `GET /api/v3/site` without FastAPI's dependency machinery (api/fast_paths.py).
FAST = {"/api/v3/site": _fast_site}


@router.put("/site", response_model=SiteModel, responses=problems(*WITH_BODY))
def put_site(request: Request, who: Admin, body: SiteBody) -> Any:
    if body.id is not None and body.id != who.site_id:
        raise InvalidBody([FieldError("id", "must be the id of this token's site")])
    if load_zone(body.timeZone) is None:
        raise InvalidBody([FieldError("timeZone", "must be an IANA time zone name")])
    site = sites.update_site(request.app.state.engine, who.site_id, body.name, body.timeZone)
    return Json(_site_doc(site))


def _token_doc(token: TokenInfo) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "scopes": list(token.scopes),
        "createdTime": format_instant(token.created_at),
    }


@router.get("/tokens", response_model=list[TokenModel])
def list_tokens(request: Request, who: Admin) -> Any:
    return Json([_token_doc(t) for t in sites.list_tokens(request.app.state.engine, who.site_id)])


@router.post(
    "/tokens", status_code=201, response_model=NewTokenModel, responses=problems(*WITH_BODY)
)
def create_token(request: Request, who: Admin, body: TokenBody) -> Any:
    scopes = tuple(dict.fromkeys(body.scopes)) if body.scopes is not None else DEFAULT_SCOPES
    unknown = [s for s in scopes if s not in ALL_SCOPES]
    if unknown or not scopes:
        message = f"must be some of {', '.join(ALL_SCOPES)}"
        raise InvalidBody([FieldError("scopes", message)])
    info, secret = sites.create_token(
        request.app.state.engine, who.site_id, body.name, scopes, request.app.state.clock.now()
    )
    return Json({**_token_doc(info), "token": secret}, 201)


@router.delete("/tokens/{token_id}", status_code=204, responses=problems(404))
def revoke_token(request: Request, who: Admin, token_id: str) -> Response:
    key = normalize_uuid(token_id)
    now = request.app.state.clock.now()
    if key is None or not sites.revoke_token(request.app.state.engine, who.site_id, key, now):
        raise NotFound("token")
    request.app.state.tokens.forget(key)  # its next request here is refused
    request.app.state.stream_hub.revoke(key)  # this process's streams of the token end now
    return Response(status_code=204)
