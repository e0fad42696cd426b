"""`chatpulse check` and `chatpulse rebuild`: the projections equal a replay of the event log,
a damaged projection is found, and a rebuild restores every view."""

from __future__ import annotations

import random
import subprocess
import sys

from sqlalchemy import Engine, text

from tests import reference as ref
from tests.integration.views.test_match_reference import World, iso, make_log
from tests.support import SiteClient

CLI = (sys.executable, "-m", "chatpulse")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120)


def _ours(output: str, *ours: SiteClient) -> list[str]:
    """The lines about these sites (on PostgreSQL the test run's other sites share the database)."""
    prefixes = tuple(f"site {s.site_id}:" for s in ours)
    return [line for line in output.splitlines() if line.startswith(prefixes)]


def _views(site: SiteClient) -> list[object]:
    base = "/api/v3/livechat/realTime/"
    return [
        site.get(base + "RightNow"),
        site.get(base + "Queue"),
        site.get(base + "Today", startTime=iso(site.server.clock.now() - 3 * 86_400 * 10**6)),
        site.get(base + "Agents", pageSize=100, includeStatusDistribution="true"),
    ]


def test_check_finds_damage_and_rebuild_repairs_it(
    site: SiteClient, other_site: SiteClient, database_url: str, engine: Engine
) -> None:
    rng = random.Random(11)  # 80 events, 6 chats ongoing, 3 visitors
    world = World(site, rng)
    log = make_log(world, rng, site.server.clock.now())
    events = [
        {"id": f"00000000-0000-4000-8000-{n:012d}", "type": kind, "occurredAt": iso(t), "data": d}
        for n, (t, kind, d) in enumerate(log)
    ]
    assert site.ok_events(*events)["accepted"] == len(events) > 20
    before = _views(site)

    result = _run("check", "--site", str(site.site_id), "--database", database_url)
    assert (result.returncode, result.stdout) == (
        0,
        f"site {site.site_id}: ok ({len(events)} events replayed)\n",
    ), result.stderr
    result = _run("check", "--database", database_url)  # every site, the empty one too
    assert _ours(result.stdout, site, other_site) == [
        f"site {site.site_id}: ok ({len(events)} events replayed)",
        f"site {other_site.site_id}: ok (0 events replayed)",
    ]

    replayed = ref.replay(log)
    ongoing = sum(1 for c in replayed.chats.values() if c.state == "ONGOING")
    visitors = len({d["visitorId"] for _, kind, d in log if kind.startswith("visitor.")})
    assert ongoing > 0 and visitors > 0  # the seed gives both kinds of damage something to hit
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE chats SET state = 'ENDED' WHERE site_id = :s AND state = 'ONGOING'"),
            {"s": site.site_id},
        )
        conn.execute(text("DELETE FROM visitors WHERE site_id = :s"), {"s": site.site_id})
        conn.execute(  # the running count RightNow reads
            text(
                "UPDATE live_totals SET visitors_on_site = visitors_on_site + 5"
                " WHERE site_id = :s AND department_key = ''"
            ),
            {"s": site.site_id},
        )
        # RightNow answers from a cache keyed by the site's versions, which damage behind the
        # server's back does not move; a restarted server would show it at once.
        conn.execute(
            text("UPDATE sites SET config_version = config_version + 1 WHERE id = :s"),
            {"s": site.site_id},
        )
    result = _run("check", "--database", database_url)
    assert result.returncode == 1
    assert _ours(result.stdout, site, other_site) == [
        f"site {site.site_id}: chats: {ongoing} rows missing, {ongoing} rows not in the replay",
        f"site {site.site_id}: visitors: {visitors} rows missing, 0 rows not in the replay",
        f"site {site.site_id}: live_totals: 1 rows missing, 1 rows not in the replay",
        f"site {other_site.site_id}: ok (0 events replayed)",
    ]
    assert _views(site) != before

    result = _run("rebuild", "--site", str(site.site_id), "--database", database_url)
    assert (result.returncode, result.stdout) == (
        0,
        f"site {site.site_id}: rebuilt from {len(events)} events\n",
    ), result.stderr
    assert _views(site) == before
    result = _run("check", "--site", str(site.site_id), "--database", database_url)
    assert result.returncode == 0, result.stdout


def test_check_of_an_unknown_site_is_one_line(database_url: str, site: SiteClient) -> None:
    result = _run("check", "--site", "999999", "--database", database_url)
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        "chatpulse: --site: no site 999999\n",
    )
