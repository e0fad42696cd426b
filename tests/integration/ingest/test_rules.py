"""Every event type of SPEC.md §4, accepted and rejected, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import right_now
from tests.support import AWAY, ONLINE, SiteClient, ev, uid

RIGHT_NOW = "/api/v3/livechat/realTime/RightNow"
A1, A2 = uid("agent", 1), uid("agent", 2)
D1 = uid("dept", 1)
C1, C2 = uid("chat", 1), uid("chat", 2)
V1, V2 = uid("visitor", 1), uid("visitor", 2)
I1 = uid("invitation", 1)
BOT = uid("bot", 1)


@pytest.fixture
def setup(site: SiteClient) -> SiteClient:
    site.department(1, "Sales")
    site.agent(1, "Alice", (1,), capacity=2)
    site.agent(2, "Bob", (1,), capacity=2)
    return site


def served_right_now(site: SiteClient) -> dict[str, Any]:
    body: dict[str, Any] = site.get(RIGHT_NOW)
    return body


def counts(site: SiteClient) -> tuple[int, int, int]:
    """(with the bot, waiting, ongoing with an agent)."""
    r = served_right_now(site)
    return r["ongoingChatsWithBot"], r["currentQueueLength"], r["ongoingChatsWithAgent"]


def rejected(site: SiteClient, *events: dict[str, Any]) -> list[dict[str, Any]]:
    """Post, expect 422, and return the error entries."""
    response = site.post_events(*events)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    errors: list[dict[str, Any]] = response.json()["errors"]
    return errors


# ---------------------------------------------------------------- agents and visitors


def test_status_change_of_known_agent_is_accepted(setup: SiteClient) -> None:
    assert (
        setup.ok_events(ev("agent.status_changed", -60, agentId=A1, statusId=ONLINE))["accepted"]
        == 1
    )
    assert served_right_now(setup)["loggedInAgents"] == 1


def test_status_change_needs_known_agent_and_status(setup: SiteClient) -> None:
    errors = rejected(
        setup,
        ev("agent.status_changed", -60, agentId=uid("agent", 9), statusId=ONLINE),
        ev("agent.status_changed", -60, agentId=A1, statusId=uid("status", 9)),
    )
    assert errors == [
        {"index": 0, "field": "data.agentId", "message": f"unknown agent {uid('agent', 9)}"},
        {
            "index": 1,
            "field": "data.statusId",
            "message": f"unknown agent status {uid('status', 9)}",
        },
    ]


def test_status_change_may_not_go_back_in_time(setup: SiteClient) -> None:
    setup.ok_events(ev("agent.status_changed", -60, agentId=A1, statusId=ONLINE))
    errors = rejected(setup, ev("agent.status_changed", -61, agentId=A1, statusId=AWAY))
    assert errors == [
        {"index": 0, "field": "occurredAt", "message": f"earlier than the last event of agent {A1}"}
    ]
    # Another agent's earlier event is fine: entities may interleave.
    setup.ok_events(ev("agent.status_changed", -120, agentId=A2, statusId=AWAY))
    # The same instant is not earlier.
    setup.ok_events(ev("agent.status_changed", -60, agentId=A1, statusId=AWAY))
    assert served_right_now(setup)["loggedInAgents"] == 2


def test_visitor_arrives_and_leaves(setup: SiteClient) -> None:
    setup.ok_events(
        ev("visitor.arrived", -50, visitorId=V1, contactIdentityId=uid("contact", 1)),
        ev("visitor.arrived", -40, visitorId=V2),
        ev("visitor.left", -30, visitorId=V1),
    )
    assert served_right_now(setup)["visitorOnSite"] == 1
    # V1 may come back.
    setup.ok_events(ev("visitor.arrived", -20, visitorId=V1))
    assert served_right_now(setup)["visitorOnSite"] == 2


def test_visitor_cannot_arrive_twice_or_leave_when_away(setup: SiteClient) -> None:
    setup.ok_events(ev("visitor.arrived", -50, visitorId=V1))
    errors = rejected(
        setup,
        ev("visitor.arrived", -40, visitorId=V1),
        ev("visitor.left", -30, visitorId=V2),
    )
    assert errors == [
        {"index": 0, "field": "data.visitorId", "message": f"visitor {V1} is already on site"},
        {"index": 1, "field": "data.visitorId", "message": f"visitor {V2} is not on site"},
    ]


# ---------------------------------------------------------------- invitations


def test_invitation_sent_then_accepted(setup: SiteClient) -> None:
    setup.ok_events(
        ev("invitation.sent", -50, invitationId=I1, visitorId=V1, agentId=A1),
        ev("invitation.accepted", -40, invitationId=I1),
    )
    today = setup.get("/api/v3/livechat/realTime/Today")
    assert today["acceptedInvitations"] == 1


def test_invitation_rules(setup: SiteClient) -> None:
    setup.ok_events(ev("invitation.sent", -50, invitationId=I1, visitorId=V1))
    errors = rejected(
        setup,
        ev("invitation.sent", -45, invitationId=I1, visitorId=V2),
        ev("invitation.accepted", -40, invitationId=uid("invitation", 2)),
        ev("invitation.accepted", -39, invitationId=I1),
        ev("invitation.accepted", -38, invitationId=I1),
    )
    assert errors == [
        {"index": 0, "field": "data.invitationId", "message": f"invitation {I1} already exists"},
        {
            "index": 1,
            "field": "data.invitationId",
            "message": f"unknown invitation {uid('invitation', 2)}",
        },
        {
            "index": 3,
            "field": "data.invitationId",
            "message": f"invitation {I1} was already accepted",
        },
    ]


# ---------------------------------------------------------------- chats


def test_request_with_bot_starts_with_the_bot_and_without_waits(setup: SiteClient) -> None:
    setup.ok_events(
        ev("chat.requested", -50, chatId=C1, visitorId=V1, botId=BOT),
        ev("chat.requested", -40, chatId=C2, visitorId=V2, departmentId=D1),
    )
    assert counts(setup) == (1, 1, 0)


def test_request_rules(setup: SiteClient) -> None:
    setup.ok_events(ev("chat.requested", -50, chatId=C1, visitorId=V1))
    errors = rejected(
        setup,
        ev("chat.requested", -40, chatId=C1, visitorId=V1),
        ev("chat.requested", -40, chatId=C2, visitorId=V2, departmentId=D1, agentId=A1),
        ev("chat.requested", -40, chatId=C2, visitorId=V2, departmentId=uid("dept", 9)),
    )
    assert errors == [
        {"index": 0, "field": "data.chatId", "message": f"chat {C1} already exists"},
        {
            "index": 1,
            "field": "data.agentId",
            "message": "cannot be given together with departmentId",
        },
        {
            "index": 2,
            "field": "data.departmentId",
            "message": f"unknown department {uid('dept', 9)}",
        },
    ]


def test_queued_hands_off_from_bot_and_reroutes_a_waiting_chat(setup: SiteClient) -> None:
    setup.ok_events(
        ev("chat.requested", -50, chatId=C1, visitorId=V1, botId=BOT),
        ev("chat.queued", -40, chatId=C1, departmentId=D1),
        ev("chat.queued", -30, chatId=C1, agentId=A1),
    )
    assert counts(setup) == (0, 1, 0)
    queue = setup.get("/api/v3/livechat/realTime/Queue")
    # The wait moved to Alice's row, keeping its start (T-40).
    assert [(r["routeToDepartmentId"], r["routeToAgentId"], r["visitors"]) for r in queue] == [
        (D1, None, []),
        (None, A1, [{"visitorId": V1, "contactIdentityId": None, "waitTime": 40}]),
    ]


def test_queued_needs_a_chat_with_the_bot_or_waiting(setup: SiteClient) -> None:
    setup.ok_events(
        ev("chat.requested", -50, chatId=C1, visitorId=V1),
        ev("chat.accepted", -40, chatId=C1, agentId=A1),
    )
    errors = rejected(setup, ev("chat.queued", -30, chatId=C1, departmentId=D1))
    assert errors == [
        {
            "index": 0,
            "field": "type",
            "message": f"chat.queued needs a chat with the bot or waiting; chat {C1} is ongoing",
        }
    ]


def test_accept_needs_a_waiting_chat_and_a_known_agent(setup: SiteClient) -> None:
    setup.ok_events(ev("chat.requested", -50, chatId=C1, visitorId=V1, botId=BOT))
    errors = rejected(
        setup,
        ev("chat.accepted", -40, chatId=C1, agentId=A1),
        ev("chat.accepted", -40, chatId=C2, agentId=A1),
    )
    assert errors == [
        {
            "index": 0,
            "field": "type",
            "message": f"chat.accepted needs a chat waiting; chat {C1} is with the bot",
        },
        {"index": 1, "field": "data.chatId", "message": f"unknown chat {C2}"},
    ]
    setup.ok_events(ev("chat.queued", -30, chatId=C1))
    errors = rejected(setup, ev("chat.accepted", -20, chatId=C1, agentId=uid("agent", 9)))
    assert errors == [
        {"index": 0, "field": "data.agentId", "message": f"unknown agent {uid('agent', 9)}"}
    ]
    setup.ok_events(ev("chat.accepted", -20, chatId=C1, agentId=A1))
    assert counts(setup) == (0, 0, 1)


def test_missed_leaves_the_chat_waiting(setup: SiteClient) -> None:
    setup.ok_events(
        ev("chat.requested", -50, chatId=C1, visitorId=V1, departmentId=D1),
        ev("chat.missed", -40, chatId=C1, agentId=A1),
    )
    assert counts(setup) == (0, 1, 0)
    setup.ok_events(ev("chat.accepted", -30, chatId=C1, agentId=A2))
    errors = rejected(setup, ev("chat.missed", -20, chatId=C1, agentId=A1))
    assert errors[0]["message"] == f"chat.missed needs a chat waiting; chat {C1} is ongoing"


def test_transfer_to_agent_and_to_department(setup: SiteClient) -> None:
    setup.ok_events(
        ev("agent.status_changed", -100, agentId=A1, statusId=ONLINE),
        ev("agent.status_changed", -100, agentId=A2, statusId=ONLINE),
        ev("chat.requested", -50, chatId=C1, visitorId=V1, departmentId=D1),
        ev("chat.accepted", -40, chatId=C1, agentId=A1),
        ev("chat.transferred", -30, chatId=C1, toAgentId=A2),
    )
    page = setup.get("/api/v3/livechat/realTime/Agents")
    assert [(a["agentId"], a["onGoingChats"]) for a in page["list"]] == [(A2, 1), (A1, 0)]
    setup.ok_events(ev("chat.transferred", -20, chatId=C1, toDepartmentId=D1))
    assert counts(setup) == (0, 1, 0)


def test_transfer_rules(setup: SiteClient) -> None:
    setup.ok_events(ev("chat.requested", -50, chatId=C1, visitorId=V1, departmentId=D1))
    errors = rejected(setup, ev("chat.transferred", -40, chatId=C1, toAgentId=A1))
    assert errors[0]["message"] == f"chat.transferred needs a chat ongoing; chat {C1} is waiting"
    setup.ok_events(ev("chat.accepted", -40, chatId=C1, agentId=A1))
    errors = rejected(
        setup,
        ev("chat.transferred", -30, chatId=C1, toAgentId=A2, toDepartmentId=D1),
        ev("chat.transferred", -30, chatId=C1),
        ev("chat.transferred", -30, chatId=C1, toAgentId=A1),
    )
    assert errors == [
        {
            "index": 0,
            "field": "data.toAgentId",
            "message": "exactly one of toAgentId and toDepartmentId is required",
        },
        {
            "index": 1,
            "field": "data.toAgentId",
            "message": "exactly one of toAgentId and toDepartmentId is required",
        },
        {"index": 2, "field": "data.toAgentId", "message": f"chat {C1} is already with this agent"},
    ]


def test_messages_while_waiting_are_valid_and_make_no_response(setup: SiteClient) -> None:
    """Visitors write while they wait (METRICS.md §1); such messages are no part of a response
    (§3): the response below runs from the visitor's message at −29, not from those at −44."""
    setup.ok_events(
        ev("chat.requested", -50, chatId=C1, visitorId=V1, botId=BOT),
        ev("chat.message", -49, chatId=C1, sender="visitor"),
        ev("chat.message", -48, chatId=C1, sender="bot"),
        ev("chat.queued", -45, chatId=C1, departmentId=D1),
    )
    before = setup.get("/api/v3/livechat/realTime/RightNow")
    assert (before["currentQueueLength"], before["ongoingChatsWithBot"]) == (1, 0)
    errors = rejected(
        setup,
        ev("chat.message", -44, chatId=C1, sender="visitor"),
        ev("chat.message", -40, chatId=C1, sender="robot"),
    )
    assert errors == [
        {"index": 1, "field": "data.sender", "message": "must be one of visitor, agent, bot"}
    ]
    assert setup.ok_events(
        ev("chat.message", -44, chatId=C1, sender="visitor"),
        ev("chat.message", -43, chatId=C1, sender="bot"),
        ev("chat.message", -42, chatId=C1, sender="agent"),
    ) == {"accepted": 3, "duplicates": 0, "lastSequence": 7}
    assert setup.get("/api/v3/livechat/realTime/RightNow") == before
    setup.ok_events(
        ev("chat.accepted", -30, chatId=C1, agentId=A1),
        ev("chat.message", -29, chatId=C1, sender="visitor"),
        ev("chat.message", -25, chatId=C1, sender="agent"),
    )
    assert setup.get("/api/v3/livechat/realTime/Today")["agentAvgResponseTime"] == 4.0


