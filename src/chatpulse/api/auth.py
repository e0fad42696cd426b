"""Bearer tokens: which site a request speaks for and what it may do (SPEC.md §2)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import WithJsonSchema

from chatpulse.api.limits import Limits, client_of
from chatpulse.domain.errors import BadParameter, Forbidden, Unauthorized
from chatpulse.store import sites

bearer = HTTPBearer(auto_error=False, description="A ChatPulse API token")


@dataclass(frozen=True, slots=True)
class Principal:
    site_id: int
    token_id: str
    scopes: tuple[str, ...]


def authorize(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None,
    site_param: str | None,
    allowed: tuple[str, ...],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("an Authorization: Bearer <token> header is required")
    limits: Limits = request.app.state.limits
    client = client_of(request)
    limits.before_lookup(client)
    # Looked up on every request, never cached: a revoked token fails on its very next request.
    token = sites.find_token(request.app.state.engine, credentials.credentials)
    if token is None:
        limits.lookup_failed(client)
        raise Unauthorized("unknown or revoked token")
    limits.charge(token.id)
    if allowed and not any(scope in token.scopes for scope in allowed):
        raise Forbidden(f"this token lacks the {' or '.join(allowed)} scope", "scope")
    if site_param is not None:
        text = site_param.strip()
        if not text.isascii() or not text.lstrip("-").isdigit() or len(text) > 12:
            raise BadParameter("siteId", "must be an integer")
        if int(text) != token.site_id:
            raise Forbidden("siteId is not the site of this token", "siteId")
    return Principal(token.site_id, token.id, token.scopes)


def require(*allowed: str) -> Callable[..., Principal]:
    """A dependency that admits tokens holding any of `allowed` (none: any valid token)."""

    def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        site_id: Annotated[
            str | None,
            Query(alias="siteId", description="Optional; must be the token's own site"),
            WithJsonSchema({"type": "integer"}),
        ] = None,
    ) -> Principal:
        return authorize(request, credentials, site_id, allowed)

    return dependency
