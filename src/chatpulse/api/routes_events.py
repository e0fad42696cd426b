"""Ingest over HTTP (SPEC.md §4): JSON or NDJSON bodies, limits, then the ingest use case."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from pydantic import WithJsonSchema
from starlette.concurrency import run_in_threadpool

from chatpulse.api import metrics
from chatpulse.api.auth import Principal, require
from chatpulse.api.openapi import AUTHENTICATED, WITH_BODY, problems
from chatpulse.api.responses import Json
from chatpulse.api.schemas import EventsPage, IngestAnswer
from chatpulse.domain.errors import (
    FieldError,
    InvalidBody,
    MalformedBody,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from chatpulse.domain.events import EVENT_TYPES
from chatpulse.domain.params import int_param
from chatpulse.services import events, ingest

router = APIRouter(prefix="/api/v3/livechat", tags=["Events"], responses=problems(*AUTHENTICATED))
Writer = Annotated[Principal, Depends(require("events.write"))]
Auditor = Annotated[Principal, Depends(require("events.write", "admin"))]

JSON_TYPES = ("application/json",)
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")

# The envelope's shape; the rules against stored state (SPEC.md §4) are the server's to check.
_EVENT = {
    "type": "object",
    "required": ["id", "type", "occurredAt", "data"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "type": {"type": "string", "enum": list(EVENT_TYPES)},
        "occurredAt": {"type": "string", "format": "date-time"},
        "data": {"type": "object"},
    },
}
EVENTS_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {"anyOf": [_EVENT, {"type": "array", "items": _EVENT, "maxItems": 1000}]}
        },
        "application/x-ndjson": {"schema": {"type": "string", "description": "One event a line"}},
    },
}


async def read_limited_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def decode_events(content_type: str, body: bytes, max_events: int) -> list[Any]:
    """The raw event objects of a JSON (object or array) or NDJSON body."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media in JSON_TYPES:
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise MalformedBody("the body is not valid JSON") from None
        if isinstance(value, dict):
            raw = [value]
        elif isinstance(value, list):
            raw = value
        else:
            raise InvalidBody(
                [FieldError("body", "must be an event object or an array of event objects")]
            )
    elif media in NDJSON_TYPES:
        raw = []
        for number, line in enumerate(body.split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                raw.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                raise MalformedBody(f"line {number} is not valid JSON") from None
            if len(raw) > max_events:
                break
    else:
        raise UnsupportedMediaType("Content-Type must be application/json or application/x-ndjson")
    if len(raw) > max_events:
        raise PayloadTooLarge(f"at most {max_events} events per request")
    return raw


@router.post(
    "/events",
    response_model=IngestAnswer,
    summary="Append events (one object, an array, or NDJSON); atomic and idempotent",
    responses=problems(*WITH_BODY, 409),
    openapi_extra={"requestBody": EVENTS_BODY},
)
async def post_events(request: Request, who: Writer) -> Any:
    settings = request.app.state.settings
    body = await read_limited_body(request, settings.max_body_bytes)
    raw = decode_events(request.headers.get("content-type", ""), body, settings.max_events)
    result = await run_in_threadpool(ingest.append, request.app.state.runtime, who.site_id, raw)
    metrics.count_ingest(result.accepted, result.duplicates)  # rejections: MetricsMiddleware
    return Json(result.as_json())


@router.get(
    "/events",
    response_model=EventsPage,
    summary="Page through the stored event log in sequence order",
)
def get_events(
    request: Request,
    who: Auditor,
    after: Annotated[
        str | None,
        Query(description="Sequence number to start after"),
        WithJsonSchema({"type": "integer", "minimum": 0, "maximum": 2**62}),
    ] = None,
    limit: Annotated[
        str | None,
        Query(description="1 to 1000, default 100"),
        WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 1000}),
    ] = None,
) -> Any:
    start = int_param("after", after, 0, 0, 2**62)
    count = int_param("limit", limit, 100, 1, 1000)
    return Json(events.page(request.app.state.runtime, who.site_id, start, count))