def test_end_from_bot_or_ongoing_only(setup: SiteClient) -> None:
    setup.ok_events(
        ev("chat.requested", -50, chatId=C1, visitorId=V1, botId=BOT),
        ev("chat.ended", -45, chatId=C1),
        ev("chat.requested", -40, chatId=C2, visitorId=V2, departmentId=D1),
    )
    errors = rejected(setup, ev("chat.ended", -30, chatId=C2), ev("chat.ended", -30, chatId=C1))
    assert [e["message"] for e in errors] == [
        f"chat.ended needs a chat with the bot or ongoing; chat {C2} is waiting",
        f"chat.ended needs a chat with the bot or ongoing; chat {C1} is ended",
    ]
    setup.ok_events(
        ev("chat.accepted", -30, chatId=C2, agentId=A1), ev("chat.ended", -20, chatId=C2)
    )
    assert counts(setup) == (0, 0, 0)


@pytest.mark.parametrize("kind", ["chat.abandoned", "chat.switched_to_message"])
def test_leaving_the_queue_needs_a_waiting_chat(setup: SiteClient, kind: str) -> None:
    setup.ok_events(
        ev("chat.requested", -50, chatId=C1, visitorId=V1, departmentId=D1),
        ev("chat.requested", -50, chatId=C2, visitorId=V2, departmentId=D1),
        ev("chat.accepted", -40, chatId=C2, agentId=A1),
        ev(kind, -30, chatId=C1),
    )
    assert counts(setup) == (0, 0, 1)
    errors = rejected(setup, ev(kind, -20, chatId=C2), ev(kind, -20, chatId=C1))
    final = "abandoned" if kind == "chat.abandoned" else "switched to a message"
    assert [e["message"] for e in errors] == [
        f"{kind} needs a chat waiting; chat {C2} is ongoing",
        f"{kind} needs a chat waiting; chat {C1} is {final}",
    ]


