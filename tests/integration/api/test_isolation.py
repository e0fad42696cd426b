"""Site isolation for every endpoint under /api/v3, on SQLite and PostgreSQL.

Site A has data (a department, an agent, a custom status, events, a token); site B speaks with
its own token. For each endpoint: A's ids behave for B exactly like ids that never existed
(404, or the 400/422 of an unknown reference), B's writes aimed at A change nothing in A,
`?siteId=<A>` with B's token is 403, and no response to B contains any of A's ids or names
(apart from an id B itself sent). `test_every_api_route_has_an_isolation_check` fails when a
route is added under /api/v3 without an entry in ISOLATION_CHECKS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from chatpulse.api.app import create_app
from chatpulse.settings import Settings
from tests.factories import problem, right_now
from tests.sse import SseReader
from tests.support import ONLINE, SiteClient, ev, uid

REALTIME = "/api/v3/livechat/realTime"
EVENTS = "/api/v3/livechat/events"
DEPARTMENTS = "/api/v3/departments"
AGENTS = "/api/v3/agents"
STATUSES = "/api/v3/livechat/agentStatuses"
SITE = "/api/v3/site"
TOKENS = "/api/v3/tokens"
WEBHOOKS = "/api/v3/alerts/webhooks"
VIEWS = ("RightNow", "Queue", "Today", "Agents", "Intervals")
# Every view with every field it can show: the extension fields too (SPEC.md §3.6).
EVERYTHING = {"includeStatusDistribution": "true", "extended": "true"}

# Site A's things; site B uses other ids, so any of these in an answer to B is a leak.
A_DEPT, A_AGENT, A_STATUS = uid("dept", 1), uid("agent", 1), uid("status", 1)
A_CHAT_ONGOING, A_CHAT_WAITING = uid("chat", 1), uid("chat", 2)
A_VISITOR_1, A_VISITOR_2 = uid("visitor", 1), uid("visitor", 2)
A_EVENTS = [uid("event", n) for n in range(1, 7)]
A_NAMES = ["Alpha Sales", "Alice Alpha", "alice.alpha@alpha.example", "Alpha Lunch", "alpha-audit"]
B_DEPT, B_AGENT, B_STATUS = uid("dept", 2), uid("agent", 2), uid("status", 2)
B_EVENT = uid("event", 101)
# A's alert webhook: a public address (the server refuses others), never sent to (no alerts).
# Its id is generated: webhook ids are global, and the PostgreSQL database lives for the session.
A_WEBHOOK_URL = "https://93.184.215.14/alpha-alerts"
A_WEBHOOK_SECRET = "alpha-webhook-secret-0001"
NEVER = uid("dept", 99)  # an id no site has

B_RIGHT_NOW = right_now(loggedInAgents=1) | {
    "longestWaitTime": 0,
    "availableAgents": 1,  # Bob, online with none of his 3 chats
    "awayAgents": 0,
    "freeChatSlots": 3,
}
NOT_YOUR_SITE = problem(
    403,
    "siteId is not the site of this token",
    [{"field": "siteId", "message": "siteId is not the site of this token"}],
)


def not_found(what: str) -> dict[str, Any]:
    return problem(404, f"{what} not found", [{"field": "id", "message": "not found"}])


@dataclass
class Sites:
    a: SiteClient
    b: SiteClient
    a_token_id: str
    a_token: str
    secrets: list[str]
    b_views_before: dict[str, Any]
    answers_to_b: list[httpx.Response] = field(default_factory=list)
    a_webhook: str = ""


def snapshot(site: SiteClient) -> dict[str, Any]:
    """Everything a site can read about itself."""
    out: dict[str, Any] = {
        "departments": site.get(DEPARTMENTS, includeDeleted="true"),
        "agents": site.get(AGENTS, includeDeleted="true"),
        "statuses": site.get(STATUSES, includeDeleted="true"),
        "events": site.get(EVENTS, limit="1000"),
        "site": site.get(SITE),
        "tokens": site.get(TOKENS),
        "webhooks": site.get(WEBHOOKS),
    }
    for view in VIEWS:
        out[view] = site.get(f"{REALTIME}/{view}", **EVERYTHING)
    return out


@pytest.fixture
def sites(site: SiteClient, other_site: SiteClient) -> Iterator[Sites]:
    a, b = site, other_site
    # B first, so B's views can be taken before A has anything.
    b.department(2, "Beta Support")
    b.agent(2, "Bob", (2,))
    b.ok_events(ev("agent.status_changed", -600, B_EVENT, agentId=B_AGENT, statusId=ONLINE))
    response = b.http.post(STATUSES, json={"id": B_STATUS, "name": "Beta Break", "type": "away"})
    assert response.status_code == 201, response.text
    b_views_before = {v: b.get(f"{REALTIME}/{v}", **EVERYTHING) for v in VIEWS}

    a.department(1, "Alpha Sales")
    response = a.http.post(
        AGENTS,
        json={
            "id": A_AGENT,
            "displayName": "Alice Alpha",
            "email": "alice.alpha@alpha.example",
            "departmentIds": [A_DEPT],
        },
    )
    assert response.status_code == 201, response.text
    response = a.http.post(STATUSES, json={"id": A_STATUS, "name": "Alpha Lunch", "type": "away"})
    assert response.status_code == 201, response.text
    e = A_EVENTS
    a.ok_events(
        ev("agent.status_changed", -600, e[0], agentId=A_AGENT, statusId=ONLINE),
        ev("visitor.arrived", -500, e[1], visitorId=A_VISITOR_1),
        ev("visitor.arrived", -400, e[2], visitorId=A_VISITOR_2),
        ev("chat.requested", -300, e[3], chatId=A_CHAT_ONGOING, visitorId=A_VISITOR_1,
           departmentId=A_DEPT),
        ev("chat.accepted", -290, e[4], chatId=A_CHAT_ONGOING, agentId=A_AGENT),
        ev("chat.requested", -100, e[5], chatId=A_CHAT_WAITING, visitorId=A_VISITOR_2,
           departmentId=A_DEPT),
    )  # fmt: skip
    response = a.http.post(TOKENS, json={"name": "alpha-audit", "scopes": ["admin"]})
    assert response.status_code == 201, response.text
    token = response.json()
    response = a.http.post(
        WEBHOOKS, json={"name": "Alpha pager", "url": A_WEBHOOK_URL, "secret": A_WEBHOOK_SECRET}
    )
    assert response.status_code == 201, response.text
    a_webhook = response.json()["id"]
    assert a.get(f"{REALTIME}/RightNow")["ongoingChatsWithAgent"] == 1
    assert a.get(f"{REALTIME}/RightNow")["currentQueueLength"] == 1

    a_site = a.get(SITE)
    secrets = [
        A_DEPT,
        A_AGENT,
        A_STATUS,
        A_CHAT_ONGOING,
        A_CHAT_WAITING,
        A_VISITOR_1,
        A_VISITOR_2,
        *A_EVENTS,
        *A_NAMES,
        token["id"],
        token["token"],
        a_webhook,
        A_WEBHOOK_URL,
        A_WEBHOOK_SECRET,
        "Alpha pager",
        a.token,
        a_site["name"],
        f'"siteId":{a.site_id}',
    ]
    answers: list[httpx.Response] = []

    def keep(response: httpx.Response) -> None:
        response.read()
        answers.append(response)

    b.http.event_hooks["response"] = [keep]
    yield Sites(a, b, token["id"], token["token"], secrets, b_views_before, answers, a_webhook)
    b.http.event_hooks["response"] = []


def assert_nothing_of_a_reached_b(ctx: Sites) -> None:
    """No answer to B holds A's ids or names, except an id B itself put in its request."""
    assert ctx.answers_to_b, "the check made no request as B"
    for response in ctx.answers_to_b:
        request = response.request
        sent = str(request.url) + request.content.decode("utf-8", "replace")
        for secret in ctx.secrets:
            if secret.lower() in sent.lower():
                continue
            assert secret not in response.text, (str(request.url), secret, response.text)


