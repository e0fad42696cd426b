"""`chatpulse prune`: events before a cut-off go with what is derived only from them; the views
of windows from the cut-off on, the replay check, later events and their sequence numbers, and
other sites stay exactly as they were."""

from __future__ import annotations

import datetime as dt
import io
import os
import random
import re
import subprocess
import sys
import time
import uuid
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from chatpulse import cli
from chatpulse.clock import FixedClock
from chatpulse.domain.chat import OPEN
from chatpulse.domain.timeutil import format_instant_exact
from chatpulse.store import prune
from chatpulse.store import tables as t
from tests import reference as ref
from tests.integration.views.test_match_reference import World, iso, make_log
from tests.support import (
    AWAY,
    OFFLINE,
    ONLINE,
    T_MICROS,
    Server,
    SiteClient,
    ev,
    new_site,
    uid,
)

CLI = (sys.executable, "-m", "chatpulse")
HOUR = 3600
SECOND = 1_000_000
BASE = "/api/v3/livechat/realTime/"


def _run(
    *args: str, progress_interval: str = "3600", at: int | None = None
) -> subprocess.CompletedProcess[str]:
    """The command line; plain progress lines on stderr at most once an hour, unless told.
    With `at`, in this process, at that instant (a cut-off must lie before yesterday *then*,
    whatever today's date is); else a child process on the system's clock."""
    env = {**os.environ, "CHATPULSE_PROGRESS_INTERVAL": progress_interval}
    if at is None:
        return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, env=env)
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch, redirect_stdout(out), redirect_stderr(err):
        patch.setenv("CHATPULSE_PROGRESS_INTERVAL", progress_interval)
        code = cli.main(list(args), clock=FixedClock(at))
    return subprocess.CompletedProcess(["chatpulse", *args], code, out.getvalue(), err.getvalue())


def _progress_line(site_id: int, done: int, total: int) -> str:
    """A plain progress line of prune, its rate and time left (machine speed) as a pattern."""
    count = f"{done}/{total} events ({100 * done // total}%)"
    return rf"prune site {site_id}: {re.escape(count)}, (\d+|\d\.\d) events/s, \d+ s left"


def _zero_line(site_id: int, cutoff: int) -> str:
    counts = ", ".join(f"{name} 0" for name in prune.COUNTED)
    return f"site {site_id}: removed {counts} (before {format_instant_exact(cutoff)})\n"


def _log_rows(engine: Engine, site_id: int, since: int = 0) -> list[tuple[Any, ...]]:
    """The stored events (sequence, id, type, instant, data) that occurred at or after `since`."""
    e = t.events
    with engine.connect() as conn:
        rows = conn.execute(
            select(e.c.seq, e.c.id, e.c.type, e.c.occurred_at, e.c.data)
            .where(e.c.site_id == site_id, e.c.occurred_at >= since)
            .order_by(e.c.seq)
        ).all()
    return [tuple(row) for row in rows]


def _views(site: SiteClient, windows: list[dict[str, str]], departments: list[str]) -> list[Any]:
    """RightNow and Queue, and Today and Agents (with the status distribution) per window."""
    out: list[Any] = []
    for department in [None, *departments]:
        query = {"departmentId": department} if department else {}
        out.append(site.get(BASE + "RightNow", **query))
        out.append(site.get(BASE + "Queue", **query))
        for window in windows:
            out.append(site.get(BASE + "Today", **window, **query))
            out.append(
                site.get(
                    BASE + "Agents",
                    **window,
                    **query,
                    pageSize=100,
                    includeStatusDistribution="true",
                )
            )
    return out


# ---------------------------------------------------------------- a hand-made history


