"""API tokens: which site a request speaks for and what it may do (SPEC.md §2).

A token comes as `Authorization: Bearer <token>`, or, as Comm100's API-key clients send it, as
`Authorization: Basic base64(user:token)` (the user part is ignored). The site may be named too,
by `siteId` in the query or an `x-api-siteid` header, each as often as a client likes: every
value must be the token's site."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request

from chatpulse.api.limits import Limits, client_of
from chatpulse.domain.errors import BadParameter, Forbidden, Unauthorized
from chatpulse.services.sites import authenticate

SITE_HEADER = "x-api-siteid"
REQUIRED = (
    "an Authorization: Bearer <token> (or Basic, with the token as password) header is required"
)


# What the OpenAPI document says of every authenticated operation (api/openapi.py adds it to
# the operations whose route depends on `require`): the two schemes, and the optional site
# parameters. Not FastAPI dependencies: resolving them cost every request a share of its time,
# and `authorize` reads the header and the parameters itself.
SECURITY_SCHEMES = {
    "_BearerScheme": {"type": "http", "scheme": "bearer", "description": "A ChatPulse API token"},
    "_BasicScheme": {
        "type": "http",
        "scheme": "basic",
        "description": "Comm100 API-key style: any user name, the token as password",
    },
}
SECURITY: list[dict[str, list[str]]] = [{"_BearerScheme": []}, {"_BasicScheme": []}]
SITE_PARAMETERS = [
    {
        "description": "Optional; must be the token's own site",
        "in": where,
        "name": name,
        "required": False,
        "schema": {"title": title, "type": "integer"},
    }
    for where, name, title in (
        ("query", "siteId", "Siteid"),
        ("header", SITE_HEADER, "X-Api-Siteid"),
    )
]


@dataclass(frozen=True, slots=True)
class Principal:
    site_id: int
    token_id: str
    scopes: tuple[str, ...]


def credential_of(header: str | None) -> str:
    """The token of an Authorization header: Bearer's credentials, or Basic's password."""
    scheme, _, value = (header or "").strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("Authorization: Basic must be base64 of user:token") from None
        _, colon, password = decoded.partition(":")
        if not colon or not password:
            raise Unauthorized("Authorization: Basic must carry the token as its password")
        return password
    raise Unauthorized(REQUIRED)


def named_sites(request: Request) -> list[tuple[str, str]]:
    """Every site the request names, with where it named it: each `siteId` query value and
    each `x-api-siteid` header."""
    named = [("siteId", v) for v in request.query_params.getlist("siteId")]
    named += [(SITE_HEADER, v) for v in request.headers.getlist(SITE_HEADER)]
    return named


def check_site(named: list[tuple[str, str]], site_id: int) -> None:
    """400 for a value that is no integer, 403 for one that is another site."""
    for field, value in named:
        text = value.strip()
        if not text.isascii() or not text.lstrip("-").isdigit() or len(text) > 12:
            raise BadParameter(field, "must be an integer")
    for field, value in named:
        if int(value.strip()) != site_id:
            raise Forbidden(f"{field} is not the site of this token", field)


async def authorize(request: Request, allowed: tuple[str, ...]) -> Principal:
    secret = credential_of(request.headers.get("authorization"))
    limits: Limits = request.app.state.limits
    client = client_of(request)
    limits.before_lookup(client)
    token = await authenticate(request.app.state.runtime, secret)
    if token is None:
        limits.lookup_failed(client)
        raise Unauthorized("unknown or revoked token")
    limits.charge(token.id)
    if allowed and not any(scope in token.scopes for scope in allowed):
        raise Forbidden(f"this token lacks the {' or '.join(allowed)} scope", "scope")
    check_site(named_sites(request), token.site_id)
    return Principal(token.site_id, token.id, token.scopes)


def require(*allowed: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits tokens holding any of `allowed` (none: any valid token)."""

    async def dependency(request: Request) -> Principal:
        return await authorize(request, allowed)

    dependency.authenticates = True  # type: ignore[attr-defined]  # read by api/openapi.py
    return dependency