def forbidden_for_other_site(ctx: Sites, method: str, path: str, **kwargs: Any) -> None:
    response = ctx.b.http.request(method, path, params={"siteId": str(ctx.a.site_id)}, **kwargs)
    assert response.status_code == 403, (method, path, response.text)
    assert response.json() == NOT_YOUR_SITE


# ---------------------------------------------------------------- Real Time views


def check_view(view: str) -> Callable[[Sites], None]:
    def check(ctx: Sites) -> None:
        path = f"{REALTIME}/{view}"
        answer = ctx.b.get(path, **EVERYTHING)
        assert answer == ctx.b_views_before[view]
        if view == "RightNow":
            assert answer == B_RIGHT_NOW
        forbidden_for_other_site(ctx, "GET", path)
        for department in (A_DEPT, A_DEPT.upper()):
            response = ctx.b.http.get(path, params={"departmentId": department})
            assert response.status_code == 400
            assert response.json()["errors"] == [
                {"field": "departmentId", "message": f"unknown department {A_DEPT}"}
            ]

    return check


def check_stream(ctx: Sites) -> None:
    path = f"{REALTIME}/stream"
    with ctx.b.server.client(ctx.b.token) as client:
        refused = client.get(path, params={"siteId": str(ctx.a.site_id), "views": "Agents"})
        assert refused.status_code == 403
        assert refused.json() == NOT_YOUR_SITE
        unknown = client.get(path, params={"departmentId": A_DEPT})
        assert unknown.status_code == 400
        assert unknown.json()["errors"] == [
            {"field": "departmentId", "message": f"unknown department {A_DEPT}"}
        ]
        for view in ("Agents", "Queue", "RightNow", "Intervals"):
            params = {"views": view, **EVERYTHING}
            with client.stream("GET", path, params=params) as response:
                assert response.status_code == 200
                first = SseReader(response.iter_lines()).next_event()
            assert first.event == view
            assert first.json() == ctx.b_views_before[view]
            for secret in ctx.secrets:
                assert secret not in first.data, secret


