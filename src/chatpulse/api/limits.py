"""Request limits: per-token rate limits, failed-auth limits per client, body size and time,
open streams per token, and the shutdown hook that ends open streams."""

from __future__ import annotations

import asyncio
import math
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any

import anyio
from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatpulse.api.problems import problem
from chatpulse.domain.errors import ChatPulseError, FieldError
from chatpulse.settings import Settings

INGEST_PATH = "/api/v3/livechat/events"
CONNECTORS_PATH = "/api/v3/connectors/"  # webhooks: a platform's payloads may be large
# A stream slot frees only when a stream ends; there is no better estimate than "a while".
STREAM_RETRY_AFTER_S = 10
# Bounds the memory of the per-key tables; the least recently used key is forgotten first.
MAX_KEYS = 10_000


class TooManyRequests(ChatPulseError):
    """429 with Retry-After (whole seconds, at least 1)."""

    def __init__(self, message: str, field_name: str, retry_after: int) -> None:
        super().__init__(message, [FieldError(field_name, message)], 429)
        self.retry_after = max(1, retry_after)


class BodyRejected(StarletteHTTPException):
    """A request body too large (413) or too slow (408). An HTTPException, so that FastAPI's own
    body reading lets it through unchanged; rendered by `on_body_rejected`."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(status, detail)


async def on_too_many(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TooManyRequests)
    return problem(429, exc.detail, exc.errors, {"Retry-After": str(exc.retry_after)})


async def on_body_rejected(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BodyRejected)
    # The rest of the body may still be on its way: this connection cannot serve another request.
    detail = str(exc.detail)
    return problem(exc.status_code, detail, [FieldError("body", detail)], {"Connection": "close"})


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class TokenBuckets:
    """Token buckets by key: `rate` per second up to `burst`; rate 0 turns them off.
    Thread-safe (sync dependencies run in worker threads)."""

    def __init__(self, rate: float, burst: int, now: Callable[[], float]) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self.now = now
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def _refilled(self, key: str) -> _Bucket:
        moment = self.now()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(float(self.burst), moment)
            self._buckets[key] = bucket
            if len(self._buckets) > MAX_KEYS:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            elapsed = max(0.0, moment - bucket.at)
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
            bucket.at = moment
        return bucket

    def wait(self, key: str) -> int:
        """0 if `key` has a token now, else the whole seconds until it has one (≥ 1)."""
        if not self.enabled:
            return 0
        with self._lock:
            bucket = self._refilled(key)
            if bucket.tokens >= 1:
                return 0
            return max(1, math.ceil((1 - bucket.tokens) / self.rate))

    def take(self, key: str) -> int:
        """Take a token for `key`: 0 when taken, else the whole seconds to wait (nothing taken)."""
        if not self.enabled:
            return 0
        with self._lock:
            bucket = self._refilled(key)
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0
            return max(1, math.ceil((1 - bucket.tokens) / self.rate))


class Limits:
    """The app's limiters (one per process: with N workers a token may make N times the rate).

    `now` is a monotonic clock in seconds; tests replace it to move time without sleeping."""

    def __init__(self, settings: Settings, now: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.now = now
        self.requests = TokenBuckets(
            settings.rate_limit_per_second, settings.rate_limit_burst, self._now
        )
        self.auth_failures = TokenBuckets(
            settings.auth_failures_per_second, settings.auth_failures_burst, self._now
        )
        self._streams: dict[str, int] = {}
        self._lock = threading.Lock()

    def _now(self) -> float:
        return self.now()

    @property
    def open_streams(self) -> int:
        """Streams counted against their tokens' caps now."""
        with self._lock:
            return sum(self._streams.values())

    def before_lookup(self, client: str) -> None:
        """Refuse, before touching the database, a client that has failed to authenticate
        too often: slows token guessing and bounds the work that unknown tokens cause."""
        wait = self.auth_failures.wait(client)
        if wait:
            message = "too many requests with unknown or revoked tokens from this client"
            raise TooManyRequests(message, "authorization", wait)

    def lookup_failed(self, client: str) -> None:
        self.auth_failures.take(client)

    def charge(self, token_id: str) -> None:
        """One request of this token: every endpoint draws on the same bucket."""
        wait = self.requests.take(token_id)
        if wait:
            raise TooManyRequests("too many requests for this token", "authorization", wait)

    def open_stream(self, token_id: str) -> Callable[[], None]:
        """Count an open stream of this token (429 beyond the cap); returns its release."""
        cap = self.settings.max_streams_per_token
        with self._lock:
            count = self._streams.get(token_id, 0)
            if cap > 0 and count >= cap:
                message = f"this token already has {cap} open streams"
                raise TooManyRequests(message, "stream", STREAM_RETRY_AFTER_S)
            self._streams[token_id] = count + 1
        released = False

        def release() -> None:
            nonlocal released
            with self._lock:
                if released:
                    return
                released = True
                left = self._streams.get(token_id, 1) - 1
                if left > 0:
                    self._streams[token_id] = left
                else:
                    self._streams.pop(token_id, None)

        return release


def client_of(request: Request) -> str:
    """The client address (uvicorn resolves X-Forwarded-For from trusted proxies)."""
    return request.client.host if request.client else ""


