"""A real `chatpulse serve` process, for tests that kill and restart it."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support import free_port

SERVE = (sys.executable, "-m", "chatpulse", "serve")


class ServerProcess:
    def __init__(
        self, database: str, log: Path, workers: int = 1, env: dict[str, str] | None = None
    ) -> None:
        self.database = database
        self.env = env or {}
        self.workers = workers
        self.log = log
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [
                    *SERVE,
                    "--port",
                    str(self.port),
                    "--database",
                    self.database,
                    "--workers",
                    str(self.workers),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)  # waiting for the port to open: polled, bounded by the deadline
        raise RuntimeError("server did not answer /healthz within 30 s")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def ago(seconds: float) -> str:
    """An `occurredAt` this many seconds before the real clock (a real server reads it)."""
    moment = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds)
    return moment.isoformat().replace("+00:00", "Z")