def _hand_made_history() -> list[dict[str, Any]]:
    """Four days of one site, T = 2026-11-24 12:00Z; the cut-off will be 2026-11-22 00:00Z
    (T − 60 h). Comments say what prune must do with each line."""
    h = HOUR
    chat, agent, visitor, inv = (
        (lambda n: uid("chat", n)),
        (lambda n: uid("agent", n)),
        (lambda n: uid("visitor", n)),
        (lambda n: uid("invitation", n)),
    )
    dept = uid("dept", 1)
    e = [
        # agent 1: ONLINE [−96h, −72h) ended before the cut-off: goes (1 event, 1 interval);
        # AWAY [−72h, −50h) is open at the cut-off and ONLINE since −50h: both stay
        ev("agent.status_changed", -96 * h, agentId=agent(1), statusId=ONLINE),
        ev("agent.status_changed", -72 * h, agentId=agent(1), statusId=AWAY),
        ev("agent.status_changed", -50 * h, agentId=agent(1), statusId=ONLINE),
        # agent 2: ONLINE since −80h, its current status: stays
        ev("agent.status_changed", -80 * h, agentId=agent(2), statusId=ONLINE),
        # chat 1: ended before the cut-off: goes (3 events, wait, handling, chat, 2 minute rows)
        ev("chat.requested", -70 * h, chatId=chat(1), visitorId=visitor(11), departmentId=dept),
        ev("chat.accepted", -70 * h + 60, chatId=chat(1), agentId=agent(1)),
        ev("chat.ended", -69 * h, chatId=chat(1)),
        # chat 2: ended before the cut-off but rated after it: stays whole
        ev("chat.requested", -65 * h, chatId=chat(2), visitorId=visitor(12)),
        ev("chat.accepted", -64 * h, chatId=chat(2), agentId=agent(2)),
        ev("chat.ended", -63 * h, chatId=chat(2)),
        ev("chat.rated", -10 * h, chatId=chat(2), score=4),
        # chat 3: requested before the cut-off, still ongoing: stays whole
        ev("chat.requested", -62 * h, chatId=chat(3), visitorId=visitor(13)),
        ev("chat.accepted", -61.5 * h, chatId=chat(3), agentId=agent(1)),
        # chat 4: abandoned before the cut-off: goes (2 events, wait, chat, 1 minute row)
        ev("chat.requested", -68 * h, chatId=chat(4), visitorId=visitor(14)),
        ev("chat.abandoned", -67 * h, chatId=chat(4)),
        # chat 5: ended after the cut-off: stays whole
        ev("chat.requested", -61 * h, chatId=chat(5), visitorId=visitor(15), departmentId=dept),
        ev("chat.accepted", -60.5 * h, chatId=chat(5), agentId=agent(2)),
        ev("chat.ended", -59 * h, chatId=chat(5)),
        # chat 6: agent 3's only chat, before the cut-off: goes, and agent 3's state row with it
        ev("chat.requested", -75 * h, chatId=chat(6), visitorId=visitor(16)),
        ev("chat.accepted", -74 * h, chatId=chat(6), agentId=agent(3)),
        ev("chat.ended", -73 * h, chatId=chat(6)),
        # visitor 1 came and left before the cut-off: goes (2 events, row)
        ev("visitor.arrived", -90 * h, visitorId=visitor(1)),
        ev("visitor.left", -89 * h, visitorId=visitor(1)),
        # visitor 2 is on site since −86h: only that arrival stays (2 events go)
        ev("visitor.arrived", -88 * h, visitorId=visitor(2)),
        ev("visitor.left", -87 * h, visitorId=visitor(2)),
        ev("visitor.arrived", -86 * h, visitorId=visitor(2)),
        # visitor 3 was on site at the cut-off and left after it: stays
        ev("visitor.arrived", -85 * h, visitorId=visitor(3)),
        ev("visitor.left", -10 * h, visitorId=visitor(3)),
        # invitation 1 accepted before the cut-off: goes (2 events, row)
        ev("invitation.sent", -80 * h, invitationId=inv(1), visitorId=visitor(4)),
        ev("invitation.accepted", -79 * h, invitationId=inv(1)),
        # invitation 2 not accepted, its visitor (2) is on site: stays
        ev("invitation.sent", -78 * h, invitationId=inv(2), visitorId=visitor(2)),
        # invitation 3 not accepted, its visitor is not on site: goes (1 event, row)
        ev("invitation.sent", -77 * h, invitationId=inv(3), visitorId=visitor(9)),
        # invitation 4 accepted after the cut-off: stays
        ev("invitation.sent", -76 * h, invitationId=inv(4), visitorId=visitor(5)),
        ev("invitation.accepted", -5 * h, invitationId=inv(4)),
    ]
    for n, event in enumerate(e, start=1):
        event["id"] = uid("event", n)
    return e


