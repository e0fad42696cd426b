"""The wallboard page in Chromium: token, the four panels over the stream, waits, reconnects."""

from __future__ import annotations

import datetime as dt
from contextlib import ExitStack

import pytest
from playwright.sync_api import Page, Request, expect
from sqlalchemy import Engine

from chatpulse.clock import FixedClock
from chatpulse.store import sites
from tests.browser.board import RIGHT_NOW_TILES, expect_row, open_wallboard, queue_row, texts
from tests.browser.serving import serve_on
from tests.support import AWAY, OFFLINE, ONLINE, SiteClient, T, ev, new_site, uid

pytestmark = pytest.mark.browser

STREAM_PATH = "/api/v3/livechat/realTime/stream"

SALES = uid("dept", 1)
SUPPORT = uid("dept", 2)
ALICE, BOB, CAROL = uid("agent", 1), uid("agent", 2), uid("agent", 3)
LUNCH = uid("status", 1)


def arrange(site: SiteClient) -> None:
    """Two departments, three agents (one in a custom away status), six chats.

    At T: Sales has chat 1 ongoing with Alice (waited 30 s) and chats 2 and 3 waiting 300 s and
    90 s; chat 4 waits 30 s with no department; chat 5 is with the bot; Support's chat 6 waited
    60 s, was handled by Alice for 540 s and rated 5. Visitors 1-5 are on the site.
    """
    site.department(1, "Sales")
    site.department(2, "Support")
    status = site.http.post(
        "/api/v3/livechat/agentStatuses", json={"id": LUNCH, "name": "Lunch", "type": "away"}
    )
    assert status.status_code == 201, status.text
    site.agent(1, "Alice", departments=(1,), capacity=3)
    site.agent(2, "Bob", departments=(1,), capacity=2)
    site.agent(3, "Carol", departments=(2,), capacity=2)
    visitor = [uid("visitor", n) for n in range(7)]
    chat = [uid("chat", n) for n in range(7)]
    site.ok_events(
        ev("agent.status_changed", -3600, agentId=ALICE, statusId=ONLINE),
        ev("agent.status_changed", -3600, agentId=BOB, statusId=LUNCH),
        *(ev("visitor.arrived", -1300, visitorId=visitor[n]) for n in range(1, 7)),
        ev("chat.requested", -1200, chatId=chat[6], visitorId=visitor[6], departmentId=SUPPORT),
        ev("chat.accepted", -1140, chatId=chat[6], agentId=ALICE),
        ev("chat.requested", -600, chatId=chat[1], visitorId=visitor[1], departmentId=SALES),
        ev("chat.ended", -600, chatId=chat[6]),
        ev("chat.rated", -590, chatId=chat[6], score=5),
        ev("chat.accepted", -570, chatId=chat[1], agentId=ALICE),
        ev("visitor.left", -500, visitorId=visitor[6]),
        ev("chat.requested", -300, chatId=chat[2], visitorId=visitor[2], departmentId=SALES),
        ev("chat.requested", -200, chatId=chat[5], visitorId=visitor[5], botId=uid("bot", 1)),
        ev("chat.requested", -90, chatId=chat[3], visitorId=visitor[3], departmentId=SALES),
        ev("chat.requested", -30, chatId=chat[4], visitorId=visitor[4]),
    )


