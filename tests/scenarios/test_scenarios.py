"""Every shared scenario (../shared/scenarios) and every scenario of ours (tests/scenarios),
run black-box by the shared runner against a real `chatpulse serve`, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


def _check(result: subprocess.CompletedProcess[str]) -> None:
    lines = result.stdout.strip().splitlines()
    failed = [line for line in lines if not line.startswith("ok ")][:-1]
    assert lines and lines[-1] == f"{len(_files())} passed, 0 failed", (
        "\n".join(failed) + "\n" + result.stdout[-6000:] + result.stderr[-2000:]
    )


# One runner (one server) per backend for all the files: a server per file would load the
# machine enough to blur the runner's time tolerances.
def test_all_scenarios_on_sqlite() -> None:
    _check(_run(_files()))


def test_all_scenarios_on_postgres(postgres_url: str) -> None:
    _check(_run(_files(), postgres_url))
