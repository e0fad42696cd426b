"""The command line of SPEC.md §7: demo, serve, migrate, site create, token create, simulate."""

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
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NoReturn

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from chatpulse.clock import Clock, SystemClock
from chatpulse.domain.window import load_zone
from chatpulse.services import sites
from chatpulse.store import migrate
from chatpulse.store.db import DEFAULT_DATABASE_URL, DatabaseUrlError, is_sqlite, make_engine

if TYPE_CHECKING:
    import uvicorn.config

    from chatpulse.settings import Settings


class CliError(Exception):
    """Ends the command with a one-line message and exit status 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"chatpulse: {message} (see chatpulse --help)\n")


def _database_default() -> str:
    return os.environ.get("CHATPULSE_DATABASE_URL") or DEFAULT_DATABASE_URL


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="chatpulse", description="ChatPulse real-time live-chat metrics server")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def database(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--database",
            default=None,
            help="database URL (default: $CHATPULSE_DATABASE_URL, else sqlite:///./chatpulse.db)",
        )

    serve = commands.add_parser("serve", help="serve the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    database(serve)

    mig = commands.add_parser("migrate", help="bring the schema up to date")
    database(mig)

    site = commands.add_parser("site", help="manage sites")
    site_commands = site.add_subparsers(dest="action", required=True, parser_class=_Parser)
    site_create = site_commands.add_parser("create", help="create a site; prints its id last")
    site_create.add_argument("--name", required=True)
    site_create.add_argument("--site-id", type=int, default=None)
    site_create.add_argument("--time-zone", default="UTC")
    database(site_create)

    token = commands.add_parser("token", help="manage API tokens")
    token_commands = token.add_subparsers(dest="action", required=True, parser_class=_Parser)
    token_create = token_commands.add_parser("create", help="create a token; prints it last")
    token_create.add_argument("--site", type=int, required=True)
    token_create.add_argument(
        "--scope", action="append", choices=sites.ALL_SCOPES, help="repeat for several"
    )
    token_create.add_argument("--name", default="cli")
    database(token_create)

    demo = commands.add_parser(
        "demo", help="a throwaway server with a demo site and simulated live traffic"
    )
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--agents", type=int, default=40)
    demo.add_argument("--departments", type=int, default=4)
    demo.add_argument("--rate", type=float, default=1.0, help="traffic multiplier (default 1)")
    demo.add_argument("--seed", type=int, default=None)

    for name, text in (
        ("check", "verify that the projections equal a replay of the event log"),
        ("rebuild", "rebuild the projections from the event log"),
    ):
        replay = commands.add_parser(name, help=text)
        replay.add_argument("--site", type=int, default=None, help="one site (default: all)")
        database(replay)

    prune = commands.add_parser(
        "prune", help="remove events before a date, and what is derived only from them"
    )
    prune.add_argument(
        "--before",
        required=True,
        metavar="DATE",
        help="ISO date (local midnight in the site's zone) or date-time; at most the start of"
        " yesterday",
    )
    prune.add_argument("--site", type=int, default=None, help="one site (default: all)")
    prune.add_argument(
        "--batch",
        type=int,
        default=2000,
        help="events removed per write transaction (default 2000; the site's writers wait"
        " for each)",
    )
    database(prune)

    sim = commands.add_parser("simulate", help="drive a running server with realistic traffic")
    sim.add_argument("--url", required=True, help="the server, e.g. http://127.0.0.1:8000")
    sim.add_argument("--token", required=True, help="a token with events.write and config.*")
    sim.add_argument("--agents", type=int, default=40)
    sim.add_argument("--departments", type=int, default=4)
    sim.add_argument("--rate", type=float, default=1.0, help="traffic multiplier (default 1)")
    sim.add_argument("--duration", type=float, default=0, help="seconds; 0: until Ctrl-C")
    sim.add_argument("--seed", type=int, default=None)
    sim.add_argument(
        "--prefill", type=float, default=0, help="first replay the last S seconds of traffic"
    )
    return parser


def _engine(url: str | None, pool_size: int = 5, pool_overflow: int | None = None) -> Engine:
    try:
        return make_engine(url or _database_default(), pool_size, pool_overflow)
    except DatabaseUrlError as err:
        raise CliError(str(err)) from None
    except (ImportError, SQLAlchemyError) as err:
        raise CliError(f"cannot use the database: {_short(err)}") from None


def _short(err: BaseException) -> str:
    text = str(getattr(err, "orig", None) or err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _ready(engine: Engine) -> None:
    """SQLite: apply pending migrations; PostgreSQL: insist that `migrate` was run."""
    if is_sqlite(engine):
        migrate.upgrade(engine)
    elif not migrate.is_current(engine):
        raise CliError("the database schema is not current: run `chatpulse migrate` first")


def cmd_migrate(args: argparse.Namespace) -> int:
    engine = _engine(args.database)
    migrate.upgrade(engine)
    print(f"schema at revision {migrate.current_revision(engine)}")
    return 0


def cmd_site_create(args: argparse.Namespace) -> int:
    if load_zone(args.time_zone) is None:
        raise CliError(f"--time-zone: unknown time zone {args.time_zone!r}")
    if not args.name.strip():
        raise CliError("--name must not be empty")
    if args.site_id is not None and not 1 <= args.site_id <= 2_000_000_000:
        raise CliError("--site-id must be from 1 to 2000000000")
    engine = _engine(args.database)
    _ready(engine)
    try:
        site = sites.create_site(engine, args.name, args.time_zone, args.clock.now(), args.site_id)
    except sites.SiteExists as err:
        raise CliError(str(err)) from None
    print(f"created site {site.id} ({site.name}, {site.time_zone})", file=sys.stderr)
    print(site.id)
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    engine = _engine(args.database)
    _ready(engine)
    if sites.find_site(engine, args.site) is None:
        raise CliError(f"--site: no site {args.site}")
    info, secret = sites.issue_token(engine, args.site, args.name, args.scope, args.clock.now())
    print(f"token {info.id} for site {args.site}, scopes {' '.join(info.scopes)}", file=sys.stderr)
    print(secret)
    return 0


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
    url = args.database or _database_default()
    try:
        settings = Settings(database_url=url)
    except ValidationError as err:
        raise CliError(f"bad CHATPULSE_* setting: {_short(err)}") from None
    engine = _engine(url, settings.pool_size, settings.pool_overflow)
    _ready(engine)
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


def _progress_interval() -> float:
    """Seconds between plain progress lines on stderr ($CHATPULSE_PROGRESS_INTERVAL)."""
    from chatpulse.progress import interval_from

    try:
        return interval_from()
    except ValueError as err:
        raise CliError(str(err)) from None


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
        progress_interval=_progress_interval(),
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


def _sites_to_replay(engine: Engine, site: int | None) -> list[int]:
    from chatpulse.store import replay

    if site is None:
        return replay.site_ids(engine)
    if sites.find_site(engine, site) is None:
        raise CliError(f"--site: no site {site}")
    return [site]


def cmd_check(args: argparse.Namespace) -> int:
    from chatpulse.progress import Reporter
    from chatpulse.store import replay

    interval = _progress_interval()
    engine = _engine(args.database)
    _ready(engine)
    failed = 0
    for site_id in _sites_to_replay(engine, args.site):
        with Reporter(f"check site {site_id}", "events", interval=interval) as progress:
            try:
                result = replay.check(engine, site_id, progress.update)
            except replay.ReplayError as err:
                progress.finish(f"the log does not replay after {progress.done} events")
                print(f"site {site_id}: the log does not replay: {err}")
                failed += 1
                continue
            verdict = "ok" if result.ok else f"{len(result.differences)} projections differ"
            progress.finish(f"{verdict}, {result.events} events replayed")
        if result.ok:
            print(f"site {site_id}: ok ({result.events} events replayed)")
        else:
            failed += 1
            for line in result.differences:
                print(f"site {site_id}: {line}")
    return 1 if failed else 0


def cmd_rebuild(args: argparse.Namespace) -> int:
    from chatpulse.progress import Reporter
    from chatpulse.store import replay

    interval = _progress_interval()
    engine = _engine(args.database)
    _ready(engine)
    for site_id in _sites_to_replay(engine, args.site):
        with Reporter(f"rebuild site {site_id}", "events", interval=interval) as progress:
            try:
                count = replay.rebuild(engine, site_id, progress.update)
            except replay.ReplayError as err:
                raise CliError(f"the log does not replay: {err}") from None
            progress.finish(f"rebuilt from {count} events")
        print(f"site {site_id}: rebuilt from {count} events")
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    from chatpulse.progress import Reporter
    from chatpulse.store import prune

    if not 1 <= args.batch <= 100_000:
        raise CliError("--batch must be from 1 to 100000")
    interval = _progress_interval()
    engine = _engine(args.database)
    _ready(engine)
    now = args.clock.now()
    cutoffs: dict[int, int] = {}
    for site_id in _sites_to_replay(engine, args.site):  # every cut-off checked before any work
        site = sites.find_site(engine, site_id)
        assert site is not None
        try:
            cutoffs[site_id] = prune.cutoff_of(args.before, site.time_zone, now)
        except prune.PruneError as err:
            raise CliError(f"site {site_id}: {err}" if args.site is None else str(err)) from None
    for site_id, cutoff in cutoffs.items():
        with Reporter(f"prune site {site_id}", "events", interval=interval) as progress:
            try:
                result = prune.prune(engine, site_id, cutoff, args.batch, progress.update)
            except prune.PruneError as err:
                raise CliError(str(err)) from None
            progress.finish(
                f"removed {result.removed['events']} of the {progress.total} events before "
                f"the cut-off ({result.batches} write transactions)"
            )
        print(f"site {site_id}: {result.summary()}", flush=True)
    return 0


COMMANDS = {
    ("check", None): cmd_check,
    ("rebuild", None): cmd_rebuild,
    ("prune", None): cmd_prune,
    ("demo", None): cmd_demo,
    ("simulate", None): cmd_simulate,
    ("serve", None): cmd_serve,
    ("migrate", None): cmd_migrate,
    ("site", "create"): cmd_site_create,
    ("token", "create"): cmd_token_create,
}


def main(argv: Sequence[str] | None = None, clock: Clock | None = None) -> int:
    """Run one command; `clock` (tests) is the time the command works at, else the system's."""
    args = build_parser().parse_args(argv)
    args.clock = clock or SystemClock()
    handler = COMMANDS[(args.command, getattr(args, "action", None))]
    try:
        return handler(args)
    except CliError as err:
        print(f"chatpulse: {err}", file=sys.stderr)
        return 1
    except SQLAlchemyError as err:
        print(f"chatpulse: database error: {_short(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except OSError as err:
        print(f"chatpulse: {err}", file=sys.stderr)
        return 1
