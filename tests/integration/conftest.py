"""Fixtures of the integration tests beyond the suite's own (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.procs import ServerProcess


@pytest.fixture
def proc(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    """A `chatpulse serve` process on the test's database, stopped after the test (a module
    that needs another kind defines its own)."""
    server = ServerProcess(database_url, tmp_path / "server.log")
    yield server
    server.stop()