GONE = {1, 5, 6, 7, 14, 15, 19, 20, 21, 22, 23, 24, 25, 29, 30, 32}  # event numbers
HAND_MADE_REMOVED = {
    "chats": 3,
    "waits": 3,
    "handling_intervals": 2,
    "status_intervals": 1,
    "busy_intervals": 2,
    "agent_states": 1,
    "visitors": 1,
    "invitations": 2,
    "missed_offers": 0,  # no chat.missed here (see the twin test)
    "cohort_minutes": 4,
    "events": 16,
}


def _hand_made_site(site: SiteClient) -> list[dict[str, Any]]:
    site.department(1, "Sales")
    for n, name in ((1, "Alice"), (2, "Bob"), (3, "Carol")):
        site.agent(n, name, departments=(1,))
    events = _hand_made_history()
    assert site.ok_events(*events)["accepted"] == len(events) == 34
    return events


def test_prune_removes_exactly_what_lies_before_the_cutoff(
    site: SiteClient, other_site: SiteClient, engine: Engine, database_url: str
) -> None:
    events = _hand_made_site(site)
    _hand_made_site(other_site)
    cutoff = T_MICROS - 60 * HOUR * SECOND
    windows = [
        {"startTime": "2026-11-22"},
        {"startTime": "2026-11-22T05:30:00Z", "endTime": "2026-11-23T00:00:00Z"},
        {},
    ]
    before = _views(site, windows, [uid("dept", 1)])
    other_before = (_log_rows(engine, other_site.site_id), _views(other_site, windows, []))
    kept_after_cutoff = _log_rows(engine, site.site_id, cutoff)

    prune_at_t = ("prune", "--before", "2026-11-22", "--site", str(site.site_id))
    result = _run(*prune_at_t, "--database", database_url, progress_interval="0", at=T_MICROS)
    counts = ", ".join(f"{name} {HAND_MADE_REMOVED[name]}" for name in prune.COUNTED)
    assert (result.returncode, result.stdout) == (
        0,
        f"site {site.site_id}: removed {counts} (before 2026-11-22T00:00:00.000Z)\n",
    ), result.stderr
    # 29 events before the cut-off: chats 15 (3 + 3 + 2 + 2 + 2 + 3), statuses 3, visitors 6,
    # invitations 5; one batch of each kind (--batch 2000), a line after each.
    lines = result.stderr.splitlines()
    assert len(lines) == 5, result.stderr
    for line, done in zip(lines, (15, 18, 24, 29), strict=False):
        assert re.fullmatch(_progress_line(site.site_id, done, 29), line), line
    assert re.fullmatch(
        rf"prune site {site.site_id}: removed 16 of the 29 events before the cut-off"
        r" \(4 write transactions\) in \d+\.\d s",
        lines[4],
    ), lines[4]
    remaining = _log_rows(engine, site.site_id)
    assert [(row[0], row[1]) for row in remaining] == [
        (n, uid("event", n)) for n in range(1, len(events) + 1) if n not in GONE
    ]  # sequence numbers unchanged: event n was stored as n
    assert _log_rows(engine, site.site_id, cutoff) == kept_after_cutoff
    assert _views(site, windows, [uid("dept", 1)]) == before
    assert (_log_rows(engine, other_site.site_id), _views(other_site, windows, [])) == (
        other_before
    )
    with engine.connect() as conn:
        statuses = conn.execute(
            text(
                "SELECT agent_id, status_no, status_id, started_at FROM status_intervals"
                " WHERE site_id = :s ORDER BY agent_id, status_no"
            ),
            {"s": site.site_id},
        ).all()
    assert [tuple(row) for row in statuses] == [
        (uid("agent", 1), 1, AWAY, T_MICROS - 72 * HOUR * SECOND),
        (uid("agent", 1), 2, ONLINE, T_MICROS - 50 * HOUR * SECOND),
        (uid("agent", 2), 1, ONLINE, T_MICROS - 80 * HOUR * SECOND),
    ]

    result = _run("check", "--site", str(site.site_id), "--database", database_url)
    assert (result.returncode, result.stdout) == (
        0,
        f"site {site.site_id}: ok ({len(events) - len(GONE)} events replayed)\n",
    ), result.stdout
    result = _run(*prune_at_t, "--database", database_url, at=T_MICROS)
    assert (result.returncode, result.stdout) == (0, _zero_line(site.site_id, cutoff))
    # What stays before the cut-off is examined again: chats 7, statuses 2, visitors 2,
    # invitations 2.
    assert re.fullmatch(
        rf"prune site {site.site_id}: removed 0 of the 13 events before the cut-off"
        r" \(4 write transactions\) in \d+\.\d s\n",
        result.stderr,
    ), result.stderr

    # Ingest goes on from the pruned state: the renumbered statuses, the rebuilt busy time.
    later = [
        ev("agent.status_changed", 10, agentId=uid("agent", 1), statusId=AWAY),
        ev("chat.ended", 20, chatId=uid("chat", 3)),
        ev("chat.requested", 30, chatId=uid("chat", 7), visitorId=uid("visitor", 17)),
        ev("chat.accepted", 40, chatId=uid("chat", 7), agentId=uid("agent", 3)),
        ev("invitation.accepted", 50, invitationId=uid("invitation", 2)),
        ev("visitor.left", 60, visitorId=uid("visitor", 2)),
    ]
    site.server.clock.value = T_MICROS + 60 * SECOND
    assert site.ok_events(*later) == {
        "accepted": 6,
        "duplicates": 0,
        "lastSequence": len(events) + 6,
    }
    result = _run("check", "--site", str(site.site_id), "--database", database_url)
    assert result.returncode == 0, result.stdout
    agents = site.get(BASE + "Agents", startTime="2026-11-22", pageSize=100)
    # Bob: chat 5 from 23:30 to 01:00, one hour of it in the window; Alice: chat 3 from before
    # the window to T + 20 s; Carol: chat 7 from T + 40 s to now (T + 60 s)
    assert agents["list"] == [
        _agent_row(2, "Bob", ONLINE, 0, 0, "01:00:00"),
        _agent_row(1, "Alice", AWAY, 0, 0, "2.12:00:20"),
        _agent_row(3, "Carol", OFFLINE, 1, 1, "00:00:20"),
    ]


