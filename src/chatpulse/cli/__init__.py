"""The command line of SPEC.md §7: demo, serve, migrate, site create, token create, simulate,
check, rebuild, prune, and connector add/list/remove/drops (docs/connectors.md)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from sqlalchemy.exc import SQLAlchemyError

from chatpulse.cli import connectors as connector_commands
from chatpulse.cli.common import CliError, Parser, short
from chatpulse.cli.maintenance import (
    cmd_check,
    cmd_migrate,
    cmd_prune,
    cmd_rebuild,
    cmd_site_create,
    cmd_site_update,
    cmd_token_create,
)
from chatpulse.cli.serving import cmd_demo, cmd_serve, cmd_simulate, tcp_bind_socket
from chatpulse.clock import Clock, SystemClock
from chatpulse.services import sites

__all__ = ["CliError", "build_parser", "main", "tcp_bind_socket"]


def thresholds(parser: argparse.ArgumentParser, t: int | None, s: int | None) -> None:
    """The site's service-level thresholds (METRICS.md §7), in whole seconds."""
    parser.add_argument(
        "--service-level-seconds",
        type=int,
        default=t,
        help="T: a chat answered within T seconds is answered in time (1-3600"
        + (f", default {t})" if t is not None else ")"),
    )
    parser.add_argument(
        "--short-abandon-seconds",
        type=int,
        default=s,
        help="S: a chat that leaves the queue within S seconds is not judged (0-3600"
        + (f", default {s})" if s is not None else ")"),
    )


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="chatpulse", description="ChatPulse real-time live-chat metrics server")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

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
    site_commands = site.add_subparsers(dest="action", required=True, parser_class=Parser)
    site_create = site_commands.add_parser("create", help="create a site; prints its id last")
    site_create.add_argument("--name", required=True)
    site_create.add_argument("--site-id", type=int, default=None)
    site_create.add_argument("--time-zone", default="UTC")
    thresholds(site_create, 30, 0)
    database(site_create)
    site_update = site_commands.add_parser(
        "update", help="change a site's time zone or service-level thresholds"
    )
    site_update.add_argument("--site", type=int, required=True)
    site_update.add_argument("--time-zone", default=None)
    thresholds(site_update, None, None)
    database(site_update)

    token = commands.add_parser("token", help="manage API tokens")
    token_commands = token.add_subparsers(dest="action", required=True, parser_class=Parser)
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
    demo.add_argument(
        "--connector",
        choices=("chatwoot",),
        default=None,
        help="drive the demo through a connector: simulated Chatwoot webhooks and agents API",
    )

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
    connector_commands.add_parsers(commands, database)
    return parser


COMMANDS: dict[tuple[str, str | None], Callable[[argparse.Namespace], int]] = {
    **connector_commands.COMMANDS,
    ("check", None): cmd_check,
    ("rebuild", None): cmd_rebuild,
    ("prune", None): cmd_prune,
    ("demo", None): cmd_demo,
    ("simulate", None): cmd_simulate,
    ("serve", None): cmd_serve,
    ("migrate", None): cmd_migrate,
    ("site", "create"): cmd_site_create,
    ("site", "update"): cmd_site_update,
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
        print(f"chatpulse: database error: {short(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except OSError as err:
        print(f"chatpulse: {err}", file=sys.stderr)
        return 1