# ---------------------------------------------------------------- events


def check_post_events(ctx: Sites) -> None:
    b_event = ev("visitor.arrived", -50, visitorId=uid("visitor", 50))
    forbidden_for_other_site(ctx, "POST", EVENTS, json=[b_event])
    cases = [
        (ev("agent.status_changed", -10, agentId=A_AGENT, statusId=ONLINE), "data.agentId",
         f"unknown agent {A_AGENT}"),
        (ev("agent.status_changed", -10, agentId=B_AGENT, statusId=A_STATUS), "data.statusId",
         f"unknown agent status {A_STATUS}"),
        (ev("chat.accepted", -10, chatId=A_CHAT_WAITING, agentId=B_AGENT), "data.chatId",
         f"unknown chat {A_CHAT_WAITING}"),
        (ev("chat.requested", -10, chatId=uid("chat", 50), visitorId=uid("visitor", 50),
            departmentId=A_DEPT), "data.departmentId", f"unknown department {A_DEPT}"),
    ]  # fmt: skip
    for event, field_name, message in cases:
        response = ctx.b.post_events(event)
        assert response.status_code == 422, response.text
        assert response.json()["errors"] == [{"index": 0, "field": field_name, "message": message}]
    # Event ids are unique within a site: A's event id is a new event for B (no 409, no dup).
    reused = ev("visitor.arrived", -20, A_EVENTS[1], visitorId=uid("visitor", 51))
    assert ctx.b.ok_events(reused) == {"accepted": 1, "duplicates": 0, "lastSequence": 2}
    assert ctx.b.get(f"{REALTIME}/RightNow")["visitorOnSite"] == 1


def check_get_events(ctx: Sites) -> None:
    listed = ctx.b.get(EVENTS, after="0", limit="1000")
    assert [e["id"] for e in listed["events"]] == [B_EVENT]
    assert (listed["lastSequence"], listed["nextAfter"]) == (1, 1)
    forbidden_for_other_site(ctx, "GET", EVENTS)


# ---------------------------------------------------------------- configuration


def check_list(path: str) -> Callable[[Sites], None]:
    def check(ctx: Sites) -> None:
        own = ctx.b.get(path, includeDeleted="true")
        assert [item["id"] for item in own if not item.get("isSystem")] == [
            {DEPARTMENTS: B_DEPT, AGENTS: B_AGENT, STATUSES: B_STATUS}[path]
        ]
        forbidden_for_other_site(ctx, "GET", path)

    return check


def check_get_one(path: str, a_id: str, what: str) -> Callable[[Sites], None]:
    b_id = {DEPARTMENTS: B_DEPT, AGENTS: B_AGENT, STATUSES: B_STATUS}[path]

    def check(ctx: Sites) -> None:
        for key in (a_id, a_id.upper()):
            response = ctx.b.http.get(f"{path}/{key}")
            assert response.status_code == 404
            assert response.json() == not_found(what)
        forbidden_for_other_site(ctx, "GET", f"{path}/{b_id}")

    return check


BODIES: dict[str, dict[str, Any]] = {
    DEPARTMENTS: {"name": "Taken over"},
    AGENTS: {"displayName": "Taken over", "email": "taken@b.example"},
    STATUSES: {"name": "Taken over", "type": "offline"},
}