def test_rating_needs_an_accepted_chat_and_a_score_of_1_to_5(setup: SiteClient) -> None:
    setup.ok_events(
        ev("chat.requested", -50, chatId=C1, visitorId=V1, departmentId=D1),
        ev("chat.requested", -50, chatId=C2, visitorId=V2, departmentId=D1),
        ev("chat.abandoned", -45, chatId=C2),
    )
    errors = rejected(setup, ev("chat.rated", -40, chatId=C1, score=5))
    assert (
        errors[0]["message"] == f"chat.rated needs a chat accepted by an agent; chat {C1} was not"
    )
    for bad in (0, 6, "5", True, 4.5):
        errors = rejected(setup, ev("chat.rated", -40, chatId=C1, score=bad))
        assert errors == [
            {"index": 0, "field": "data.score", "message": "must be an integer from 1 to 5"}
        ]
    setup.ok_events(
        ev("chat.accepted", -40, chatId=C1, agentId=A1),
        ev("chat.rated", -35, chatId=C1, score=2),  # while ongoing
        ev("chat.ended", -30, chatId=C1),
        ev("chat.rated", -20, chatId=C1, score=5),  # a later rating replaces the earlier
    )
    assert setup.get("/api/v3/livechat/realTime/Today")["avgScore"] == 5.0


