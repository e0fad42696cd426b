"""Every shared scenario (../shared/scenarios) and every scenario of ours (tests/scenarios),
run black-box by the shared runner against a real `chatpulse serve`, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SHARED

HERE = Path(__file__).resolve().parent
RUNNER = SHARED / "tools" / "scenarios.py"
COMMAND = f"{sys.executable} -m chatpulse"


def _files() -> list[Path]:
    shared = sorted((SHARED / "scenarios").glob("*.json"))
    ours = sorted(HERE.glob("*.json"))
    return shared + ours


def _run(paths: list[Path], database: str | None = None) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, str(RUNNER), "--cmd", COMMAND, *map(str, paths)]
    if database:
        args += ["--database", database]
    return subprocess.run(args, capture_output=True, text=True, timeout=600)


def test_shared_scenarios_exist() -> None:
    assert RUNNER.is_file(), f"the shared runner is missing: {RUNNER}"
    assert len(list((SHARED / "scenarios").glob("*.json"))) >= 5


@pytest.mark.parametrize("path", _files(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_scenario_on_sqlite(path: Path) -> None:
    result = _run([path])
    assert result.stdout.strip().endswith("1 passed, 0 failed"), result.stdout + result.stderr


def test_all_scenarios_on_postgres(postgres_url: str) -> None:
    result = _run(_files(), postgres_url)
    last = result.stdout.strip().splitlines()[-1]
    assert last == f"{len(_files())} passed, 0 failed", result.stdout + result.stderr