def test_page_shows_the_four_views_of_the_ingested_events(site: SiteClient, page: Page) -> None:
    arrange(site)
    open_wallboard(page, site.server, site.token)

    expect(page.get_by_test_id("rightnow-currentQueueLength")).to_have_text("3")
    rightnow = RIGHT_NOW_TILES
    # chatUtilization: Alice is the only online agent, 1 chat of 3 → 33 %. Longest wait: chat 2's
    # 300 s; available: Alice (1 chat of 3); away: Bob (Lunch); free slots: Alice's 2.
    assert texts(page, "rightnow", rightnow) == [
        "3", "2", "1", "1", "2", "1", "33%", "5", "5:00", "1", "1", "2"
    ]  # fmt: skip

    expect(page.get_by_test_id("queue-name")).to_have_text(["Sales", "Support", "No department"])
    expect_row(
        queue_row(page, f"department:{SALES}"),
        {
            "queue-length": "2",
            "queue-load": "1 / 3",  # Bob is away: only Alice's capacity counts
            "queue-avg30": "0:30",
            "queue-avg60": "0:30",
            "queue-abandoned30": "0",
            "queue-switched30": "0",
            "visitor-wait": ["5:00", "1:30"],
        },
    )
    expect_row(
        queue_row(page, f"department:{SUPPORT}"),
        {"queue-length": "0", "queue-load": "0 / 0", "queue-avg30": "1:00", "queue-avg60": "1:00"},
    )
    expect_row(
        queue_row(page, "none"),
        {"queue-length": "1", "queue-load": "0 / 3", "visitor-wait": ["0:30"]},
    )

    today = [
        "totalChats",
        "chatRequests",
        "chats",
        "missedChats",
        "abandondedChats",
        "switchedToMessageChats",
        "chatAcceptanceRate",
        "serviceAccessibilityRate",
        "uniqueChatRate",
        "agentUtilization",
        "avgWaitingTime",
        "avgChatTime",
        "agentAvgResponseTime",
        "avgScore",
        "acceptedInvitations",
        "totalTransferredChats",
        "departmentTransferredChats",
    ]
    expect(page.get_by_test_id("today-totalChats")).to_have_text("6")
    # 2 of 5 requests accepted; waits 30 s and 60 s; chat 6 lasted 540 s; Alice chatted 1,110 s
    # of the 7,200 s Alice and Bob were logged in (15.4166… %).
    assert texts(page, "today", today) == [
        "6",
        "5",
        "2",
        "0",
        "0",
        "0",
        "40%",
        "100%",
        "100%",
        "15.42%",
        "0:45",
        "9:00",
        "0:00",
        "5.00",
        "0",
        "0",
        "0",
    ]

    expect(page.get_by_test_id("agents-total")).to_have_text("3")
    expect(page.get_by_test_id("agent-name")).to_have_text(["Alice", "Bob", "Carol"])
    expect(page.get_by_test_id("agent-status")).to_have_text(["Online", "Lunch", "Offline"])
    statuses = page.get_by_test_id("agent-status")
    assert [statuses.nth(i).get_attribute("data-status-type") for i in range(3)] == [
        "online",
        "away",
        "offline",
    ]
    expect(page.get_by_test_id("agent-load")).to_have_text(["1 / 3", "0 / 2", "0 / 2"])
    expect(page.get_by_test_id("agent-chats")).to_have_text(["2 today", "0 today", "0 today"])


def test_page_updates_without_reload_after_an_ingest(site: SiteClient, page: Page) -> None:
    arrange(site)
    open_wallboard(page, site.server, site.token)
    expect(page.get_by_test_id("rightnow-currentQueueLength")).to_have_text("3")

    # Alice takes chat 2 (waited 300 s) at T.
    site.ok_events(ev("chat.accepted", 0, chatId=uid("chat", 2), agentId=ALICE))

    expect(page.get_by_test_id("rightnow-currentQueueLength")).to_have_text("2")
    expect_row(
        queue_row(page, f"department:{SALES}"),
        {
            "queue-length": "1",
            "queue-load": "2 / 3",
            "queue-avg30": "2:45",  # (30 + 300) / 2
            "visitor-wait": ["1:30"],
        },
    )
    expect(page.get_by_test_id("agent-load")).to_have_text(["2 / 3", "0 / 2", "0 / 2"])
    expect(page.get_by_test_id("today-chats")).to_have_text("3")
    assert page.get_by_test_id("rightnow-ongoingChatsWithAgent").inner_text() == "2"


def test_waits_tick_locally_and_turn_amber_then_red_strictly_past_the_thresholds(
    site: SiteClient, page: Page
) -> None:
    arrange(site)
    open_wallboard(page, site.server, site.token, "?warnWait=45&alertWait=100")
    sales_waits = queue_row(page, f"department:{SALES}").get_by_test_id("visitor-wait")
    lone_wait = queue_row(page, "none").get_by_test_id("visitor-wait")
    expect(sales_waits).to_have_text(["5:00", "1:30"])
    expect(sales_waits.nth(0)).to_have_class("wait wait-alert")
    expect(sales_waits.nth(1)).to_have_class("wait wait-warn")  # 90 > 45
    expect(lone_wait).to_have_class("wait")  # 30 ≤ 45

    # 10 s later (browser clock only): 100 s is not past alertWait=100 yet.
    page.clock.set_fixed_time(T + dt.timedelta(seconds=10))
    expect(sales_waits.nth(1)).to_have_text("1:40")
    expect(sales_waits.nth(1)).to_have_class("wait wait-warn")

    page.clock.set_fixed_time(T + dt.timedelta(seconds=16))
    expect(sales_waits).to_have_text(["5:16", "1:46"])
    expect(sales_waits.nth(1)).to_have_class("wait wait-alert")
    expect(lone_wait).to_have_text("0:46")
    expect(lone_wait).to_have_class("wait wait-warn")  # 46 > 45
    expect(queue_row(page, f"department:{SALES}")).to_have_class(
        "queue-row queue-row-department row-alert"
    )
    expect(queue_row(page, "none")).to_have_class("queue-row queue-row-none row-warn")


