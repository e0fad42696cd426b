"""A Chatwoot connector end to end (docs/connectors.md, "Chatwoot"): Chatwoot's webhooks
(tests/fixtures/connectors/chatwoot) posted to the connector's URL, then the four Real Time
views, every number worked out by hand from METRICS.md. The server's clock is set just after
the fixtures' times (2026-11-24, 10:00–10:42 UTC)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatpulse.clock import FixedClock
from chatpulse.connectors import chatwoot
from chatpulse.connectors.ids import Ids
from chatpulse.services.connector_poll import Poller
from chatpulse.sim.chatwoot import Account, api_server
from chatpulse.sim.plan import AgentPlan, Plan
from tests.factories import problem, right_now
from tests.support import AWAY, OFFLINE, ONLINE, SiteClient

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "connectors" / "chatwoot"
CONNECTORS = "/api/v3/connectors"
VIEWS = "/api/v3/livechat/realTime"
MIDNIGHT = "2026-11-24T00:00:00Z"
LIFECYCLE_A = [
    "a1_conversation_created",
    "a2_message_created_visitor",
    "a3_conversation_updated_assigned",
    "a4_message_created_agent",
    "a5_message_created_visitor",
    "a6_conversation_status_changed_resolved",
    "conversation_updated_status_only",  # sent with a6: changes nothing
    "a7_message_updated_csat_rating",
]
LIFECYCLE_C = [
    "c1_conversation_created",
    "c2_conversation_updated_assigned_alice",
    "c3_message_created_visitor",
    "message_created_private_note",  # Alice's note between the two: not a reply
    "c4_conversation_updated_reassigned_bruno",
    "c5_message_created_agent",
]


@pytest.fixture(autouse=True)
def no_poller_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """The servers of this module run no poller thread: the availability poll test polls by
    calling Poller.round itself, and a thread polling the same connector at the same fixed
    clock reading could take its turn."""
    monkeypatch.setenv("CHATPULSE_CONNECTOR_POLL", "false")


def micros(hms: str) -> int:
    """2026-11-24 at `hms` UTC, in microseconds."""
    moment = dt.datetime.fromisoformat(f"2026-11-24T{hms}+00:00")
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def fixture(name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / f"{name}.json").read_text()))


@dataclass
class Hook:
    """A Chatwoot connector of a site, and its webhook URL."""

    site: SiteClient
    id: str
    url: str

    @property
    def ids(self) -> Ids:
        """The connector's UUIDs of Chatwoot's ids (docs/connectors.md, "Ids")."""
        return Ids(self.site.site_id, self.id)

    def post(
        self, name: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """Deliver fixture `name` (or `body` with its headers) as Chatwoot does."""
        given = fixture(name)
        raw = json.dumps(given["body"] if body is None else body).encode()
        return httpx.post(self.url, content=raw, headers=headers or given["headers"], timeout=30)

    def ok(self, name: str) -> dict[str, Any]:
        response = self.post(name)
        assert response.status_code == 200, (name, response.text)
        answer: dict[str, Any] = response.json()
        return answer


def events(site: SiteClient) -> list[dict[str, Any]]:
    """The site's stored events, in order."""
    page: list[dict[str, Any]] = site.get("/api/v3/livechat/events", limit=1000)["events"]
    return page


def connect(site: SiteClient, **options: Any) -> Hook:
    response = site.http.post(CONNECTORS, json={"kind": "chatwoot", **options})
    assert response.status_code == 201, response.text
    created = response.json()
    return Hook(site, created["id"], created["webhookUrl"])


def views(site: SiteClient) -> dict[str, Any]:
    """The four views, today's window given (from midnight UTC to now)."""
    return {
        "RightNow": site.get(f"{VIEWS}/RightNow"),
        "Today": site.get(f"{VIEWS}/Today", startTime=MIDNIGHT),
        "Queue": site.get(f"{VIEWS}/Queue"),
        "Agents": site.get(f"{VIEWS}/Agents", startTime=MIDNIGHT, includeStatusDistribution="true"),
    }


