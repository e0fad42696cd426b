"""The wallboard's extension fields in Chromium: service levels (null shown as "—"), longest
waits with their colours, agents available, away and free slots, each agent's time in status,
and the chart of today's intervals, equal to the Intervals view and updated live."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from chatpulse.clock import FixedClock
from tests.browser.board import expect_row, open_wallboard, queue_row, texts
from tests.support import AWAY, ONLINE, SiteClient, T, ev, uid

pytestmark = pytest.mark.browser

SALES = uid("dept", 1)
SUPPORT = uid("dept", 2)
ALICE, BOB, CAROL, DAN = (uid("agent", n) for n in (1, 2, 3, 4))
CHAT = [uid("chat", n) for n in range(8)]
INTERVALS = "/api/v3/livechat/realTime/Intervals"
MICROS = 1_000_000


def arrange(site: SiteClient) -> None:
    """Sales (Alice, Bob) and Support (Carol, Dan); the site's service level threshold is 30 s.

    Alice is online since 11:00 (T - 1 h), Carol since 11:30, Bob away since 11:50; Dan was never
    seen (offline). Chat 1 (Sales, 11:35) was answered by Alice after 20 s (in time) and ended at
    11:45; chat 2 (Sales, 11:40) was answered by Alice after 60 s (late) and goes on. Waiting now
    (T = 12:00): chats 3 (Sales, 300 s) and 4 (Sales, 90 s), chat 5 (Support, 50 s).
    """
    site.department(1, "Sales")
    site.department(2, "Support")
    site.agent(1, "Alice", departments=(1,), capacity=2)
    site.agent(2, "Bob", departments=(1,), capacity=2)
    site.agent(3, "Carol", departments=(2,), capacity=3)
    site.agent(4, "Dan", departments=(2,), capacity=2)
    visitor = [uid("visitor", n) for n in range(8)]
    site.ok_events(
        ev("agent.status_changed", -3600, agentId=ALICE, statusId=ONLINE),
        ev("agent.status_changed", -1800, agentId=CAROL, statusId=ONLINE),
        ev("agent.status_changed", -600, agentId=BOB, statusId=AWAY),
        ev("chat.requested", -1500, chatId=CHAT[1], visitorId=visitor[1], departmentId=SALES),
        ev("chat.accepted", -1480, chatId=CHAT[1], agentId=ALICE),
        ev("chat.requested", -1200, chatId=CHAT[2], visitorId=visitor[2], departmentId=SALES),
        ev("chat.accepted", -1140, chatId=CHAT[2], agentId=ALICE),
        ev("chat.ended", -900, chatId=CHAT[1]),
        ev("chat.requested", -300, chatId=CHAT[3], visitorId=visitor[3], departmentId=SALES),
        ev("chat.requested", -90, chatId=CHAT[4], visitorId=visitor[4], departmentId=SALES),
        ev("chat.requested", -50, chatId=CHAT[5], visitorId=visitor[5], departmentId=SUPPORT),
    )


def intervals_answer(site: SiteClient, minutes: int = 15) -> list[dict[str, Any]]:
    """The Intervals view over HTTP, with the token, as the page asks for it in its stream."""
    answer: list[dict[str, Any]] = site.get(INTERVALS, intervalMinutes=minutes, extended="true")
    return answer


def as_chart_data(buckets: list[dict[str, Any]]) -> list[list[Any]]:
    """What the chart must hold: bucket starts (Unix seconds), chats requested, service level,
    average wait."""
    starts = [dt.datetime.fromisoformat(b["startTime"]).timestamp() for b in buckets]
    return [
        starts,
        [b["chatRequests"] for b in buckets],
        [b["serviceLevel"] for b in buckets],
        [b["avgWaitingTime"] for b in buckets],
    ]


def chart_data(page: Page) -> list[list[Any]]:
    data: list[list[Any]] = page.evaluate("window.wallboardChart.data")
    return data


def test_service_levels_show_a_dash_when_nothing_was_judged_and_change_live(
    site: SiteClient, page: Page
) -> None:
    arrange(site)
    open_wallboard(page, site.server, site.token)

    # Sales: chats 1 (in time) and 2 (late) ended their waits in the last 30 min: 1 of 2.
    # Support: no wait ended, nothing to judge.
    expect_row(
        queue_row(page, f"department:{SALES}"),
        {"queue-sl30": "50.0 %", "queue-sl60": "50.0 %"},
    )
    expect_row(queue_row(page, f"department:{SUPPORT}"), {"queue-sl30": "—", "queue-sl60": "—"})
    # Today: first waits 20 s (in time) and 60 s (late) answered, 300 s still going on.
    expect(page.get_by_test_id("today-serviceLevel")).to_have_text("50.0 %")
    assert texts(page, "today", ["avgSpeedOfAnswer", "longestWaitingTime"]) == ["0:40", "5:00"]

    # Carol answers chat 5 after 50 s: late, so Support's service level is 0 %, not "—".
    site.ok_events(ev("chat.accepted", 0, chatId=CHAT[5], agentId=CAROL))
    expect_row(
        queue_row(page, f"department:{SUPPORT}"), {"queue-sl30": "0.0 %", "queue-sl60": "0.0 %"}
    )
    # Today: 1 of 3 in time (33.33 %); answered after 20, 60 and 50 s: 43.33 s on average.
    expect(page.get_by_test_id("today-serviceLevel")).to_have_text("33.3 %")
    assert texts(page, "today", ["avgSpeedOfAnswer", "longestWaitingTime"]) == ["0:43", "5:00"]
    expect_row(queue_row(page, f"department:{SALES}"), {"queue-sl30": "50.0 %"})


def test_a_site_with_no_chat_today_shows_dashes_not_zero_percent(
    site: SiteClient, page: Page
) -> None:
    site.department(1, "Sales")
    open_wallboard(page, site.server, site.token)
    expect(page.get_by_test_id("today-totalChats")).to_have_text("0")
    expect(page.get_by_test_id("today-serviceLevel")).to_have_text("—")
    expect_row(queue_row(page, f"department:{SALES}"), {"queue-sl30": "—", "queue-sl60": "—"})
    assert texts(page, "rightnow", ["longestWaitTime", "availableAgents", "freeChatSlots"]) == [
        "0:00",
        "0",
        "0",
    ]


def test_rightnow_tiles_show_agents_available_away_and_free_chat_slots(
    site: SiteClient, page: Page
) -> None:
    arrange(site)
    open_wallboard(page, site.server, site.token)

    # Available: Alice (1 chat of 2) and Carol (0 of 3). Away: Bob. Free: 1 + 3 slots.
    fields = ["longestWaitTime", "availableAgents", "awayAgents", "freeChatSlots"]
    expect(page.get_by_test_id("rightnow-freeChatSlots")).to_have_text("4")
    assert texts(page, "rightnow", fields) == ["5:00", "2", "1", "4"]

    # Carol takes chat 5: one slot fewer; Bob comes back with both his slots free.
    site.ok_events(
        ev("chat.accepted", 0, chatId=CHAT[5], agentId=CAROL),
        ev("agent.status_changed", 0, agentId=BOB, statusId=ONLINE),
    )
    expect(page.get_by_test_id("rightnow-awayAgents")).to_have_text("0")
    assert texts(page, "rightnow", fields) == ["5:00", "3", "0", "5"]


def test_longest_waits_tick_and_turn_amber_then_red_strictly_past_the_thresholds(
    site: SiteClient, page: Page
) -> None:
    arrange(site)
    open_wallboard(page, site.server, site.token)  # warnWait 60, alertWait 120 by default

    sales = queue_row(page, f"department:{SALES}").get_by_test_id("queue-longest")
    support = queue_row(page, f"department:{SUPPORT}").get_by_test_id("queue-longest")
    tile = page.get_by_test_id("rightnow-longestWaitTime")
    expect(sales).to_have_text("5:00")
    expect(sales).to_have_class("wait wait-alert")
    expect(support).to_have_text("0:50")
    expect(support).to_have_class("wait")
    expect(tile).to_have_text("5:00")
    expect(tile).to_have_class("tile-value fit wait-alert")
    expect(page.locator(".tile-longestWaitTime")).to_have_class(
        "tile tile-longestWaitTime tile-alert"
    )

    # 10 s later (browser clock only): Support's 60 s is not past warnWait yet.
    page.clock.set_fixed_time(T + dt.timedelta(seconds=10))
    expect(support).to_have_text("1:00")
    expect(support).to_have_class("wait")
    expect(sales).to_have_text("5:10")
    expect(tile).to_have_text("5:10")

    page.clock.set_fixed_time(T + dt.timedelta(seconds=11))
    expect(support).to_have_text("1:01")
    expect(support).to_have_class("wait wait-warn")
    expect(queue_row(page, f"department:{SUPPORT}")).to_have_class(
        "queue-row queue-row-department row-warn"
    )

    page.clock.set_fixed_time(T + dt.timedelta(seconds=71))
    expect(support).to_have_text("2:01")
    expect(support).to_have_class("wait wait-alert")


def test_the_longest_wait_tile_turns_amber_with_page_thresholds_and_stops_with_the_queue(
    site: SiteClient, page: Page
) -> None:
    arrange(site)
    open_wallboard(page, site.server, site.token, "?warnWait=200&alertWait=400")
    tile = page.get_by_test_id("rightnow-longestWaitTime")
    expect(tile).to_have_text("5:00")
    expect(tile).to_have_class("tile-value fit wait-warn")  # 300 > 200, not > 400

    # Every waiting chat is answered: nothing waits, the longest wait is 0 and stays 0.
    site.ok_events(
        ev("chat.accepted", 0, chatId=CHAT[3], agentId=ALICE),
        ev("chat.accepted", 0, chatId=CHAT[4], agentId=CAROL),
        ev("chat.accepted", 0, chatId=CHAT[5], agentId=CAROL),
    )
    support = queue_row(page, f"department:{SUPPORT}").get_by_test_id("queue-longest")
    expect(tile).to_have_text("0:00")
    expect(tile).to_have_class("tile-value fit")
    expect(support).to_have_text("0:00")
    expect(support).to_have_class("wait wait-none")
    page.clock.set_fixed_time(T + dt.timedelta(seconds=30))
    expect(page.get_by_test_id("rightnow-currentQueueLength")).to_have_text("0")
    expect(page.get_by_test_id("visitor-wait")).to_have_count(0)
    expect(tile).to_have_text("0:00")
    expect(support).to_have_text("0:00")


def test_each_agent_shows_the_time_in_its_current_status_ticking_each_second(
    site: SiteClient, page: Page
) -> None:
    arrange(site)
    open_wallboard(page, site.server, site.token)

    # Order: online agents by load (Alice 1 chat, Carol 0), then away (Bob), then offline (Dan).
    expect(page.get_by_test_id("agent-name")).to_have_text(["Alice", "Carol", "Bob", "Dan"])
    times = page.get_by_test_id("agent-status-time")
    # Since 11:00, 11:30 and 11:50; Dan never changed status.
    expect(times).to_have_text(["1:00:00", "30:00", "10:00", "–"])
    expect(times.nth(0)).to_have_attribute("title", "In this status since 2026-11-24T11:00:00.000Z")

    page.clock.set_fixed_time(T + dt.timedelta(seconds=5))
    expect(times).to_have_text(["1:00:05", "30:05", "10:05", "–"])
    page.clock.set_fixed_time(T + dt.timedelta(seconds=3 * 60 + 59))
    expect(times).to_have_text(["1:03:59", "33:59", "13:59", "–"])

    # Bob comes back online at 12:04: his time starts again.
    site.server.clock.advance(4 * 60 * MICROS)
    site.ok_events(ev("agent.status_changed", 240, agentId=BOB, statusId=ONLINE))
    page.clock.set_fixed_time(T + dt.timedelta(seconds=4 * 60 + 2))
    expect(page.get_by_test_id("agent-name")).to_have_text(["Alice", "Bob", "Carol", "Dan"])
    expect(times).to_have_text(["1:04:02", "0:02", "34:02", "–"])


def test_the_chart_holds_the_intervals_of_today_and_updates_the_last_one_live(
    site: SiteClient, page: Page
) -> None:
    arrange(site)
    open_wallboard(page, site.server, site.token)
    page.wait_for_function("() => window.wallboardChart?.data[0].length === 48")

    # Today (UTC) until 12:00 in 15-minute intervals: 48, the last from 11:45 to now.
    buckets = intervals_answer(site)
    assert len(buckets) == 48
    assert (buckets[0]["startTime"], buckets[-1]["endTime"]) == (
        "2026-11-24T00:00:00.000Z",
        "2026-11-24T12:00:00.000Z",
    )
    data = chart_data(page)
    assert data == as_chart_data(buckets)
    # By hand: 11:30-11:45 had chats 1 and 2 (answered after 20 and 60 s: 50 %, 40 s on
    # average); 11:45-12:00 has chats 3, 4 and 5, all still waiting (nothing judged: a gap).
    empty = 46
    assert data[1] == [0] * empty + [2, 3]
    assert data[2] == [None] * empty + [50, None]
    assert data[3][:empty] == [0] * empty
    assert data[3][empty] == 40
    assert data[0][-1] == (T - dt.timedelta(minutes=15)).timestamp()

    # Carol answers chat 5 at 12:00 after 50 s (late): the last interval has 0 %, not a gap.
    site.ok_events(ev("chat.accepted", 0, chatId=CHAT[5], agentId=CAROL))
    page.wait_for_function("() => window.wallboardChart.data[2][47] === 0")
    assert chart_data(page) == as_chart_data(intervals_answer(site))

    # A minute later a new interval has begun: a sixth chat is asked for at 12:00:30.
    clock: FixedClock = site.server.clock
    clock.advance(60 * MICROS)
    site.ok_events(
        ev("chat.requested", 30, chatId=CHAT[6], visitorId=uid("visitor", 6), departmentId=SALES)
    )
    page.wait_for_function("() => window.wallboardChart.data[0].length === 49")
    buckets = intervals_answer(site)
    assert (buckets[-1]["startTime"], buckets[-1]["endTime"]) == (
        "2026-11-24T12:00:00.000Z",
        "2026-11-24T12:01:00.000Z",
    )
    data = chart_data(page)
    assert data == as_chart_data(buckets)
    assert data[1][-3:] == [2, 3, 1]
    assert data[2][-3:] == [50, 0, None]


def test_the_page_parameter_intervalminutes_chooses_the_charts_intervals(
    site: SiteClient, page: Page
) -> None:
    arrange(site)
    open_wallboard(page, site.server, site.token, "?intervalMinutes=60")
    page.wait_for_function("() => window.wallboardChart?.data[0].length === 12")
    expect(page.locator("#intervals-minutes")).to_have_text("every 60 min")
    data = chart_data(page)
    assert data == as_chart_data(intervals_answer(site, 60))
    # 11:00-12:00 holds all five chats: 1 of the 2 waits that ended was in time.
    assert (data[1][-1], data[2][-1]) == (5, 50)
    assert data[1][:-1] == [0] * 11
