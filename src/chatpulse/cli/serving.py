"""The commands that run a server or traffic: serve, demo, simulate."""

from __future__ import annotations

import argparse
import atexit
import logging
import math
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from chatpulse.cli.common import (
    CliError,
    database_default,
    ensure_ready,
    open_engine,
    progress_interval,
    short,
)
from chatpulse.store.db import is_sqlite

if TYPE_CHECKING:
    import uvicorn.config

    from chatpulse.settings import Settings


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn
    from pydantic import ValidationError

    from chatpulse.api.app import create_app
    from chatpulse.api.limits import server_options, sigterm_exits_cleanly
    from chatpulse.api.middleware import configure_logging
    from chatpulse.settings import Settings

    if not 1 <= args.port <= 65535:
        raise CliError("--port must be from 1 to 65535")
    if not 1 <= args.workers <= 64:
        raise CliError("--workers must be from 1 to 64")
    url = args.database or database_default()
    try:
        settings = Settings(database_url=url)
    except ValidationError as err:
        raise CliError(f"bad CHATPULSE_* setting: {short(err)}") from None
    engine = open_engine(url, settings.pool_size, settings.pool_overflow)
    ensure_ready(engine)
    if not is_sqlite(engine):
        _check_connections(engine, args.workers, settings)
    configure_logging()
    logging.getLogger("chatpulse").info("ChatPulse serving on http://%s:%d", args.host, args.port)
    options = server_options(settings)  # header size, graceful shutdown (api/limits.py)
    if args.workers == 1:
        app = create_app(settings, engine)
        with sigterm_exits_cleanly():
            uvicorn.run(
                app, host=args.host, port=args.port, access_log=False, log_config=None, **options
            )
    else:
        engine.dispose()
        os.environ["CHATPULSE_DATABASE_URL"] = url
        _share_metrics()
        uvicorn.config.Config.bind_socket = tcp_bind_socket(  # type: ignore[method-assign,assignment]
            uvicorn.config.Config.bind_socket
        )
        uvicorn.run(
            "chatpulse.api.app:app_from_env",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            access_log=False,
            log_config=None,
            **options,
        )
    return 0


def tcp_bind_socket(
    bind_socket: Callable[[uvicorn.config.Config], socket.socket],
) -> Callable[[uvicorn.config.Config], socket.socket]:
    """uvicorn's own listening socket (several workers) is made with protocol 0, and asyncio
    sets TCP_NODELAY only on sockets whose protocol says TCP: every answer then waited ~40 ms
    for Nagle's algorithm and delayed ACKs. Name the protocol; accepted sockets inherit it."""

    def bind(config: uvicorn.config.Config) -> socket.socket:
        sock = bind_socket(config)
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto == 0:
            sock = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, sock.detach())
        return sock

    return bind


def _share_metrics() -> None:
    """Several workers: each answers /metrics with the sum over all of them (prometheus_client
    multiprocess mode, in a directory of our own unless PROMETHEUS_MULTIPROC_DIR names one)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    directory = tempfile.mkdtemp(prefix="chatpulse-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    atexit.register(shutil.rmtree, directory, True)


def _check_connections(engine: Engine, workers: int, settings: Settings) -> None:
    """Refuse a worker count whose connections can never fit in PostgreSQL's max_connections;
    warn when they do not fit beside the connections open now (docs/operations.md, Sizing)."""
    from chatpulse.store.db import connection_limits

    listener = 1 if settings.stream_listen else 0
    probe = 1  # store/versions.VersionProbe
    per_worker = settings.pool_size + settings.pool_overflow + listener + probe
    need = workers * per_worker
    limits = connection_limits(engine)
    what = (
        f"--workers {workers} may open {need} database connections "
        f"({workers} × ({settings.pool_size} pool + {settings.pool_overflow} overflow"
        f" + {listener} listener + {probe} probe))"
    )
    remedy = "lower --workers, CHATPULSE_POOL_SIZE or CHATPULSE_POOL_OVERFLOW"
    if need > limits.usable:
        raise CliError(
            f"{what}, but the server allows {limits.usable} (max_connections "
            f"{limits.max_connections} − {limits.reserved} reserved): {remedy}"
        )
    if need > limits.usable - limits.in_use:
        print(
            f"chatpulse: warning: {what}; {limits.in_use} of the server's {limits.usable} "
            f"are in use now: {remedy} if this deployment does not replace them",
            file=sys.stderr,
        )


def _check_traffic(args: argparse.Namespace) -> None:
    if not 1 <= args.agents <= 10_000:
        raise CliError("--agents must be from 1 to 10000")
    if not 0 <= args.departments <= 100:
        raise CliError("--departments must be from 0 to 100")
    if not (math.isfinite(args.rate) and 0 <= args.rate <= 1000):
        raise CliError("--rate must be a number from 0 to 1000")


def cmd_demo(args: argparse.Namespace) -> int:
    from chatpulse.sim.demo import DemoError, DemoOptions, run_demo

    _check_traffic(args)
    if not 1 <= args.port <= 65535:
        raise CliError("--port must be from 1 to 65535")
    options = DemoOptions(
        args.host,
        args.port,
        args.agents,
        args.departments,
        args.rate,
        args.seed,
        progress_interval=progress_interval(),
        connector=args.connector,
    )
    try:
        run_demo(options, sys.stdout, sys.stderr)
    except DemoError as err:
        raise CliError(str(err)) from None
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from chatpulse.sim.driver import SimulationError, simulate

    _check_traffic(args)
    if not (math.isfinite(args.duration) and args.duration >= 0):
        raise CliError("--duration must be a number of seconds ≥ 0")
    if not (math.isfinite(args.prefill) and 0 <= args.prefill <= 7 * 86_400):
        raise CliError("--prefill must be a number of seconds from 0 to 604800")
    if not args.url.startswith(("http://", "https://")):
        raise CliError("--url must start with http:// or https://")

    def log(line: str) -> None:
        print(f"chatpulse simulate: {line}", file=sys.stderr, flush=True)

    try:
        stats = simulate(
            args.url,
            args.token,
            agents=args.agents,
            departments=args.departments,
            rate=args.rate,
            duration_s=args.duration or None,
            seed=args.seed,
            prefill_s=args.prefill,
            log=log,
            ready=lambda _: log("sending live traffic (Ctrl-C to stop)"),
        )
    except SimulationError as err:
        raise CliError(str(err)) from None
    except KeyboardInterrupt:
        return 0
    log(
        f"{stats.accepted} events stored, {stats.duplicates} duplicates, "
        f"{stats.rejected} rejected, {stats.requests} requests"
    )
    return 0
