"""The alert rules API over real HTTP, both backends: exact bodies, errors naming the field,
scopes, and another site's rules and alerts out of reach."""

from __future__ import annotations

import uuid
from typing import Any

from chatpulse.clock import FixedClock
from chatpulse.store import sites
from tests.factories import alice_in_sales, problem, waiting_chat
from tests.integration.alerts.support import ALERTS, RULES, evaluated_at, history, instant, rule
from tests.sse import SseReader
from tests.support import T_MICROS, Server, SiteClient, uid

STREAM = "/api/v3/livechat/realTime/stream"


def test_create_read_replace_delete(site: SiteClient, clock: FixedClock) -> None:
    RULE_ID = str(uuid.uuid4())  # ids are unique across sites: the PostgreSQL database is shared
    site.department(1, "Sales")
    body = {
        "id": RULE_ID.upper(),
        "name": "Sales wait",
        "view": "Queue",
        "field": "longestWaitTime",
        "departmentId": uid("dept", 1),
        "warning": 60,
        "critical": 120.5,
        "holdSeconds": 15,
        "clearMargin": 5,
    }
    created = site.http.post(RULES, json=body)
    assert created.status_code == 201, created.text
    stored = {
        "id": RULE_ID,
        "name": "Sales wait",
        "kind": "threshold",
        "view": "Queue",
        "field": "longestWaitTime",
        "departmentId": uid("dept", 1),
        "comparison": ">",
        "warning": 60,
        "critical": 120.5,
        "holdSeconds": 15,
        "clearMargin": 5,
        "createdTime": instant(0),
        "updatedTime": instant(0),
    }
    assert created.json() == stored
    assert site.get(RULES) == [stored]
    assert site.get(f"{RULES}/{RULE_ID}") == stored
    clock.value = T_MICROS + 60_000_000
    silence = {"name": "Quiet site", "kind": "silence", "warning": 300, "critical": 900}
    replaced = site.http.put(f"{RULES}/{RULE_ID}", json=silence)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json() == {
        "id": RULE_ID,
        "name": "Quiet site",
        "kind": "silence",
        "view": None,
        "field": None,
        "departmentId": None,
        "comparison": ">=",
        "warning": 300,
        "critical": 900,
        "holdSeconds": 0,
        "clearMargin": 0,
        "createdTime": instant(0),
        "updatedTime": instant(60),
    }
    assert site.http.delete(f"{RULES}/{RULE_ID}").status_code == 204
    gone = site.http.get(f"{RULES}/{RULE_ID}")
    assert gone.status_code == 404
    assert gone.json() == problem(
        404, "alert rule not found", [{"field": "ruleId", "message": "not found"}]
    )
    assert site.get(RULES) == []
    assert site.http.delete(f"{RULES}/{RULE_ID}").status_code == 404


def errors(response: Any) -> list[tuple[str, str]]:
    assert response.status_code == 422, response.text
    return [(e["field"], e["message"]) for e in response.json()["errors"]]


def test_invalid_rules_are_422_naming_the_field(site: SiteClient) -> None:
    post = site.http.post
    base = {"name": "r", "view": "Queue", "field": "longestWaitTime", "warning": 60}
    assert errors(post(RULES, json={**base, "field": "longestWait"})) == [
        ("field", "is not a numeric field of Queue")
    ]
    assert errors(post(RULES, json={**base, "field": "visitors"})) == [
        ("field", "is not a numeric field of Queue")
    ]
    wrong_type = errors(post(RULES, json={**base, "warning": "60"}))
    assert wrong_type == [("warning", "must be a number or null")]
    assert errors(post(RULES, json={**base, "departmentId": uid("dept", 9)})) == [
        ("departmentId", "is not a department of this site")
    ]
    assert errors(post(RULES, json={**base, "critical": 30})) == [
        ("critical", "must be at least warning with comparison >")
    ]
    assert errors(post(RULES, json={**base, "holdSeconds": -1})) == [
        ("holdSeconds", "must be an integer 0…86400")
    ]
    assert [f for f, _ in errors(post(RULES, json={**base, "colour": "red"}))] == ["colour"]
    assert [f for f, _ in errors(post(RULES, json={**base, "view": "Agents"}))] == ["view"]
    assert site.get(RULES) == []


