"""`chatpulse connector add|list|remove|drops|sync` (docs/connectors.md)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from chatpulse.cli.common import CliError, ensure_ready, open_engine
from chatpulse.domain.errors import ChatPulseError
from chatpulse.domain.timeutil import format_instant
from chatpulse.services import connector_config, sites
from chatpulse.store import connectors as store

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"


def add_parsers(
    commands: argparse._SubParsersAction[Any],
    database: Callable[[argparse.ArgumentParser], None],
) -> None:
    """The `connector` command and its actions."""
    connector = commands.add_parser("connector", help="connect a chat platform's webhooks")
    actions = connector.add_subparsers(dest="action", required=True, parser_class=type(connector))
    add = actions.add_parser(
        "add", help="add a connector; prints the settings, then the webhook URL last"
    )
    add.add_argument("kind", choices=connector_config.KINDS)
    add.add_argument("--site", type=int, required=True)
    add.add_argument("--name", default=None)
    add.add_argument(
        "--signing-secret", default=None, help="the platform's webhook secret, if it has one"
    )
    add.add_argument("--api-url", default=None, help="the platform's API base URL")
    add.add_argument("--api-token", default=None, help="an API token of the platform")
    add.add_argument("--account-id", default=None, help="the platform's account id (Chatwoot)")
    add.add_argument(
        "--poll-seconds",
        type=int,
        default=None,
        help="agent availability poll (Chatwoot; default 30 when the API is given, 0 = none)",
    )
    add.add_argument(
        "--reorder-ms", type=int, default=None, help="reorder buffer, 0-5000 ms (default 100)"
    )
    add.add_argument(
        "--public-url",
        default=None,
        help="this server's address as the platform reaches it (default $CHATPULSE_PUBLIC_URL,"
        f" else {DEFAULT_PUBLIC_URL})",
    )
    listing = actions.add_parser("list", help="list a site's connectors")
    listing.add_argument("--site", type=int, required=True)
    remove = actions.add_parser("remove", help="remove a connector (its URL stops at once)")
    remove.add_argument("--site", type=int, required=True)
    remove.add_argument("--id", required=True)
    drops = actions.add_parser("drops", help="what a connector could not feed, newest first")
    drops.add_argument("--site", type=int, required=True)
    drops.add_argument("--id", required=True)
    drops.add_argument("--limit", type=int, default=20)
    for parser in (add, listing, remove, drops):
        database(parser)


def _site_engine(args: argparse.Namespace) -> Engine:
    engine = open_engine(args.database)
    ensure_ready(engine)
    if sites.find_site(engine, args.site) is None:
        raise CliError(f"--site: no site {args.site}")
    return engine


def cmd_connector_add(args: argparse.Namespace) -> int:
    engine = _site_engine(args)
    new = connector_config.NewConnector(
        args.kind,
        args.name,
        args.signing_secret,
        args.api_url,
        args.api_token,
        args.account_id,
        args.poll_seconds,
        args.reorder_ms,
    )
    try:
        connector, secret = connector_config.create(engine, args.site, new, args.clock.now())
    except ChatPulseError as err:
        raise CliError("; ".join(f"{_option(e.field)} {e.message}" for e in err.errors)) from None
    base = (args.public_url or os.environ.get("CHATPULSE_PUBLIC_URL") or DEFAULT_PUBLIC_URL).rstrip(
        "/"
    )
    url = base + connector_config.webhook_path(connector, secret)
    print(f"connector {connector.id} ({connector.kind}) for site {args.site}", file=sys.stderr)
    print(
        connector_config.platform(connector.kind).setup_text(url, connector.settings),
        file=sys.stderr,
    )
    print(url)
    return 0


def _option(field: str) -> str:
    return "--" + "".join("-" + c.lower() if c.isupper() else c for c in field)


def cmd_connector_list(args: argparse.Namespace) -> int:
    engine = _site_engine(args)
    found = store.list_site(engine, args.site)
    if not found:
        print(f"site {args.site} has no connectors", file=sys.stderr)
    for c in found:
        poll = f"poll every {c.poll_seconds} s" if c.poll_seconds else "no poll"
        print(f"{c.id}\t{c.kind}\t{c.name}\t{poll}\tcreated {format_instant(c.created_at)}")
    return 0


def cmd_connector_remove(args: argparse.Namespace) -> int:
    engine = _site_engine(args)
    try:
        connector_config.remove(engine, args.site, args.id, args.clock.now())
    except ChatPulseError:
        raise CliError(f"--id: site {args.site} has no connector {args.id}") from None
    print(f"removed connector {args.id}", file=sys.stderr)
    return 0


def cmd_connector_drops(args: argparse.Namespace) -> int:
    engine = _site_engine(args)
    if not 1 <= args.limit <= store.KEEP_DROPS:
        raise CliError(f"--limit must be from 1 to {store.KEEP_DROPS}")
    try:
        connector = connector_config.get(engine, args.site, args.id)
    except ChatPulseError:
        raise CliError(f"--id: site {args.site} has no connector {args.id}") from None
    total, rows = store.drops(engine, args.site, connector.id, args.limit)
    print(f"{total} drops kept", file=sys.stderr)
    for row in rows:
        print(f"{format_instant(row.recorded_at)}\t{row.type}\t{row.fact_key}\t{row.reason}")
    return 0


COMMANDS: dict[tuple[str, str | None], Callable[[argparse.Namespace], int]] = {
    ("connector", "add"): cmd_connector_add,
    ("connector", "list"): cmd_connector_list,
    ("connector", "remove"): cmd_connector_remove,
    ("connector", "drops"): cmd_connector_drops,
}