def header_bytes(scope: Scope) -> int:
    """The size of the request line and headers as sent (give or take the HTTP version)."""
    size = len(scope.get("method", "")) + len(scope.get("raw_path") or b"") + 12
    size += len(scope.get("query_string", b""))
    return size + sum(len(name) + len(value) + 4 for name, value in scope.get("headers", ()))


class RequestLimits:
    """Request line and headers of at most `max_header_bytes` (431); every body at most
    `max_body_bytes` for ingest, `max_config_body_bytes` for the rest (413), received within
    `body_timeout_s` of the first read (408)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    def limit_for(self, scope: Scope) -> int:
        path = str(scope.get("path", "")).rstrip("/").lower()
        if scope.get("method") == "POST" and (
            path == INGEST_PATH or (path.startswith(CONNECTORS_PATH) and "/webhook/" in path)
        ):
            return self.settings.max_body_bytes
        return self.settings.max_config_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        most = self.settings.max_header_bytes
        if header_bytes(scope) > most > 0:
            detail = f"the request line and headers are larger than {most} bytes"
            answer = problem(431, detail, [FieldError("headers", detail)], {"Connection": "close"})
            await answer(scope, receive, send)
            return
        limit = self.limit_for(scope)
        too_large = f"the body is larger than {limit} bytes"
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                text = value.decode("latin-1").strip()
                if text.isdigit() and int(text) > limit:
                    response = await on_body_rejected(Request(scope), BodyRejected(413, too_large))
                    await response(scope, receive, send)
                    return
                break
        timeout = self.settings.body_timeout_s
        received = 0
        complete = False
        deadline: float | None = None

        async def limited_receive() -> Message:
            nonlocal received, complete, deadline
            if complete:
                return await receive()
            if timeout <= 0:
                message = await receive()
            else:
                if deadline is None:
                    deadline = anyio.current_time() + timeout
                try:
                    with anyio.fail_after(max(0.0, deadline - anyio.current_time())):
                        message = await receive()
                except TimeoutError:
                    raise BodyRejected(
                        408, f"the body did not arrive within {timeout:g} seconds"
                    ) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyRejected(413, too_large)
                complete = not message.get("more_body", False)
            else:
                complete = True
            return message

        await self.app(scope, limited_receive, send)


def _close_streams_on_signals(app: FastAPI) -> Callable[[], None]:
    """Chain onto the server's SIGINT/SIGTERM handlers (uvicorn installs them before the
    lifespan starts): end every open stream as soon as shutdown begins, so the server's
    graceful shutdown, which waits for open responses, is not held up by streams."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    running = asyncio.get_running_loop()
    previous: dict[int, Any] = {}

    def on_signal(sig: int, frame: FrameType | None) -> None:
        running.call_soon_threadsafe(app.state.stream_hub.close)
        handler = previous.get(sig)
        if callable(handler):
            handler(sig, frame)

    for sig in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(sig)
        if callable(handler):
            previous[sig] = handler
            signal.signal(sig, on_signal)

    def restore() -> None:
        for sig, handler in previous.items():
            if signal.getsignal(sig) is on_signal:
                signal.signal(sig, handler)

    return restore


@asynccontextmanager
async def streams_end_on_shutdown(app: FastAPI) -> AsyncIterator[None]:
    """For the app's lifespan: open streams end as soon as the server starts shutting down
    (on SIGINT/SIGTERM in the serving thread; at the latest when the lifespan ends)."""
    restore = _close_streams_on_signals(app)
    try:
        yield
    finally:
        restore()
        app.state.stream_hub.close()


def install(app: FastAPI, settings: Settings) -> Limits:
    """The limiters on app.state.limits, their error handlers and the body and header
    middleware. Call before the outer middleware (request ids) is added."""
    limits = Limits(settings)
    app.state.limits = limits
    app.add_exception_handler(TooManyRequests, on_too_many)
    app.add_exception_handler(BodyRejected, on_body_rejected)
    app.add_middleware(RequestLimits, settings=settings)
    return limits


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options: its C parts (httptools' parser, uvloop's event loop; api/
    http_protocol.py), how much of a request head it buffers while it is still incomplete (431
    and the connection closed beyond it, by the protocol; complete heads are checked by
    RequestLimits, 431 too) and how long graceful shutdown waits for in-flight requests."""
    from chatpulse.api.http_protocol import LimitedHttpTools

    return {
        "http": LimitedHttpTools,
        "loop": "uvloop",
        "h11_max_incomplete_event_size": (
            settings.max_header_bytes if settings.max_header_bytes > 0 else None
        ),
        "timeout_graceful_shutdown": max(1, settings.shutdown_timeout_s),
    }


class _Terminated(Exception):
    pass


def _raise_terminated(_sig: int, _frame: FrameType | None) -> None:
    raise _Terminated


@contextmanager
def sigterm_exits_cleanly() -> Iterator[None]:
    """SIGTERM ends the server with a normal return (exit status 0) once uvicorn has shut down
    gracefully: uvicorn re-raises the signal to the handler it found, which is this one."""
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    except _Terminated:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
