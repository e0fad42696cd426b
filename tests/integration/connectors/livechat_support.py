"""What the LiveChat connector tests share: the fixtures (tests/fixtures/connectors/livechat), a
connector made through the API, deliveries posted to its webhook URL over real HTTP, and the
bodies the views and the configuration API answer, as the server writes them.

Times: LiveChat dates messages and new threads itself (March 2, 2026 in the fixtures), and the
other webhooks happen when ChatPulse receives them, on the server's clock (the `clock` fixture,
a FixedClock). The fixtures are posted as they are, and the test sets the clock to the instant
it means each delivery to arrive (`LiveChat.deliver(..., at=...)`), always at or after the
times the payload carries, as it would be in production.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from chatpulse.clock import FixedClock
from chatpulse.connectors.ids import Ids
from chatpulse.domain.timeutil import to_micros
from tests.support import OFFLINE, SiteClient

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "connectors" / "livechat"
SECRET = "lc-whk-7Qm2xR9vT4pL"  # the secret_key every fixture carries
CONNECTORS = "/api/v3/connectors"
VIEWS = "/api/v3/livechat/realTime/"
EVENTS = "/api/v3/livechat/events"
DAY = "2026-03-02T"  # the day of every fixture

CUSTOMER = "b7eff798-f8df-4364-8059-649c35c9ed0c"  # Thomas Anderson (a, c, f)
CUSTOMER2 = "5280e68c-9692-4212-8ba9-85f7d8af55cd"  # Maria Lopez (b, d)
SMITH, JONES = "smith@example.com", "jones@example.com"
# The ChatPulse chats: LiveChat's `<chat id>/<thread id>`, one per lifecycle.
CHAT_A = "PJ0MRSHTDG/K600PKZON8"
CHAT_B = "PS0X0L086G/PZ070E0W1B"
CHAT_C = "QA37PVJ75B/QA37PVJ76C"
CHAT_D = "R2YX3PQZ8W/R2YX3PQZ9A"
CHAT_F = "TB7MZ2KQ1X/TB7MZ2KQ2Y"

ANSWER_COUNTS = ("accepted", "duplicates", "skipped", "dropped", "repaired")


def fixture(name: str) -> dict[str, Any]:
    """{"source", "headers", "body"} of a fixture file."""
    loaded: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return loaded


def micros(clock_time: str) -> int:
    """The instant of a time of day on the fixtures' day ("09:15:15.5") in microseconds."""
    return to_micros(dt.datetime.fromisoformat(f"{DAY}{clock_time}+00:00"))


@dataclass
class LiveChat:
    """A LiveChat connector of `site`, its webhook URL's path and its ids."""

    site: SiteClient
    created: dict[str, Any]
    clock: FixedClock

    @property
    def id(self) -> str:
        return str(self.created["id"])

    @property
    def path(self) -> str:
        return urlsplit(str(self.created["webhookUrl"])).path

    @property
    def ids(self) -> Ids:
        return Ids(self.site.site_id, self.id)

    def of(self, kind: str, key: str) -> str:
        """The connector's UUID of LiveChat's `kind` entity `key` (the name-based scheme)."""
        return self.ids.of(kind, key)

    def post(self, name: str, body: dict[str, Any] | None = None) -> httpx.Response:
        """The fixture's body (or `body`) posted with its headers to the webhook URL."""
        loaded = fixture(name)
        content = json.dumps(loaded["body"] if body is None else body).encode()
        return httpx.post(
            self.site.server.base_url + self.path,
            content=content,
            headers=loaded["headers"],
            timeout=30,
        )

    def deliver(
        self,
        name: str,
        at: str | None = None,
        body: dict[str, Any] | None = None,
        ignored: str | None = None,
        **counts: int,
    ) -> dict[str, Any]:
        """Deliver the fixture `name` received at `at` (a time of the fixtures' day; None:
        the clock as it is) and check the 200 answer: the `counts` given, 0 for the others."""
        if at is not None:
            self.clock.value = micros(at)
        response = self.post(name, body)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        check_answer(answer, ignored, **counts)
        return answer

    def drops(self) -> dict[str, Any]:
        found: dict[str, Any] = self.site.get(f"{CONNECTORS}/{self.id}/drops")
        return found


def check_answer(answer: dict[str, Any], ignored: str | None = None, **counts: int) -> None:
    unknown = counts.keys() - set(ANSWER_COUNTS)
    assert not unknown, f"not answer counts: {sorted(unknown)}"
    expected: dict[str, Any] = {name: counts.get(name, 0) for name in ANSWER_COUNTS}
    expected["lastSequence"] = answer.get("lastSequence")
    assert isinstance(expected["lastSequence"], int)
    if ignored is not None:
        expected["ignored"] = ignored
    assert answer == expected, (answer, expected)


