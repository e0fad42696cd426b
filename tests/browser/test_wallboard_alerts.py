"""The wallboard's alerts in Chromium: the banner of firing alerts, their colours on the tiles,
queue rows and Today's KPIs, and the beep acknowledged on one screen only. Rules are made over
the API and fired by the server's evaluator on the test's clock; the browser's clock is moved
by hand, so "for m:ss" and the beeps' repeat are exact."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy import Engine

from chatpulse.clock import FixedClock
from tests.browser.board import RIGHT_NOW_TILES, open_wallboard, queue_row, watched_page
from tests.browser.serving import serve_on
from tests.factories import agent_status, chat_accepted, chat_requested, visitor_arrived
from tests.integration.alerts.support import ALERTS, RULES, evaluated_at, rule, wait_until
from tests.support import T_MICROS, SiteClient, T, new_site, uid

pytestmark = pytest.mark.browser

SALES = f"department:{uid('dept', 1)}"
SUPPORT = f"department:{uid('dept', 2)}"
TODAY_KPIS = ["serviceLevel", "totalChats", "chats", "missedChats", "avgWaitingTime"]
S = 1_000_000


def arrange(site: SiteClient) -> None:
    """Sales (Alice) and Support (Carol), both online since T - 1 h. Chat 1 waits in Sales since
    T - 10 s; Support has nobody waiting."""
    site.department(1, "Sales")
    site.department(2, "Support")
    site.agent(1, "Alice", departments=(1,), capacity=2)
    site.agent(3, "Carol", departments=(2,), capacity=2)
    site.ok_events(
        agent_status(1, -3600),
        agent_status(3, -3600),
        visitor_arrived(1, -20),
        chat_requested(1, -10, department=1),
    )


def sales_wait_rule(site: SiteClient) -> str:
    made = rule(
        site,
        name="Sales wait",
        view="Queue",
        field="longestWaitTime",
        departmentId=uid("dept", 1),
        comparison=">",
        warning=60,
        critical=120,
        holdSeconds=0,
    )
    return str(made["id"])


def server_at(site: SiteClient, seconds: int) -> None:
    """The server's clock to T + seconds, once its evaluator has judged every rule then."""
    clock: FixedClock = site.server.clock
    clock.value = T_MICROS + seconds * S
    evaluated_at(site, seconds)


def browser_at(page: Page, seconds: int) -> None:
    page.clock.set_fixed_time(T + dt.timedelta(seconds=seconds))


def lines(page: Page) -> Locator:
    return page.get_by_test_id("alert")


def expect_alert(node: Locator, severity: str | None) -> None:
    """The node's alert colour is exactly this one (None: none). Its other classes (the waits'
    row-warn, row-alert) are not looked at."""
    if severity is None:
        expect(node).not_to_have_class(re.compile(r"(^|\s)alert-"))
    else:
        expect(node).to_have_class(re.compile(rf"(^|\s)alert-{severity}(\s|$)"))
    found: list[str] = node.evaluate("n => [...n.classList]")
    assert [name for name in found if name.startswith("alert-")] == (
        [f"alert-{severity}"] if severity else []
    )


def beeps(page: Page) -> int:
    count: int = page.evaluate("window.wallboardAlerts.beeps")
    return count


def expect_beeps(page: Page, count: int) -> None:
    page.wait_for_function(f"() => window.wallboardAlerts.beeps === {count}")


def test_a_queue_alert_shows_in_the_banner_and_colours_its_row_until_the_chat_is_accepted(
    site: SiteClient, page: Page
) -> None:
    arrange(site)
    sales_wait_rule(site)
    server_at(site, 0)
    open_wallboard(page, site.server, site.token)
    banner = page.get_by_test_id("alerts")
    expect(queue_row(page, SALES)).to_be_visible()
    expect(banner).to_be_hidden()

    # T + 51: chat 1 has waited 61 s, past the warning's 60. Five seconds later by the browser.
    server_at(site, 51)
    browser_at(page, 56)
    expect(lines(page)).to_have_text(
        ["Warning Sales wait Queue · Longest wait · Sales 1:01 threshold 1:00 for 0:05"]
    )
    expect(banner).to_be_visible()
    expect(lines(page).first).to_have_class("alert-line alert-warning")
    expect_alert(queue_row(page, SALES), "warning")
    expect_alert(queue_row(page, SUPPORT), None)
    expect(page.locator(".tile.alert-warning, .kpi.alert-warning")).to_have_count(0)

    # The time it has fired counts up with the browser's clock, like the waits.
    browser_at(page, 51 + 75)
    expect(page.get_by_test_id("alert-for")).to_have_text("for 1:15")

    # T + 131: 141 s, past the critical 120: a new `since`, red.
    server_at(site, 131)
    browser_at(page, 131)
    expect(lines(page)).to_have_text(
        ["Critical Sales wait Queue · Longest wait · Sales 2:21 threshold 2:00 for 0:00"]
    )
    expect(lines(page).first).to_have_class("alert-line alert-critical")
    expect_alert(queue_row(page, SALES), "critical")

    # Alice takes the chat: nobody waits, the alert clears, banner and colour go.
    site.ok_events(chat_accepted(1, 131))
    expect(banner).to_be_hidden()
    expect(lines(page)).to_have_count(0)
    expect(page.locator(".alert-warning, .alert-critical")).to_have_count(0)


