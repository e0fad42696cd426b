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
    BadParameter,
    FieldError,
    InvalidBody,
    MalformedBody,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from chatpulse.domain.events import EVENT_TYPES
from chatpulse.ingest import ingest
from chatpulse.store import sites
from chatpulse.store.eventlog import read_events

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
    now = request.app.state.clock.now()
    result = await run_in_threadpool(ingest, request.app.state.engine, who.site_id, raw, now)
    metrics.count_ingest(result.accepted, result.duplicates)  # rejections: MetricsMiddleware
    if result.accepted:
        request.app.state.notify(who.site_id, result.last_sequence, result.departments)
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
    start = _whole("after", after, 0, 0, 2**62)
    count = _whole("limit", limit, 100, 1, 1000)
    engine = request.app.state.engine
    events = read_events(engine, who.site_id, start, count)
    return Json(
        {
            "events": events,
            "lastSequence": sites.last_sequence(engine, who.site_id),
            "nextAfter": events[-1]["sequence"] if events else start,
        }
    )


def _whole(name: str, text: str | None, default: int, low: int, high: int) -> int:
    if text is None:
        return default
    value = text.strip()
    if (
        not value.isascii()
        or not value.isdigit()
        or len(value) > 19
        or not low <= int(value) <= high
    ):
        raise BadParameter(name, f"must be an integer from {low} to {high}")
    return int(value)