TODAY_FIELDS = (
    "totalChats",
    "chatRequests",
    "chats",
    "abandondedChats",
    "switchedToMessageChats",
    "missedChats",
    "chatAcceptanceRate",
    "serviceAccessibilityRate",
    "uniqueChatRate",
    "avgWaitingTime",
    "avgChatTime",
    "avgScore",
    "acceptedInvitations",
    "totalTransferredChats",
    "departmentTransferredChats",
    "agentAvgResponseTime",
    "agentUtilization",
)


def today(**fields: float) -> dict[str, float]:
    """The Today body: every figure 0 but those given."""
    assert not fields.keys() - set(TODAY_FIELDS), fields
    return {name: fields.get(name, 0) for name in TODAY_FIELDS}


def agent(
    hook: Hook,
    key: str,
    name: str,
    *,
    status: str = OFFLINE,
    ongoing: int = 0,
    chats: int = 0,
    linear: str = "00:00:00",
    distribution: dict[str, int],
) -> dict[str, Any]:
    return {
        "agentId": hook.ids.of("agent", key),
        "displayName": name,
        "currentStatusId": status,
        "onGoingChats": ongoing,
        "maxConcurrentChats": 3,
        "intradayChats": chats,
        "intradayLinearChatTime": linear,
        "statusDistribution": distribution,
    }


def agents_page(*items: dict[str, Any]) -> dict[str, Any]:
    return {
        "total": len(items),
        "pageCount": 1 if items else 0,
        "pageIndex": 1,
        "pageSize": 10,
        "list": list(items),
    }


def department(hook: Hook, key: str, name: str) -> dict[str, Any]:
    """A department the connector made of a Chatwoot team."""
    return {
        "id": hook.ids.of("department", key),
        "siteId": hook.site.site_id,
        "name": name,
        "description": f"Chatwoot team/group {key}",
        "isAvailableInLiveChat": True,
        "isAvailableInTicketingAndMessaging": False,
        "isDeleted": False,
        "serviceLevelSeconds": None,
        "shortAbandonSeconds": None,
    }


