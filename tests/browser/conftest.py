"""Browser fixtures: Debian's chromium driven by Playwright, over a real server on SQLite."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from sqlalchemy import Engine

from chatpulse.clock import FixedClock
from tests.browser.board import watched_page
from tests.browser.serving import serve_on
from tests.support import Server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """The page is the same over either backend: SQLite only."""
    path = tmp_path / "chatpulse.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def server(engine: Engine, clock: FixedClock) -> Iterator[Server]:
    """The shared `server` fixture, but cutting open streams after 1 s when it stops."""
    with serve_on(engine, clock, 0) as srv:
        yield srv


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is needed: apt-get install -y chromium (make install does it)")
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh 1920×1080 tab; fails the test on a script error or a CSP violation."""
    with watched_page(browser) as page:
        yield page