# ---------------------------------------------------------------- envelopes and bodies


def test_envelope_problems_name_each_field(setup: SiteClient) -> None:
    good = ev("visitor.arrived", -10, visitorId=V1)
    errors = rejected(
        setup,
        {k: v for k, v in good.items() if k != "id"},
        {**good, "id": "not-a-uuid"},
        {**good, "occurredAt": "2026-11-24T11:59:00"},
        {**good, "occurredAt": "2026-11-24T12:01:01Z"},
        {**good, "type": "chat.exploded"},
        {**good, "data": {"visitorId": V1, "colour": "red"}},
        {**good, "extra": 1},
        {**good, "data": []},
        "not an object",
    )
    assert [(e["index"], e["field"]) for e in errors] == [
        (0, "id"),
        (1, "id"),
        (2, "occurredAt"),
        (3, "occurredAt"),
        (4, "type"),
        (5, "data.colour"),
        (6, "extra"),
        (7, "data"),
        (8, "event"),
    ]
    assert errors[2]["message"] == "must have a UTC offset or Z (e.g. 2026-11-24T09:30:00Z)"
    assert errors[3]["message"] == "is more than 60 s in the future"
    assert served_right_now(setup)["visitorOnSite"] == 0


def test_sixty_seconds_ahead_is_still_accepted(setup: SiteClient) -> None:
    setup.ok_events(ev("visitor.arrived", 60, visitorId=V1))
    assert served_right_now(setup)["visitorOnSite"] == 1


