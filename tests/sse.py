"""A small Server-Sent Events reader for tests: over an httpx streaming response or a raw socket."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Event:
    event: str
    id: str
    data: str

    def json(self) -> Any:
        return json.loads(self.data)


class SseReader:
    """Parses lines into events; comment lines (": ping") are kept in `comments`."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self.comments: list[str] = []

    def _next_line(self) -> str:
        try:
            return next(self._lines)
        except StopIteration:
            raise EOFError("the stream ended") from None

    def next_event(self, seconds: float = 20) -> Event:
        """The next event; fails after `seconds` (the server's pings keep lines coming)."""
        deadline = time.monotonic() + seconds
        fields: dict[str, str] = {}
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError("no event in time")
            line = self._next_line()
            if line == "":
                if fields:
                    return Event(
                        fields.get("event", "message"), fields.get("id", ""), fields["data"]
                    )
                continue
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data" and "data" in fields:
                value = fields["data"] + "\n" + value
            fields[name] = value

    def next_comment(self, seconds: float = 20) -> str:
        """Read on until a comment line; events read on the way are dropped."""
        deadline = time.monotonic() + seconds
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError("no comment in time")
            line = self._next_line()
            if line.startswith(":"):
                text = line[1:].strip()
                self.comments.append(text)
                return text


class RawStream:
    """An HTTP/1.1 GET over a plain socket with a tiny receive buffer, read only when asked."""

    def __init__(self, base_url: str, path: str, token: str, receive_buffer: int = 1024) -> None:
        parts = urlsplit(base_url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(30)
        self.sock.connect((host, port))
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        self._file = self.sock.makefile("rb", buffering=0)

    def _line(self) -> bytes:
        out = bytearray()
        while not out.endswith(b"\r\n"):
            byte = self._file.read(1)
            if not byte:
                raise EOFError("the connection closed")
            out += byte
        return bytes(out[:-2])

    def _exactly(self, size: int) -> bytes:
        out = bytearray()
        while len(out) < size:
            part = self._file.read(size - len(out))
            if not part:
                raise EOFError("the connection closed")
            out += part
        return bytes(out)

    def status(self) -> int:
        """Read the status line and the headers (only those)."""
        status = int(self._line().split()[1])
        while self._line():
            pass
        return status

    def lines(self) -> Iterator[str]:
        """The body's lines, undoing chunked transfer encoding."""
        pending = b""
        while True:
            size = int(self._line().split(b";")[0], 16)
            if size == 0:
                return
            pending += self._exactly(size)
            self._line()
            *complete, pending = pending.split(b"\n")
            for line in complete:
                yield line.decode()

    def close(self) -> None:
        self._file.close()
        self.sock.close()
