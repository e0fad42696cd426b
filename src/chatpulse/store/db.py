"""Engines for SQLite and PostgreSQL: the one place that knows the two apart."""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine, Table, case, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from sqlalchemy.pool import QueuePool

T = TypeVar("T")
DEFAULT_DATABASE_URL = "sqlite:///./chatpulse.db"
WRITE = {"chatpulse_write": True}  # execution option: begin SQLite transactions IMMEDIATE


class DatabaseUrlError(ValueError):
    """A --database value that names no database we can use."""


def normalize_url(url: str) -> str:
    """Accept postgresql:// and postgres:// as psycopg 3; sqlite:/// as is."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUrlError(f"not a database URL: {url!r}") from None
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend != "sqlite":
        raise DatabaseUrlError(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


class PerEngine(Generic[T]):
    """One `T` per engine (per database a process serves), made on first use and dropped with
    the engine: the process-wide caches and locks that belong to one database."""

    def __init__(self, make: Callable[[Engine], T]) -> None:
        self._make = make
        self._items: weakref.WeakKeyDictionary[Engine, T] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def __call__(self, engine: Engine) -> T:
        found = self._items.get(engine)
        if found is None:
            with self._lock:
                found = self._items.get(engine)
                if found is None:
                    found = self._items[engine] = self._make(engine)
        return found


_write_locks = PerEngine(lambda _engine: threading.Lock())
_NO_LOCK = contextlib.nullcontext()


def write_lock(engine: Engine) -> contextlib.AbstractContextManager[object]:
    """SQLite: one writer at a time in this process, queued on a lock. SQLite itself allows
    one writer too, but makes the others poll with growing sleeps (busy_timeout), which wastes
    most of the time under concurrent ingest. PostgreSQL: no lock (its row lock on the site
    queues writers of one site and lets other sites' writers run)."""
    return _write_locks(engine) if engine.dialect.name == "sqlite" else _NO_LOCK


def make_engine(url: str, pool_size: int = 5, pool_overflow: int | None = None) -> Engine:
    """An engine for `url`; PostgreSQL keeps `pool_size` connections and opens up to
    `pool_overflow` more under load (default: as many again)."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_size=pool_size,
            hide_parameters=True,  # logged errors must not carry tenant values
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size if pool_overflow is None else pool_overflow,
        pool_pre_ping=True,
        hide_parameters=True,  # logged errors must not carry tenant values
        # A server that vanishes without closing (dropped packets) is noticed in about 30 s
        # instead of the kernel's TCP timeouts of many minutes.
        connect_args={
            "connect_timeout": 5,
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 5,
            "keepalives_count": 3,
            "tcp_user_timeout": 30_000,
        },
    )


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """What a PostgreSQL server allows: `usable` connections for ordinary roles, `in_use` now."""

    max_connections: int
    reserved: int  # superuser_reserved_connections (+ reserved_connections from PostgreSQL 16)
    in_use: int  # client connections open now, on every database, this one's excluded

    @property
    def usable(self) -> int:
        return self.max_connections - self.reserved


def connection_limits(engine: Engine) -> ConnectionLimits:
    """PostgreSQL only: max_connections, the reserved slots, and the client connections open."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT current_setting('max_connections')::int,"
                " current_setting('superuser_reserved_connections')::int"
                " + coalesce(current_setting('reserved_connections', true), '0')::int,"
                " (SELECT count(*) FROM pg_stat_activity"
                "  WHERE backend_type = 'client backend' AND pid <> pg_backend_pid())::int"
            )
        ).one()
    return ConnectionLimits(int(row[0]), int(row[1]), int(row[2]))


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before we answer 2xx (survives kill -9 and power loss).
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=OFF")
        # A 32 MiB page cache per connection (the default is 2 MiB) and a checkpoint every
        # ~40 MiB of WAL instead of ~4 MiB: pages that many commits touch (indexes, projection
        # rows) are written back once per checkpoint. Batched ingest: ~15 % faster
        # (docs/performance.md).
        cursor.execute("PRAGMA cache_size=-32768")
        cursor.execute("PRAGMA wal_autocheckpoint=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("chatpulse_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def read_connection(engine: Engine) -> Connection:
    """A connection whose transaction sees one snapshot for all of a view's queries."""
    conn = engine.connect()
    if engine.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
    return conn


def add_to_rows(
    conn: Connection,
    table: Table,
    keys: tuple[str, ...],
    rows: list[dict[str, Any]],
    maxima: tuple[str, ...] = (),
) -> None:
    """Insert rows, or add their values to the rows already there with the same keys (columns
    named in `maxima` keep the larger value instead)."""
    if not rows:
        return
    conn.execute(_upsert(conn.dialect.name, table, keys, maxima), rows)


_UPSERTS: dict[tuple[str, str, tuple[str, ...], tuple[str, ...]], Any] = {}
_SETS: dict[tuple[str, str, tuple[str, ...]], Any] = {}


def set_rows(
    conn: Connection, table: Table, keys: tuple[str, ...], rows: list[dict[str, Any]]
) -> None:
    """Insert rows, or replace the other values of the rows already there with the same keys."""
    if not rows:
        return
    cache_key = (conn.dialect.name, table.name, keys)
    stmt = _SETS.get(cache_key)
    if stmt is None:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(table)
        values = [c.name for c in table.columns if c.name not in keys]
        stmt = _SETS[cache_key] = insert.on_conflict_do_update(
            index_elements=list(keys), set_={name: insert.excluded[name] for name in values}
        )
    conn.execute(stmt, rows)


def _upsert(dialect_name: str, table: Table, keys: tuple[str, ...], maxima: tuple[str, ...]) -> Any:
    """The statement of add_to_rows, built once per table: building it costs more than running
    it for a few rows (a single-event ingest adds to several sums)."""
    cache_key = (dialect_name, table.name, keys, maxima)
    stmt = _UPSERTS.get(cache_key)
    if stmt is None:
        dialect = postgresql if dialect_name == "postgresql" else sqlite
        insert = dialect.insert(table)
        values = [c.name for c in table.columns if c.name not in keys]
        stmt = _UPSERTS[cache_key] = insert.on_conflict_do_update(
            index_elements=list(keys),
            set_={
                name: case(
                    (insert.excluded[name] > table.c[name], insert.excluded[name]),
                    else_=table.c[name],
                )
                if name in maxima
                else table.c[name] + insert.excluded[name]
                for name in values
            },
        )
    return stmt


_SQLITE_UNAVAILABLE = ("locked", "busy", "unable to open", "disk i/o")


def is_database_unavailable(exc: BaseException) -> bool:
    """The database cannot be reached or is busy: worth retrying, not a bug."""
    if isinstance(exc, SQLAlchemyTimeoutError):  # no pooled connection came free in time
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, OperationalError):
        return False
    if type(exc.orig).__module__.startswith("sqlite3"):  # sqlite3 says OperationalError for
        message = str(exc.orig).lower()  # schema errors too: only these mean "try again"
        return any(word in message for word in _SQLITE_UNAVAILABLE)
    return True  # psycopg: the connection failed or broke


_pools: weakref.WeakSet[Any] = weakref.WeakSet()


def instrument(engine: Engine, observe: Callable[[float], None]) -> None:
    """Call `observe(seconds)` after every statement of `engine`, and count its pool in
    `pool_sizes` (once per engine)."""
    if engine.pool in _pools:
        return
    _pools.add(engine.pool)
    clock = time.perf_counter

    def before(
        _conn: Any, _cursor: Any, _stmt: Any, _params: Any, context: Any, _many: Any
    ) -> None:
        context._chatpulse_started = clock()

    def after(_conn: Any, _cursor: Any, _stmt: Any, _params: Any, context: Any, _many: Any) -> None:
        started = getattr(context, "_chatpulse_started", None)
        if started is not None:
            observe(clock() - started)

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)


def pool_sizes() -> tuple[int, int, int]:
    """Connections of this process's instrumented pools: size, checked out, overflow."""
    size = checked_out = overflow = 0
    for pool in list(_pools):
        if isinstance(pool, QueuePool):
            size += pool.size()
            checked_out += pool.checkedout()
            overflow += max(0, pool.overflow())
    return size, checked_out, overflow