def test_offsets_are_honoured_and_ids_lower_cased(setup: SiteClient) -> None:
    event = {
        "id": "ABCDEF00-0000-4000-8000-000000000001",
        "type": "visitor.arrived",
        "occurredAt": "2026-11-24T13:30:00.123456+01:30",
        "data": {"visitorId": V1.upper()},
    }
    setup.ok_events(event)
    log = setup.get("/api/v3/livechat/events")
    assert log["events"][0]["id"] == "abcdef00-0000-4000-8000-000000000001"
    assert log["events"][0]["occurredAt"] == "2026-11-24T12:00:00.123456Z"
    assert log["events"][0]["data"] == {"visitorId": V1}


def test_a_batch_is_atomic(setup: SiteClient) -> None:
    errors = rejected(
        setup,
        ev("visitor.arrived", -30, visitorId=V1),
        ev("chat.requested", -20, chatId=C1, visitorId=V1, departmentId=D1),
        ev("chat.accepted", -10, chatId=C2, agentId=A1),
    )
    assert [e["index"] for e in errors] == [2]
    assert served_right_now(setup) == right_now()
    assert setup.get("/api/v3/livechat/events")["events"] == []


def test_later_events_are_checked_against_state_left_by_earlier_ones(setup: SiteClient) -> None:
    body = setup.ok_events(
        ev("chat.requested", -30, chatId=C1, visitorId=V1, departmentId=D1),
        ev("chat.accepted", -20, chatId=C1, agentId=A1),
        ev("chat.ended", -10, chatId=C1),
    )
    assert body == {"accepted": 3, "duplicates": 0, "lastSequence": 3}


