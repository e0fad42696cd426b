"""`chatpulse simulate` against a real server, and `chatpulse demo` as a real process."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from chatpulse.clock import SystemClock
from chatpulse.sim.demo_zone import ZONES, demo_zone
from chatpulse.store import migrate, sites
from chatpulse.store.db import make_engine
from tests.factories import right_now
from tests.integration.procs import ServerProcess
from tests.support import free_port

CHATPULSE = (sys.executable, "-m", "chatpulse")
# Half an hour of traffic replayed quickly, then 3 s live.
SIX_AGENTS_BUSY = ("--agents", "6", "--departments", "2", "--prefill", "1800", "--duration", "3")
SIX_AGENTS_BUSY += ("--seed", "1")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[ServerProcess, str]]:
    """A `chatpulse serve` process on a fresh SQLite file, and an all-scope token of its site.
    The site is in the zone the demo would pick now, where it is 14:xx: the simulator's daily
    curve is then near its peak whatever the hour, date and zone of the machine."""
    database = f"sqlite:///{tmp_path / 'sim.db'}"
    engine = make_engine(database)
    migrate.upgrade(engine)
    now = SystemClock().now()
    site = sites.create_site(engine, "Simulated", demo_zone(now).name, now)
    _, token = sites.create_token(engine, site.id, "sim", sites.ALL_SCOPES, 0)
    engine.dispose()
    server = ServerProcess(database, tmp_path / "server.log")
    server.start()
    yield server, token
    server.stop()


def get(url: str, token: str, path: str, **params: Any) -> Any:
    response = httpx.get(
        url + path, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.slow
def test_simulate_drives_a_server_with_only_valid_batches(
    served: tuple[ServerProcess, str],
) -> None:
    server, token = served
    result = subprocess.run(
        [*CHATPULSE, "simulate", "--url", server.url, "--token", token, *SIX_AGENTS_BUSY],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    summary = result.stderr.strip().splitlines()[-1]
    match = re.fullmatch(
        r"chatpulse simulate: (\d+) events stored, 0 duplicates, 0 rejected, \d+ requests", summary
    )
    assert match is not None, result.stderr
    stored = int(match.group(1))
    # 6 agents at rate 1: 6 × 20 chats an hour at the peak, 0.113 visitors/s; between 13:30 and
    # 15:00 local the curve is at 87.5–100 % of it: some 190 visitors in the half hour, each
    # with an arrival and a departure, three in ten of them with a chat of a dozen events or
    # more. (In a site at 04:00 local the curve is at 10 % and this gave 84 to 165 events.)
    assert stored > 500, summary
    assert "rejected event" not in result.stderr

    # The server stored exactly what the simulator says it sent, and the set-up is there.
    log = get(server.url, token, "/api/v3/livechat/events", limit=1)
    assert log["lastSequence"] == stored
    departments = get(server.url, token, "/api/v3/departments")
    assert sorted(d["name"] for d in departments) == ["Sales", "Support"]
    assert len(get(server.url, token, "/api/v3/agents")) == 6
    statuses = get(server.url, token, "/api/v3/livechat/agentStatuses")
    assert [(s["name"], s["type"]) for s in statuses] == [
        ("Online", "online"),
        ("Away", "away"),
        ("Offline", "offline"),
        ("Lunch", "away"),
        ("Meeting", "away"),
    ]

    now = get(server.url, token, "/api/v3/livechat/realTime/RightNow")
    assert all(isinstance(v, int) and v >= 0 for v in now.values()), now
    assert now["ongoingChats"] == now["ongoingChatsWithAgent"] + now["ongoingChatsWithBot"]
    assert now["agentsInChat"] <= now["loggedInAgents"] <= 6
    rows = get(server.url, token, "/api/v3/livechat/realTime/Queue")
    assert [r["routeToDepartment"]["name"] for r in rows[:2]] == ["Sales", "Support"]
    assert sum(r["currentQueueLength"] for r in rows) == now["currentQueueLength"]
    for row in rows:
        assert len(row["visitors"]) == row["currentQueueLength"]
        numbers = [v for k, v in row.items() if isinstance(v, int)]
        assert all(v >= 0 for v in numbers), row
    # Department rows (and the no-department row, when shown) split the ongoing chats.
    by_route = sum(r["ongoingChats"] for r in rows if r["routeToAgentId"] is None)
    assert by_route <= now["ongoingChatsWithAgent"]


def test_simulate_with_a_wrong_token_fails_in_one_line(
    served: tuple[ServerProcess, str],
) -> None:
    server, _ = served
    result = subprocess.run(
        [*CHATPULSE, "simulate", "--url", server.url, "--token", "nope", "--duration", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "chatpulse: the server refused the token (401 on GET /api/v3/site)"
    ]


def _lines(stream: IO[str], into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line.rstrip("\n"))


def _wait_for(lines: queue.Queue[str], prefix: str, timeout: float = 120) -> str:
    while True:
        line = lines.get(timeout=timeout)
        if line.startswith(prefix):
            return line[len(prefix) :].strip()


@pytest.mark.slow
def test_demo_serves_until_sigterm_then_removes_its_directory(tmp_path: Path) -> None:
    port = free_port()
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    proc = subprocess.Popen(
        [*CHATPULSE, "demo", "--port", str(port), "--agents", "8", "--departments", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            "TMPDIR": str(scratch),
            "PYTHONUNBUFFERED": "1",
            "CHATPULSE_PROGRESS_INTERVAL": "0",  # a progress line per simulated minute
        },
    )
    try:
        assert proc.stdout is not None
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()
        wallboard = _wait_for(lines, "Wallboard:")
        token = _wait_for(lines, "Token:")
        assert wallboard == f"http://127.0.0.1:{port}/wallboard"
        assert [p.name[:15] for p in scratch.iterdir()] == ["chatpulse-demo-"]
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(base + "/healthz", timeout=10).json() == {"status": "ok"}
        site_zone = get(base, token, "/api/v3/site")["timeZone"]
        now = get(base, token, "/api/v3/livechat/realTime/RightNow")
        assert sorted(now) == sorted(right_now())
        # The site's zone is at 14:xx: the 3 hours replayed (from 11:xx) and the first hour live
        # have an arrival share from 0.85 to 1, and a staffing target of
        # round(8 × (0.15 + 0.65 × share)) = round(5.62 … 6.4) = 6 agents on shift throughout
        # (online, or away on a break): none ever leaves, the other 2 are offline.
        assert now["loggedInAgents"] == 6
        assert 1 <= now["agentsInChat"] <= 6
        today = get(base, token, "/api/v3/livechat/realTime/Today")
        assert today["totalChats"] > 0
        rules = get(base, token, "/api/v3/alerts/rules")
        assert [r["name"] for r in rules] == [
            "Longest wait",
            "Service level, last 30 minutes",
            "No events",
        ]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stderr is not None
    err = proc.stderr.read().splitlines()
    assert "Traceback" not in "\n".join(err)
    # Which zone and why: the site's, one of the list, at 14:xx when the demo started.
    assert site_zone in ZONES
    assert re.fullmatch(
        rf"chatpulse demo: the demo site is in {re.escape(site_zone)}, where it is 14:\d\d now:"
        " the simulated traffic follows the site's local time of day, and 14:00–15:00 is its"
        " busy afternoon, whatever the hour here",
        err[0],
    ), err[0]
    assert err[1] == (
        "chatpulse demo: site 10000, 8 agents in 2 departments; replaying the last 3 hours of"
        " traffic…"
    )
    # The history: a line per simulated minute, then the summary.
    for minute, line in enumerate(err[2:182], start=1):
        count = f"{minute}/180 minutes ({100 * minute // 180}%)"
        rate_and_left = r"(\d+|\d\.\d) minutes/s, (\d+ s|\d+ min \d+ s) left"
        assert re.fullmatch(
            rf"chatpulse demo: history: {re.escape(count)}, {rate_and_left}", line
        ), line
    assert re.fullmatch(
        r"chatpulse demo: history: 3 hours of traffic replayed, \d+ events stored in \d+\.\d s",
        err[182],
    ), err[182]
    assert err[183:] == ["chatpulse demo: stopping"]
    assert list(scratch.iterdir()) == []
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)


def test_demo_on_a_busy_port_fails_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*CHATPULSE, "demo", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "TMPDIR": str(tmp_path)},
        )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"chatpulse: cannot listen on 127.0.0.1:{port}")
    assert list(tmp_path.iterdir()) == []


def _until(what: str, check: Any, timeout: float = 60) -> Any:
    """Read the server until `check()` answers something true (a state the demo reaches by
    itself: its first availability poll, its first chats); fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"the demo never reached: {what}"
        time.sleep(0.2)  # between reads of the server, not instead of one


