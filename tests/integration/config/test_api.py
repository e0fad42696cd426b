"""Departments, agents and agent statuses (SPEC.md §5) over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.support import AWAY, OFFLINE, ONLINE, SiteClient, uid

DEPARTMENTS = "/api/v3/departments"
AGENTS = "/api/v3/agents"
STATUSES = "/api/v3/livechat/agentStatuses"
NOW = "2026-11-24T12:00:00.000Z"  # the fixed clock of the tests
D1, D2, D3 = uid("dept", 1), uid("dept", 2), uid("dept", 3)
A1, A2 = uid("agent", 1), uid("agent", 2)
S1, S2 = uid("status", 1), uid("status", 2)
BUILT_INS = [
    {"id": ONLINE, "name": "Online", "type": "online", "isSystem": True, "order": 0},
    {"id": AWAY, "name": "Away", "type": "away", "isSystem": True, "order": 1},
    {"id": OFFLINE, "name": "Offline", "type": "offline", "isSystem": True, "order": 2},
]


def problem(response: httpx.Response, status: int) -> list[dict[str, Any]]:
    """Check the problem-details shape and return its `errors`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "about:blank"
    assert body["status"] == status
    errors: list[dict[str, Any]] = body["errors"]
    return errors


def department_doc(site: SiteClient, department_id: str, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": department_id,
        "siteId": site.site_id,
        "name": name,
        "description": "",
        "isAvailableInLiveChat": True,
        "isAvailableInTicketingAndMessaging": False,
        "isDeleted": False,
        "serviceLevelSeconds": None,  # the site's thresholds (METRICS.md §7)
        "shortAbandonSeconds": None,
        **extra,
    }


def agent_doc(site: SiteClient, agent_id: str, name: str, email: str, **extra: Any) -> Any:
    return {
        "id": agent_id,
        "siteId": site.site_id,
        "displayName": name,
        "email": email,
        "firstName": "",
        "lastName": "",
        "isAdmin": False,
        "isActive": True,
        "phone": "",
        "title": "",
        "bio": "",
        "apiKey": None,
        "createdTime": NOW,
        "isLocked": False,
        "lockedTime": None,
        "isDeleted": False,
        "systemAvatarId": None,
        "ifCustomizeAvatar": False,
        "customizeAvatar": "",
        "avatar": "",
        "departmentIds": [],
        "maxConcurrentChats": 3,
        **extra,
    }


def scoped_client(site: SiteClient, *scopes: str) -> httpx.Client:
    response = site.http.post("/api/v3/tokens", json={"name": "scoped", "scopes": list(scopes)})
    assert response.status_code == 201, response.text
    return site.server.client(response.json()["token"])


# ---------------------------------------------------------------- departments


def test_department_created_with_defaults_and_a_generated_lower_case_id(site: SiteClient) -> None:
    response = site.http.post(DEPARTMENTS, json={"name": "Sales"})
    assert response.status_code == 201
    body = response.json()
    assert body == department_doc(site, body["id"], "Sales")
    assert body["id"] == str(uuid.UUID(body["id"]))
    assert site.get(f"{DEPARTMENTS}/{body['id']}") == body


def test_department_id_given_in_upper_case_is_stored_lower_case(site: SiteClient) -> None:
    response = site.http.post(
        DEPARTMENTS,
        json={
            "id": D1.upper(),
            "name": "Support",
            "description": "Second line",
            "isAvailableInLiveChat": False,
            "isAvailableInTicketingAndMessaging": True,
        },
    )
    expected = department_doc(
        site,
        D1,
        "Support",
        description="Second line",
        isAvailableInLiveChat=False,
        isAvailableInTicketingAndMessaging=True,
    )
    assert response.status_code == 201
    assert response.json() == expected
    assert site.get(f"{DEPARTMENTS}/{D1.upper()}") == expected