def _agent_row(
    n: int, name: str, status: str, ongoing: int, intraday: int, linear: str
) -> dict[str, Any]:
    return {
        "agentId": uid("agent", n),
        "displayName": name,
        "currentStatusId": status,
        "onGoingChats": ongoing,
        "maxConcurrentChats": 3,
        "intradayChats": intraday,
        "intradayLinearChatTime": linear,
        "statusDistribution": {},
    }


def test_batches_of_one_event_remove_what_one_batch_per_kind_removes(
    site: SiteClient, other_site: SiteClient, engine: Engine
) -> None:
    _hand_made_site(site)
    _hand_made_site(other_site)
    cutoff = T_MICROS - 60 * HOUR * SECOND
    small = prune.prune(engine, site.site_id, cutoff, batch=1)
    large = prune.prune(engine, other_site.site_id, cutoff)
    assert small.removed == large.removed == HAND_MADE_REMOVED
    # one transaction per entity with events before the cut-off: 6 chats, 2 agents' statuses,
    # 3 visitors, 4 invitations; else one per kind
    assert (small.batches, large.batches) == (15, 4)
    assert _log_rows(engine, site.site_id) == _log_rows(engine, other_site.site_id)


def test_a_removed_chat_that_joined_two_busy_stretches_leaves_them_apart(
    site: SiteClient, engine: Engine, database_url: str
) -> None:
    """Agent 1 handles chat 1 (kept: rated after the cut-off), chat 2 (removed) and chat 3 (still
    ongoing); chat 2 overlapped both, so the agent was busy without a break from −70 h."""
    site.agent(1, "Alice")
    h, chat = HOUR, (lambda n: uid("chat", n))
    events = [
        ev("chat.requested", -70 * h, chatId=chat(1), visitorId=uid("visitor", 1)),
        ev("chat.accepted", -70 * h, chatId=chat(1), agentId=uid("agent", 1)),
        ev("chat.requested", -69.5 * h, chatId=chat(2), visitorId=uid("visitor", 2)),
        ev("chat.accepted", -69.5 * h, chatId=chat(2), agentId=uid("agent", 1)),
        ev("chat.requested", -68.5 * h, chatId=chat(3), visitorId=uid("visitor", 3)),
        ev("chat.accepted", -68.5 * h, chatId=chat(3), agentId=uid("agent", 1)),
        ev("chat.ended", -69 * h, chatId=chat(1)),
        ev("chat.ended", -68 * h, chatId=chat(2)),
        ev("chat.rated", -1 * h, chatId=chat(1), score=5),
    ]
    site.ok_events(*events)
    cutoff = T_MICROS - 60 * HOUR * SECOND

    def busy() -> list[tuple[int, int]]:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT started_at, ended_at FROM busy_intervals WHERE site_id = :s"
                    " ORDER BY started_at"
                ),
                {"s": site.site_id},
            ).all()
        return [((a - T_MICROS) // SECOND // 60, (e - T_MICROS) // SECOND // 60) for a, e in rows]

    open_ = (OPEN - T_MICROS) // SECOND // 60
    assert busy() == [(-70 * 60, open_)]
    result = prune.prune(engine, site.site_id, cutoff)
    assert (result.removed["chats"], result.removed["busy_intervals"]) == (1, -1)
    assert busy() == [(-70 * 60, -69 * 60), (-68.5 * 60, open_)]
    result_check = _run("check", "--site", str(site.site_id), "--database", database_url)
    assert result_check.returncode == 0, result_check.stdout
    # ingest goes on: the open stretch closes, a new one opens
    site.ok_events(
        ev("chat.ended", 10, chatId=chat(3)),
        ev("chat.requested", 20, chatId=chat(4), visitorId=uid("visitor", 4)),
        ev("chat.accepted", 30, chatId=chat(4), agentId=uid("agent", 1)),
    )
    assert busy() == [(-70 * 60, -69 * 60), (-68.5 * 60, 0), (0, open_)]
    result_check = _run("check", "--site", str(site.site_id), "--database", database_url)
    assert result_check.returncode == 0, result_check.stdout


# ---------------------------------------------------------------- refusals


def test_a_cutoff_later_than_the_start_of_yesterday_is_refused() -> None:
    now = T_MICROS  # Tuesday 2026-11-24 12:00Z = 13:00 in Paris
    paris_yesterday = int(dt.datetime(2026, 11, 22, 23, tzinfo=dt.UTC).timestamp()) * SECOND
    assert prune.latest_cutoff("Europe/Paris", now) == paris_yesterday
    assert prune.cutoff_of("2026-11-23", "Europe/Paris", now) == paris_yesterday
    assert prune.cutoff_of("2026-11-22T23:00:00Z", "Europe/Paris", now) == paris_yesterday
    with pytest.raises(prune.PruneError) as refused:
        prune.cutoff_of("2026-11-22T23:00:00.000001Z", "Europe/Paris", now)
    assert str(refused.value) == (
        "--before 2026-11-22T23:00:00.000001Z is later than 2026-11-22T23:00:00.000Z, the"
        " start of yesterday in Europe/Paris: today's and yesterday's events are never pruned"
    )
    # a date-time without an offset is local time in the site's zone
    assert prune.cutoff_of("2026-11-20T08:00", "Europe/Paris", now) == (
        int(dt.datetime(2026, 11, 20, 7, tzinfo=dt.UTC).timestamp()) * SECOND
    )
    with pytest.raises(prune.PruneError) as bad:
        prune.cutoff_of("last week", "UTC", now)
    assert str(bad.value) == (
        "--before: 'last week' is not an ISO 8601 date or date-time"
        " (2026-11-01, 2026-11-01T00:00:00Z)"
    )


def test_prune_refuses_a_recent_cutoff_in_one_line_and_changes_nothing(
    site: SiteClient, engine: Engine, database_url: str
) -> None:
    _hand_made_site(site)
    log = _log_rows(engine, site.site_id)
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).date().isoformat()
    first = prune.latest_cutoff("UTC", time.time_ns() // 1000)
    result = _run(
        "prune", "--before", tomorrow, "--site", str(site.site_id), "--database", database_url
    )
    last = prune.latest_cutoff("UTC", time.time_ns() // 1000)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr in {
        f"chatpulse: --before {tomorrow} is later than {format_instant_exact(limit)}, the start"
        " of yesterday in UTC: today's and yesterday's events are never pruned\n"
        for limit in (first, last)
    }
    result = _run(
        "prune", "--before", "soon", "--site", str(site.site_id), "--database", database_url
    )
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        "chatpulse: --before: 'soon' is not an ISO 8601 date or date-time"
        " (2026-11-01, 2026-11-01T00:00:00Z)\n",
    )
    result = _run("prune", "--before", "2026-11-01", "--batch", "0", "--database", database_url)
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        "chatpulse: --batch must be from 1 to 100000\n",
    )
    assert _log_rows(engine, site.site_id) == log