def check_put(path: str, a_id: str, what: str) -> Callable[[Sites], None]:
    b_id = {DEPARTMENTS: B_DEPT, AGENTS: B_AGENT, STATUSES: B_STATUS}[path]

    def check(ctx: Sites) -> None:
        response = ctx.b.http.put(f"{path}/{a_id}", json=BODIES[path])
        assert response.status_code == 404
        assert response.json() == not_found(what)
        forbidden_for_other_site(ctx, "PUT", f"{path}/{b_id}", json=BODIES[path])

    return check


def check_delete(path: str, a_id: str, what: str) -> Callable[[Sites], None]:
    b_id = {DEPARTMENTS: B_DEPT, AGENTS: B_AGENT, STATUSES: B_STATUS}[path]

    def check(ctx: Sites) -> None:
        response = ctx.b.http.delete(f"{path}/{a_id}")
        assert response.status_code == 404
        assert response.json() == not_found(what)
        forbidden_for_other_site(ctx, "DELETE", f"{path}/{b_id}")

    return check


def check_post_department(ctx: Sites) -> None:
    forbidden_for_other_site(ctx, "POST", DEPARTMENTS, json={"name": "New"})
    into_a = ctx.b.http.post(DEPARTMENTS, json={"name": "New", "siteId": ctx.a.site_id})
    assert into_a.status_code == 422
    # Ids and names are per site: A's id and name are free in B, and saying so leaks nothing.
    same = ctx.b.http.post(DEPARTMENTS, json={"id": A_DEPT, "name": "Alpha Sales"})
    assert same.status_code == 201
    assert same.json()["siteId"] == ctx.b.site_id


def check_post_agent(ctx: Sites) -> None:
    body = {"displayName": "New", "email": "new@b.example"}
    forbidden_for_other_site(ctx, "POST", AGENTS, json=body)
    into_a = ctx.b.http.post(AGENTS, json={**body, "siteId": ctx.a.site_id})
    assert into_a.status_code == 422
    a_department = ctx.b.http.post(AGENTS, json={**body, "departmentIds": [A_DEPT]})
    assert a_department.status_code == 422
    assert a_department.json()["errors"] == [
        {"field": "departmentIds", "message": f"unknown department {A_DEPT}"}
    ]
    same = ctx.b.http.post(
        AGENTS,
        json={"id": A_AGENT, "displayName": "Alice Alpha", "email": "alice.alpha@alpha.example"},
    )
    assert same.status_code == 201
    assert same.json()["siteId"] == ctx.b.site_id


def check_post_status(ctx: Sites) -> None:
    forbidden_for_other_site(ctx, "POST", STATUSES, json={"name": "New", "type": "away"})
    same = ctx.b.http.post(STATUSES, json={"id": A_STATUS, "name": "Alpha Lunch", "type": "away"})
    assert same.status_code == 201
    assert same.json()["order"] == 4  # after B's own Beta Break, whatever A has


# ---------------------------------------------------------------- site and tokens


def check_get_site(ctx: Sites) -> None:
    assert ctx.b.get(SITE) == {
        "id": ctx.b.site_id,
        "name": "Other site",
        "timeZone": "UTC",
        "serviceLevelSeconds": 30,
        "shortAbandonSeconds": 0,
    }
    forbidden_for_other_site(ctx, "GET", SITE)


def check_put_site(ctx: Sites) -> None:
    body = {"name": "Taken over", "timeZone": "Europe/Paris"}
    forbidden_for_other_site(ctx, "PUT", SITE, json=body)
    into_a = ctx.b.http.put(SITE, json={**body, "id": ctx.a.site_id})
    assert into_a.status_code == 422
    assert into_a.json()["errors"] == [
        {"field": "id", "message": "must be the id of this token's site"}
    ]
    assert ctx.b.get(SITE) == {
        "id": ctx.b.site_id,
        "name": "Other site",
        "timeZone": "UTC",
        "serviceLevelSeconds": 30,
        "shortAbandonSeconds": 0,
    }


def check_post_token(ctx: Sites) -> None:
    forbidden_for_other_site(ctx, "POST", TOKENS, json={"name": "new", "scopes": ["admin"]})
    created = ctx.b.http.post(TOKENS, json={"name": "new", "scopes": ["admin"]})
    assert created.status_code == 201
    with ctx.b.server.client(created.json()["token"]) as client:
        assert client.get(SITE).json()["id"] == ctx.b.site_id


