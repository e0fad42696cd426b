"""The scenarios: ours (tests/scenarios/*.json), played by our own runner at pinned instants on
SQLite and PostgreSQL; and the shared ones (../shared/scenarios), black-box by the shared runner
against a real `chatpulse serve`, whenever ../shared is there.

A clone on its own has no ../shared: the shared part is then skipped, with a message, except
under CI=true, where a missing ../shared is a failure."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from chatpulse.store.db import make_engine
from tests.conftest import SHARED
from tests.scenarios.runner import play
from tests.support import RunningClock, Server, running_server

HERE = Path(__file__).resolve().parent
OURS = sorted(HERE.glob("*.json"))
RUNNER = SHARED / "tools" / "scenarios.py"
COMMAND = f"{sys.executable} -m chatpulse"

# Each T (the scenario's "now") is one that has broken real systems: an ordinary afternoon, the
# small hours in UTC, the last seconds of a year, and the night Europe moves to summer time.
INSTANTS = {
    "afternoon": dt.datetime(2026, 11, 24, 15, 30, 0, tzinfo=dt.UTC),
    "0400utc": dt.datetime(2026, 11, 28, 4, 0, 0, tzinfo=dt.UTC),
    "new-year": dt.datetime(2026, 12, 31, 23, 59, 30, tzinfo=dt.UTC),
    "dst-night": dt.datetime(2027, 3, 28, 0, 30, 0, tzinfo=dt.UTC),
}


@pytest.fixture(params=list(INSTANTS), scope="module")
def instant(request: pytest.FixtureRequest) -> dt.datetime:
    return INSTANTS[request.param]


@pytest.fixture(params=["sqlite", "postgres"], scope="module")
def scenario_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[Engine]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("scenarios") / "scenarios.db"
        path.write_bytes(sqlite_template.read_bytes())
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def scenario_server(scenario_engine: Engine, instant: dt.datetime) -> Iterator[Server]:
    clock = RunningClock(int(instant.timestamp()) * 1_000_000)
    with running_server(scenario_engine, clock) as server:
        yield server


def test_our_scenarios_are_there() -> None:
    assert len(OURS) >= 15, [p.name for p in OURS]


@pytest.mark.parametrize("path", OURS, ids=[p.stem for p in OURS])
def test_scenario(path: Path, scenario_server: Server, instant: dt.datetime) -> None:
    failures = play(path, scenario_server, instant)
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------- the shared scenarios


def _shared_or_skip() -> None:
    if RUNNER.is_file():
        return
    message = f"../shared is not beside this clone ({SHARED}): the shared scenarios are not run"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + ", and under CI=true they must be")
    pytest.skip(message)


def _shared_files() -> list[Path]:
    """Comm100's views, then the extensions (SPEC.md §3.6–3.7)."""
    folder = SHARED / "scenarios"
    return sorted(folder.glob("*.json")) + sorted((folder / "extensions").glob("*.json"))


def _run_shared(database: str | None = None) -> None:
    _shared_or_skip()
    files = _shared_files()
    assert len(files) >= 6, f"expected the shared scenarios in {SHARED / 'scenarios'}"
    assert any(p.parent.name == "extensions" for p in files), "no scenarios/extensions/"
    args = [sys.executable, str(RUNNER), "--cmd", COMMAND, *map(str, files)]
    if database:
        args += ["--database", database]
    result = subprocess.run(args, capture_output=True, text=True, timeout=600)
    lines = result.stdout.strip().splitlines()
    failed = [line for line in lines if not line.startswith("ok ")][:-1]
    assert lines and lines[-1] == f"{len(files)} passed, 0 failed", (
        "\n".join(failed) + "\n" + result.stdout[-6000:] + result.stderr[-2000:]
    )


# One runner (one server) per backend for all the files: a server per file would load the
# machine enough to blur the runner's time tolerances.
def test_shared_scenarios_on_sqlite() -> None:
    _run_shared()


def test_shared_scenarios_on_postgres(postgres_url: str) -> None:
    _run_shared(postgres_url)
