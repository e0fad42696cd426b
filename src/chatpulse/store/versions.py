"""A site's row (last sequence, configuration version, zone, name) without a worker thread.

Every view answer is keyed by the first two (services/views.py): a request whose key is cached
needs nothing else from the database. On SQLite one read-only connection per process asks
`PRAGMA data_version`, which changes whenever any other connection (this process's ingest, or
another process's) has committed since the last call: while it stays the same, the rows read
before are still the database's, and no query is needed at all. So an answer reflects every
event acknowledged before the request arrived, whichever process took it (read your writes).
The calls take microseconds: they run on the event loop. PostgreSQL has no such counter; there
`read` answers None and the caller reads the versions in its own transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import sqlite3
import threading
import urllib.parse
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Engine


@dataclass(frozen=True, slots=True)
class SiteRow:
    """What a view's cache key needs of its site (and GET /api/v3/site shows)."""

    last_sequence: int
    config_version: int
    time_zone: str | None
    name: str
    departments_upto: int  # store/tables.py: department_versions are whole up to here
    service_level_seconds: int = 30  # the site's thresholds (METRICS.md §7)
    short_abandon_seconds: int = 0

    @property
    def departments_recorded(self) -> bool:
        return self.departments_upto == self.last_sequence


def site_row(row: Any) -> SiteRow:
    """A SiteRow from the columns of SITE_COLUMNS, in that order."""
    return SiteRow(
        int(row[0] or 0),
        int(row[1] or 0),
        row[2],
        row[3],
        int(row[4] or 0),
        int(row[5]),
        int(row[6]),
    )


SITE_COLUMNS = (
    "last_sequence",
    "config_version",
    "time_zone",
    "name",
    "departments_upto",
    "service_level_seconds",
    "short_abandon_seconds",
)
_SELECT = (
    "SELECT last_sequence, config_version, time_zone, name, departments_upto,"
    " service_level_seconds, short_abandon_seconds FROM sites WHERE id = ?"
)
_DEPARTMENT = "SELECT sequence FROM department_versions WHERE site_id = ? AND department_key = ?"


class SiteVersions:
    def __init__(self, engine: Engine) -> None:
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        file_backed = (
            bool(database) and database != ":memory:" and "mode=memory" not in str(engine.url)
        )
        self._path = database if file_backed else None
        self._conn: sqlite3.Connection | None = None
        self._data_version: int | None = None
        self._rows: dict[int, SiteRow] = {}
        self._departments: dict[tuple[int, str], int] = {}
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        """Whether `read` can answer at all (SQLite on a file)."""
        return self._path is not None

    def read(self, site_id: int) -> SiteRow | None:
        """The site's versions as committed now, or None: ask the database in a transaction."""
        if self._path is None:
            return None
        with self._lock:
            try:
                return self._read(site_id)
            except sqlite3.Error:  # busy, file replaced, …: the caller's transaction will do
                self._close()
                return None

    def department(self, site_id: int, key: str) -> int | None:
        """The last sequence that changed the department's views (0: none recorded), as of the
        last `read`; None: ask the database in a transaction."""
        if self._path is None:
            return None
        with self._lock:
            found = self._departments.get((site_id, key))
            if found is not None:
                return found
            conn = self._conn
            if conn is None:
                return None
            try:
                row = conn.execute(_DEPARTMENT, (site_id, key)).fetchone()
            except sqlite3.Error:
                self._close()
                return None
            found = self._departments[(site_id, key)] = int(row[0]) if row else 0
            return found

    def _read(self, site_id: int) -> SiteRow | None:
        conn = self._conn
        if conn is None:
            assert self._path is not None
            path = urllib.parse.quote(os.path.abspath(self._path))  # '?', '#', '%' in a name
            conn = sqlite3.connect(
                f"file:{path}?mode=ro", uri=True, timeout=0.05, check_same_thread=False
            )
            conn.isolation_level = None
            self._conn = conn
        data_version = conn.execute("PRAGMA data_version").fetchone()[0]
        if data_version != self._data_version:
            self._rows.clear()
            self._departments.clear()
            self._data_version = data_version
        found = self._rows.get(site_id)
        if found is None:
            row = conn.execute(_SELECT, (site_id,)).fetchone()
            if row is None:
                return None
            found = self._rows[site_id] = site_row(row)
        return found

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        self._data_version = None
        self._rows.clear()
        self._departments.clear()

    def close(self) -> None:
        with self._lock:
            self._close()


def query_versions(engine: Engine, site_id: int, keys: tuple[str, ...]) -> Probed:
    """The same read as `VersionProbe.probe`, through the engine, blocking (a worker thread):
    PostgreSQL's way when the probe's connection cannot be had."""
    from sqlalchemy import text

    names = [f"p{i}" for i in range(2 * len(keys) + 1)]
    statement = text(_probe_sql(len(keys)) % tuple(":" + name for name in names))
    values = dict(zip(names, (*_pairs(site_id, keys), site_id), strict=True))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        row = conn.execute(statement, values).first()
    return Probed(row, keys)


