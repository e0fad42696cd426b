"""A LiveChat connector's gates and reach: the webhook's `secret_key` (LiveChat signs nothing),
the directory read from LiveChat's API (POST /api/v3/connectors/{id}/sync, against the local
fake of tests/fakes/livechat_api.py), and one site's webhooks never reaching another
(docs/connectors.md, LiveChat). Times as in test_livechat.py.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import httpx

from chatpulse.clock import FixedClock
from tests.factories import problem
from tests.fakes.livechat_api import ACCOUNT_ID, TOKEN, FakeLiveChatApi
from tests.integration.connectors.livechat_support import (
    CHAT_A,
    CONNECTORS,
    JONES,
    SMITH,
    add_livechat,
    agent,
    check_answer,
    department,
    events,
    fixture,
    micros,
    queue_row,
    today,
    view,
)
from tests.integration.connectors.test_livechat import deliver_lifecycle_a
from tests.support import AWAY, OFFLINE, ONLINE, SiteClient

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


# ---------------------------------------------------------------- authentication


def secret_problem(detail: str) -> dict[str, Any]:
    return problem(401, detail, [{"field": "authorization", "message": detail}])


def test_a_wrong_or_missing_secret_key_is_a_401_and_stores_nothing(
    site: SiteClient, clock: FixedClock
) -> None:
    lc = add_livechat(site, clock)
    clock.value = micros("09:15:15")
    wrong = copy.deepcopy(fixture("a1_incoming_chat_queued")["body"])
    wrong["secret_key"] = "lc-whk-someone-else"
    missing = copy.deepcopy(wrong)
    del missing["secret_key"]
    empty = {**missing, "secret_key": ""}
    for body, detail in (
        (wrong, "secret_key is not the connector's signing secret"),
        (missing, "secret_key is missing"),
        (empty, "secret_key is missing"),
    ):
        answer = lc.post("a1_incoming_chat_queued", body)
        assert (answer.status_code, answer.json()) == (401, secret_problem(detail))
    answer = lc.post("a1_incoming_chat_queued", {"action": "incoming_chat"})
    assert (answer.status_code, answer.json()) == (401, secret_problem("secret_key is missing"))
    assert events(site) == []
    assert site.get("/api/v3/agents") == []
    assert site.get("/api/v3/departments") == []
    assert lc.drops() == {"total": 0, "list": []}


def test_a_connector_without_signing_secret_takes_any_secret_key(
    site: SiteClient, clock: FixedClock
) -> None:
    lc = add_livechat(site, clock, signing_secret=None)
    clock.value = micros("09:15:15")
    wrong = copy.deepcopy(fixture("a1_incoming_chat_queued")["body"])
    wrong["secret_key"] = "anything"
    check_answer(lc.post("a1_incoming_chat_queued", wrong).json(), accepted=1)
    no_secret = copy.deepcopy(fixture("a2_customer_message")["body"])
    del no_secret["secret_key"]
    check_answer(lc.post("a2_customer_message", no_secret).json(), accepted=1)
    assert [e["type"] for e in events(site)] == ["chat.requested", "chat.message"]


# ---------------------------------------------------------------- the directory from the API


def test_a_sync_reads_agents_and_groups_from_livechats_api(
    site: SiteClient, clock: FixedClock
) -> None:
    with FakeLiveChatApi() as api:
        lc = add_livechat(site, clock, apiUrl=api.url, apiToken=TOKEN, accountId=ACCOUNT_ID)
        lc.deliver("a1_incoming_chat_queued", at="09:15:04", accepted=1)  # makes "Group 1"
        lc.deliver("a3_agent_added", at="09:15:15", accepted=1)  # makes Smith, in no group
        assert site.get("/api/v3/departments") == [department(lc, "1")]
        clock.value = micros("09:30:00")
        response = site.http.post(f"{CONNECTORS}/{lc.id}/sync")
        assert response.status_code == 200, response.text
        assert response.json() == {"agents": 3, "departments": 3}
    # the groups by LiveChat's names: "Group 1" renamed Sales (the same department)
    assert site.get("/api/v3/departments") == [
        department(lc, "0", "General"),
        department(lc, "1", "Sales"),
        department(lc, "2", "Support"),
    ]
    # the agents with their groups and chat limits (max_chats_count); Smith updated, keeping
    # the time he was created
    assert site.get("/api/v3/agents") == [
        agent(lc, JONES, "Agent Jones", "09:30:00.000", groups=("0", "2"), capacity=3),
        agent(lc, SMITH, "Agent Smith", "09:15:15.000", groups=("0", "1"), capacity=6),
        agent(lc, "lee@example.com", "Kim Lee", "09:30:00.000", groups=("0",), capacity=2),
    ]
    # the views name them so at once; Smith (Offline) still has the chat in Sales
    assert view(site, "Queue") == [
        queue_row(lc, "0", name="General"),
        # waited 11.879569 s: 09:15:03.120431 -> 09:15:15, within the last 30 minutes
        queue_row(
            lc,
            "1",
            name="Sales",
            ongoingChats=1,
            avgWaitTimeinLast30Mins=12,
            avgWaitTimeinLast60Mins=12,
        ),
        queue_row(lc, "2", name="Support"),
    ]


def test_a_sync_refused_by_livechat_is_a_502_and_changes_nothing(
    site: SiteClient, clock: FixedClock
) -> None:
    with FakeLiveChatApi() as api:
        lc = add_livechat(site, clock, apiUrl=api.url, apiToken="expired", accountId=ACCOUNT_ID)
        response = site.http.post(f"{CONNECTORS}/{lc.id}/sync")
    why = (
        "the platform's API failed: LiveChat list_agents: HTTP 401"
        " (authentication: Invalid access token)"
    )
    assert (response.status_code, response.json()) == (
        502,
        problem(502, why, [{"field": "apiUrl", "message": why}]),
    )
    assert site.get("/api/v3/agents") == []
    assert site.get("/api/v3/departments") == []


def test_a_sync_of_a_connector_without_api_is_a_422(site: SiteClient, clock: FixedClock) -> None:
    lc = add_livechat(site, clock)
    response = site.http.post(f"{CONNECTORS}/{lc.id}/sync")
    message = "is not set: the connector has no API access"
    assert (response.status_code, response.json()) == (
        422,
        problem(
            422,
            f"apiUrl {message} (and 1 more problem)",
            [{"field": "apiUrl", "message": message}, {"field": "apiToken", "message": message}],
        ),
    )


# ---------------------------------------------------------------- sites


def snapshot(site: SiteClient) -> dict[str, Any]:
    """Everything a site shows of its live chat."""
    return {
        "views": {name: view(site, name) for name in ("RightNow", "Queue", "Today", "Agents")},
        "events": events(site),
        "agents": site.get("/api/v3/agents"),
        "departments": site.get("/api/v3/departments"),
        "connectors": site.get(CONNECTORS),
    }


def uuids(found: object) -> set[str]:
    return set(UUID.findall(repr(found)))


def test_livechat_webhooks_of_one_site_never_reach_another(
    site: SiteClient, other_site: SiteClient, clock: FixedClock
) -> None:
    mine = add_livechat(site, clock)
    theirs = add_livechat(other_site, clock)
    # The other site's LiveChat has the same thread (a), ended, and one of its own (b)
    theirs.deliver("a1_incoming_chat_queued", at="09:15:04", accepted=1)
    theirs.deliver("a3_agent_added", at="09:15:15", accepted=1)
    theirs.deliver("a6_chat_deactivated", at="09:17:00", accepted=1)
    theirs.deliver("b1_incoming_chat_queued", at="10:02:45", accepted=2)
    theirs.deliver("b2_chat_deactivated_by_customer", at="10:04:00", accepted=1, repaired=1)
    clock.value = micros("12:00:00")
    before = snapshot(other_site)
    assert before["views"]["Today"]["totalChats"] == 2

    # This site's connector gets thread (a) again, statuses (e) and a transfer (c)
    deliver_lifecycle_a(mine)
    for name, at in (
        ("e1_routing_smith_accepting", "10:00:00"),
        ("e2_routing_jones_accepting", "10:00:30"),
        ("e3_routing_smith_not_accepting", "10:05:00"),
        ("e4_routing_jones_not_accepting", "10:10:00"),
    ):
        mine.deliver(name, at=at, accepted=1)
    mine.deliver("c1_incoming_chat_assigned", at="11:30:01", accepted=3)
    mine.deliver("c2_chat_transferred_to_agent", at="11:31:00", accepted=1)

    clock.value = micros("12:00:05")  # a new instant: every view computed again
    assert snapshot(other_site) == before
    ours = snapshot(site)
    # the same LiveChat ids, another connector of another site: other UUIDs
    assert mine.of("chat", CHAT_A) != theirs.of("chat", CHAT_A)
    assert mine.of("agent", SMITH) != theirs.of("agent", SMITH)
    builtin = {OFFLINE, ONLINE, AWAY}
    assert uuids(ours) - builtin
    assert not (uuids(ours) - builtin) & uuids(before)
    # and this site counts only its own: chats (a) and (c), not the other site's (a) and (b)
    assert ours["views"]["Today"] == today(
        totalChats=2,
        chatRequests=2,
        chats=2,
        chatAcceptanceRate=100,
        serviceAccessibilityRate=100,
        uniqueChatRate=50,  # (a) Smith alone; (c) Smith then Jones
        avgWaitingTime=5.94,  # (11.879569 s + 0 s) / 2 = 5.9397845
        avgChatTime=105,  # only (a) ended: 09:15:15 -> 09:17:00
        avgScore=5,
        totalTransferredChats=1,
        # H = Smith 105 s (a) + 59.498767 s (c, 11:30:00.501233 -> 11:31:00) + Jones 1,745 s
        # (11:31:00 -> 12:00:05); O = Smith logged in 10:00:00 -> 12:00:05 (7,205 s) + Jones
        # 10:00:30 -> 12:00:05 (7,175 s): 1,909.498767 / 14,380 = 13.2789 %
        agentUtilization=13.28,
    )
    # a webhook URL is one connector's: the other site's path with this site's secret is a 404
    path = theirs.path.rsplit("/", 1)[0] + "/" + mine.path.rsplit("/", 1)[1]
    answer = httpx.post(
        site.server.base_url + path, json=fixture("a1_incoming_chat_queued")["body"]
    )
    assert answer.status_code == 404
    assert snapshot(other_site) == before