def row(
    doc: dict[str, Any] | None,
    *,
    ongoing: int = 0,
    avg30: int = 0,
    avg60: int = 0,
    abandoned30: int = 0,
    visitors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A Queue row with no online agent (capacity 0)."""
    return {
        "routeToDepartmentId": None if doc is None else doc["id"],
        "routeToDepartment": doc,
        "routeToAgentId": None,
        "routeToAgent": None,
        "ongoingChats": ongoing,
        "maxConcurrentChats": 0,
        "currentQueueLength": len(visitors or []),
        "avgWaitTimeinLast30Mins": avg30,
        "avgWaitTimeinLast60Mins": avg60,
        "abandonedChatsinLast30Mins": abandoned30,
        "switchedtoMessagesinLast30Mins": 0,
        "visitors": visitors or [],
    }


def stored(accepted: int = 0, **others: int) -> dict[str, int]:
    """A delivery's answer but lastSequence: `accepted` events, the other counts 0 but
    `others`."""
    counts = {"accepted": accepted, "duplicates": 0, "skipped": 0, "dropped": 0, "repaired": 0}
    return counts | others


def answer_of(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "lastSequence"}


# --- one test per lifecycle ----------------------------------------------------------------------


def test_answered_then_resolved_and_rated(site: SiteClient, clock: FixedClock) -> None:
    """(a) Created unassigned in sales at 10:00:00, a visitor message while waiting,
    assigned to Alice at 10:00:12.5, her reply, the visitor again, resolved at 10:05:12.5,
    rated 4."""
    clock.value = micros("10:45:00")
    hook = connect(site)
    answers = [answer_of(hook.ok(name)) for name in LIFECYCLE_A]
    assert answers == [
        stored(1),
        stored(1),
        stored(1),
        stored(1),
        stored(1),
        stored(1),
        {**stored(), "ignored": "no change of assignee or of an unassigned conversation's team"},
        stored(1),
    ]
    sales = department(hook, "1", "sales")
    assert site.get("/api/v3/departments") == [sales]
    assert views(site) == {
        "RightNow": right_now(),
        "Today": today(
            totalChats=1,
            chatRequests=1,
            chats=1,
            chatAcceptanceRate=100,
            serviceAccessibilityRate=100,
            uniqueChatRate=100,
            # waited 12.5 s: created 10:00:00 → assigned 10:00:12.5
            avgWaitingTime=12.5,
            # 300 s: assigned 10:00:12.5 → resolved 10:05:12.5
            avgChatTime=300,
            avgScore=4,
            # no response: the visitor's 10:00:04 was written while waiting, Alice's
            # 10:00:20 followed no visitor message since, the 10:01:05 one had no reply
        ),
        "Queue": [
            # the wait ended at 10:00:12.5: in the last 60 minutes (since 09:45), not in the
            # last 30 (since 10:15); 12.5 s rounds half up to 13
            row(sales, avg60=13),
        ],
        "Agents": agents_page(
            agent(
                hook,
                "1",
                "Alice Martin",
                chats=1,
                linear="00:05:00",  # 10:00:12.5 → 10:05:12.5
                # never seen in a status: Offline from midnight to 10:45 (10 h 45 min)
                distribution={OFFLINE: 38_700},
            )
        ),
    }


def test_resolved_before_anyone_was_assigned_is_abandoned(
    site: SiteClient, clock: FixedClock
) -> None:
    """(b) Created in support at 10:10:00, resolved at 10:12:30 with no assignee."""
    clock.value = micros("10:20:00")
    hook = connect(site)
    assert answer_of(hook.ok("b1_conversation_created")) == stored(1)
    # the end of a waiting chat is stored as an abandonment: a repair
    assert answer_of(hook.ok("b2_conversation_status_changed_resolved")) == stored(1, repaired=1)
    support = department(hook, "2", "support")
    assert views(site) == {
        "RightNow": right_now(),
        "Today": today(
            totalChats=1,
            chatRequests=1,
            abandondedChats=1,
            missedChats=1,
            serviceAccessibilityRate=100,  # (1 request − 0 switched) ÷ 1
            avgWaitingTime=150,  # waited 150 s: created 10:10:00 → resolved 10:12:30
        ),
        "Queue": [
            # ended 10:12:30, in the last 30 minutes (since 09:50)
            row(support, avg30=150, avg60=150, abandoned30=1),
        ],
        "Agents": agents_page(),
    }
    [requested, abandoned] = events(site)
    assert (requested["type"], abandoned["type"]) == ("chat.requested", "chat.abandoned")
    assert abandoned["occurredAt"] == "2026-11-24T10:12:30.000Z"


def test_reassigned_to_another_agent_is_a_transfer(site: SiteClient, clock: FixedClock) -> None:
    """(c) Created in sales at 10:20:00, assigned to Alice at 10:20:08, the visitor writes at
    10:20:30, reassigned to Bruno at 10:21:00.25, who replies at 10:21:10."""
    clock.value = micros("10:30:00")
    hook = connect(site)
    answers = [answer_of(hook.ok(name)) for name in LIFECYCLE_C]
    assert answers == [
        stored(1),
        stored(1),
        stored(1),
        {**stored(), "ignored": "a private note"},
        stored(1, repaired=1),  # Bruno accepting a chat Alice has: a transfer to Bruno
        stored(1),
    ]
    sales = department(hook, "1", "sales")
    assert views(site) == {
        "RightNow": right_now(agentsInChat=1, ongoingChats=1, ongoingChatsWithAgent=1),
        "Today": today(
            totalChats=1,
            chatRequests=1,
            chats=1,
            chatAcceptanceRate=100,
            serviceAccessibilityRate=100,
            uniqueChatRate=0,  # handled by Alice, then by Bruno
            avgWaitingTime=8,  # waited 8 s: created 10:20:00 → assigned 10:20:08
            totalTransferredChats=1,
            # 40 s: the visitor's 10:20:30 → Bruno's reply 10:21:10
            agentAvgResponseTime=40,
        ),
        "Queue": [row(sales, ongoing=1, avg30=8, avg60=8)],  # ended 10:20:08, after 10:00
        "Agents": agents_page(
            agent(
                hook,
                "2",
                "Bruno Diaz",
                ongoing=1,
                chats=1,
                linear="00:08:59.7500000",  # 10:21:00.25 → now, 10:30:00
                distribution={OFFLINE: 37_800},  # midnight → 10:30
            ),
            agent(
                hook,
                "1",
                "Alice Martin",
                chats=1,
                linear="00:00:52.2500000",  # 10:20:08 → 10:21:00.25
                distribution={OFFLINE: 37_800},
            ),
        ),
    }


def test_team_changed_while_waiting_re_routes_the_same_wait(
    site: SiteClient, clock: FixedClock
) -> None:
    """(d) Created in sales at 10:30:00, moved to support at 10:30:45 while unassigned."""
    clock.value = micros("10:40:00")
    hook = connect(site)
    assert answer_of(hook.ok("d1_conversation_created")) == stored(1)
    assert answer_of(hook.ok("d2_conversation_updated_team")) == stored(1)
    sales, support = department(hook, "1", "sales"), department(hook, "2", "support")
    visitor = {
        "visitorId": hook.ids.of("visitor", "14"),
        "contactIdentityId": None,
        "waitTime": 600,  # the same wait since 10:30:00, now 10:40:00
    }
    assert views(site) == {
        "RightNow": right_now(currentQueueLength=1),
        "Today": today(
            totalChats=1,
            chatRequests=1,
            serviceAccessibilityRate=100,
            # still waiting: no first wait has ended, nothing is missed or accepted
        ),
        "Queue": [row(sales), row(support, visitors=[visitor])],
        "Agents": agents_page(),
    }


def test_with_the_bot_then_handed_over_and_assigned(site: SiteClient, clock: FixedClock) -> None:
    """(e) Created pending (the inbox's bot) at 10:40:00, the bot writes at 10:40:01, status
    open (the hand-off) at 10:41:00, assigned to Chen at 10:41:20. No team."""
    clock.value = micros("10:50:00")
    hook = connect(site)
    assert answer_of(hook.ok("e1_conversation_created_pending")) == stored(1)
    assert answer_of(hook.ok("e2_message_created_bot")) == stored(1)
    assert site.get(f"{VIEWS}/RightNow") == right_now(ongoingChats=1, ongoingChatsWithBot=1)
    assert answer_of(hook.ok("e3_conversation_status_changed_open")) == stored(1)
    assert site.get(f"{VIEWS}/RightNow") == right_now(currentQueueLength=1)
    assert answer_of(hook.ok("e4_conversation_updated_assigned")) == stored(1)
    assert site.get("/api/v3/departments") == []
    assert views(site) == {
        "RightNow": right_now(agentsInChat=1, ongoingChats=1, ongoingChatsWithAgent=1),
        "Today": today(
            totalChats=1,
            chatRequests=1,  # it waited for an agent after the bot
            chats=1,
            chatAcceptanceRate=100,
            serviceAccessibilityRate=100,
            uniqueChatRate=100,
            avgWaitingTime=20,  # waited 20 s: handed over 10:41:00 → assigned 10:41:20
        ),
        # a site without departments has the no-department row; the wait ended at 10:41:20
        "Queue": [row(None, ongoing=1, avg30=20, avg60=20)],
        "Agents": agents_page(
            agent(
                hook,
                "3",
                "Chen Wei",
                ongoing=1,
                chats=1,
                linear="00:08:40",  # 10:41:20 → now, 10:50:00
                distribution={OFFLINE: 39_000},  # midnight → 10:50
            )
        ),
    }


# --- redeliveries, out of order, late ------------------------------------------------------------


def test_redelivered_webhooks_are_duplicates_and_change_nothing(
    site: SiteClient, clock: FixedClock
) -> None:
    clock.value = micros("10:45:00")
    hook = connect(site)
    for name in LIFECYCLE_A:
        hook.ok(name)
    before = views(site)
    stored_before = events(site)
    clock.advance(30_000_000)  # Chatwoot's retry, 30 s later: the rating is dated on receipt
    before_then = views(site)
    answers = [answer_of(hook.ok(name)) for name in LIFECYCLE_A]
    assert answers == [
        stored(duplicates=1),
        stored(duplicates=1),
        stored(duplicates=1),
        stored(duplicates=1),
        stored(duplicates=1),
        stored(duplicates=1),
        {**stored(), "ignored": "no change of assignee or of an unassigned conversation's team"},
        stored(duplicates=1),
    ]
    assert events(site) == stored_before
    assert views(site) == before_then
    assert before["Today"] == before_then["Today"]


def test_shuffled_deliveries_within_the_reorder_time_go_in_in_time_order(
    site: SiteClient, clock: FixedClock
) -> None:
    """Lifecycle (c) delivered at once in a shuffled order: held together (reorderMs 3 s),
    stored in Chatwoot's time order, the same numbers as delivered one by one."""
    clock.value = micros("10:30:00")
    hook = connect(site, reorderMs=3000)
    names = LIFECYCLE_C[:]
    random.Random(7).shuffle(names)
    assert names != LIFECYCLE_C
    with ThreadPoolExecutor(len(names)) as pool:
        responses = list(pool.map(hook.post, names))
    assert [r.status_code for r in responses] == [200] * len(names), [r.text for r in responses]
    got = views(site)
    assert got["Today"] == today(
        totalChats=1,
        chatRequests=1,
        chats=1,
        chatAcceptanceRate=100,
        serviceAccessibilityRate=100,
        avgWaitingTime=8,  # created 10:20:00 → assigned 10:20:08
        totalTransferredChats=1,
        agentAvgResponseTime=40,  # 10:20:30 → 10:21:10
    )
    assert [(a["displayName"], a["intradayLinearChatTime"]) for a in got["Agents"]["list"]] == [
        ("Bruno Diaz", "00:08:59.7500000"),
        ("Alice Martin", "00:00:52.2500000"),
    ]
    types = [e["type"] for e in events(site)]
    assert types == [
        "chat.requested",
        "chat.accepted",
        "chat.message",
        "chat.transferred",
        "chat.message",
    ]


def test_a_message_after_the_end_is_dropped_with_its_reason(
    site: SiteClient, clock: FixedClock
) -> None:
    """An agent's reply at 10:12:50 to conversation (b), resolved (abandoned) at 10:12:30;
    and the visitor writing again, which reopens it in Chatwoot (resolved -> open): a
    ChatPulse chat never reopens."""
    clock.value = micros("10:20:00")
    hook = connect(site)
    hook.ok("b1_conversation_created")
    hook.ok("b2_conversation_status_changed_resolved")
    answer = hook.ok("b3_message_created_agent_after_resolved")
    assert answer_of(answer) == stored(dropped=1)
    reopened = copy.deepcopy(fixture("b2_conversation_status_changed_resolved")["body"])
    reopened.update(status="open", updated_at=reopened["updated_at"] + 40)
    reopened["changed_attributes"] = [
        {"status": {"previous_value": "resolved", "current_value": "open"}}
    ]
    response = hook.post("b2_conversation_status_changed_resolved", body=reopened)
    assert response.json() == {
        "accepted": 0,
        "duplicates": 0,
        "skipped": 0,
        "dropped": 0,
        "repaired": 0,
        "lastSequence": 0,
        "ignored": "resolved -> open: not a hand-off from the bot",
    }
    drops = site.get(f"{CONNECTORS}/{hook.id}/drops")
    assert drops == {
        "total": 1,
        "list": [
            {
                "id": drops["list"][0]["id"],
                "recordedTime": "2026-11-24T10:20:00.000Z",
                "occurredTime": "2026-11-24T10:12:50.000Z",
                "deliveryId": fixture("b3_message_created_agent_after_resolved")["headers"][
                    "x-chatwoot-delivery"
                ],
                "factKey": "message:5005",
                "type": "chat.message",
                "reason": "chat already abandoned",
            }
        ],
    }
    assert site.get(f"{VIEWS}/Today", startTime=MIDNIGHT) == today(
        totalChats=1,
        chatRequests=1,
        abandondedChats=1,
        missedChats=1,
        serviceAccessibilityRate=100,
        avgWaitingTime=150,
    )


def test_a_payload_not_as_chatwoot_documents_it_is_acknowledged_and_dropped(
    site: SiteClient, clock: FixedClock
) -> None:
    clock.value = micros("10:20:00")
    hook = connect(site)
    broken = fixture("b1_conversation_created")["body"]
    broken["meta"]["team"]["id"] = None
    answer = hook.post("b1_conversation_created", body=broken)
    assert answer.status_code == 200, answer.text
    assert answer_of(answer.json()) == stored(dropped=1)
    [drop] = site.get(f"{CONNECTORS}/{hook.id}/drops")["list"]
    assert (drop["factKey"], drop["type"], drop["reason"]) == (
        "",
        "payload",
        "unreadable payload: meta.team.id: must be an id",
    )
    assert events(site) == []


# --- the signature -------------------------------------------------------------------------------

SECRET = "cw-whsec-9fQ2LmX7vR4tZp8K"


def signed(name: str, secret: str, stamp: int) -> tuple[bytes, dict[str, str]]:
    given = fixture(name)
    raw = json.dumps(given["body"]).encode()
    return raw, {
        **given["headers"],
        "x-chatwoot-timestamp": str(stamp),
        "x-chatwoot-signature": chatwoot.signature(secret, stamp, raw),
    }


def test_deliveries_without_chatwoots_signature_are_401s_and_store_nothing(
    site: SiteClient, clock: FixedClock
) -> None:
    clock.value = micros("10:20:00")
    now_s = clock.value // 1_000_000
    hook = connect(site, signingSecret=SECRET)
    raw, good = signed("b1_conversation_created", SECRET, now_s - 2)
    cases = [
        (signed("b1_conversation_created", "another secret", now_s)[1], "does not match"),
        ({**good, "x-chatwoot-timestamp": str(now_s - 1)}, "does not match"),
        ({k: v for k, v in good.items() if k != "x-chatwoot-signature"}, "required"),
        ({k: v for k, v in good.items() if k != "x-chatwoot-timestamp"}, "required"),
        (signed("b1_conversation_created", SECRET, now_s - 301)[1], "replay"),
        (signed("b1_conversation_created", SECRET, now_s + 301)[1], "replay"),
    ]
    details = {
        "does not match": "X-Chatwoot-Signature does not match the body",
        "required": "X-Chatwoot-Signature and X-Chatwoot-Timestamp are required",
        "replay": "X-Chatwoot-Timestamp is more than 5 minutes from now (a replay?)",
    }
    for headers, why in cases:
        response = httpx.post(hook.url, content=raw, headers=headers)
        detail = details[why]
        assert (response.status_code, response.json()) == (
            401,
            problem(401, detail, [{"field": "authorization", "message": detail}]),
        ), why
        assert response.headers["content-type"] == "application/problem+json"
    tampered = raw.replace(b'"Eli Novak"', b'"Mallory"')
    response = httpx.post(hook.url, content=tampered, headers=good)
    assert response.status_code == 401
    assert events(site) == []
    assert site.get(f"{CONNECTORS}/{hook.id}/drops") == {"total": 0, "list": []}
    assert site.get("/api/v3/agents") == site.get("/api/v3/departments") == []

    response = httpx.post(hook.url, content=raw, headers=good)
    assert response.status_code == 200, response.text
    assert [e["type"] for e in events(site)] == ["chat.requested"]


# --- agents' availability from Chatwoot's API ----------------------------------------------------

TOKEN = "cw-tok-Qm2xR9vT4pLk8Zs1"
PLAN = Plan(
    ("sales", "support"),
    (
        AgentPlan("Alice Martin", "alice@example.com", "Alice", "Martin", (0,), 3),
        AgentPlan("Bruno Diaz", "bruno@example.com", "Bruno", "Diaz", (0, 1), 3),
        AgentPlan("Chen Wei", "chen@example.com", "Chen", "Wei", (1,), 3),
    ),
)


@pytest.fixture
def account() -> Account:
    """Chatwoot's account: Alice online, Bruno busy, Chen offline."""
    chatwoot_account = Account(PLAN)
    chatwoot_account.users[1]["availability_status"] = "online"
    chatwoot_account.users[2]["availability_status"] = "busy"
    return chatwoot_account


@pytest.fixture
def api_url(account: Account) -> Iterator[str]:
    with api_server(account, TOKEN) as url:
        yield url


def local_client() -> httpx.Client:
    """A client that reaches this machine's servers only: the poll round also visits the
    other connectors of the database (other tests'), whose APIs are not to be called."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("not this machine", request=request)

    return httpx.Client(
        timeout=5,
        mounts={"all://127.0.0.1": httpx.HTTPTransport(), "all://": httpx.MockTransport(refuse)},
    )


def test_availability_is_polled_from_chatwoots_api(
    site: SiteClient, clock: FixedClock, account: Account, api_url: str
) -> None:
    clock.value = micros("10:00:00")
    hook = connect(site, apiUrl=api_url, apiToken=TOKEN, accountId="1", pollSeconds=1)
    poller = Poller(site.server.app.state.runtime)
    with local_client() as client:
        assert poller.round(client) >= 1
        shown = site.get(f"{CONNECTORS}/{hook.id}")
        assert (shown["lastPollTime"], shown["lastPollError"]) == (
            "2026-11-24T10:00:00.000Z",
            None,
        )
        # Alice online, Bruno busy (away): logged in; Chen offline
        assert site.get(f"{VIEWS}/RightNow") == right_now(loggedInAgents=2)
        assert site.get(f"{VIEWS}/Agents", startTime=MIDNIGHT)["list"] == [
            agent(hook, "1", "Alice Martin", status=ONLINE, distribution={}),
            agent(hook, "2", "Bruno Diaz", status=AWAY, distribution={}),
            agent(hook, "3", "Chen Wei", distribution={}),
        ]
        assert [(a["displayName"], a["email"]) for a in site.get("/api/v3/agents")] == [
            ("Alice Martin", "alice@example.com"),
            ("Bruno Diaz", "bruno@example.com"),
            ("Chen Wei", "chen@example.com"),
        ]

        account.users[1]["availability_status"] = "busy"
        clock.value = micros("10:05:00")
        assert poller.round(client) >= 1
    assert site.get(f"{VIEWS}/RightNow") == right_now(loggedInAgents=2)
    page = site.get(f"{VIEWS}/Agents", startTime=MIDNIGHT, includeStatusDistribution="true")
    assert page == agents_page(
        # both away now: by name
        agent(
            hook,
            "1",
            "Alice Martin",
            status=AWAY,
            distribution={OFFLINE: 36_000, ONLINE: 300},  # online 10:00 → 10:05
        ),
        agent(hook, "2", "Bruno Diaz", status=AWAY, distribution={OFFLINE: 36_000, AWAY: 300}),
        agent(hook, "3", "Chen Wei", distribution={OFFLINE: 36_300}),
    )
    # Bruno and Chen said the same again: nothing stored for them
    statuses = [
        (e["data"]["agentId"], e["data"]["statusId"], e["occurredAt"]) for e in events(site)
    ]
    assert sorted(statuses) == sorted(
        [
            (hook.ids.of("agent", "1"), ONLINE, "2026-11-24T10:00:00.000Z"),
            (hook.ids.of("agent", "2"), AWAY, "2026-11-24T10:00:00.000Z"),
            (hook.ids.of("agent", "3"), OFFLINE, "2026-11-24T10:00:00.000Z"),
            (hook.ids.of("agent", "1"), AWAY, "2026-11-24T10:05:00.000Z"),
        ]
    )


def test_a_poll_that_fails_is_reported_on_the_connector(
    site: SiteClient, clock: FixedClock, api_url: str
) -> None:
    clock.value = micros("10:00:00")
    hook = connect(site, apiUrl=api_url, apiToken="revoked", accountId="1", pollSeconds=1)
    with local_client() as client:
        Poller(site.server.app.state.runtime).round(client)
    shown = site.get(f"{CONNECTORS}/{hook.id}")
    assert (shown["lastPollTime"], shown["lastPollError"]) == (
        "2026-11-24T10:00:00.000Z",
        "Chatwoot agents: HTTP 401",
    )
    assert site.get("/api/v3/agents") == []


def test_sync_reads_agents_and_teams_with_their_members(
    site: SiteClient, clock: FixedClock, api_url: str
) -> None:
    clock.value = micros("10:00:00")
    hook = connect(site, apiUrl=api_url, apiToken=TOKEN, accountId="1", pollSeconds=0)
    response = site.http.post(f"{CONNECTORS}/{hook.id}/sync")
    assert response.status_code == 200, response.text
    assert response.json() == {"agents": 3, "departments": 2}
    sales, support = department(hook, "1", "sales"), department(hook, "2", "support")
    assert site.get("/api/v3/departments") == [sales, support]
    agents = {
        a["displayName"]: (a["email"], sorted(a["departmentIds"]), a["maxConcurrentChats"])
        for a in site.get("/api/v3/agents")
    }
    assert agents == {
        "Alice Martin": ("alice@example.com", [sales["id"]], 3),
        "Bruno Diaz": ("bruno@example.com", sorted([sales["id"], support["id"]]), 3),
        "Chen Wei": ("chen@example.com", [support["id"]], 3),
    }
    # the Agents view with a department: its members
    members = site.get(f"{VIEWS}/Agents", departmentId=support["id"])["list"]
    assert [a["displayName"] for a in members] == ["Bruno Diaz", "Chen Wei"]


def test_an_agent_met_in_a_webhook_gets_the_apis_details_at_the_sync(
    site: SiteClient, clock: FixedClock, api_url: str
) -> None:
    """A webhook names an assignee without an e-mail: the connector makes one up; the API
    gives the real one."""
    clock.value = micros("10:30:00")
    hook = connect(site, apiUrl=api_url, apiToken=TOKEN, accountId="1", pollSeconds=0)
    hook.ok("c1_conversation_created")
    hook.ok("c2_conversation_updated_assigned_alice")
    [alice] = site.get("/api/v3/agents")
    assert (alice["displayName"], alice["email"], alice["departmentIds"]) == (
        "Alice Martin",
        "1@chatwoot.connector",
        [],
    )
    assert site.http.post(f"{CONNECTORS}/{hook.id}/sync").status_code == 200
    alice = next(a for a in site.get("/api/v3/agents") if a["id"] == hook.ids.of("agent", "1"))
    assert (alice["email"], alice["departmentIds"]) == (
        "alice@example.com",
        [hook.ids.of("department", "1")],
    )


# --- one site's connector feeds only that site ---------------------------------------------------


def everything(site: SiteClient) -> dict[str, Any]:
    return {
        **views(site),
        "events": events(site),
        "agents": site.get("/api/v3/agents"),
        "departments": site.get("/api/v3/departments"),
        "connectors": site.get(CONNECTORS),
    }


def test_a_webhook_feeds_only_its_connectors_site(
    site: SiteClient, other_site: SiteClient, clock: FixedClock
) -> None:
    clock.value = micros("10:45:00")
    a = connect(site)
    b = connect(other_site)
    b_before = everything(other_site)
    for name in LIFECYCLE_A:
        a.ok(name)
    a_after = everything(site)
    assert a_after["Today"]["chats"] == 1
    assert everything(other_site) == b_before
    text = json.dumps(everything(other_site))
    secrets_of_a = [
        a.id,
        a.url.rsplit("/", 1)[1],
        a.ids.of("chat", "101"),
        a.ids.of("agent", "1"),
        a.ids.of("department", "1"),
        a.ids.of("visitor", "11"),
        "Alice Martin",
        "sales",
    ] + [e["id"] for e in a_after["events"]]
    assert [s for s in secrets_of_a if s in text] == []

    # A's payload posted to B's URL goes into B only, under B's ids.
    assert answer_of(b.ok("a1_conversation_created")) == stored(1)
    assert everything(site) == a_after
    [requested] = events(other_site)
    assert requested["data"] == {
        "chatId": b.ids.of("chat", "101"),
        "visitorId": b.ids.of("visitor", "11"),
        "departmentId": b.ids.of("department", "1"),
    }
    assert requested["data"]["chatId"] != a.ids.of("chat", "101")
    assert requested["id"] not in [e["id"] for e in a_after["events"]]
    assert other_site.get("/api/v3/departments") == [department(b, "1", "sales")]