def test_a_taken_id_is_409(site: SiteClient) -> None:
    body = {
        "id": str(uuid.uuid4()),
        "name": "r",
        "view": "RightNow",
        "field": "ongoingChats",
        "warning": 5,
    }
    assert site.http.post(RULES, json=body).status_code == 201
    again = site.http.post(RULES, json=body)
    assert again.status_code == 409
    assert again.json()["errors"] == [{"field": "id", "message": "is taken"}]


def test_scopes(server: Server, site: SiteClient) -> None:
    _, reader = sites.create_token(server.engine, site.site_id, "r", ("realtime.read",), 0)
    with server.client(reader) as http:
        assert http.get(ALERTS).status_code == 200
        assert http.get(f"{ALERTS}/history").status_code == 200
        assert http.get(RULES).status_code == 403
        body = {"name": "r", "view": "RightNow", "field": "ongoingChats", "warning": 5}
        assert http.post(RULES, json=body).status_code == 403
    _, config = sites.create_token(server.engine, site.site_id, "c", ("config.read",), 0)
    with server.client(config) as http:
        assert http.get(RULES).status_code == 200
        assert http.get(ALERTS).status_code == 200
        assert http.post(RULES, json=body).status_code == 403


def test_history_pages(site: SiteClient, clock: FixedClock) -> None:
    alice_in_sales(site)
    rule(site, view="RightNow", field="currentQueueLength", comparison=">=", warning=1)
    site.ok_events(*waiting_chat(1, arrived=-20, requested=-10))
    evaluated_at(site, 0)
    made = rule(site, view="RightNow", field="visitorOnSite", comparison=">=", warning=1)
    evaluated_at(site, 0)
    clock.value += 1_000_000
    evaluated_at(site, 1)
    site.http.delete(f"{RULES}/{made['id']}")
    everything = history(site)
    assert [(h["field"], h["from"], h["to"]) for h in everything] == [
        ("currentQueueLength", "ok", "warning"),
        ("visitorOnSite", "ok", "warning"),
        ("visitorOnSite", "warning", "ok"),  # the rule was deleted while firing
    ]
    ids = [h["transitionId"] for h in everything]
    page = site.get(f"{ALERTS}/history", after=ids[0], limit=1)
    assert page == {"transitions": [everything[1]], "lastTransitionId": ids[2], "nextAfter": ids[1]}
    bad = site.http.get(f"{ALERTS}/history", params={"limit": "0"})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "limit"


def test_another_sites_rules_and_alerts_are_out_of_reach(
    site: SiteClient, other_site: SiteClient
) -> None:
    alice_in_sales(site)
    made = rule(site, view="RightNow", field="currentQueueLength", comparison=">=", warning=1)
    site.ok_events(*waiting_chat(1, arrived=-20, requested=-10))
    assert len(evaluated_at(site, 0)["alerts"]) == 1
    path = f"{RULES}/{made['id']}"
    replacement = {"name": "x", "view": "RightNow", "field": "ongoingChats", "warning": 1}
    assert other_site.http.get(path).status_code == 404
    assert other_site.http.put(path, json=replacement).status_code == 404
    assert other_site.http.delete(path).status_code == 404
    assert other_site.get(RULES) == []
    assert other_site.get(ALERTS)["alerts"] == []
    assert history(other_site) == []
    assert site.get(path) == made  # untouched
    assert len(site.get(ALERTS)["alerts"]) == 1
    params = {"views": "RightNow", "alerts": "true"}
    with other_site.http.stream("GET", STREAM, params=params, timeout=20) as response:
        reader = SseReader(response.iter_lines())
        assert reader.next_event().event == "RightNow"
        assert reader.next_event().json() == {"alerts": []}
    # B's rule posted with A's department: not a department of B's site
    response = other_site.http.post(RULES, json={**replacement, "departmentId": uid("dept", 1)})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "departmentId", "message": "is not a department of this site"}
    ]
