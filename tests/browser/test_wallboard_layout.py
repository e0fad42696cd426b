"""The wallboard at common screen sizes: nothing cut off or overflowing, long names shortened
with a tooltip, and a page load that asks for nothing the server does not have."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, Request, Response, expect

from chatpulse.clock import FixedClock
from chatpulse.store.db import make_engine
from tests.browser.board import RIGHT_NOW_TILES, open_wallboard, texts
from tests.browser.serving import serve_on
from tests.support import ONLINE, T_MICROS, SiteClient, ev, new_site, uid

pytestmark = pytest.mark.browser

SIZES = [(1366, 768), (1600, 900), (1920, 1080), (3840, 2160)]
SIZE_IDS = [f"{width}x{height}" for width, height in SIZES]

LONG_AGENT = "Maria Fernanda de los Santos Oliveira-Cavalcanti (Premium Accounts, night shift)"
LONG_DEPARTMENT = "Premium Enterprise Accounts, Europe, Middle East and Africa: after-sales support"
LONG_STATUS = "Coaching with the team lead, back at two"
DEPARTMENTS = [
    "Sales",
    "Technical Support",
    "Billing",
    "Returns and Refunds",
    "Onboarding",
    "Partner Programme",
    "Shipping",
    "Accounts Payable",
    "Product Questions",
    "Data Protection",
    "Retention",
    LONG_DEPARTMENT,
]
FIRST = ("Ada", "Ben", "Chloé", "Dev", "Eva", "Farid", "Grace", "Hugo", "Ines", "Jon", "Kemi",
         "Luca", "Mei", "Nora", "Omar", "Priya", "Quinn")  # fmt: skip
LAST = ("Costa", "Okafor", "Dubois", "Patel", "Jensen", "Haddad", "Kowalczyk", "Moreau",
        "Silva", "Van der Berg", "Adeyemi", "Rossi", "Tanaka", "Fischer", "Farouk", "Nair",
        "García")  # fmt: skip
AGENTS = [LONG_AGENT] + [f"{FIRST[n % 17]} {LAST[(n * 7 + n // 17) % 17]}" for n in range(59)]
LUNCH, COACHING = uid("status", 1), uid("status", 2)
MORNING_CHATS = 10_000
ON_SITE = 12_345
WITH_BOT = 1_234
LONGEST_WAIT = 5 * 86_400 + 3 * 3600 + 45 * 60 + 6  # 5.03:45:06 as a TimeSpan: 7425:06 shown


def busy_day() -> list[dict[str, Any]]:
    """The events of a busy site up to T (12:00 UTC), in time order.

    Agents 1-50 online since 00:30 (capacity 4, agent 2: 20); 51-53 at lunch, 54-55 coaching
    (away); 56-60 never seen (offline). From 01:00 a chat every 3 s, 10,000 of them: one in ten
    accepted after 30 s and ended 600 s later, one in ten switched to a message and the rest
    abandoned after waiting 7,425 s. Now: 157 chats ongoing with agents (agent 1: 1, agent 2:
    12, agents 3-50: 3 each) after waiting 100 s, 1,234 with the bot, 12,345 visitors browsing,
    and 226 waiting: 45 in the first department, 15 in each other one, one for 5 days in the
    long-named one, 10 with no department, 3 for agent 1 and 2 for agent 2.
    """
    timed: list[tuple[float, int, dict[str, Any]]] = []

    def add(seconds: float, kind: str, **data: Any) -> None:
        timed.append((seconds, len(timed), ev(kind, seconds, **data)))

    def agent(n: int) -> str:
        return uid("agent", n)

    for n in range(1, 56):
        add(-41_400, "agent.status_changed", agentId=agent(n), statusId=ONLINE)
    for n in range(51, 54):
        add(-1_800, "agent.status_changed", agentId=agent(n), statusId=LUNCH)
    for n in (54, 55):
        add(-1_200, "agent.status_changed", agentId=agent(n), statusId=COACHING)
    for n in range(ON_SITE):
        add(-36_000 + n, "visitor.arrived", visitorId=uid("visitor", n + 1))

    chat_no = 0

    def request(seconds: float, **route: Any) -> str:
        nonlocal chat_no
        chat_no += 1
        chat = uid("chat", chat_no)
        add(seconds, "chat.requested", chatId=chat, visitorId=uid("visitor", 100_000 + chat_no),
            **route)  # fmt: skip
        return chat

    for c in range(MORNING_CHATS):
        start = -39_600 + 3 * c
        chat = request(start, departmentId=uid("dept", c % 12 + 1))
        if c % 10 == 0:
            add(start + 30, "chat.accepted", chatId=chat, agentId=agent(c // 10 % 50 + 1))
            add(start + 630, "chat.ended", chatId=chat)
        elif c % 10 == 5:
            add(start + 7_425, "chat.switched_to_message", chatId=chat)
        else:
            add(start + 7_425, "chat.abandoned", chatId=chat)

    handlers = [1] + [2] * 12 + [n for n in range(3, 51) for _ in range(3)]
    for i, n in enumerate(handlers):
        chat = request(-3_000 + i, departmentId=uid("dept", i % 12 + 1))
        add(-2_900 + i, "chat.accepted", chatId=chat, agentId=agent(n))
    for _ in range(WITH_BOT):
        request(-600, botId=uid("bot", 1))

    for d in range(1, 13):
        for k in range(45 if d == 1 else 15):
            request(-(10 * k + d), departmentId=uid("dept", d))
    request(-LONGEST_WAIT, departmentId=uid("dept", 12))
    for k in range(10):
        request(-(5 * k + 5))
    for seconds in (20, 40, 3_600):
        request(-seconds, agentId=agent(1))
    for seconds in (15, 95):
        request(-seconds, agentId=agent(2))
    return [event for _, _, event in sorted(timed, key=lambda item: (item[0], item[1]))]


@pytest.fixture(scope="module")
def busy_site(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SiteClient]:
    """One server for the module over a site with a busy day (arranged once: ~36,000 events)."""
    path = tmp_path_factory.mktemp("busy") / "chatpulse.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    with serve_on(engine, FixedClock(T_MICROS), 0) as server:
        site = new_site(server, "Busy site")
        for n, name in enumerate(DEPARTMENTS, start=1):
            site.department(n, name)
        for status_id, name in ((LUNCH, "Lunch"), (COACHING, LONG_STATUS)):
            answer = site.http.post(
                "/api/v3/livechat/agentStatuses",
                json={"id": status_id, "name": name, "type": "away"},
            )
            assert answer.status_code == 201, answer.text
        for n, name in enumerate(AGENTS, start=1):
            capacity = 20 if n == 2 else 4 if n <= 50 else 3
            site.agent(n, name.split()[0], departments=((n - 1) % 12 + 1,), capacity=capacity,
                       displayName=name)  # fmt: skip
        events = busy_day()
        for offset in range(0, len(events), 1000):
            site.ok_events(*events[offset : offset + 1000])
        yield site
        site.http.close()
    engine.dispose()


def open_busy_wallboard(page: Page, site: SiteClient, size: tuple[int, int]) -> None:
    page.set_viewport_size({"width": size[0], "height": size[1]})
    open_wallboard(page, site.server, site.token)
    expect(page.get_by_test_id("agent-row")).to_have_count(60)
    expect(page.get_by_test_id("queue-row")).to_have_count(15)
    expect(page.get_by_test_id("today-totalChats")).to_have_text("11616")
    expect(page.get_by_test_id("department-picker")).to_be_visible()


# Every box that must hold its content whole: (selector, check the height too).
BOXES = [
    (".bar", False),
    (".bar > *", False),
    (".panel h2:not(.visually-hidden)", False),
    (".tile", True),
    (".tile-value", True),
    (".tile-label", True),
    (".kpi", True),
    (".kpi-label", True),
    (".kpi-value", True),
    (".queue-row", True),
    (".queue-head", False),
    (".queue-name", False),
    (".queue-name .tag", False),
    (".queue-now", False),
    (".queue-length", False),
    (".queue-longest", False),
    (".queue-longest .wait", True),
    (".queue-stats", False),
    (".stat", False),
    (".visitors", False),
    (".visitor .wait", True),
    (".visitor.more", True),
    (".agent", True),
    (".agent-since", False),
    (".agent-load", False),
    (".load-bar", False),
    (".agent-chats", False),
    (".intervals .panel-head", False),
    (".legend", False),
    (".chart", True),
]
# Names may be cut (with an ellipsis); which ones are is checked separately.
NAMES = ".queue-name-text, .agent-name, .agent-status"

OVERFLOWS = """([boxes, names]) => {
  const label = (node) => `${node.className} "${node.textContent.slice(0, 40)}"`;
  const overflowing = [];
  for (const [selector, height] of boxes) {
    const nodes = document.querySelectorAll(selector);
    if (nodes.length === 0) overflowing.push(`nothing matches ${selector}`);
    for (const node of nodes) {
      if (node.scrollWidth > node.clientWidth) {
        overflowing.push(`${label(node)}: width ${node.scrollWidth} > ${node.clientWidth}`);
      }
      if (height && node.scrollHeight > node.clientHeight) {
        overflowing.push(`${label(node)}: height ${node.scrollHeight} > ${node.clientHeight}`);
      }
    }
  }
  const page = document.documentElement;
  if (page.scrollWidth > page.clientWidth || page.scrollHeight > page.clientHeight) {
    const [width, height] = [page.scrollWidth, page.scrollHeight];
    overflowing.push(`page ${width}×${height} > ${page.clientWidth}×${page.clientHeight}`);
  }
  const cut = [...document.querySelectorAll(names)]
    .filter((node) => node.scrollWidth > node.clientWidth)
    .map((node) => `${node.dataset.testid}: ${node.title}`);
  return { overflowing, cut: cut.sort() };
}"""

# At every size exactly the long names are cut: the 80-character agent (in the agents and as
# the queue row routed to that agent), the 80-character department, the long custom status.
EXPECTED_CUT = sorted(
    [
        f"agent-name: {LONG_AGENT}",
        f"queue-name: {LONG_AGENT}",
        f"queue-name: {LONG_DEPARTMENT}",
        f"agent-status: {LONG_STATUS}",
        f"agent-status: {LONG_STATUS}",
    ]
)


# uPlot draws the chart at the size it is given: the page gives it its box's, again on a resize.
CHART_FILLS_ITS_BOX = """() => {
  const box = document.getElementById("chart");
  const chart = window.wallboardChart;
  return Boolean(chart) && box.clientWidth > 0 && chart.width === box.clientWidth
    && chart.height === box.clientHeight;
}"""


def layout(page: Page) -> dict[str, list[str]]:
    result: dict[str, list[str]] = page.evaluate(OVERFLOWS, [BOXES, NAMES])
    return result


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_no_label_or_value_overflows_its_tile_at_common_screen_sizes(
    busy_site: SiteClient, page: Page, size: tuple[int, int]
) -> None:
    open_busy_wallboard(page, busy_site, size)

    rightnow = RIGHT_NOW_TILES
    # 157 ongoing chats of the online agents' 216 slots (49 × 4 + 20): 72.7 % → 73 %. The
    # longest wait is the 5-day one; all 50 online agents have a free slot (59 in all: 3 of
    # agent 1's 4, 8 of agent 2's 20, one each of agents 3-50); 51-55 are away.
    assert texts(page, "rightnow", rightnow) == [
        "226",
        "1391",
        "157",
        "1234",
        "55",
        "50",
        "73%",
        "12345",
        "7425:06",
        "50",
        "5",
        "59",
    ]
    today = [
        "totalChats",
        "chatRequests",
        "chats",
        "missedChats",
        "abandondedChats",
        "switchedToMessageChats",
        "chatAcceptanceRate",
        "serviceAccessibilityRate",
        "avgWaitingTime",
        "avgChatTime",
    ]
    # 10,000 + 157 + 1,234 + 225 chats today (the 5-day wait began before midnight), all but
    # the bot's asked for an agent; first waits: 1,000 × 30 s, 9,000 × 7,425 s, 157 × 100 s.
    assert texts(page, "today", today) == [
        "11616",
        "10382",
        "1157",
        "9000",
        "8000",
        "1000",
        "11.14%",
        "90.37%",
        "109:44",
        "10:00",
    ]
    expect(page.get_by_test_id("agents-total")).to_have_text("60")
    longest = page.locator(f'[data-route="department:{uid("dept", 12)}"]')
    expect(longest.get_by_test_id("visitor-wait").first).to_have_text("7425:06")
    # Its waits ended in the last hour: 40 of 7,425 s (from 09:36) and 13 answered after 100 s:
    # 298,300 s / 53 = 5,628 s.
    expect(longest.get_by_test_id("queue-avg60")).to_have_text("93:48")
    first = page.locator(f'[data-route="department:{uid("dept", 1)}"]')
    expect(first.get_by_test_id("queue-visitor")).to_have_count(30)
    expect(first.locator(".visitor.more")).to_have_text("+15 more")
    agent_two = page.locator(f'[data-testid="agent-row"][data-agent-id="{uid("agent", 2)}"]')
    expect(agent_two.get_by_test_id("agent-load")).to_have_text("12 / 20")

    page.wait_for_function(CHART_FILLS_ITS_BOX)
    assert layout(page) == {"overflowing": [], "cut": EXPECTED_CUT}


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_long_names_are_cut_with_an_ellipsis_and_keep_the_full_name_as_tooltip(
    busy_site: SiteClient, page: Page, size: tuple[int, int]
) -> None:
    open_busy_wallboard(page, busy_site, size)

    def agent_row(n: int) -> Locator:
        return page.locator(f'[data-testid="agent-row"][data-agent-id="{uid("agent", n)}"]')

    def queue_row(route: str) -> Locator:
        return page.locator(f'[data-testid="queue-row"][data-route="{route}"]')

    names = [
        (agent_row(1).get_by_test_id("agent-name"), LONG_AGENT),
        (agent_row(54).get_by_test_id("agent-status"), LONG_STATUS),
        (queue_row(f"department:{uid('dept', 12)}").get_by_test_id("queue-name"), LONG_DEPARTMENT),
        (queue_row(f"agent:{uid('agent', 1)}").get_by_test_id("queue-name"), LONG_AGENT),
    ]
    for name, full in names:
        expect(name).to_have_text(full)  # the whole name is in the page, only shown cut
        expect(name).to_have_attribute("title", full)
        box = name.evaluate(
            """(node) => {
              const style = getComputedStyle(node);
              const row = node.closest('[data-testid$="-row"]');
              const own = node.getBoundingClientRect();
              const outer = row.getBoundingClientRect();
              return {
                style: [style.textOverflow, style.overflowX, style.whiteSpace],
                cut: node.scrollWidth > node.clientWidth,
                inside: own.left >= outer.left && own.right <= outer.right,
                rowFits: row.scrollWidth <= row.clientWidth,
              };
            }"""
        )
        assert box == {
            "style": ["ellipsis", "hidden", "nowrap"],
            "cut": True,
            "inside": True,
            "rowFits": True,
        }, full
    # The row routed to an agent still shows its tag after the cut name, inside the row.
    tag = page.locator(f'[data-route="agent:{uid("agent", 1)}"] .tag')
    expect(tag).to_have_text("agent")
    assert tag.evaluate(
        """(tag) => {
          const own = tag.getBoundingClientRect();
          const row = tag.closest('[data-testid="queue-row"]').getBoundingClientRect();
          return own.width > 0 && own.left >= row.left && own.right <= row.right;
        }"""
    )

    # The department selector is cut at its maximum width, and names its choice in a tooltip.
    select = page.get_by_test_id("department-select")
    expect(select.locator(f'option[value="{uid("dept", 12)}"]')).to_have_attribute(
        "title", LONG_DEPARTMENT
    )
    expect(select).to_have_attribute("title", "All departments")
    select.select_option(uid("dept", 12))
    expect(select).to_have_attribute("title", LONG_DEPARTMENT)
    expect(page.get_by_test_id("queue-name")).to_have_text([LONG_DEPARTMENT])
    expect(page.get_by_test_id("rightnow-currentQueueLength")).to_have_text("16")
    assert page.evaluate(
        "(() => { const bar = document.querySelector('.bar');"
        " return [bar.scrollWidth <= bar.clientWidth, document.title]; })()"
    ) == [True, "ChatPulse wallboard"]


def test_values_are_fitted_again_when_the_window_is_resized(
    busy_site: SiteClient, page: Page
) -> None:
    """From six tiles a row (narrow layout) to twelve: the 5-digit values shrink to fit."""
    columns = "getComputedStyle(document.querySelector('.tiles')).gridTemplateColumns.split(' ')"
    open_busy_wallboard(page, busy_site, (1200, 900))
    assert page.evaluate(f"{columns}.length") == 6
    page.set_viewport_size({"width": 1366, "height": 768})
    page.wait_for_function(f"() => {columns}.length === 12")
    page.wait_for_function(
        f"(args) => ({OVERFLOWS})(args).overflowing.length === 0", arg=[BOXES, NAMES], timeout=5_000
    )
    assert layout(page) == {"overflowing": [], "cut": EXPECTED_CUT}
    page.wait_for_function(CHART_FILLS_ITS_BOX, timeout=5_000)


def test_loading_the_page_and_connecting_the_stream_fails_no_request(
    busy_site: SiteClient, page: Page
) -> None:
    failed: list[str] = []
    errors: list[str] = []

    def on_failed(request: Request) -> None:
        failed.append(f"{request.method} {request.url}: {request.failure}")

    def on_response(response: Response) -> None:
        if response.status >= 400:
            failed.append(f"{response.request.method} {response.url}: {response.status}")

    page.on("requestfailed", on_failed)
    page.on("response", on_response)
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )

    open_busy_wallboard(page, busy_site, (1920, 1080))
    assert failed == []
    assert errors == []  # a 404 for /favicon.ico shows here: requests for icons are not events

    # The icon is the page's own file, so the browser does not ask for /favicon.ico.
    icon = page.locator('link[rel="icon"]')
    expect(icon).to_have_attribute("href", "/wallboard/favicon.svg")
    answer = page.request.get(f"{busy_site.server.base_url}/wallboard/favicon.svg")
    assert (answer.status, answer.headers["content-type"]) == (200, "image/svg+xml")
