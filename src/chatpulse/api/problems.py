"""RFC 9457 problem details: the one place error bodies are built."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import orjson
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from chatpulse.domain.errors import ChatPulseError, FieldError
from chatpulse.services.runtime import is_unavailable

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_SECONDS = 5


def problem_body(status: int, detail: str, errors: list[FieldError] | None = None) -> bytes:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "errors": [e.as_json() for e in errors or []],
    }
    return orjson.dumps(body)


def problem(
    status: int,
    detail: str,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    all_headers = dict(headers or {})
    if status == 401:
        all_headers.setdefault("WWW-Authenticate", 'Bearer realm="chatpulse"')
    body = problem_body(status, detail, errors)
    return Response(body, status, all_headers, media_type=PROBLEM_JSON)


async def on_chatpulse_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ChatPulseError)
    return problem(exc.status, exc.detail, exc.errors)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves on this path (Starlette names only the first route's)."""
    path = request.scope.get("path", "")
    methods: set[str] = set()

    def walk(routes: Any) -> None:
        for route in routes:
            included = getattr(route, "original_router", None)  # FastAPI's included router
            if included is not None:
                walk(included.routes)
                continue
            regex = getattr(route, "path_regex", None)
            if regex is not None and regex.match(path):
                methods.update(getattr(route, "methods", None) or ())

    walk(request.app.router.routes)
    if "GET" in methods:
        methods.add("HEAD")  # api/middleware.HeadAsGet
    return sorted(methods)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(status).phrase
    headers = dict(exc.headers or {})
    if status == 404:
        detail = "no such path"
        errors = [FieldError("path", "no such path")]
    elif status == 405:
        detail = "method not allowed on this path"
        errors = [FieldError("method", detail)]
        allowed = _allowed_methods(request)
        if allowed:
            headers["Allow"] = ", ".join(allowed)
    else:
        errors = [FieldError("request", detail)]
    return problem(status, detail, errors, headers)


def _location(loc: tuple[Any, ...]) -> str:
    parts = [p for p in loc if p not in ("body", "query", "path", "header")]
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "body"


_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "list_type": "must be an array",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
}


def _sent_other_than_json(request: Request) -> bool:
    """A body came with a media type other than JSON (or with none)."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if not media:
        length = request.headers.get("content-length", "0").strip()
        return length not in ("", "0") or "transfer-encoding" in request.headers
    return media != "application/json" and not media.endswith("+json")


async def on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    body_errors = any(tuple(err.get("loc", ()))[:1] == ("body",) for err in exc.errors())
    if body_errors and _sent_other_than_json(request):
        message = "Content-Type must be application/json"
        return problem(415, message, [FieldError("Content-Type", message)])
    errors: list[FieldError] = []
    status = 422
    for err in exc.errors():
        kind = err.get("type", "")
        if kind == "json_invalid":
            return problem(
                400, "the body is not valid JSON", [FieldError("body", "is not valid JSON")]
            )
        loc = tuple(err.get("loc", ()))
        if loc and loc[0] in ("query", "path", "header"):
            status = 400
        message = _MESSAGES.get(kind) or str(err.get("msg", "is invalid"))
        if kind.startswith("value_error"):
            message = str(err.get("msg", "is invalid")).removeprefix("Value error, ")
        errors.append(FieldError(_location(loc), message))
    first = errors[0] if errors else FieldError("body", "is invalid")
    return problem(status, f"{first.field} {first.message}", errors)


async def on_database_error(request: Request, exc: Exception) -> Response:
    """503 with Retry-After while the database is unreachable; any other database error is
    unexpected (500, logged with its traceback)."""
    if not is_unavailable(exc):
        return _internal_error(request, exc)
    logging.getLogger("chatpulse").warning(
        "database unavailable: %s",
        type(getattr(exc, "orig", None) or exc).__name__,
        extra=_request_fields(request),
    )
    return problem(
        503,
        "database unavailable; try again shortly",
        [FieldError("database", "unreachable")],
        {"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _request_fields(request: Request) -> dict[str, Any]:
    state = request.scope.get("state", {})
    route = getattr(request.scope.get("route"), "path", None) or state.get("route")
    return {
        "request_id": state.get("request_id"),
        "method": request.method,
        "route": route if isinstance(route, str) else "unmatched",
    }


def _internal_error(request: Request, exc: Exception) -> Response:
    # Last resort; every known failure has its own status. The client learns nothing but the
    # request id (X-Request-Id), which finds the traceback in the server log.
    logging.getLogger("chatpulse").error(
        "unexpected error", exc_info=exc, extra=_request_fields(request)
    )
    # The server closes the connection after an unexpected error: say so.
    return problem(
        500,
        "internal error; the request id identifies it in the server log",
        headers={"Connection": "close"},
    )


async def on_unexpected(request: Request, exc: Exception) -> Response:
    """Any other exception. Starlette answers it from its outermost middleware, outside the
    one that adds X-Request-Id, so the id is added here."""
    response = _internal_error(request, exc)
    request_id = request.scope.get("state", {}).get("request_id")
    if request_id:
        response.headers["X-Request-Id"] = request_id
    return response