def check_get_tokens(ctx: Sites) -> None:
    assert [t["name"] for t in ctx.b.get(TOKENS)] == ["test"]
    forbidden_for_other_site(ctx, "GET", TOKENS)


def check_delete_token(ctx: Sites) -> None:
    response = ctx.b.http.delete(f"{TOKENS}/{ctx.a_token_id}")
    assert response.status_code == 404
    assert response.json() == not_found("token")
    b_token_id = ctx.b.get(TOKENS)[0]["id"]
    forbidden_for_other_site(ctx, "DELETE", f"{TOKENS}/{b_token_id}")
    with ctx.a.server.client(ctx.a_token) as client:
        assert client.get(SITE).json()["id"] == ctx.a.site_id


# ---------------------------------------------------------------- alert webhooks


def check_list_webhooks(ctx: Sites) -> None:
    assert ctx.b.get(WEBHOOKS) == []
    forbidden_for_other_site(ctx, "GET", WEBHOOKS)


def check_webhook_path(method: str, suffix: str = "") -> Callable[[Sites], None]:
    """A's webhook (its own path, or its delivery log) is unknown to B: 404 like a new id."""

    def check(ctx: Sites) -> None:
        for key in (ctx.a_webhook, ctx.a_webhook.upper(), NEVER):
            response = ctx.b.http.request(method, f"{WEBHOOKS}/{key}{suffix}")
            assert response.status_code == 404, (method, key, response.text)
            assert response.json() == not_found("webhook")
        forbidden_for_other_site(ctx, method, f"{WEBHOOKS}/{ctx.a_webhook}{suffix}")

    return check


def check_post_webhook(ctx: Sites) -> None:
    body = {"name": "Beta pager", "url": "https://93.184.215.14/beta"}
    forbidden_for_other_site(ctx, "POST", WEBHOOKS, json=body)
    # Webhook ids are global (they name deliveries): A's id is taken, and B learns only that.
    taken = ctx.b.http.post(WEBHOOKS, json={**body, "id": ctx.a_webhook})
    assert taken.status_code == 409
    assert taken.json()["errors"] == [{"field": "id", "message": "is already taken"}]
    created = ctx.b.http.post(WEBHOOKS, json=body)
    assert created.status_code == 201
    assert [w["name"] for w in ctx.b.get(WEBHOOKS)] == ["Beta pager"]


# ---------------------------------------------------------------- the table

# Within one resource the checks run in this order on one pair of sites: reads first, and the
# POST last (it creates A's id in B, which is allowed: ids are per site).
ISOLATION_CHECKS: dict[tuple[str, str], Callable[[Sites], None]] = {
    **{("GET", f"{REALTIME}/{view}"): check_view(view) for view in VIEWS},
    ("GET", f"{REALTIME}/stream"): check_stream,
    ("GET", EVENTS): check_get_events,
    ("POST", EVENTS): check_post_events,
    ("GET", DEPARTMENTS): check_list(DEPARTMENTS),
    ("GET", f"{DEPARTMENTS}/{{department_id}}"): check_get_one(DEPARTMENTS, A_DEPT, "department"),
    ("PUT", f"{DEPARTMENTS}/{{department_id}}"): check_put(DEPARTMENTS, A_DEPT, "department"),
    ("DELETE", f"{DEPARTMENTS}/{{department_id}}"): check_delete(DEPARTMENTS, A_DEPT, "department"),
    ("POST", DEPARTMENTS): check_post_department,
    ("GET", AGENTS): check_list(AGENTS),
    ("GET", f"{AGENTS}/{{agent_id}}"): check_get_one(AGENTS, A_AGENT, "agent"),
    ("PUT", f"{AGENTS}/{{agent_id}}"): check_put(AGENTS, A_AGENT, "agent"),
    ("DELETE", f"{AGENTS}/{{agent_id}}"): check_delete(AGENTS, A_AGENT, "agent"),
    ("POST", AGENTS): check_post_agent,
    ("GET", STATUSES): check_list(STATUSES),
    ("GET", f"{STATUSES}/{{status_id}}"): check_get_one(STATUSES, A_STATUS, "agent status"),
    ("PUT", f"{STATUSES}/{{status_id}}"): check_put(STATUSES, A_STATUS, "agent status"),
    ("DELETE", f"{STATUSES}/{{status_id}}"): check_delete(STATUSES, A_STATUS, "agent status"),
    ("POST", STATUSES): check_post_status,
    ("GET", SITE): check_get_site,
    ("PUT", SITE): check_put_site,
    ("GET", TOKENS): check_get_tokens,
    ("DELETE", f"{TOKENS}/{{token_id}}"): check_delete_token,
    ("POST", TOKENS): check_post_token,
    ("GET", WEBHOOKS): check_list_webhooks,
    ("GET", f"{WEBHOOKS}/{{webhook_id}}"): check_webhook_path("GET"),
    ("GET", f"{WEBHOOKS}/{{webhook_id}}/deliveries"): check_webhook_path("GET", "/deliveries"),
    ("DELETE", f"{WEBHOOKS}/{{webhook_id}}"): check_webhook_path("DELETE"),
    ("POST", WEBHOOKS): check_post_webhook,
}


