"""The HTTP/1.1 protocol the server runs: uvicorn's httptools protocol (llhttp, a C parser; with
uvloop, the C event loop), with two changes:

- h11's guard that it lacks: a request head still incomplete past uvicorn's
  `h11_max_incomplete_event_size` (set from `max_header_bytes`, api/limits.server_options) is
  answered 431 and its connection closed, instead of being buffered without bound (a complete
  head over the limit gets the same answer from the app: api/limits.RequestLimits);
- a request the parser refuses (an unknown method, a malformed line or header) is answered
  with the problem details of every other 4xx (SPEC.md §1) instead of uvicorn's plain text,
  and its connection closed.

docs/performance.md has the measurement that chose it."""

from __future__ import annotations

import sys
from http import HTTPStatus
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from chatpulse.api.problems import PROBLEM_JSON, problem_body
from chatpulse.domain.errors import FieldError


class LimitedHttpTools(HttpToolsProtocol):
    def __init__(self, config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self._max_head: int | None = config.h11_max_incomplete_event_size
        self._in_head = True  # from a message's first byte to the end of its headers
        self._head_bytes = 0

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._in_head and self._max_head is not None and not self.transport.is_closing():
            # Every byte received since the message began is still its head (one chunk that
            # also ends the previous message counts whole: a pipelining client's loss).
            self._head_bytes += len(data)
            if self._head_bytes > self._max_head:
                detail = f"the request line and headers are larger than {self._max_head} bytes"
                self._refuse(431, detail, "headers")

    def send_400_response(self, msg: str) -> None:
        """uvicorn calls this when the parser refuses the request (the error is being
        handled: `sys.exception()`)."""
        reason = str(sys.exc_info()[1] or msg).strip().rstrip(".")
        if "method" in reason.lower():
            self._refuse(400, "unknown HTTP method", "method")
        else:
            self._refuse(400, f"malformed HTTP request: {reason[:200]}", "request")

    def _refuse(self, status: int, detail: str, field: str) -> None:
        body = problem_body(status, detail, [FieldError(field, detail)])
        head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n".encode()]
        for name, value in self.server_state.default_headers:
            head.extend([name, b": ", value, b"\r\n"])
        head.append(
            f"content-type: {PROBLEM_JSON}\r\ncontent-length: {len(body)}\r\n"
            "x-content-type-options: nosniff\r\nconnection: close\r\n\r\n".encode()
        )
        self.transport.write(b"".join(head) + body)
        self.transport.close()