def test_idempotency_duplicates_and_conflicts(setup: SiteClient) -> None:
    first = ev("visitor.arrived", -30, uid("event", 1), visitorId=V1)
    second = ev("visitor.arrived", -20, uid("event", 2), visitorId=V2)
    assert setup.ok_events(first, second) == {"accepted": 2, "duplicates": 0, "lastSequence": 2}
    # Same id, same content (offset spelled differently): a duplicate, skipped.
    same_instant = {**first, "occurredAt": "2026-11-24T12:59:30+01:00"}
    third = ev("visitor.left", -10, uid("event", 3), visitorId=V1)
    assert setup.ok_events(same_instant, third) == {
        "accepted": 1,
        "duplicates": 1,
        "lastSequence": 3,
    }
    # Same id, other content: 409 for the whole batch, nothing stored.
    fourth = ev("visitor.left", -5, uid("event", 4), visitorId=V2)
    response = setup.post_events(fourth, {**second, "occurredAt": "2026-11-24T11:59:41Z"})
    assert response.status_code == 409
    assert response.json()["errors"] == [
        {
            "index": 1,
            "field": "id",
            "message": f"event {uid('event', 2)} was already stored with other content",
        }
    ]
    assert served_right_now(setup)["visitorOnSite"] == 1
    # Within one batch: the same event twice is one event and one duplicate.
    assert setup.ok_events(fourth, fourth) == {"accepted": 1, "duplicates": 1, "lastSequence": 4}


def test_repeated_id_with_other_content_in_one_batch_is_a_conflict(setup: SiteClient) -> None:
    a = ev("visitor.arrived", -30, uid("event", 1), visitorId=V1)
    b = ev("visitor.arrived", -30, uid("event", 1), visitorId=V2)
    response = setup.post_events(a, b)
    assert response.status_code == 409
    assert response.json()["errors"][0]["index"] == 1


def test_ndjson_single_object_and_empty_batch(setup: SiteClient) -> None:
    import orjson

    lines = b"\n".join(
        orjson.dumps(e)
        for e in (
            ev("visitor.arrived", -30, visitorId=V1),
            ev("visitor.arrived", -20, visitorId=V2),
        )
    )
    response = setup.http.post(
        "/api/v3/livechat/events",
        content=lines + b"\n\n",
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert response.json() == {"accepted": 2, "duplicates": 0, "lastSequence": 2}
    response = setup.http.post(
        "/api/v3/livechat/events", json=ev("visitor.left", -10, visitorId=V1)
    )
    assert response.json() == {"accepted": 1, "duplicates": 0, "lastSequence": 3}
    assert setup.ok_events() == {"accepted": 0, "duplicates": 0, "lastSequence": 3}


def test_body_limits_and_content_types(setup: SiteClient) -> None:
    url = "/api/v3/livechat/events"
    response = setup.http.post(url, content=b"[]", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    response = setup.http.post(url, content=b"[{", headers={"Content-Type": "application/json"})
    assert (response.status_code, response.json()["errors"][0]["field"]) == (400, "body")
    response = setup.http.post(
        url, content=b"{}\n{oops", headers={"Content-Type": "application/x-ndjson"}
    )
    assert (response.status_code, response.json()["detail"]) == (400, "line 2 is not valid JSON")
    many = [ev("visitor.arrived", -10, visitorId=uid("visitor", n)) for n in range(1001)]
    response = setup.http.post(url, json=many)
    assert (response.status_code, response.json()["detail"]) == (
        413,
        "at most 1000 events per request",
    )
    huge = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    response = setup.http.post(url, content=huge, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    response = setup.http.post(url, json=42)
    assert response.status_code == 422
    assert setup.get("/api/v3/livechat/events")["events"] == []


def test_event_log_pages_in_order(setup: SiteClient) -> None:
    events = [ev("visitor.arrived", -50 + n, visitorId=uid("visitor", n)) for n in range(5)]
    setup.ok_events(*events)
    page = setup.get("/api/v3/livechat/events", after=1, limit=2)
    assert [e["sequence"] for e in page["events"]] == [2, 3]
    assert [e["id"] for e in page["events"]] == [events[1]["id"], events[2]["id"]]
    assert (page["lastSequence"], page["nextAfter"]) == (5, 3)
    assert page["events"][0] == {
        "sequence": 2,
        "id": events[1]["id"],
        "type": "visitor.arrived",
        "occurredAt": "2026-11-24T11:59:11.000Z",
        "recordedAt": "2026-11-24T12:00:00.000Z",
        "data": {"visitorId": uid("visitor", 1)},
    }
    response = setup.http.get("/api/v3/livechat/events", params={"limit": 0})
    assert (response.status_code, response.json()["errors"][0]["field"]) == (400, "limit")