def resource(endpoint: tuple[str, str]) -> str:
    path = endpoint[1].split("/{", 1)[0]
    return REALTIME if path.startswith(REALTIME) else path


RESOURCES = list(dict.fromkeys(resource(e) for e in ISOLATION_CHECKS))

# Routes under /api/v3 whose isolation is tested in another file: the connectors', whose
# checks need a platform's payloads. A route listed here must name that test.
ISOLATION_COVERED_ELSEWHERE: dict[tuple[str, str], str] = {
    **{
        (method, f"/api/v3/connectors{suffix}"): (
            "tests/integration/connectors/test_api.py::test_another_sites_connectors_are_not_found"
        )
        for method, suffix in (
            ("GET", ""),
            ("POST", ""),
            ("GET", "/{connector_id}"),
            ("DELETE", "/{connector_id}"),
            ("GET", "/{connector_id}/drops"),
            ("POST", "/{connector_id}/sync"),
        )
    },
    **{
        (method, f"/api/v3/alerts{suffix}"): (
            "tests/integration/alerts/test_api.py"
            "::test_another_sites_rules_and_alerts_are_out_of_reach"
        )
        for method, suffix in (
            ("GET", ""),
            ("GET", "/history"),
            ("GET", "/rules"),
            ("POST", "/rules"),
            ("GET", "/rules/{rule_id}"),
            ("PUT", "/rules/{rule_id}"),
            ("DELETE", "/rules/{rule_id}"),
        )
    },
    ("POST", "/api/v3/connectors/{connector_id}/webhook/{secret}"): (
        "tests/integration/connectors/test_chatwoot.py::test_a_webhook_feeds_only_its_connectors_site"
    ),
}


@pytest.mark.parametrize("path", RESOURCES)
def test_site_b_can_neither_see_nor_change_site_a(sites: Sites, path: str) -> None:
    """Every endpoint of one resource, one after the other, on one pair of sites."""
    for endpoint in [e for e in ISOLATION_CHECKS if resource(e) == path]:
        a_before = snapshot(sites.a)
        sites.answers_to_b.clear()
        ISOLATION_CHECKS[endpoint](sites)
        assert snapshot(sites.a) == a_before, endpoint
        if endpoint != ("GET", f"{REALTIME}/stream"):
            assert_nothing_of_a_reached_b(sites)


def api_routes() -> set[tuple[str, str]]:
    """(method, path) of every route the app serves under /api/v3, included routers walked."""
    found: set[tuple[str, str]] = set()

    def walk(routes: Any, prefix: str) -> None:
        for route in routes:
            original = getattr(route, "original_router", None)
            if original is not None:  # FastAPI's included-router node
                context = getattr(route, "include_context", None)
                walk(original.routes, prefix + (getattr(context, "prefix", "") or ""))
                continue
            nested = getattr(route, "routes", None)
            path = getattr(route, "path", None)
            if nested is not None and not isinstance(route, APIRoute):  # a Mount
                walk(nested, prefix + (path or ""))
                continue
            if path is None:
                continue
            full = prefix + path
            if full.lower().startswith("/api/v3"):
                for method in getattr(route, "methods", None) or {"GET"}:
                    if method != "HEAD":
                        found.add((method, full))

    walk(create_app(Settings(database_url="sqlite://")).routes, "")
    return found


def test_every_api_route_has_an_isolation_check() -> None:
    routes = api_routes()
    assert ("GET", f"{REALTIME}/RightNow") in routes  # the walk itself works
    covered = set(ISOLATION_CHECKS) | set(ISOLATION_COVERED_ELSEWHERE)
    assert sorted(routes - covered) == [], "add these routes to ISOLATION_CHECKS"
    assert sorted(covered - routes) == [], "these entries name no route"