def test_rightnow_today_and_every_queue_row_take_their_own_alerts_colour(
    site: SiteClient, page: Page
) -> None:
    arrange(site)
    # A second chat waits, with no department: two wait on the site, one of them in Sales.
    site.ok_events(visitor_arrived(2, -20), chat_requested(2, -10, department=None))
    rule(
        site,
        name="A queue",
        view="RightNow",
        field="currentQueueLength",
        comparison=">=",
        warning=1,
        critical=2,
    )
    rule(site, name="B requests", view="Today", field="chatRequests", comparison=">=", warning=2)
    rule(site, name="C any wait", view="Queue", field="longestWaitTime", comparison=">", warning=5)
    rule(
        site,
        name="D sales queue",
        view="RightNow",
        field="currentQueueLength",
        departmentId=uid("dept", 1),
        comparison=">=",
        warning=1,
    )
    server_at(site, 0)
    open_wallboard(page, site.server, site.token)

    # Critical first, then the oldest, then by name. "C any wait" watches every queue row: it
    # fires for Sales and for the row without a department (10 s > 5 s), not for Support where
    # nobody waits. Three lines at most; the rest are counted.
    expect(lines(page)).to_have_text(
        [
            "Critical A queue RightNow · Waiting in queue 2 threshold 2 for 0:00",
            "Warning B requests Today · Chat requests 2 threshold 2 for 0:00",
            "Warning C any wait Queue · Longest wait · Sales 0:10 threshold 0:05 for 0:00",
        ]
    )
    expect(page.get_by_test_id("alert-more")).to_have_text("+2 more")

    # The board shows every department: the site-wide rules colour their tile and KPI, Sales'
    # own RightNow rule ("D") colours nothing; every row "C" fires for is coloured, the fourth
    # line's too.
    expect_alert(page.locator('.tile[data-field="currentQueueLength"]'), "critical")
    expect_alert(page.locator('.kpi[data-field="chatRequests"]'), "warning")
    expect_alert(queue_row(page, SALES), "warning")
    expect_alert(queue_row(page, "none"), "warning")
    expect_alert(queue_row(page, SUPPORT), None)
    for field in RIGHT_NOW_TILES[1:]:
        expect_alert(page.locator(f'.tile[data-field="{field}"]'), None)
    for field in TODAY_KPIS:
        expect_alert(page.locator(f'.kpi[data-field="{field}"]'), None)

    # The board shows Sales: now Sales' RightNow rule is the tile's, the site's rules are not.
    page.get_by_test_id("department-select").select_option(uid("dept", 1))
    expect(page.get_by_test_id("rightnow-currentQueueLength")).to_have_text("1")
    expect(lines(page)).to_have_count(3)
    expect_alert(page.locator('.tile[data-field="currentQueueLength"]'), "warning")
    expect_alert(page.locator('.kpi[data-field="chatRequests"]'), None)
    expect_alert(queue_row(page, SALES), "warning")


