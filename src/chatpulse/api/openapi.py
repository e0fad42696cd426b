"""The OpenAPI document tells the truth: problem-details errors, typed query parameters."""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import WithJsonSchema

from chatpulse.api import auth
from chatpulse.api.problems import PROBLEM_JSON

_REF = {"$ref": "#/components/schemas/Problem"}

PROBLEM_SCHEMAS: dict[str, Any] = {
    "Problem": {
        "title": "Problem",
        "description": "RFC 9457 problem details; `errors` names every field at fault.",
        "type": "object",
        "required": ["type", "title", "status", "detail", "errors"],
        "additionalProperties": False,
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/ProblemError"}},
        },
    },
    "ProblemError": {
        "title": "ProblemError",
        "description": "One problem with one field; `index`: the event's position in a batch.",
        "type": "object",
        "required": ["field", "message"],
        "additionalProperties": False,
        "properties": {
            "index": {"type": "integer", "minimum": 0},
            "field": {"type": "string"},
            "message": {"type": "string"},
        },
    },
}

_DESCRIPTIONS = {
    400: "A query parameter or body that cannot be used",
    401: "No token, or an unknown or revoked one",
    403: "The token lacks the scope, or siteId is another site",
    404: "No such id",
    409: "Conflict with what is stored",
    413: "The body is too large",
    415: "The body's Content-Type is not accepted",
    422: "The body parses but is invalid",
    429: "Rate limited; retry after Retry-After seconds",
    502: "The chat platform's API failed (a connector's sync)",
    503: "The database is unavailable or not ready; retry later",
}

_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}}},
    429: {"Retry-After": {"schema": {"type": "integer"}}},
    503: {"Retry-After": {"schema": {"type": "integer"}}},
}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries: each status answered with problem details."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {
            "description": _DESCRIPTIONS[code],
            "content": {PROBLEM_JSON: {"schema": _REF}},
        }
        if code in _HEADERS:
            entry["headers"] = _HEADERS[code]
        out[code] = entry
    return out


# Every route behind a token: bad siteId (400), no token (401), scope or site (403), rate
# limit (429), database unavailable (503).
AUTHENTICATED = (400, 401, 403, 429, 503)
# Routes with a JSON body add: unparsable (400), too large (413), not JSON (415), invalid (422).
WITH_BODY = (*AUTHENTICATED, 413, 415, 422)


def schema(value: dict[str, Any]) -> WithJsonSchema:
    """The documented schema of a parameter that the route reads as text and checks itself."""
    return WithJsonSchema(value)


INTEGER = schema({"type": "integer"})
UUID = schema({"type": "string", "format": "uuid"})
BOOLEAN = schema({"type": "boolean"})


def _authenticates(dependant: Any) -> bool:
    return any(
        getattr(d.call, "authenticates", False) or _authenticates(d) for d in dependant.dependencies
    )


def _document_authentication(routes: list[Any], doc: dict[str, Any]) -> None:
    """Every operation whose route depends on `auth.require`: the security schemes and the
    optional site parameters (auth.py reads them itself, not through FastAPI)."""
    for route in routes:
        if not isinstance(route, APIRoute) or route.methods is None:
            continue
        if not _authenticates(route.dependant):
            continue
        for method in route.methods:
            operation = doc["paths"].get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            parameters = operation.setdefault("parameters", [])
            parameters.extend(copy.deepcopy(auth.SITE_PARAMETERS))
            operation["security"] = copy.deepcopy(auth.SECURITY)
    if any("security" in op for ops in doc["paths"].values() for op in ops.values()):
        schemes = doc.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes.update(copy.deepcopy(auth.SECURITY_SCHEMES))


def install(app: FastAPI, routes: list[Any]) -> None:
    """Build the document once: FastAPI's, with problem details in place of its 422 shape."""
    build = app.openapi

    def document() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = build()
        _document_authentication(routes, doc)
        for operations in doc.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.get("responses", {})
                default = responses.get("422", {}).get("content", {}).get("application/json")
                if default is not None:
                    # FastAPI's own validation shape; this app never answers with it.
                    del responses["422"]
        components = doc.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        components.update(PROBLEM_SCHEMAS)
        app.openapi_schema = doc
        return doc

    app.openapi = document  # type: ignore[method-assign]
