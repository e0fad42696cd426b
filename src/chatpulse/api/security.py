"""Response security: `X-Content-Type-Options: nosniff` everywhere, and CORS (off by default)
for wallboards served from another origin."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatpulse.api.problems import problem
from chatpulse.domain.errors import FieldError
from chatpulse.settings import Settings

CORS_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
CORS_REQUEST_HEADERS = ("Authorization", "Content-Type", "Last-Event-ID", "X-Request-Id")
CORS_EXPOSED_HEADERS = ("X-Request-Id", "Retry-After")
# Which request header a failed preflight names, by Starlette's word for the failure.
_PREFLIGHT_FIELDS = {
    "origin": "Origin",
    "method": "Access-Control-Request-Method",
    "headers": "Access-Control-Request-Headers",
    "private-network": "Access-Control-Request-Private-Network",
}


class SecurityHeaders:
    """`X-Content-Type-Options: nosniff` on every response that does not set it itself."""

    HEADER = (b"x-content-type-options", b"nosniff")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == self.HEADER[0] for name, _ in headers):
                    headers.append(self.HEADER)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_header)


class ProblemCors(CORSMiddleware):
    """Starlette's CORS, with a refused preflight answered as problem details naming the
    request header that was refused."""

    def preflight_response(self, request_headers: Headers) -> Response:
        answer = super().preflight_response(request_headers)
        if answer.status_code < 400:
            return answer
        text = bytes(answer.body).decode("utf-8", "replace")
        words = text.removeprefix("Disallowed CORS ").split(", ")
        errors = [
            FieldError(_PREFLIGHT_FIELDS.get(word, word), "is not allowed by the CORS policy")
            for word in words
        ]
        headers = {
            k: v for k, v in answer.headers.items() if k.lower().startswith("access-control-")
        }
        return problem(400, text, errors, headers)


def cors_origins(settings: Settings) -> list[str]:
    """The allowed origins of CHATPULSE_CORS_ORIGINS (a comma list; empty: CORS off)."""
    return [o.strip().rstrip("/") for o in settings.cors_origins.split(",") if o.strip()]


def install(app: FastAPI, settings: Settings) -> None:
    """CORS (when origins are configured) inside the nosniff header. Call after
    limits.install, before the request-id middleware is added."""
    origins = cors_origins(settings)
    if origins:
        app.add_middleware(
            ProblemCors,
            allow_origins=origins,
            allow_methods=CORS_METHODS,
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
            allow_credentials=False,
            max_age=600,
        )
    app.add_middleware(SecurityHeaders)
