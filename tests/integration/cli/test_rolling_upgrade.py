"""Expand/contract upgrades: workers of one release keep serving, and stay ready, once the next
release's `chatpulse migrate` has moved the schema to a later revision (docs/operations.md)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text

from chatpulse.clock import FixedClock
from chatpulse.store import migrate
from chatpulse.store.db import make_engine
from tests.support import T_MICROS, running_server

LATER = f"{int(migrate.HEAD) + 1:04d}"


@pytest.fixture
def migrated_by_next_release(tmp_path: Path, sqlite_template: Path) -> Iterator[Engine]:
    """A database whose schema a later release has migrated (its revision after our HEAD)."""
    path = tmp_path / "chatpulse.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": LATER})
    yield engine
    engine.dispose()


def test_a_worker_stays_ready_on_a_schema_the_next_release_migrated(
    migrated_by_next_release: Engine,
) -> None:
    with running_server(migrated_by_next_release, FixedClock(T_MICROS)) as server:
        response = httpx.get(server.base_url + "/readyz")
    assert (response.status_code, response.json()) == (200, {"status": "ready"})


def test_migrate_leaves_a_later_schema_alone(migrated_by_next_release: Engine) -> None:
    migrate.upgrade(migrated_by_next_release)
    assert migrate.current_revision(migrated_by_next_release) == LATER


@pytest.mark.parametrize(
    ("revision", "expected"),
    [(None, False), ("0000", False), ("0001", True), ("0002", True), ("0010", True), ("x", False)],
)
def test_a_revision_serves_code_at_0001_when_it_is_0001_or_later(
    revision: str | None, expected: bool
) -> None:
    assert migrate.at_or_after(revision, "0001") is expected