# ---------------------------------------------------------------- random histories


def _entity(kind: str, data: Any) -> str:
    for key in ("chatId", "visitorId", "invitationId", "agentId"):
        if key in data and (key != "visitorId" or kind.startswith("visitor.")):
            return f"{key}:{data[key]}"
    raise AssertionError(kind)


def _history(world: World, rng: random.Random, now: int) -> list[ref.RefEvent]:
    """Several days: seven random logs ending from 5 days before now to now (chats live at the
    end of an early log stay live), each entity's events in time order, entities
    interleaved at random or in time order."""
    lines: dict[str, list[ref.RefEvent]] = {}
    for back in (120 * HOUR, 96 * HOUR, 72 * HOUR, 60 * HOUR, 48 * HOUR, 24 * HOUR, 0):
        for event in make_log(world, rng, now - back * SECOND):
            lines.setdefault(_entity(event[1], event[2]), []).append(event)
    queues = [sorted(line, key=lambda e: e[0]) for line in lines.values()]
    if rng.random() < 0.5:
        return sorted((e for line in queues for e in line), key=lambda e: e[0])
    log: list[ref.RefEvent] = []
    while queues:
        line = rng.choice(queues)
        log.append(line.pop(0))
        if not line:
            queues.remove(line)
    return log


def _unsited(value: Any, rename: dict[str, str] | None = None) -> Any:
    """A view without the `siteId` of the configuration objects it embeds, custom status ids
    renamed: where twin sites differ."""
    names = rename or {}
    if isinstance(value, dict):
        return {names.get(k, k): _unsited(v, names) for k, v in value.items() if k != "siteId"}
    if isinstance(value, list):
        return [_unsited(v, names) for v in value]
    return names.get(value, value) if isinstance(value, str) else value


