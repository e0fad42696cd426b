"""Comm100 clients work unchanged (SPEC.md §2): API-key style Basic auth, `siteId` in the query
or an `x-api-siteid` header, and the v4 Real Time paths. Sent as an integration sends them: a
plain standard-library HTTP client, no test helpers in between."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.factories import (
    agent_status,
    alice_in_sales,
    chat_accepted,
    problem,
    right_now,
    waiting_chat,
)
from tests.support import SiteClient

V3 = "/api/v3/livechat/realTime"
V4_PATHS = ("/v4/livechat/realTime", "/api/v4/livechat/realTime", "/API/V4/LiveChat/RealTime")
VIEWS = ("RightNow", "Queue", "Today", "Agents")
RIGHT_NOW = right_now(
    loggedInAgents=1,
    agentsInChat=1,
    chatUtilization=33,  # 1 ongoing chat of 3 slots
    visitorOnSite=2,
    ongoingChats=1,
    ongoingChatsWithAgent=1,
    currentQueueLength=1,
)

# A site with no departments has the one row of chats routed to no one (METRICS.md §4).
EMPTY_ROW = {
    "routeToDepartmentId": None,
    "routeToDepartment": None,
    "routeToAgentId": None,
    "routeToAgent": None,
    "ongoingChats": 0,
    "maxConcurrentChats": 0,
    "currentQueueLength": 0,
    "avgWaitTimeinLast30Mins": 0,
    "avgWaitTimeinLast60Mins": 0,
    "abandonedChatsinLast30Mins": 0,
    "switchedtoMessagesinLast30Mins": 0,
    "visitors": [],
}


def call(
    site: SiteClient, path: str, headers: dict[str, str], method: str = "GET"
) -> tuple[int, dict[str, str], Any]:
    """One request with urllib: (status, headers in lower case, JSON body or None)."""
    request = urllib.request.Request(site.server.base_url + path, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, head, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        status, head, raw = err.code, err.headers, err.read()
    return status, {k.lower(): v for k, v in head.items()}, json.loads(raw) if raw else None


def basic(user: str, password: str) -> dict[str, str]:
    pair = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def field_problem(status: int, field: str, message: str) -> dict[str, Any]:
    detail = f"{field} {message}" if status == 400 else message
    return problem(status, detail, [{"field": field, "message": message}])


@pytest.fixture
def busy(site: SiteClient) -> SiteClient:
    """Alice (3 slots) online in Sales, chatting with one visitor while another waits."""
    alice_in_sales(site, capacity=3)
    site.ok_events(
        agent_status(1, -600),
        *waiting_chat(1, arrived=-300, requested=-300),
        chat_accepted(1, -240),
        *waiting_chat(2, arrived=-120, requested=-60),
    )
    return site


def test_basic_auth_with_the_token_as_password_reads_the_views(busy: SiteClient) -> None:
    for user in ("alice@example.com", "", "anything at all"):
        status, _, body = call(
            busy, f"{V3}/RightNow?siteId={busy.site_id}", basic(user, busy.token)
        )
        assert (status, body) == (200, RIGHT_NOW)
    bearer = {"Authorization": f"Bearer {busy.token}"}
    for view in VIEWS:
        by_basic = call(busy, f"{V3}/{view}", basic("a@b.c", busy.token))
        assert by_basic[::2] == call(busy, f"{V3}/{view}", bearer)[::2]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Basic !!!not-base64!!!", "Authorization: Basic must be base64 of user:token"),
        (
            "Basic " + base64.b64encode(b"no colon").decode(),
            "Authorization: Basic must carry the token as its password",
        ),
        (
            "Basic " + base64.b64encode(b"user:").decode(),
            "Authorization: Basic must carry the token as its password",
        ),
        (
            "Basic " + base64.b64encode(b"u:\xff\xfe").decode(),
            "Authorization: Basic must be base64 of user:token",
        ),
    ],
)
def test_a_malformed_basic_header_is_401_saying_what_is_wrong(
    site: SiteClient, header: str, message: str
) -> None:
    status, headers, body = call(site, f"{V3}/RightNow", {"Authorization": header})
    assert (status, body) == (401, field_problem(401, "authorization", message))
    assert headers["www-authenticate"] == 'Bearer realm="chatpulse"'


def test_the_site_in_a_header_or_the_query_must_be_the_tokens(
    site: SiteClient, other_site: SiteClient
) -> None:
    own, other = str(site.site_id), str(other_site.site_id)
    auth = basic("x", site.token)
    ok = [
        (f"?siteId={own}", {}),
        ("", {"x-api-siteid": own}),
        (f"?siteId={own}&siteId={own}", {"X-API-SITEID": own}),
    ]
    for query, header in ok:
        status, _, _ = call(site, f"{V3}/RightNow{query}", {**auth, **header})
        assert status == 200, (query, header)
    refused = [
        ("", {"x-api-siteid": other}, "x-api-siteid"),
        (f"?siteId={own}&siteId={other}", {}, "siteId"),  # not only the last value counts
        (f"?siteId={other}&siteId={own}", {}, "siteId"),
        (f"?siteId={own}", {"x-api-siteid": other}, "x-api-siteid"),
    ]
    for query, header, field in refused:
        status, _, body = call(site, f"{V3}/RightNow{query}", {**auth, **header})
        assert (status, body) == (
            403,
            field_problem(403, field, f"{field} is not the site of this token"),
        )
    status, _, body = call(site, f"{V3}/RightNow", {**auth, "x-api-siteid": "ten"})
    assert (status, body) == (400, field_problem(400, "x-api-siteid", "must be an integer"))


def test_the_v4_paths_answer_as_the_v3_ones(busy: SiteClient) -> None:
    auth = basic("alice@example.com", busy.token)
    query = f"?siteId={busy.site_id}"
    for view in VIEWS:
        expected = call(busy, f"{V3}/{view}{query}", auth)
        assert expected[0] == 200
        for base in V4_PATHS:
            assert call(busy, f"{base}/{view}{query}", auth)[::2] == expected[::2], (base, view)
    _, _, body = call(busy, f"/v4/livechat/realtime/rightnow{query}", auth)
    assert body == RIGHT_NOW


def test_only_the_real_time_paths_have_v4_aliases(site: SiteClient) -> None:
    auth = {"Authorization": f"Bearer {site.token}"}
    for path in ("/api/v4/departments", "/v4/livechat/events", "/v4/livechat/realTime/Nowhere"):
        status, _, body = call(site, path, auth)
        assert (status, body) == (
            404,
            problem(404, "no such path", [{"field": "path", "message": "no such path"}]),
        )


def test_v4_paths_keep_sites_apart(busy: SiteClient, other_site: SiteClient) -> None:
    """Another site's token reads its own (empty) site on the v4 paths, and is refused when it
    names the busy site."""
    auth = basic("x", other_site.token)
    for base in V4_PATHS:
        status, _, body = call(busy, f"{base}/RightNow", auth)
        assert (status, body) == (200, right_now())
        status, _, body = call(busy, f"{base}/Queue", auth)
        assert (status, body) == (200, [EMPTY_ROW])
        for view in VIEWS:
            status, _, body = call(busy, f"{base}/{view}?siteId={busy.site_id}", auth)
            refusal = field_problem(403, "siteId", "siteId is not the site of this token")
            assert (status, body) == (403, refusal)