def test_departments_listed_by_name_and_deleted_ones_only_on_request(site: SiteClient) -> None:
    site.department(1, "sales")
    site.department(2, "Billing")
    site.department(3, "Returns")
    assert site.http.delete(f"{DEPARTMENTS}/{D3}").status_code == 204
    billing, sales = department_doc(site, D2, "Billing"), department_doc(site, D1, "sales")
    returns = department_doc(site, D3, "Returns", isDeleted=True)
    assert site.get(DEPARTMENTS) == [billing, sales]
    assert site.get(DEPARTMENTS, includeDeleted="true") == [billing, returns, sales]
    assert site.get(DEPARTMENTS, includeDeleted="false") == [billing, sales]


def test_department_put_replaces_the_whole_object(site: SiteClient) -> None:
    site.department(1, "Sales", description="Old", isAvailableInLiveChat=False)
    response = site.http.put(f"{DEPARTMENTS}/{D1}", json={"name": "Sales EU"})
    expected = department_doc(site, D1, "Sales EU")
    assert response.status_code == 200
    assert response.json() == expected
    assert site.get(f"{DEPARTMENTS}/{D1}") == expected


def test_a_get_body_can_be_put_back_unchanged(site: SiteClient) -> None:
    created = site.department(1, "Sales", description="Inbound")
    response = site.http.put(f"{DEPARTMENTS}/{D1}", json=created)
    assert response.status_code == 200
    assert response.json() == created


def test_department_delete_is_soft(site: SiteClient) -> None:
    site.department(1, "Sales")
    response = site.http.delete(f"{DEPARTMENTS}/{D1}")
    assert response.status_code == 204
    assert response.content == b""
    assert site.get(f"{DEPARTMENTS}/{D1}") == department_doc(site, D1, "Sales", isDeleted=True)
    # Deleting again changes nothing and is not an error (DELETE is idempotent).
    assert site.http.delete(f"{DEPARTMENTS}/{D1}").status_code == 204
    assert site.get(DEPARTMENTS, includeDeleted="true") == [
        department_doc(site, D1, "Sales", isDeleted=True)
    ]


def test_unknown_department_is_404_for_get_put_and_delete(site: SiteClient) -> None:
    for response in (
        site.http.get(f"{DEPARTMENTS}/{D9}"),
        site.http.put(f"{DEPARTMENTS}/{D9}", json={"name": "X"}),
        site.http.delete(f"{DEPARTMENTS}/{D9}"),
        site.http.get(f"{DEPARTMENTS}/not-a-uuid"),
    ):
        assert problem(response, 404) == [{"field": "id", "message": "not found"}]
        assert response.json()["detail"] == "department not found"
    assert site.get(DEPARTMENTS, includeDeleted="true") == []


D9 = uid("dept", 9)


def test_duplicate_department_id_is_409(site: SiteClient) -> None:
    site.department(1, "Sales")
    response = site.http.post(DEPARTMENTS, json={"id": D1.upper(), "name": "Other"})
    assert problem(response, 409) == [{"field": "id", "message": f"department {D1} already exists"}]
    assert site.get(DEPARTMENTS) == [department_doc(site, D1, "Sales")]


@pytest.mark.parametrize(("first", "second"), [("Sales", "SALES"), ("Ärzte", "ärzte")])
def test_department_names_are_unique_in_the_site_ignoring_case(
    site: SiteClient, first: str, second: str
) -> None:
    site.department(1, first)
    response = site.http.post(DEPARTMENTS, json={"id": D2, "name": second})
    assert problem(response, 409) == [
        {"field": "name", "message": f"a department named {second!r} already exists"}
    ]
    site.department(3, "Support")
    response = site.http.put(f"{DEPARTMENTS}/{D3}", json={"name": second})
    assert problem(response, 409)[0]["field"] == "name"
    expected = [department_doc(site, D1, first), department_doc(site, D3, "Support")]
    assert site.get(DEPARTMENTS) == sorted(expected, key=lambda d: d["name"].casefold())


def test_a_deleted_departments_name_may_be_used_again(site: SiteClient) -> None:
    site.department(1, "Sales")
    site.http.delete(f"{DEPARTMENTS}/{D1}")
    assert site.department(2, "Sales") == department_doc(site, D2, "Sales")