DEMO_CHATWOOT = ("--agents", "8", "--departments", "2", "--connector", "chatwoot", "--rate", "30")
DEMO_CHATWOOT += ("--seed", "3")


@pytest.mark.slow
def test_demo_through_the_chatwoot_connector(tmp_path: Path) -> None:
    """`demo --connector chatwoot`: the traffic arrives as Chatwoot webhooks at a connector, the
    agents' availability from the simulated Chatwoot API's poll."""
    port = free_port()
    proc = subprocess.Popen(
        [*CHATPULSE, "demo", "--port", str(port), *DEMO_CHATWOOT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()
        token = _wait_for(lines, "Token:", timeout=60)
        base = f"http://127.0.0.1:{port}"
        (connector,) = get(base, token, "/api/v3/connectors")
        assert (connector["kind"], connector["name"], connector["pollSeconds"]) == (
            "chatwoot",
            "Demo Chatwoot",
            5,
        )
        # The first poll made the 6 agents on shift (see the test above) Online or Away.
        _until(
            "a poll",
            lambda: get(base, token, f"/api/v3/connectors/{connector['id']}")["lastPollTime"],
        )
        assert get(base, token, "/api/v3/livechat/realTime/RightNow")["loggedInAgents"] == 6

        def chats() -> list[str]:
            log = get(base, token, "/api/v3/livechat/events", limit="1000")["events"]
            return [e["type"] for e in log if e["type"] == "chat.requested"]

        _until("a chat through the connector", chats)
        drops = get(base, token, f"/api/v3/connectors/{connector['id']}/drops")
        assert drops == {"total": 0, "list": []}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stderr is not None
    err = proc.stderr.read()
    assert "Traceback" not in err
    assert "live traffic through a Chatwoot connector (no history)" in err
