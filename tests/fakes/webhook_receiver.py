"""A real HTTP receiver for alert webhooks: records every request as it arrives and answers
as the test scripts it (a status, after a delay or once the test lets it go)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    at: float  # time.monotonic() on arrival

    @property
    def delivery_id(self) -> str:
        return self.headers["chatpulse-delivery"]

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass(frozen=True)
class Answer:
    status: int = 200
    delay_s: float = 0.0  # wait this long before answering (past a timeout: the client gave up)
    hold: threading.Event | None = None  # or until the test sets this


# What to answer a request: given it and how many requests with its delivery id came before.
Script = Callable[[Received, int], Answer]


def always(status: int = 200, delay_s: float = 0.0) -> Script:
    return lambda _request, _seen: Answer(status, delay_s)


def failing_first(times: int, status: int = 500) -> Script:
    """Each delivery id gets `status` its first `times` times, then 200."""
    return lambda _request, seen: Answer(status if seen < times else 200)


class Receiver:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self.url = ""
        self.answered: list[str] = []  # delivery ids whose answer was written, in order

    def received(self) -> list[Received]:
        with self._lock:
            return list(self.requests)

    def answered_ids(self) -> list[str]:
        with self._lock:
            return list(self.answered)

    def ids_in_order(self) -> list[str]:
        """Delivery ids by first arrival."""
        return list(dict.fromkeys(r.delivery_id for r in self.received()))

    def wait_for(self, condition: Callable[[list[Received]], bool], seconds: float = 20) -> None:
        """Until `condition(requests)` holds; fails after `seconds`. Polled: a timed
        threading wait never returns under faketime, which the suite may run under."""
        deadline = time.monotonic() + seconds
        while not condition(self.received()):
            assert time.monotonic() < deadline, f"receiver: condition not met: {self.received()}"
            time.sleep(0.01)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length", "0"))
        body = handler.rfile.read(length)
        request = Received(
            handler.command,
            handler.path,
            {k.lower(): v for k, v in handler.headers.items()},
            body,
            time.monotonic(),
        )
        with self._lock:
            seen = sum(
                1
                for r in self.requests
                if r.headers.get("chatpulse-delivery") == request.headers.get("chatpulse-delivery")
            )
            self.requests.append(request)
        answer = self.script(request, seen)
        if answer.hold is not None:
            answer.hold.wait()  # untimed (faketime); the test sets it, in a finally
        if answer.delay_s:
            time.sleep(answer.delay_s)  # the scripted slowness itself, not a synchronisation
        try:
            handler.send_response(answer.status)
            handler.send_header("Content-Length", "2")
            handler.end_headers()
            handler.wfile.write(b"ok")
        except OSError:  # the client gave up (timeout) or went away (killed)
            return
        with self._lock:
            self.answered.append(request.headers.get("chatpulse-delivery", ""))


@contextmanager
def receiving(script: Script | None = None) -> Iterator[Receiver]:
    """A receiver on a free loopback port; `receiver.url` is its /hook URL."""
    receiver = Receiver(script or always())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # http.server's naming
            receiver._handle(self)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
