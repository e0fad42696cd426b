"""What the browser tests know of the wallboard page: how to open it, its tiles, its rows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, expect

from tests.support import Server, T

# The RightNow tiles, in the page's order.
RIGHT_NOW_TILES = [
    "currentQueueLength",
    "ongoingChats",
    "ongoingChatsWithAgent",
    "ongoingChatsWithBot",
    "loggedInAgents",
    "agentsInChat",
    "chatUtilization",
    "visitorOnSite",
    "longestWaitTime",
    "availableAgents",
    "awayAgents",
    "freeChatSlots",
]


def open_wallboard(page: Page, server: Server, token: str, query: str = "") -> None:
    """Load the page with the browser's clock frozen (waits tick only when a test moves it)."""
    page.clock.set_fixed_time(T)
    page.goto(f"{server.base_url}/wallboard{query}")
    expect(page.get_by_test_id("token-overlay")).to_be_visible()
    page.get_by_test_id("token-input").fill(token)
    page.get_by_test_id("token-submit").click()
    expect(page.get_by_test_id("connection-state")).to_have_text("Live")


def queue_row(page: Page, route: str) -> Locator:
    return page.locator(f'[data-testid="queue-row"][data-route="{route}"]')


def texts(page: Page, prefix: str, fields: list[str]) -> list[str]:
    return [page.get_by_test_id(f"{prefix}-{field}").inner_text() for field in fields]


def expect_row(row: Locator, expected: dict[str, Any]) -> None:
    for test_id, value in expected.items():
        expect(row.get_by_test_id(test_id)).to_have_text(value)


@contextmanager
def watched_page(browser: Browser) -> Iterator[Page]:
    """A 1920×1080 tab in a context of its own (its own storage: another screen); fails the
    test on a script error or a CSP violation."""
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    yield page
    context.close()
    assert problems == []