INVALID_DEPARTMENTS: list[tuple[Any, list[dict[str, Any]]]] = [
    (
        {"name": "Sales", "colour": "red"},
        [{"field": "colour", "message": "is not a known field"}],
    ),
    ({}, [{"field": "name", "message": "is required"}]),
    ({"name": "  "}, [{"field": "name", "message": "must not be empty"}]),
    ({"name": 5}, [{"field": "name", "message": "must be a string"}]),
    ({"name": "S", "id": "nope"}, [{"field": "id", "message": "must be a UUID"}]),
    (
        {"name": "S", "isAvailableInLiveChat": "yes"},
        [{"field": "isAvailableInLiveChat", "message": "must be true or false"}],
    ),
    ([{"name": "S"}], [{"field": "body", "message": "must be a JSON object"}]),
]


def test_invalid_department_body_is_422_naming_the_field(site: SiteClient) -> None:
    for body, errors in INVALID_DEPARTMENTS:
        assert problem(site.http.post(DEPARTMENTS, json=body), 422) == errors, body
    assert site.get(DEPARTMENTS, includeDeleted="true") == []


def test_department_put_with_another_id_in_the_body_is_422(site: SiteClient) -> None:
    site.department(1, "Sales")
    response = site.http.put(f"{DEPARTMENTS}/{D1}", json={"id": D2, "name": "X"})
    assert problem(response, 422) == [{"field": "id", "message": "must match the id in the path"}]
    assert site.get(DEPARTMENTS) == [department_doc(site, D1, "Sales")]


def test_a_site_id_in_the_body_must_be_the_tokens_site(site: SiteClient) -> None:
    other = site.site_id + 1
    response = site.http.post(DEPARTMENTS, json={"id": D1, "name": "Sales", "siteId": other})
    assert problem(response, 422) == [
        {"field": "siteId", "message": "must be the id of this token's site"}
    ]
    response = site.http.post(
        AGENTS, json={"displayName": "A", "email": "a@example.com", "siteId": other}
    )
    assert problem(response, 422)[0]["field"] == "siteId"
    assert site.get(DEPARTMENTS, includeDeleted="true") == []
    assert site.get(AGENTS, includeDeleted="true") == []
    own = site.http.post(DEPARTMENTS, json={"id": D1, "name": "Sales", "siteId": site.site_id})
    assert own.status_code == 201


# ---------------------------------------------------------------- agents


def test_agent_created_with_defaults_and_api_key_always_null(site: SiteClient) -> None:
    response = site.http.post(
        AGENTS,
        json={
            "id": A1.upper(),
            "displayName": "Alice",
            "email": "alice@example.com",
            "apiKey": "k",
        },
    )
    expected = agent_doc(site, A1, "Alice", "alice@example.com")
    assert response.status_code == 201
    assert response.json() == expected
    assert site.get(f"{AGENTS}/{A1}") == expected


def test_agent_created_with_every_field(site: SiteClient) -> None:
    site.department(1, "Sales")
    site.department(2, "Support")
    body = {
        "id": A1,
        "displayName": "Alice",
        "email": "alice@example.com",
        "firstName": "Alice",
        "lastName": "Archer",
        "isAdmin": True,
        "isActive": False,
        "phone": "+1 555 0100",
        "title": "Lead",
        "bio": "Ten years in support",
        "isLocked": True,
        "lockedTime": "2026-11-24T08:30:00.5+01:00",
        "systemAvatarId": 4,
        "ifCustomizeAvatar": True,
        "customizeAvatar": "https://example.com/a.png",
        "avatar": "https://example.com/b.png",
        "departmentIds": [D2.upper(), D1, D2],
        "maxConcurrentChats": 0,
    }
    response = site.http.post(AGENTS, json=body)
    expected = {
        **agent_doc(site, A1, "Alice", "alice@example.com"),
        **body,
        "lockedTime": "2026-11-24T07:30:00.500Z",
        "departmentIds": [D2, D1],
    }
    assert response.status_code == 201
    assert response.json() == expected


