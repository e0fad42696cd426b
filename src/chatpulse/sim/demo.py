"""`chatpulse demo`: a throwaway server on an embedded SQLite database in a temporary directory,
a demo site and token, and simulated traffic (the last hours first, then live)."""

from __future__ import annotations

import datetime as dt
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TextIO

import httpx

from chatpulse.clock import SystemClock
from chatpulse.domain.window import load_zone
from chatpulse.progress import INTERVAL_S, Reporter
from chatpulse.services import connector_config
from chatpulse.services.sites import create_demo_site
from chatpulse.sim.chatwoot import Account, api_server
from chatpulse.sim.demo_zone import demo_zone
from chatpulse.sim.driver import SimulationError, Stats, simulate
from chatpulse.sim.model import Model
from chatpulse.sim.plan import plan_site
from chatpulse.sim.webhooks import WebhookDriver
from chatpulse.store.db import make_engine

PREFILL_S = 3 * 3600.0  # the day so far, as far as the wallboard needs it
DEMO_POLL_S = 5  # the Chatwoot demo's availability poll (a real one: 30 s by default)
START_TIMEOUT_S = 60.0
SERVE = (sys.executable, "-m", "chatpulse", "serve")


class DemoError(Exception):
    """The demo cannot run; a one-line reason."""


@dataclass(frozen=True, slots=True)
class DemoOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    agents: int = 40
    departments: int = 4
    rate: float = 1.0
    seed: int | None = None
    progress_interval: float = INTERVAL_S  # seconds between plain progress lines
    connector: str | None = None  # "chatwoot": traffic through a connector's webhooks