def test_the_sound_beeps_until_acknowledged_and_again_on_escalation_on_this_screen_only(
    site: SiteClient, page: Page, browser: Browser
) -> None:
    arrange(site)
    sales_wait_rule(site)
    server_at(site, 0)
    open_wallboard(page, site.server, site.token, "?sound=on")
    expect(page.get_by_test_id("sound-toggle")).to_be_checked()
    assert beeps(page) == 0

    # The browser's clock moves first: the beeps repeat by it.
    browser_at(page, 51)
    server_at(site, 51)
    expect(lines(page)).to_have_count(1)
    expect_beeps(page, 1)  # at once
    browser_at(page, 56)  # 5 s later by the browser's clock: again
    expect_beeps(page, 2)

    page.get_by_test_id("alert-acknowledge").click()
    expect(lines(page)).to_have_text(
        [
            "Warning Sales wait Queue · Longest wait · Sales 1:01 threshold 1:00 for 0:05"
            " acknowledged"
        ]
    )
    expect(lines(page).first).to_have_class("alert-line alert-warning acknowledged")
    expect(page.get_by_test_id("alert-acknowledge")).to_be_disabled()
    # Twenty seconds pass on the page (its timer has run: "for" moved): no beep.
    browser_at(page, 76)
    expect(page.get_by_test_id("alert-for")).to_have_text("for 0:25")
    assert beeps(page) == 2

    # Another screen never heard of the acknowledgement: it shows the alert and beeps once its
    # sound is switched on (the toggle, remembered for that browser).
    with watched_page(browser) as other:
        open_wallboard(other, site.server, site.token)
        browser_at(other, 76)
        expect(lines(other)).to_have_text(
            ["Warning Sales wait Queue · Longest wait · Sales 1:01 threshold 1:00 for 0:25"]
        )
        assert beeps(other) == 0  # sound off by default
        other.get_by_test_id("sound-toggle").check()
        expect_beeps(other, 1)
        assert other.evaluate("localStorage.getItem('chatpulse.wallboard.sound')") == "on"

    # Escalation to critical is a new alert: it sounds again on the first screen.
    browser_at(page, 131)
    server_at(site, 131)
    expect(lines(page)).to_have_text(
        ["Critical Sales wait Queue · Longest wait · Sales 2:21 threshold 2:00 for 0:00"]
    )
    expect_beeps(page, 3)
    expect(page.get_by_test_id("alert-acknowledge")).to_be_enabled()


def test_a_deleted_rule_takes_its_alert_off_the_board(site: SiteClient, page: Page) -> None:
    arrange(site)
    made = sales_wait_rule(site)
    server_at(site, 51)
    open_wallboard(page, site.server, site.token)
    browser_at(page, 51)
    expect(lines(page)).to_have_count(1)
    assert site.http.delete(f"{RULES}/{made}").status_code == 204
    expect(page.get_by_test_id("alerts")).to_be_hidden()
    expect(page.locator(".alert-warning, .alert-critical")).to_have_count(0)


def test_after_a_reconnect_the_first_alert_event_replaces_the_set_and_keeps_acknowledgements(
    page: Page, engine: Engine, clock: FixedClock
) -> None:
    """The server keeps no state of a stream: what fires when the page reconnects is the set."""
    clock.value = T_MICROS + 51 * S
    with serve_on(engine, clock, 0) as first:
        port = int(first.base_url.rsplit(":", 1)[1])
        site = new_site(first)
        arrange(site)
        sales_wait_rule(site)
        rule(
            site,
            name="Waiting",
            view="RightNow",
            field="currentQueueLength",
            warning=1,
            comparison=">=",
        )
        wait_until(lambda: len(site.get(ALERTS)["alerts"]) == 2)  # both, before the page opens
        open_wallboard(page, first, site.token, "?sound=on")
        expect(lines(page)).to_have_count(2)
        expect_beeps(page, 1)  # at once, at T by the browser's clock
        page.get_by_test_id("alert-acknowledge").click()
        expect(page.locator(".alert-line.acknowledged")).to_have_count(2)
        browser_at(page, 51)
    expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "reconnecting")

    # Meanwhile, on another server: Alice takes chat 1 (Sales' wait clears), chat 2 waits in
    # Support (the queue never empties: "Waiting" fires on, the same alert).
    with serve_on(engine, clock, 0) as other, other.client(site.token) as http:
        answer = http.post(
            "/api/v3/livechat/events",
            json=[chat_accepted(1, 51), visitor_arrived(2, 40), chat_requested(2, 50, 2)],
        )
        assert answer.status_code == 200, answer.text
        wait_until(
            lambda: [a["ruleName"] for a in http.get(ALERTS).json()["alerts"]] == ["Waiting"]
        )

    with serve_on(engine, clock, port):
        expect(page.get_by_test_id("connection-state")).to_have_text("Live", timeout=40_000)
        browser_at(page, 61)
        expect(lines(page)).to_have_text(
            ["Warning Waiting RightNow · Waiting in queue 1 threshold 1 for 0:10 acknowledged"]
        )
        expect_alert(queue_row(page, SALES), None)
        expect_alert(page.locator('.tile[data-field="currentQueueLength"]'), "warning")
        assert beeps(page) == 1  # still acknowledged: no beep
    site.http.close()