def test_agents_listed_by_name_and_deleted_ones_only_on_request(site: SiteClient) -> None:
    site.agent(1, "bob")
    site.agent(2, "Alice")
    assert site.http.delete(f"{AGENTS}/{A1}").status_code == 204
    alice = agent_doc(site, A2, "Alice", "alice2@example.com")
    bob = agent_doc(site, A1, "bob", "bob1@example.com", isDeleted=True)
    assert site.get(AGENTS) == [alice]
    assert site.get(AGENTS, includeDeleted="true") == [alice, bob]
    assert site.get(f"{AGENTS}/{A1}") == bob


def test_agent_put_replaces_the_object_and_keeps_created_time(site: SiteClient) -> None:
    site.department(1, "Sales")
    site.agent(1, "Alice", (1,), capacity=5, title="Lead")
    site.server.clock.advance(3_600_000_000)
    response = site.http.put(
        f"{AGENTS}/{A1}", json={"displayName": "Alice A.", "email": "alice@example.com"}
    )
    expected = agent_doc(site, A1, "Alice A.", "alice@example.com")
    assert response.status_code == 200
    assert response.json() == expected
    assert site.get(f"{AGENTS}/{A1}") == expected


def test_unknown_agent_is_404(site: SiteClient) -> None:
    body = {"displayName": "X", "email": "x@example.com"}
    for response in (
        site.http.get(f"{AGENTS}/{A1}"),
        site.http.put(f"{AGENTS}/{A1}", json=body),
        site.http.delete(f"{AGENTS}/{A1}"),
    ):
        assert problem(response, 404) == [{"field": "id", "message": "not found"}]
        assert response.json()["detail"] == "agent not found"
    assert site.get(AGENTS, includeDeleted="true") == []


def test_duplicate_agent_id_is_409(site: SiteClient) -> None:
    site.agent(1, "Alice")
    response = site.http.post(AGENTS, json={"id": A1, "displayName": "B", "email": "b@example.com"})
    assert problem(response, 409) == [{"field": "id", "message": f"agent {A1} already exists"}]
    assert [a["displayName"] for a in site.get(AGENTS)] == ["Alice"]


def test_agent_email_is_unique_in_the_site_ignoring_case(site: SiteClient) -> None:
    site.agent(1, "Alice")  # alice1@example.com
    response = site.http.post(
        AGENTS, json={"id": A2, "displayName": "Al", "email": "ALICE1@example.com"}
    )
    assert problem(response, 409) == [
        {"field": "email", "message": "an agent with email 'ALICE1@example.com' already exists"}
    ]
    assert [a["id"] for a in site.get(AGENTS, includeDeleted="true")] == [A1]
    site.http.delete(f"{AGENTS}/{A1}")
    again = site.http.post(
        AGENTS, json={"id": A2, "displayName": "Al", "email": "alice1@example.com"}
    )
    assert again.status_code == 201


def test_unknown_or_deleted_department_ids_are_422(site: SiteClient) -> None:
    site.department(1, "Sales")
    site.department(2, "Old")
    site.http.delete(f"{DEPARTMENTS}/{D2}")
    response = site.http.post(
        AGENTS,
        json={
            "id": A1,
            "displayName": "Alice",
            "email": "a@example.com",
            "departmentIds": [D1, D2, D9],
        },
    )
    assert problem(response, 422) == [
        {"field": "departmentIds", "message": f"unknown department {D2}"},
        {"field": "departmentIds", "message": f"unknown department {D9}"},
    ]
    assert site.get(AGENTS, includeDeleted="true") == []


def test_max_concurrent_chats_is_0_to_100(site: SiteClient) -> None:
    for capacity in (-1, 101):
        response = site.http.post(
            AGENTS,
            json={"id": A1, "displayName": "A", "email": "a@x.com", "maxConcurrentChats": capacity},
        )
        assert [e["field"] for e in problem(response, 422)] == ["maxConcurrentChats"]
    assert site.get(AGENTS, includeDeleted="true") == []
    for n, capacity in ((1, 0), (2, 100)):
        assert site.agent(n, "A", capacity=capacity)["maxConcurrentChats"] == capacity