def add_livechat(
    site: SiteClient, clock: FixedClock, signing_secret: str | None = SECRET, **options: Any
) -> LiveChat:
    """A LiveChat connector created through POST /api/v3/connectors."""
    body: dict[str, Any] = {"kind": "livechat", **options}
    if signing_secret is not None:
        body["signingSecret"] = signing_secret
    response = site.http.post(CONNECTORS, json=body)
    assert response.status_code == 201, response.text
    return LiveChat(site, response.json(), clock)


# ---------------------------------------------------------------- the views' bodies


def view(site: SiteClient, name: str, **params: Any) -> Any:
    return site.get(VIEWS + name, **params)


def events(site: SiteClient) -> list[dict[str, Any]]:
    """The site's stored events, in order."""
    found: list[dict[str, Any]] = site.get(EVENTS, limit=1000)["events"]
    return found


def department(lc: LiveChat, key: str, name: str | None = None) -> dict[str, Any]:
    """A department the connector made for LiveChat's group `key` (`Group <key>` unless the
    API named it)."""
    return {
        "id": lc.of("department", key),
        "siteId": lc.site.site_id,
        "name": name or f"Group {key}",
        "description": f"LiveChat team/group {key}",
        "isAvailableInLiveChat": True,
        "isAvailableInTicketingAndMessaging": False,
        "isDeleted": False,
        "serviceLevelSeconds": None,
        "shortAbandonSeconds": None,
    }


def agent(
    lc: LiveChat,
    key: str,
    name: str,
    created: str,
    groups: tuple[str, ...] = (),
    capacity: int = 3,
) -> dict[str, Any]:
    """An agent the connector made for LiveChat's agent `key` (its e-mail address), created
    when the delivery naming it first was received (`created`, a time of the fixtures' day)."""
    return {
        "id": lc.of("agent", key),
        "siteId": lc.site.site_id,
        "displayName": name,
        "email": key,
        "firstName": "",
        "lastName": "",
        "isAdmin": False,
        "isActive": True,
        "phone": "",
        "title": "",
        "bio": f"LiveChat agent {key}",
        "apiKey": None,
        "createdTime": f"{DAY}{created}Z",
        "isLocked": False,
        "lockedTime": None,
        "isDeleted": False,
        "systemAvatarId": None,
        "ifCustomizeAvatar": False,
        "customizeAvatar": "",
        "avatar": "",
        "departmentIds": [lc.of("department", g) for g in groups],
        "maxConcurrentChats": capacity,
    }


def queue_row(
    lc: LiveChat,
    group: str | None,
    visitors: tuple[tuple[str, int], ...] = (),
    name: str | None = None,
    **fields: int,
) -> dict[str, Any]:
    """The Queue row of LiveChat's group `group` (None: the row of chats routed to no one),
    named `name` (default `Group <group>`): `visitors` are (LiveChat customer id, waitTime) of
    the chats waiting in it; every other count 0 but those given."""
    row: dict[str, Any] = {
        "routeToDepartmentId": None if group is None else lc.of("department", group),
        "routeToDepartment": None if group is None else department(lc, group, name),
        "routeToAgentId": None,
        "routeToAgent": None,
        "ongoingChats": 0,
        "maxConcurrentChats": 0,
        "currentQueueLength": len(visitors),
        "avgWaitTimeinLast30Mins": 0,
        "avgWaitTimeinLast60Mins": 0,
        "abandonedChatsinLast30Mins": 0,
        "switchedtoMessagesinLast30Mins": 0,
        "visitors": [
            {"visitorId": lc.of("visitor", v), "contactIdentityId": None, "waitTime": w}
            for v, w in visitors
        ],
    }
    unknown = fields.keys() - row.keys()
    assert not unknown, f"not Queue row fields: {sorted(unknown)}"
    row.update(fields)
    return row


_TODAY_FIELDS = (
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
    """The Today body, every field 0 but those given."""
    unknown = fields.keys() - set(_TODAY_FIELDS)
    assert not unknown, f"not Today fields: {sorted(unknown)}"
    return {name: fields.get(name, 0) for name in _TODAY_FIELDS}


def agents_page(*items: dict[str, Any]) -> dict[str, Any]:
    """The Agents body of one page of the default size (10)."""
    return {
        "total": len(items),
        "pageCount": 1 if items else 0,
        "pageIndex": 1,
        "pageSize": 10,
        "list": list(items),
    }


def agent_item(
    lc: LiveChat,
    key: str,
    name: str,
    status: str = OFFLINE,
    ongoing: int = 0,
    capacity: int = 3,
    chats: int = 0,
    linear: str = "00:00:00",
    distribution: dict[str, int] | None = None,
) -> dict[str, Any]:
    return {
        "agentId": lc.of("agent", key),
        "displayName": name,
        "currentStatusId": status,
        "onGoingChats": ongoing,
        "maxConcurrentChats": capacity,
        "intradayChats": chats,
        "intradayLinearChatTime": linear,
        "statusDistribution": distribution or {},
    }
