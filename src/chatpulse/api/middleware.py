"""Pure ASGI middleware: request ids and JSON access logs, case-insensitive /api paths with
Comm100's v4 aliases of the Real Time paths, and HEAD wherever GET is served."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_SAFE_ID = re.compile(r"^[\x21-\x7e]{1,128}$")
log = logging.getLogger("chatpulse.access")


class RequestIdMiddleware:
    """Every response carries X-Request-Id (the client's, if it sent a sane one) and
    X-ChatPulse-Worker, the serving process's id (which of several workers answered)."""

    def __init__(self, app: ASGIApp, log_requests: bool = True) -> None:
        self.app = app
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = ""
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                text = value.decode("latin-1")
                if _SAFE_ID.match(text):
                    request_id = text
                break
        request_id = request_id or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status_holder = [0]
        header = (b"x-request-id", request_id.encode("latin-1"))
        worker = (b"x-chatpulse-worker", str(os.getpid()).encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                message["headers"] = [*message.get("headers", []), header, worker]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            status_holder[0] = status_holder[0] or 500  # the server's error handler answers
            raise
        finally:
            if self.log_requests and log.isEnabledFor(logging.INFO):
                log.info(
                    "request",
                    extra={
                        "request_id": request_id,
                        "method": scope.get("method"),
                        # The route template (set by MetricsMiddleware); never the query.
                        "route": scope["state"].get("route") or scope.get("path"),
                        "status": status_holder[0],
                        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                    },
                )


REAL_TIME = "/api/v3/livechat/realTime/"
# Comm100's v4 base paths of the Real Time API, served as the v3 ones (SPEC.md §2).
REAL_TIME_ALIASES = ("/v4/livechat/realtime/", "/api/v4/livechat/realtime/")


def real_time_alias(path: str) -> str | None:
    """The v3 path a v4 Real Time path stands for (any case), None for any other path."""
    lowered = path.lower()
    for alias in REAL_TIME_ALIASES:
        if lowered.startswith(alias):
            return REAL_TIME + path[len(alias) :]
    return None


class CaseInsensitivePaths:
    """Match /api paths case-insensitively: rewrite the path to the route's own spelling; the
    v4 Real Time paths become the v3 ones."""

    def __init__(self, app: ASGIApp, paths: Iterable[str]) -> None:
        self.app = app
        self._templates: dict[int, list[list[str | None]]] = {}
        for path in paths:
            if path.lower().startswith("/api/"):
                parts: list[str | None] = [
                    None if p.startswith("{") else p for p in path.split("/")
                ]
                self._templates.setdefault(len(parts), []).append(parts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path[:4].lower() in ("/api", "/v4/"):
                canonical = self._canonical(real_time_alias(path) or path)
                if canonical is not None and canonical != path:
                    scope = dict(scope)
                    scope["path"] = canonical
                    scope["raw_path"] = canonical.encode()
        await self.app(scope, receive, send)

    def _canonical(self, path: str) -> str | None:
        parts = path.split("/")
        lowered = [p.lower() for p in parts]
        for template in self._templates.get(len(parts), ()):
            if all(t is None or t.lower() == p for t, p in zip(template, lowered, strict=True)):
                return "/".join(p if t is None else t for t, p in zip(template, parts, strict=True))
        return None


class HeadAsGet:
    """HEAD answered wherever GET is: the GET's status and headers (Content-Length included),
    no body. A stream ends once its headers are out."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        finished = asyncio.Event()
        asked = False

        async def head_receive() -> Message:
            nonlocal asked
            if not asked:  # a HEAD request has no body
                asked = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await finished.wait()  # then: as if the client left, so a stream stops
            return {"type": "http.disconnect"}

        async def head_send(message: Message) -> None:
            if message["type"] != "http.response.body":
                await send(message)
            elif not finished.is_set():
                finished.set()
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        await self.app({**scope, "method": "GET"}, head_receive, head_send)


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, message and the request (or drop) fields."""

    # The request's fields, and a connector's drop's (services/connectors.py).
    FIELDS: tuple[str, ...] = ("request_id", "method", "route", "status", "duration_ms")
    FIELDS += ("connector", "delivery", "fact")

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in self.FIELDS:
            if hasattr(record, name):
                out[name] = getattr(record, name)
        if record.exc_info:
            exc = record.exc_info[1]
            out["error"] = type(exc).__name__ if exc is not None else "unknown"
            out["traceback"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class _NotAsgiException(logging.Filter):
    """Drop uvicorn's copy of an unexpected error: problems.on_unexpected logged it already,
    with the request id."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Exception in ASGI application")


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger("chatpulse")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    # uvicorn's own messages (startup, shutdown, bad HTTP) as JSON lines too, never plain text.
    server = logging.getLogger("uvicorn")
    server.handlers[:] = [handler]
    server.setLevel(level)
    server.propagate = False
    logging.getLogger("uvicorn.error").addFilter(_NotAsgiException())
    logging.getLogger("uvicorn.access").disabled = True  # our access log is the one above
