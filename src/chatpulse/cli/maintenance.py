"""The commands that work on the database: migrate, site create, token create, check, rebuild,
prune."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy import Engine

from chatpulse.cli.common import CliError, ensure_ready, open_engine, progress_interval
from chatpulse.domain.service_level import SERVICE_LEVEL_RANGE, SHORT_ABANDON_RANGE, Thresholds
from chatpulse.domain.window import load_zone
from chatpulse.services import sites
from chatpulse.store import migrate


def cmd_migrate(args: argparse.Namespace) -> int:
    engine = open_engine(args.database)
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
    own = _thresholds(args, Thresholds())
    engine = open_engine(args.database)
    ensure_ready(engine)
    try:
        site = sites.create_site(
            engine, args.name, args.time_zone, args.clock.now(), args.site_id, own
        )
    except sites.SiteExists as err:
        raise CliError(str(err)) from None
    print(f"created site {site.id} ({_described(site)})", file=sys.stderr)
    print(site.id)
    return 0


def cmd_site_update(args: argparse.Namespace) -> int:
    if args.time_zone is not None and load_zone(args.time_zone) is None:
        raise CliError(f"--time-zone: unknown time zone {args.time_zone!r}")
    engine = open_engine(args.database)
    ensure_ready(engine)
    found = sites.find_site(engine, args.site)
    if found is None:
        raise CliError(f"--site: no site {args.site}")
    before = Thresholds(found.service_level_seconds, found.short_abandon_seconds)
    site = sites.change_site(engine, args.site, args.time_zone, _thresholds(args, before))
    if site is None:
        raise CliError(f"--site: no site {args.site}")
    print(f"site {site.id} ({_described(site)})", file=sys.stderr)
    print(site.id)
    return 0


def _thresholds(args: argparse.Namespace, base: Thresholds) -> Thresholds:
    """The thresholds the arguments give, the others from `base`; checked as the API does."""
    t, s = args.service_level_seconds, args.short_abandon_seconds
    if t is not None and not SERVICE_LEVEL_RANGE[0] <= t <= SERVICE_LEVEL_RANGE[1]:
        raise CliError("--service-level-seconds must be an integer from 1 to 3600")
    if s is not None and not SHORT_ABANDON_RANGE[0] <= s <= SHORT_ABANDON_RANGE[1]:
        raise CliError("--short-abandon-seconds must be an integer from 0 to 3600")
    return Thresholds(
        base.service_level_seconds if t is None else t,
        base.short_abandon_seconds if s is None else s,
    )


def _described(site: sites.Site) -> str:
    return (
        f"{site.name}, {site.time_zone}, service level within {site.service_level_seconds} s,"
        f" short abandons under {site.short_abandon_seconds} s"
    )


def cmd_token_create(args: argparse.Namespace) -> int:
    engine = open_engine(args.database)
    ensure_ready(engine)
    if sites.find_site(engine, args.site) is None:
        raise CliError(f"--site: no site {args.site}")
    info, secret = sites.issue_token(engine, args.site, args.name, args.scope, args.clock.now())
    print(f"token {info.id} for site {args.site}, scopes {' '.join(info.scopes)}", file=sys.stderr)
    print(secret)
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

    interval = progress_interval()
    engine = open_engine(args.database)
    ensure_ready(engine)
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

    interval = progress_interval()
    engine = open_engine(args.database)
    ensure_ready(engine)
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
    interval = progress_interval()
    engine = open_engine(args.database)
    ensure_ready(engine)
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