INVALID_AGENTS: list[tuple[Any, list[dict[str, Any]]]] = [
    (
        {"displayName": "A", "email": "a@x.com", "nickname": "Al"},
        [{"field": "nickname", "message": "is not a known field"}],
    ),
    (
        {"email": "a@x.com"},
        [{"field": "displayName", "message": "is required"}],
    ),
    (
        {"displayName": "A", "email": "not an email"},
        [{"field": "email", "message": "must be an email address"}],
    ),
    (
        {"displayName": "A", "email": "a@x.com", "maxConcurrentChats": "3"},
        [{"field": "maxConcurrentChats", "message": "must be an integer"}],
    ),
    (
        {"displayName": "A", "email": "a@x.com", "departmentIds": ["sales"]},
        [{"field": "departmentIds", "message": "'sales' is not a UUID"}],
    ),
    (
        {"displayName": "A", "email": "a@x.com", "lockedTime": "2026-11-24T08:30:00"},
        [{"field": "lockedTime", "message": "must be an ISO 8601 date-time with offset"}],
    ),
]


def test_invalid_agent_body_is_422_naming_the_field(site: SiteClient) -> None:
    for body, errors in INVALID_AGENTS:
        assert problem(site.http.post(AGENTS, json=body), 422) == errors, body
    assert site.get(AGENTS, includeDeleted="true") == []


# ---------------------------------------------------------------- agent statuses


def test_a_new_site_has_the_three_built_in_statuses(site: SiteClient) -> None:
    assert site.get(STATUSES) == BUILT_INS
    assert site.get(f"{STATUSES}/{AWAY}") == BUILT_INS[1]


def test_custom_status_gets_the_next_order_unless_one_is_given(site: SiteClient) -> None:
    lunch = site.http.post(STATUSES, json={"id": S1.upper(), "name": "Lunch", "type": "away"})
    assert lunch.status_code == 201
    assert lunch.json() == {
        "id": S1,
        "name": "Lunch",
        "type": "away",
        "isSystem": False,
        "order": 3,
    }
    meeting = site.http.post(
        STATUSES, json={"id": S2, "name": "Meeting", "type": "away", "order": 10}
    )
    assert meeting.json() == {
        "id": S2,
        "name": "Meeting",
        "type": "away",
        "isSystem": False,
        "order": 10,
    }
    third = site.http.post(STATUSES, json={"name": "Training", "type": "offline"})
    assert third.status_code == 201
    third_id = third.json()["id"]
    assert third.json() == {
        "id": third_id,
        "name": "Training",
        "type": "offline",
        "isSystem": False,
        "order": 11,
    }
    assert site.get(STATUSES) == [*BUILT_INS, lunch.json(), meeting.json(), third.json()]


def test_custom_status_put_and_soft_delete(site: SiteClient) -> None:
    site.http.post(STATUSES, json={"id": S1, "name": "Lunch", "type": "away"})
    response = site.http.put(f"{STATUSES}/{S1}", json={"name": "Break", "type": "offline"})
    changed = {"id": S1, "name": "Break", "type": "offline", "isSystem": False, "order": 3}
    assert response.status_code == 200
    assert response.json() == changed
    assert site.get(f"{STATUSES}/{S1}") == changed
    assert site.http.delete(f"{STATUSES}/{S1}").status_code == 204
    assert site.get(STATUSES) == BUILT_INS
    assert site.get(STATUSES, includeDeleted="true") == [
        *[{**s, "isDeleted": False} for s in BUILT_INS],
        {**changed, "isDeleted": True},
    ]


def test_built_in_statuses_cannot_be_changed_or_deleted(site: SiteClient) -> None:
    for status_id in (ONLINE, AWAY, OFFLINE.upper()):
        check_built_in_is_fixed(site, status_id)
    assert site.get(STATUSES, includeDeleted="true") == [
        {**s, "isDeleted": False} for s in BUILT_INS
    ]


def check_built_in_is_fixed(site: SiteClient, status_id: str) -> None:
    put = site.http.put(f"{STATUSES}/{status_id}", json={"name": "Here", "type": "online"})
    assert problem(put, 409) == [{"field": "id", "message": "built-in statuses cannot be changed"}]
    delete = site.http.delete(f"{STATUSES}/{status_id}")
    assert problem(delete, 409) == [
        {"field": "id", "message": "built-in statuses cannot be deleted"}
    ]
    assert site.get(STATUSES) == BUILT_INS


