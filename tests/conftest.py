"""Fixtures: a real SQLite file and a real PostgreSQL database, and a real server over each."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text, update

from chatpulse.clock import FixedClock
from chatpulse.store import migrate, tables
from chatpulse.store.db import make_engine, normalize_url
from tests.support import T_MICROS, Server, SiteClient, new_site, running_server

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
POSTGRES_ADMIN_URL = os.environ.get(
    "CHATPULSE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# The rate limiters run on the real monotonic clock: off for the suite (servers in threads and
# in child processes alike), so that no test's outcome depends on its own speed.
# tests/integration/api/test_limits.py turns them on, with a fake clock.
os.environ.setdefault("CHATPULSE_RATE_LIMIT_PER_SECOND", "0")
os.environ.setdefault("CHATPULSE_AUTH_FAILURES_PER_SECOND", "0")
# Alert rules judged every 100 ms instead of every second: tests wait on the evaluator's rounds.
os.environ.setdefault("CHATPULSE_ALERT_INTERVAL_MS", "100")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for every test (migrating each time would be slow)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped at the end. Never skipped:
    a run without the server fails."""
    name = f"chatpulse_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalize_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as err:
        pytest.fail(f"PostgreSQL at {POSTGRES_ADMIN_URL} is needed and not reachable: {err}")
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "chatpulse.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T_MICROS)


@pytest.fixture
def server(engine: Engine, clock: FixedClock) -> Iterator[Server]:
    with running_server(engine, clock) as srv:
        yield srv


@pytest.fixture
def site(server: Server) -> Iterator[SiteClient]:
    client = new_site(server)
    yield client
    client.http.close()


@pytest.fixture
def other_site(server: Server) -> Iterator[SiteClient]:
    client = new_site(server, "Other site")
    yield client
    client.http.close()


@pytest.fixture(autouse=True)
def no_alerts_left(request: pytest.FixtureRequest) -> Iterator[None]:
    """One PostgreSQL database serves every test of a test process: the alert rules a test
    leaves would keep the next tests' evaluators busy judging them, and its pending webhook
    deliveries would be sent (and counted) by the next tests' dispatchers, which serve every
    site. Both are retired when the test ends."""
    url = (
        request.getfixturevalue("database_url") if "database_url" in request.fixturenames else None
    )
    yield
    if url is None or not url.startswith("postgresql"):
        return
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                update(tables.alert_rules)
                .where(tables.alert_rules.c.deleted_at.is_(None))
                .values(deleted_at=1)
            )
            conn.execute(
                update(tables.alert_deliveries)
                .where(tables.alert_deliveries.c.status == "pending")
                .values(status="failed", last_error="left by a finished test")
            )
    finally:
        engine.dispose()