def _check_port(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as err:
            raise DemoError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None


def _connect_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


class _Server:
    """`chatpulse serve` as a child process, its output in a log file."""

    def __init__(self, database: str, host: str, port: int, log_path: Path) -> None:
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [*SERVE, "--host", host, "--port", str(port), "--database", database],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "CHATPULSE_LOG_REQUESTS": "false", "PYTHONUNBUFFERED": "1"},
            )

    def last_words(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no output"
        return lines[-1][:300] if lines else "no output"

    def wait_healthy(self, url: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            self.check()
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)  # the port is not open yet: poll, bounded by the deadline
        raise DemoError(f"the server did not answer within {START_TIMEOUT_S:.0f} s")

    def check(self) -> None:
        code = self.proc.poll()
        if code is not None:
            raise DemoError(f"the server stopped (exit status {code}): {self.last_words()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)


def run_demo(options: DemoOptions, out: TextIO, err: TextIO) -> None:
    """Run until Ctrl-C or SIGTERM, then stop the server and remove the temporary directory.
    The site's time zone is one where it is the afternoon now (sim/demo_zone.py)."""
    _check_port(options.host, options.port)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    workdir = Path(tempfile.mkdtemp(prefix="chatpulse-demo-"))
    server: _Server | None = None
    try:
        database = f"sqlite:///{workdir / 'demo.db'}"
        now = SystemClock().now()
        zone = demo_zone(now)
        site, token = create_demo_site(database, "Demo site", zone.name, now)
        print(f"chatpulse demo: {zone.reason()}", file=err, flush=True)
        server = _Server(database, options.host, options.port, workdir / "server.log")
        url = f"http://{_connect_host(options.host)}:{options.port}"
        server.wait_healthy(url)
        hours = f"{PREFILL_S / 3600:.0f} hours"
        start = (
            "live traffic through a Chatwoot connector (no history)"
            if options.connector
            else f"replaying the last {hours} of traffic…"
        )
        print(
            f"chatpulse demo: site {site.id}, {options.agents} agents in "
            f"{options.departments} departments; {start}",
            file=err,
            flush=True,
        )
        history = Reporter(
            "chatpulse demo: history", "minutes", stream=err, interval=options.progress_interval
        )

        def ready(stats: Stats) -> None:
            _demo_rules(url, token)
            if options.connector:
                history.finish("the connector is ready")
            else:
                history.finish(f"{hours} of traffic replayed, {stats.accepted} events stored")
            print(f"Wallboard: {url}/wallboard", file=out)
            print(f"Token: {token}", file=out)
            print(
                f'Try: curl -H "Authorization: Bearer {token}" '
                f"{url}/api/v3/livechat/realTime/RightNow",
                file=out,
            )
            print("Press Ctrl-C to stop.", file=out, flush=True)

        if options.connector == "chatwoot":
            with history:
                _through_chatwoot(
                    options, database, site.id, url, zone.name, history, ready, server
                )
            return
        with history:
            simulate(
                url,
                token,
                agents=options.agents,
                departments=options.departments,
                rate=options.rate,
                seed=options.seed,
                prefill_s=PREFILL_S,
                prefill_progress=lambda done, total: history.update(done // 60, total // 60),
                log=lambda line: history.log(f"chatpulse demo: {line}"),
                ready=ready,
                check=server.check,
            )
    except SimulationError as error:
        if server is not None:
            server.check()  # a dead server explains the failure better
        raise DemoError(str(error)) from None
    except KeyboardInterrupt:
        print("chatpulse demo: stopping", file=err, flush=True)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not stop the clean-up
        try:
            if server is not None:
                server.stop()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
            signal.signal(signal.SIGTERM, previous)


# The demo's alert rules (docs/alerts.md), created once the history is in: the wallboard's
# banner then shows what a supervisor would set up first.
DEMO_RULES = (
    {
        "name": "Longest wait",
        "view": "Queue",
        "field": "longestWaitTime",
        "comparison": ">",
        "warning": 60,
        "critical": 120,
        "clearMargin": 10,
    },
    {
        "name": "Service level, last 30 minutes",
        "view": "Queue",
        "field": "serviceLevelinLast30Mins",
        "comparison": "<",
        "warning": 80,
        "critical": 60,
        "holdSeconds": 30,
    },
    {"name": "No events", "kind": "silence", "warning": 60, "critical": 300},
)


def _demo_rules(url: str, token: str) -> None:
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as http:
        for rule in DEMO_RULES:
            response = http.post("/api/v3/alerts/rules", json=rule)
            if response.status_code != 201:
                raise SimulationError(f"the demo's alert rule was refused: {response.text[:200]}")


def _through_chatwoot(
    options: DemoOptions,
    database: str,
    site_id: int,
    url: str,
    zone_name: str,
    history: Reporter,
    ready: Callable[[Stats], None],
    server: _Server,
) -> None:
    """The demo's traffic as a simulated Chatwoot account's webhooks, into a Chatwoot
    connector; the account's agents API answers the connector's availability poll."""
    seed = secrets.randbits(32) if options.seed is None else options.seed
    account = Account(plan_site(random.Random(seed), options.agents, options.departments))
    api_token = secrets.token_hex(16)
    with api_server(account, api_token) as api_url:
        engine = make_engine(database)
        try:
            connector, secret = connector_config.create(
                engine,
                site_id,
                connector_config.NewConnector(
                    "chatwoot",
                    "Demo Chatwoot",
                    api_url=api_url,
                    api_token=api_token,
                    account_id="1",
                    poll_seconds=DEMO_POLL_S,
                ),
                SystemClock().now(),
            )
        finally:
            engine.dispose()
        webhook = url + connector_config.webhook_path(connector, secret)
        history.log(f"chatpulse demo: traffic goes through the Chatwoot connector at {webhook}")
        now = time.time_ns() // 1000
        zone = load_zone(zone_name) or dt.UTC
        # No history: a platform connected now says nothing of the past, and Chatwoot's agents'
        # availability is only known from the first poll on.
        model = Model(account.roster, now, seed, options.rate, zone)
        driver = WebhookDriver(webhook, account, model, history.log)
        try:
            ready(Stats(accepted=driver.stats.accepted))
            driver.run(check=server.check)
        finally:
            driver.close()
