"""The command line (SPEC.md §7): outputs, and one-line errors without tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from chatpulse.store import migrate, tables
from chatpulse.store.db import make_engine
from chatpulse.store.sites import find_token


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chatpulse", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def assert_one_line_failure(result: subprocess.CompletedProcess[str], text: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert text in lines[0]
    assert "Traceback" not in result.stderr


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def test_site_and_token_create_print_the_value_last(db: str) -> None:
    result = run(
        "site", "create", "--name", "Acme", "--time-zone", "Europe/Paris", "--database", db
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "10000"
    second = run("site", "create", "--name", "Beta", "--database", db)
    assert second.stdout.strip().splitlines()[-1] == "10001"
    chosen = run("site", "create", "--name", "Gamma", "--site-id", "42", "--database", db)
    assert chosen.stdout.strip().splitlines()[-1] == "42"
    token = run("token", "create", "--site", "10000", "--database", db)
    secret = token.stdout.strip().splitlines()[-1]
    engine = make_engine(db)
    info = find_token(engine, secret)
    assert info is not None
    assert (info.site_id, info.scopes) == (
        10000,
        ("realtime.read", "events.write", "config.read", "config.write"),
    )
    with engine.connect() as conn:
        row = conn.execute(select(tables.sites).where(tables.sites.c.id == 10000)).one()
        stored = conn.execute(select(tables.tokens.c.token_hash)).scalars().all()
    assert (row.name, row.time_zone) == ("Acme", "Europe/Paris")
    assert secret not in stored  # only the hash is kept
    admin = run("token", "create", "--site", "42", "--scope", "admin", "--database", db)
    admin_info = find_token(engine, admin.stdout.strip().splitlines()[-1])
    assert admin_info is not None and admin_info.scopes == ("admin",)


def test_database_from_environment(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    result = run("site", "create", "--name", "Env", env={"CHATPULSE_DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "env.db").exists()


def test_migrate_reports_the_revision(db: str) -> None:
    result = run("migrate", "--database", db)
    assert (result.returncode, result.stdout.strip()) == (0, f"schema at revision {migrate.HEAD}")


def test_bad_arguments_give_one_line(db: str) -> None:
    assert_one_line_failure(run("site", "create", "--database", db), "--name")
    assert_one_line_failure(run("bogus"), "invalid choice")
    assert_one_line_failure(
        run("site", "create", "--name", "X", "--time-zone", "Mars/Base", "--database", db),
        "unknown time zone",
    )
    assert_one_line_failure(
        run("token", "create", "--site", "999", "--database", db), "no site 999"
    )
    assert_one_line_failure(
        run("token", "create", "--site", "1", "--scope", "root", "--database", db), "invalid choice"
    )
    run("site", "create", "--name", "A", "--site-id", "7", "--database", db)
    assert_one_line_failure(
        run("site", "create", "--name", "B", "--site-id", "7", "--database", db), "already exists"
    )
    assert_one_line_failure(run("serve", "--port", "70000", "--database", db), "--port")
    assert_one_line_failure(run("migrate", "--database", "mysql://x@y/z"), "unsupported database")
    assert_one_line_failure(run("migrate", "--database", "::nonsense::"), "not a database URL")


def test_unreachable_database_gives_one_line() -> None:
    result = run("migrate", "--database", "postgresql://postgres@127.0.0.1:1/nowhere")
    assert_one_line_failure(result, "chatpulse:")
    result = run("site", "create", "--name", "X", "--database", "sqlite:////nonexistent/dir/x.db")
    assert_one_line_failure(result, "chatpulse:")


def test_postgres_needs_migrate_before_use(postgres_url: str) -> None:
    # The session database is migrated already: site create works straight away.
    result = run("site", "create", "--name", "PG", "--database", postgres_url)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip().splitlines()[-1]) >= 10000


def _thresholds(db: str, site_id: int) -> tuple[int, int, str]:
    engine = make_engine(db)
    with engine.connect() as conn:
        row = conn.execute(select(tables.sites).where(tables.sites.c.id == site_id)).one()
    engine.dispose()
    return row.service_level_seconds, row.short_abandon_seconds, row.time_zone


def test_site_thresholds_from_the_command_line(db: str) -> None:
    created = run(
        "site", "create", "--name", "Acme", "--service-level-seconds", "20",
        "--short-abandon-seconds", "5", "--database", db,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert created.stderr.strip() == (
        "created site 10000 (Acme, UTC, service level within 20 s, short abandons under 5 s)"
    )
    assert _thresholds(db, 10000) == (20, 5, "UTC")
    plain = run("site", "create", "--name", "Beta", "--database", db)
    assert plain.returncode == 0, plain.stderr
    assert _thresholds(db, 10001) == (30, 0, "UTC")  # the defaults
    # update changes only what it is given
    updated = run("site", "update", "--site", "10000", "--service-level-seconds", "45",
                  "--database", db)  # fmt: skip
    assert (updated.returncode, updated.stdout.strip()) == (0, "10000"), updated.stderr
    assert _thresholds(db, 10000) == (45, 5, "UTC")
    zone = run("site", "update", "--site", "10000", "--time-zone", "Asia/Tokyo", "--database", db)
    assert zone.returncode == 0, zone.stderr
    assert _thresholds(db, 10000) == (45, 5, "Asia/Tokyo")


def test_bad_thresholds_give_one_line(db: str) -> None:
    assert_one_line_failure(
        run("site", "create", "--name", "X", "--service-level-seconds", "0", "--database", db),
        "--service-level-seconds must be an integer from 1 to 3600",
    )
    assert_one_line_failure(
        run("site", "create", "--name", "X", "--short-abandon-seconds", "3601", "--database", db),
        "--short-abandon-seconds must be an integer from 0 to 3600",
    )
    assert_one_line_failure(
        run("site", "update", "--site", "5", "--service-level-seconds", "10", "--database", db),
        "no site 5",
    )
    assert_one_line_failure(
        run("site", "update", "--site", "5", "--service-level-seconds", "ten", "--database", db),
        "invalid int value",
    )
