"""PostgreSQL LISTEN/NOTIFY for ingests: announce in the ingest transaction, listen per process.

Ingest queues `NOTIFY chatpulse_ingest_departments, '<site_id>:<last_sequence>:<departments>'`
(and the same without departments on `chatpulse_ingest`, for workers of an older release) inside
its transaction, so PostgreSQL delivers it exactly when the batch commits (and never for a batch
rolled back). Every serving process keeps one LISTEN connection (`IngestListener`) and hands
each notification to the stream hub, which is how a stream on one worker hears of an ingest on
another within milliseconds. A listener whose connection drops reconnects by itself and then
asks for a resync, since notifications sent while it was away are lost.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import Connection, Engine, func, select

CHANNEL = "chatpulse_ingest"  # '<site_id>:<sequence>': what releases before 0003's read
# '<site_id>:<sequence>:<department keys, comma-separated>' or '…:*' (any department): a stream
# of another department is not woken (services/stream.py). Both are sent in one statement; a
# listener hears both and the second of one ingest is a no-op (its sequence is known by then).
# The first can go once no worker of an older release runs (docs/operations.md).
DEPARTMENTS_CHANNEL = "chatpulse_ingest_departments"
ALERTS_CHANNEL = "chatpulse_alerts"  # '<site_id>': its firing alerts changed (store/alerts.py)
PAYLOAD_MAX = 7900  # PostgreSQL refuses payloads of 8,000 bytes or more
APPLICATION_NAME = "chatpulse-listen-{pid}"  # pg_stat_activity tells whose listener it is
log = logging.getLogger("chatpulse.notify")

# Seconds between reconnection attempts: doubled after each failure, up to the last value.
RETRY_FIRST = 0.1
RETRY_MAX = 5.0
# A silent connection is checked with `SELECT 1` this often; TCP keepalives and a user timeout
# make a connection whose peer vanished (no RST) fail within about half a minute.
IDLE_CHECK = 30.0
KEEPALIVE = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
    "connect_timeout": 5,
}


def announce(
    conn: Connection, site_id: int, sequence: int, departments: frozenset[str] | None = None
) -> None:
    """PostgreSQL: queue the ingest notification; it is delivered when `conn` commits.
    `departments`: the keys whose views the ingest may have changed (None: any)."""
    if conn.dialect.name == "postgresql":
        keys = "*" if departments is None else ",".join(sorted(departments))
        detailed = f"{site_id}:{sequence}:{keys}"
        if len(detailed) > PAYLOAD_MAX:
            detailed = f"{site_id}:{sequence}:*"
        conn.execute(
            select(
                func.pg_notify(DEPARTMENTS_CHANNEL, detailed),
                func.pg_notify(CHANNEL, f"{site_id}:{sequence}"),
            )
        )


def parse_payload(payload: str) -> tuple[int, int, frozenset[str] | None] | None:
    """`(site_id, sequence, departments or None: any)` of a notification's payload (either
    channel); None for anything else."""
    site, sep, rest = payload.partition(":")
    sequence, _, keys = rest.partition(":")
    if not sep or not site.isdigit() or not sequence.isdigit():
        return None
    departments = None if keys in ("", "*") else frozenset(keys.split(","))
    return int(site), int(sequence), departments


def connect_args(engine: Engine) -> dict[str, Any]:
    """psycopg keyword arguments for a connection to the engine's database."""
    _, kwargs = engine.dialect.create_connect_args(engine.url)
    kwargs.pop("context", None)  # SQLAlchemy's adapters map: not for a plain psycopg connection
    name = APPLICATION_NAME.format(pid=os.getpid())
    return {**KEEPALIVE, **kwargs, "application_name": name, "autocommit": True}


class IngestListener:
    """One LISTEN connection: `on_ingest(site_id, sequence, departments)` per notification,
    `on_connect()` after every (re)connection, `connected` while it listens. Runs until
    cancelled."""

    def __init__(
        self,
        engine: Engine,
        on_ingest: Callable[[int, int, frozenset[str] | None], None],
        on_connect: Callable[[], Awaitable[None]],
        on_alerts: Callable[[int], None] | None = None,
    ) -> None:
        self._kwargs = connect_args(engine)
        self._on_ingest = on_ingest
        self._on_connect = on_connect
        self._on_alerts = on_alerts
        self.connected = False
        self.connections = 0  # how many times it has connected (a reconnect makes it 2, …)

    async def run(self) -> None:
        delay = RETRY_FIRST
        while True:
            try:
                await self._listen()
            except (psycopg.Error, OSError) as err:
                if self.connected:
                    log.warning("listener: connection lost (%s); reconnecting", _first_line(err))
                    delay = RETRY_FIRST
                else:
                    log.warning("listener: cannot connect (%s); retrying", _first_line(err))
            except Exception:
                log.exception("listener: unexpected failure; reconnecting")
            finally:
                self.connected = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)

    async def _listen(self) -> None:
        conn = await psycopg.AsyncConnection.connect(**self._kwargs)
        async with conn:
            for channel in (DEPARTMENTS_CHANNEL, CHANNEL, ALERTS_CHANNEL):
                await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            self.connected = True
            self.connections += 1
            log.info("listener: listening on %s", CHANNEL)
            # Whatever was committed while no one listened is found by a resync.
            await self._on_connect()
            while True:
                async for note in conn.notifies(timeout=IDLE_CHECK):
                    if note.channel == ALERTS_CHANNEL:
                        if self._on_alerts is not None and note.payload.isdigit():
                            self._on_alerts(int(note.payload))
                        continue
                    parsed = parse_payload(note.payload)
                    if parsed is not None:
                        self._on_ingest(*parsed)
                await conn.execute("SELECT 1")


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__