def _twin(server: Server, zone: str, seed: int) -> tuple[SiteClient, World]:
    site = new_site(server, time_zone=zone)
    return site, World(site, random.Random(seed))


def _post(site: SiteClient, log: list[ref.RefEvent], ids: list[str], rng: random.Random) -> None:
    start = 0
    while start < len(log):
        size = rng.randint(1, 60)
        site.ok_events(
            *[
                {"id": event_id, "type": kind, "occurredAt": iso(at_), "data": data}
                for (at_, kind, data), event_id in zip(
                    log[start : start + size], ids[start : start + size], strict=True
                )
            ]
        )
        start += size


def _for_site(log: list[ref.RefEvent], statuses: dict[str, str]) -> list[ref.RefEvent]:
    """The same log for a twin site, whose custom statuses got other ids."""
    return [
        (
            at_,
            kind,
            {**data, "statusId": statuses[data["statusId"]]} if "statusId" in data else data,
        )
        for at_, kind, data in log
    ]


def _continuation(world: World, log: list[ref.RefEvent], now: int) -> list[ref.RefEvent]:
    """After the prune: every live chat ends, visitors leave, agents change status."""
    replayed = ref.replay(log)
    out: list[ref.RefEvent] = []
    at_ = now + SECOND
    for chat_id, chat in sorted(replayed.chats.items()):
        if chat.state in ("BOT", "ONGOING"):
            out.append((at_, "chat.ended", {"chatId": chat_id}))
        elif chat.state == "WAITING":
            out.append((at_, "chat.abandoned", {"chatId": chat_id}))
    for visitor_id in sorted(replayed.on_site):
        out.append((at_, "visitor.left", {"visitorId": visitor_id}))
    for agent_id in world.agents[:4]:
        out.append((at_, "agent.status_changed", {"agentId": agent_id, "statusId": AWAY}))
    return out


