"""A real server on a chosen port that can be stopped and started again (restarts, reconnects)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

from chatpulse.clock import FixedClock
from tests.support import Server, running_server


@contextmanager
def serve_on(engine: Engine, clock: FixedClock, port: int) -> Iterator[Server]:
    """`tests.support.running_server` on `port` (0: a free one); open streams are cut after 1 s
    at shutdown."""
    with running_server(engine, clock, port, shutdown_s=1) as server:
        yield server