def test_a_rejected_token_brings_the_form_back_and_a_good_one_is_kept_for_the_tab(
    site: SiteClient, page: Page
) -> None:
    arrange(site)
    page.goto(f"{site.server.base_url}/wallboard")
    page.get_by_test_id("token-input").fill("cp_not-a-token")
    page.get_by_test_id("token-submit").click()
    expect(page.get_by_test_id("connection-state")).to_have_text("Token rejected")
    expect(page.get_by_test_id("token-overlay")).to_be_visible()
    expect(page.get_by_test_id("token-error")).to_have_text(
        "The token was rejected: it is unknown or revoked."
    )

    page.get_by_test_id("token-input").fill(site.token)
    page.get_by_test_id("token-submit").click()
    expect(page.get_by_test_id("connection-state")).to_have_text("Live")
    expect(page.get_by_test_id("rightnow-currentQueueLength")).to_have_text("3")

    page.reload()  # sessionStorage keeps the token: no form
    expect(page.get_by_test_id("connection-state")).to_have_text("Live")
    expect(page.get_by_test_id("token-overlay")).to_be_hidden()

    page.get_by_test_id("sign-out").click()
    expect(page.get_by_test_id("token-overlay")).to_be_visible()
    expect(page.get_by_test_id("connection-state")).to_have_text("Not connected")
    expect(page.get_by_test_id("rightnow-currentQueueLength")).to_have_text("–")
    assert page.evaluate("sessionStorage.length") == 0


def test_without_config_read_the_selector_is_hidden_and_built_in_statuses_are_used(
    site: SiteClient, page: Page
) -> None:
    arrange(site)
    server = site.server
    _, reader = sites.create_token(server.engine, site.site_id, "wall", ("realtime.read",), 0)
    open_wallboard(page, server, reader)

    expect(page.get_by_test_id("agent-status")).to_have_text(
        ["Online", "Unknown status", "Offline"]
    )
    statuses = page.get_by_test_id("agent-status")
    assert [statuses.nth(i).get_attribute("data-status-type") for i in range(3)] == [
        "online",
        "unknown",
        "offline",
    ]
    expect(page.get_by_test_id("department-picker")).to_be_hidden()


def test_the_department_selector_reconnects_the_stream_for_that_department(
    site: SiteClient, page: Page
) -> None:
    arrange(site)
    open_wallboard(page, site.server, site.token)
    expect(page.get_by_test_id("department-picker")).to_be_visible()
    select = page.get_by_test_id("department-select")
    expect(select.locator("option")).to_have_text(["All departments", "Sales", "Support"])

    select.select_option(label="Sales")
    expect(page.get_by_test_id("queue-name")).to_have_text(["Sales"])
    expect(page.get_by_test_id("connection-state")).to_have_text("Live")
    expect(page.get_by_test_id("rightnow-currentQueueLength")).to_have_text("2")
    expect(page.get_by_test_id("agent-name")).to_have_text(["Alice", "Bob"])
    assert page.url.endswith(f"/wallboard?departmentId={SALES}")

    select.select_option(label="All departments")
    expect(page.get_by_test_id("queue-name")).to_have_text(["Sales", "Support", "No department"])
    assert page.url.endswith("/wallboard")


def board_of_a_stopped_server(
    page: Page, engine: Engine, clock: FixedClock
) -> tuple[int, SiteClient]:
    """The page open on a server of `arrange`'s site, then the server stopped: its port, the
    site (its client still open, to the port no one serves now)."""
    with serve_on(engine, clock, 0) as first:
        port = int(first.base_url.rsplit(":", 1)[1])
        site = new_site(first)
        arrange(site)
        open_wallboard(page, first, site.token)
        expect(page.get_by_test_id("rightnow-currentQueueLength")).to_have_text("3")
    return port, site


