"""A real server on a chosen port that can be stopped and started again (restarts, reconnects)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from sqlalchemy import Engine

from chatpulse.api.app import create_app
from chatpulse.api.limits import server_options
from chatpulse.clock import FixedClock
from chatpulse.settings import Settings
from tests.support import Server


@contextmanager
def serve_on(engine: Engine, clock: FixedClock, port: int) -> Iterator[Server]:
    """A real uvicorn server on `port` (0: a free one) that can be stopped and started again on
    the same port over the same database. Open streams are cut after 1 s at shutdown."""
    settings = Settings(database_url=str(engine.url), log_requests=False)
    config = uvicorn.Config(
        create_app(settings, engine, clock),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        **{**server_options(settings), "timeout_graceful_shutdown": 1},
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"test server did not start on port {port}")
        time.sleep(0.01)  # polling a flag the server sets, not standing in for synchronisation
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Server(f"http://127.0.0.1:{bound}", engine, clock)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        if thread.is_alive():
            raise RuntimeError("test server did not stop")