log = logging.getLogger("chatpulse.versions")
PROBE_NAME = "chatpulse-probe-{pid}"  # in pg_stat_activity


class VersionProbe:
    """PostgreSQL: the site's row and a view's department versions read on the event loop by
    one statement on one autocommit connection of this process (no worker thread, no pool, no
    transaction; a statement sees one snapshot, taken after the request arrived, so an answer
    cached for those versions reflects every event acknowledged before: read your writes,
    whichever process took the ingest). A connection that fails is dropped and the next probe
    opens another. `probe` answers None when the database cannot be reached this way: the
    caller then asks in a worker thread.

    Rounds: the requests of one site that ask while a probe is on the wire wait for the next
    one, which reads the versions for all of them (the union of their department keys): it
    starts after each of them arrived, so every one still reads its own writes, and a hundred
    wallboards woken by one event cost one round trip, not a hundred."""

    def __init__(self, engine: Engine) -> None:
        from chatpulse.store.notify import connect_args

        name = PROBE_NAME.format(pid=os.getpid())
        self._kwargs = {**connect_args(engine), "application_name": name}
        self._conn: Any = None
        self._lock: asyncio.Lock | None = None
        # site → the round not started yet: (the keys asked, its answer)
        self._next: dict[int, tuple[set[str], asyncio.Future[Probed | None]]] = {}
        self.round_trips = 0  # for tests and diagnostics

    async def probe(self, site_id: int, keys: tuple[str, ...]) -> Probed | None:
        waiting = self._next.get(site_id)
        if waiting is None:
            future: asyncio.Future[Probed | None] = asyncio.get_running_loop().create_future()
            waiting = self._next[site_id] = (set(keys), future)
            task = asyncio.ensure_future(self._round(site_id))
            task.add_done_callback(_consume)
        else:
            waiting[0].update(keys)
        return await asyncio.shield(waiting[1])

    @property
    def backend_pid(self) -> int | None:
        """The PostgreSQL backend of the current connection (None: none open)."""
        conn = self._conn
        return None if conn is None or conn.closed else int(conn.info.backend_pid)

    async def _round(self, site_id: int) -> None:
        import psycopg

        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            asked, future = self._next.pop(site_id)  # later arrivals form the next round
            keys = tuple(sorted(asked))
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = await psycopg.AsyncConnection.connect(**self._kwargs)
                self.round_trips += 1
                cursor = await self._conn.execute(
                    _probe_sql(len(keys)), (*_pairs(site_id, keys), site_id)
                )
                row = await cursor.fetchone()
            except Exception as err:  # the callers ask in a worker thread instead
                if not isinstance(err, psycopg.Error | OSError):
                    log.exception("version probe failed")
                await self._drop()
                future.set_result(None)
                return
            except BaseException:  # cancelled at shutdown, …: nobody waits forever
                future.cancel()
                raise
            future.set_result(Probed(row, keys))

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    async def close(self) -> None:
        if self._lock is None:
            await self._drop()
            return
        async with self._lock:
            await self._drop()


def _consume(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved: its waiters got it


def _pairs(site_id: int, keys: tuple[str, ...]) -> list[Any]:
    return [value for key in keys for value in (site_id, key)]


@functools.cache
def _probe_sql(departments: int) -> str:
    columns = "".join(
        ", (SELECT sequence FROM department_versions WHERE site_id = %s AND department_key = %s)"
        for _ in range(departments)
    )
    return (
        "SELECT last_sequence, config_version, time_zone, name, departments_upto,"
        f" service_level_seconds, short_abandon_seconds{columns} FROM sites WHERE id = %s"
    )


class Probed:
    """What one probe read: a VersionSource (services/views.py) for one site."""

    def __init__(self, row: Any, keys: tuple[str, ...]) -> None:
        self._row: SiteRow | None = None
        self._departments: dict[str, int] = {}
        if row is not None:
            self._row = site_row(row)
            self._departments = {key: int(v or 0) for key, v in zip(keys, row[7:], strict=True)}

    def read(self, site_id: int) -> SiteRow | None:
        return self._row

    def department(self, site_id: int, key: str) -> int | None:
        return self._departments.get(key)


class VersionSource(Protocol):
    """A site's committed versions as of one moment after the request arrived."""

    def read(self, site_id: int) -> SiteRow | None: ...

    def department(self, site_id: int, key: str) -> int | None: ...


async def versions_now(
    versions: SiteVersions, probe: VersionProbe | None, site_id: int, keys: tuple[str, ...]
) -> VersionSource | None:
    """The site's versions without a worker thread: SQLite from memory (`versions`),
    PostgreSQL by one statement on the event loop (`probe`); None when neither can answer (the
    caller asks the database in a worker thread)."""
    if versions.available:
        return versions
    if probe is None:
        return None
    return await probe.probe(site_id, keys)