def test_page_reconnects_after_a_server_restart_and_shows_what_was_ingested_meanwhile(
    page: Page, engine: Engine, clock: FixedClock
) -> None:
    port, site = board_of_a_stopped_server(page, engine, clock)

    state = page.get_by_test_id("connection-state")
    expect(state).to_have_attribute("data-state", "reconnecting")
    expect(state).to_contain_text("Reconnecting in")

    # While the page's server is down, another server on the same database takes an ingest.
    with serve_on(engine, clock, 0) as other, other.client(site.token) as http:
        answer = http.post(
            "/api/v3/livechat/events",
            json=[ev("chat.accepted", 0, chatId=uid("chat", 2), agentId=ALICE)],
        )
        assert answer.status_code == 200, answer.text

    with serve_on(engine, clock, port):
        expect(state).to_have_text("Live", timeout=40_000)
        expect(page.get_by_test_id("rightnow-currentQueueLength")).to_have_text("2")
        expect(page.get_by_test_id("agent-load")).to_have_text(["2 / 3", "0 / 2", "0 / 2"])
    site.http.close()


def test_after_a_drop_the_stream_client_reconnects_sending_the_last_event_id(
    page: Page, engine: Engine, clock: FixedClock
) -> None:
    """The vendored eventsource-client reconnects the same stream: the page's back-off decides
    when, the client sends `Last-Event-ID` (the last `id:` it read) with the token."""
    streams: list[Request] = []

    def is_stream(request: Request) -> bool:
        return STREAM_PATH in request.url

    page.on("request", lambda request: streams.append(request) if is_stream(request) else None)
    port, site = board_of_a_stopped_server(page, engine, clock)
    with engine.connect() as conn:
        assert sites.last_sequence(conn, site.site_id) == 19  # arrange() ingests 19 events

    state = page.get_by_test_id("connection-state")
    expect(state).to_have_attribute("data-state", "reconnecting")
    with ExitStack() as running:
        second = running.enter_context(serve_on(engine, clock, port))
        expect(state).to_have_text("Live", timeout=40_000)
        before_ingest = list(streams)
        # The reconnected stream carries on: a change ingested now reaches the page.
        http = running.enter_context(second.client(site.token))
        answer = http.post(
            "/api/v3/livechat/events",
            json=[ev("chat.accepted", 0, chatId=uid("chat", 2), agentId=ALICE)],
        )
        assert answer.status_code == 200, answer.text
        expect(page.get_by_test_id("rightnow-currentQueueLength")).to_have_text("2")
        expect(page.get_by_test_id("agent-load")).to_have_text(["2 / 3", "0 / 2", "0 / 2"])
        # Dropped again: the client now names the event of that ingest.
        with page.expect_request(is_stream) as after_ingest:
            running.close()
    site.http.close()

    query = (
        "?views=Agents%2CQueue%2CToday%2CRightNow%2CIntervals&extended=true&intervalMinutes=15"
        "&pageSize=100&alerts=true"
    )
    assert {request.url for request in streams} == {f"{site.server.base_url}{STREAM_PATH}{query}"}
    first_request, *reconnects = before_ingest
    assert reconnects  # at least the attempt that found the server back
    assert first_request.headers["authorization"] == f"Bearer {site.token}"
    assert "last-event-id" not in first_request.headers
    for request in reconnects:
        assert request.headers["authorization"] == f"Bearer {site.token}"
        assert request.headers["last-event-id"] == "19"
    assert after_ingest.value.headers["authorization"] == f"Bearer {site.token}"
    assert after_ingest.value.headers["last-event-id"] == "20"


def test_offline_and_away_built_ins_are_coloured_by_type(site: SiteClient, page: Page) -> None:
    site.agent(1, "Ann", capacity=2)
    site.agent(2, "Ben", capacity=2)
    site.agent(3, "Cat", capacity=2)
    site.ok_events(
        ev("agent.status_changed", -60, agentId=ALICE, statusId=AWAY),
        ev("agent.status_changed", -60, agentId=BOB, statusId=OFFLINE),
        ev("agent.status_changed", -60, agentId=CAROL, statusId=ONLINE),
    )
    open_wallboard(page, site.server, site.token)
    rows = page.get_by_test_id("agent-row")
    expect(page.get_by_test_id("agent-name")).to_have_text(["Cat", "Ann", "Ben"])
    expect(rows).to_have_class(["agent status-online", "agent status-away", "agent status-offline"])
    expect(page.get_by_test_id("queue-name")).to_have_text(["No department"])