@pytest.mark.parametrize(
    ("seed", "zone", "batch"),
    [(1, "Europe/Paris", 7), (2, "UTC", 10_000), (3, "America/New_York", 1)],
)
def test_pruned_site_answers_like_its_unpruned_twin_from_the_cutoff_on(
    server: Server, engine: Engine, database_url: str, seed: int, zone: str, batch: int
) -> None:
    server.clock.value = T_MICROS
    rng = random.Random(seed)
    pruned, world = _twin(server, zone, seed)
    control, control_world = _twin(server, zone, seed)
    statuses = dict(zip(world.statuses, control_world.statuses, strict=True))
    log = _history(world, rng, T_MICROS)
    ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in log]
    _post(pruned, log, ids, random.Random(seed))
    _post(control, _for_site(log, statuses), ids, random.Random(seed))
    world.finish()
    control_world.finish()

    cutoff = prune.cutoff_of("2026-11-21", zone, T_MICROS)
    replayed = ref.replay(log)
    live_before_cutoff = [
        c for c in replayed.chats.values() if c.state != "ENDED" and c.requested_at < cutoff
    ]
    assert live_before_cutoff and len(log) > 200  # the seeds give prune something to keep
    windows = [
        {"startTime": "2026-11-21"},
        {"startTime": iso(cutoff + 7 * HOUR * SECOND + 123_456), "endTime": "2026-11-23"},
        {"startTime": "2026-11-23"},
        {},
    ]
    departments = world.departments[:2]
    before = _views(pruned, windows, departments)
    back = {theirs: ours for ours, theirs in statuses.items()}
    assert _unsited(_views(control, windows, departments), back) == _unsited(before)
    after_cutoff = _log_rows(engine, pruned.site_id, cutoff)
    control_log = _log_rows(engine, control.site_id)

    result = prune.prune(engine, pruned.site_id, cutoff, batch)
    assert result.removed["events"] > 0 and result.removed["chats"] > 0
    assert _views(pruned, windows, departments) == before
    assert _log_rows(engine, pruned.site_id, cutoff) == after_cutoff
    with engine.connect() as conn:
        oldest = conn.execute(
            text("SELECT min(occurred_at), count(*) FROM events WHERE site_id = :s"),
            {"s": pruned.site_id},
        ).one()
    assert len(after_cutoff) < oldest[1] < len(log)  # some events before the cut-off remain
    result = _run("check", "--site", str(pruned.site_id), "--database", database_url)
    assert (result.returncode, result.stdout) == (
        0,
        f"site {pruned.site_id}: ok ({oldest[1]} events replayed)\n",
    ), result.stdout
    again = prune.prune(engine, pruned.site_id, cutoff, batch)
    assert again.removed == dict.fromkeys(prune.COUNTED, 0)
    assert _log_rows(engine, control.site_id) == control_log  # the other site: untouched

    # both sites go on with the same events: still the same views and a log that replays
    server.clock.value = T_MICROS + 10 * SECOND
    more = _continuation(world, log, T_MICROS)
    more_ids = [str(uuid.uuid4()) for _ in more]
    _post(pruned, more, more_ids, random.Random(seed))
    _post(control, _for_site(more, statuses), more_ids, random.Random(seed))
    assert _unsited(_views(pruned, windows, departments)) == _unsited(
        _views(control, windows, departments), back
    )
    result = _run("check", "--site", str(pruned.site_id), "--database", database_url)
    assert result.returncode == 0, result.stdout