def test_status_conflicts_and_unknown_ids(site: SiteClient) -> None:
    duplicate = site.http.post(STATUSES, json={"id": AWAY, "name": "Away 2", "type": "away"})
    assert problem(duplicate, 409) == [
        {"field": "id", "message": f"agent status {AWAY} already exists"}
    ]
    for response in (
        site.http.get(f"{STATUSES}/{S1}"),
        site.http.put(f"{STATUSES}/{S1}", json={"name": "X", "type": "away"}),
        site.http.delete(f"{STATUSES}/{S1}"),
    ):
        assert problem(response, 404) == [{"field": "id", "message": "not found"}]
        assert response.json()["detail"] == "agent status not found"
    assert site.get(STATUSES, includeDeleted="true") == [
        {**s, "isDeleted": False} for s in BUILT_INS
    ]


INVALID_STATUSES: list[tuple[Any, list[dict[str, Any]]]] = [
    (
        {"name": "Lunch", "type": "busy"},
        [{"field": "type", "message": "must be online, away or offline"}],
    ),
    ({"name": "Lunch"}, [{"field": "type", "message": "is required"}]),
    (
        {"name": "Lunch", "type": "away", "icon": "x"},
        [{"field": "icon", "message": "is not a known field"}],
    ),
]


def test_invalid_status_body_is_422_naming_the_field(site: SiteClient) -> None:
    for body, errors in INVALID_STATUSES:
        assert problem(site.http.post(STATUSES, json=body), 422) == errors, body
    assert site.get(STATUSES) == BUILT_INS


# ---------------------------------------------------------------- scopes


def test_config_read_scope_reads_and_cannot_write(site: SiteClient) -> None:
    site.department(1, "Sales")
    site.agent(1, "Alice", (1,))
    reader = scoped_client(site, "config.read")
    for path in (DEPARTMENTS, f"{DEPARTMENTS}/{D1}", AGENTS, f"{AGENTS}/{A1}", STATUSES):
        assert reader.get(path).status_code == 200, path
    attempts = [
        reader.post(DEPARTMENTS, json={"id": D2, "name": "Support"}),
        reader.put(f"{DEPARTMENTS}/{D1}", json={"name": "Renamed"}),
        reader.delete(f"{DEPARTMENTS}/{D1}"),
        reader.post(AGENTS, json={"id": A2, "displayName": "Bob", "email": "b@x.com"}),
        reader.put(f"{AGENTS}/{A1}", json={"displayName": "Renamed", "email": "a@x.com"}),
        reader.delete(f"{AGENTS}/{A1}"),
        reader.post(STATUSES, json={"id": S1, "name": "Lunch", "type": "away"}),
        reader.delete(f"{STATUSES}/{S1}"),
    ]
    for response in attempts:
        assert problem(response, 403) == [
            {"field": "scope", "message": "this token lacks the config.write scope"}
        ]
    assert site.get(DEPARTMENTS, includeDeleted="true") == [department_doc(site, D1, "Sales")]
    assert [a["displayName"] for a in site.get(AGENTS, includeDeleted="true")] == ["Alice"]
    assert site.get(STATUSES, includeDeleted="true") == [
        {**s, "isDeleted": False} for s in BUILT_INS
    ]
    reader.close()


def test_config_write_scope_writes_and_cannot_read(site: SiteClient) -> None:
    writer = scoped_client(site, "config.write")
    created = writer.post(DEPARTMENTS, json={"id": D1, "name": "Sales"})
    assert created.status_code == 201
    assert created.json() == department_doc(site, D1, "Sales")
    for path in (DEPARTMENTS, f"{DEPARTMENTS}/{D1}", AGENTS, STATUSES, f"{STATUSES}/{ONLINE}"):
        assert problem(writer.get(path), 403) == [
            {"field": "scope", "message": "this token lacks the config.read scope"}
        ]
    writer.close()
