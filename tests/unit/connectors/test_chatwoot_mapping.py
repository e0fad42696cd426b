"""Chatwoot webhooks -> facts: every row of the mapping table (docs/connectors.md), on the
payloads Chatwoot sends (tests/fixtures/connectors/chatwoot), with the whole Delivery compared;
the signature; the API's answers."""

from __future__ import annotations

import copy
import datetime as dt
import hmac
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chatpulse.connectors import chatwoot
from chatpulse.connectors.chatwoot import map_delivery
from chatpulse.connectors.model import (
    RECEIVED_AT_HEADER,
    AgentInfo,
    ConnectorSettings,
    Delivery,
    Fact,
    PayloadError,
    TeamInfo,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "connectors" / "chatwoot"
RECEIVED = "2026-11-24T10:50:00.250000+00:00"
ALICE = AgentInfo("1", "Alice Martin")
BRUNO = AgentInfo("2", "Bruno Diaz")
CHEN = AgentInfo("3", "Chen Wei")
SALES = TeamInfo("1", "sales")
SUPPORT = TeamInfo("2", "support")


def fixture(name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / f"{name}.json").read_text()))


def body(name: str) -> Any:
    return fixture(name)["body"]


def delivery_id(name: str) -> str:
    return str(fixture(name)["headers"]["x-chatwoot-delivery"])


def headers(name: str, received: str = RECEIVED) -> dict[str, str]:
    """The delivery's headers, and the time the connector service received it."""
    return {**fixture(name)["headers"], RECEIVED_AT_HEADER: received}


def mapped(name: str, received: str = RECEIVED) -> Delivery:
    return map_delivery(body(name), headers(name, received))


def changed(name: str, change: Callable[[dict[str, Any]], object]) -> Delivery:
    """The fixture's delivery after `change` edits a copy of its body."""
    edited = copy.deepcopy(body(name))
    change(edited)
    return map_delivery(edited, headers(name))


def t(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def conv(
    chat: str, key: str, kind: str, at: str, visitor: str, team: str | None, **data: Any
) -> Fact:
    """A fact of conversation `chat`, which Chatwoot says is the contact's and the team's."""
    return Fact(
        f"conversation:{chat}:{key}",
        kind,
        t(at),
        {"chatId": chat, **data},
        visitor=visitor,
        department=team,
    )


def msg(chat: str, message: int, at: str, sender: str, visitor: str, team: str | None) -> Fact:
    return Fact(
        f"message:{message}",
        "chat.message",
        t(at),
        {"chatId": chat, "sender": sender},
        visitor=visitor,
        department=team,
    )


# --- (a) created unassigned in a team, answered, resolved, rated ---------------------------------


def test_conversation_created_unassigned_is_requested_in_its_team() -> None:
    assert mapped("a1_conversation_created") == Delivery(
        facts=(
            conv(
                "101",
                "created",
                "chat.requested",
                "2026-11-24T10:00:00+00:00",
                "11",
                "1",
                visitorId="11",
                departmentId="1",
            ),
        ),
        teams=(SALES,),
        delivery_id=delivery_id("a1_conversation_created"),
    )


def test_incoming_message_is_the_visitors_at_its_own_time() -> None:
    assert mapped("a2_message_created_visitor") == Delivery(
        facts=(msg("101", 5001, "2026-11-24T10:00:04+00:00", "visitor", "11", "1"),),
        teams=(SALES,),
        delivery_id=delivery_id("a2_message_created_visitor"),
    )


def test_assignee_set_is_an_acceptance_when_the_conversation_was_updated() -> None:
    assert mapped("a3_conversation_updated_assigned") == Delivery(
        facts=(
            conv(
                "101",
                "assignee:1:1795514412500",
                "chat.accepted",
                "2026-11-24T10:00:12.500+00:00",
                "11",
                "1",
                agentId="1",
            ),
        ),
        agents=(ALICE,),
        teams=(SALES,),
        delivery_id=delivery_id("a3_conversation_updated_assigned"),
    )


def test_outgoing_message_of_a_user_is_the_agents() -> None:
    assert mapped("a4_message_created_agent") == Delivery(
        facts=(msg("101", 5002, "2026-11-24T10:00:20+00:00", "agent", "11", "1"),),
        agents=(ALICE,),
        teams=(SALES,),
        delivery_id=delivery_id("a4_message_created_agent"),
    )
    assert mapped("a5_message_created_visitor") == Delivery(
        facts=(msg("101", 5003, "2026-11-24T10:01:05+00:00", "visitor", "11", "1"),),
        agents=(ALICE,),
        teams=(SALES,),
        delivery_id=delivery_id("a5_message_created_visitor"),
    )


def test_resolved_conversation_ends_when_it_was_updated() -> None:
    assert mapped("a6_conversation_status_changed_resolved") == Delivery(
        facts=(
            conv(
                "101",
                "resolved:1795514712500",
                "chat.ended",
                "2026-11-24T10:05:12.500+00:00",
                "11",
                "1",
            ),
        ),
        agents=(ALICE,),
        teams=(SALES,),
        delivery_id=delivery_id("a6_conversation_status_changed_resolved"),
    )


def test_csat_rating_is_the_chats_score_when_received() -> None:
    assert mapped("a7_message_updated_csat_rating") == Delivery(
        facts=(
            conv(
                "101",
                "csat:5004:4",
                "chat.rated",
                RECEIVED,
                "11",
                "1",
                score=4,
            ),
        ),
        delivery_id=delivery_id("a7_message_updated_csat_rating"),
    )


def test_lifecycle_a_in_order() -> None:
    names = sorted(p.stem for p in FIXTURES.glob("a*.json") if not p.stem.startswith("api"))
    facts = [fact for name in names for fact in mapped(name).facts]
    assert [(f.type, dict(f.data)) for f in facts] == [
        ("chat.requested", {"chatId": "101", "visitorId": "11", "departmentId": "1"}),
        ("chat.message", {"chatId": "101", "sender": "visitor"}),
        ("chat.accepted", {"chatId": "101", "agentId": "1"}),
        ("chat.message", {"chatId": "101", "sender": "agent"}),
        ("chat.message", {"chatId": "101", "sender": "visitor"}),
        ("chat.ended", {"chatId": "101"}),
        ("chat.rated", {"chatId": "101", "score": 4}),
    ]


def test_a_rating_without_a_time_of_receipt_is_dated_by_its_message() -> None:
    payload = body("a7_message_updated_csat_rating")
    delivery = map_delivery(payload, {})
    assert [f.occurred_at for f in delivery.facts] == [t("2026-11-24T10:05:13+00:00")]


def test_message_updates_that_are_no_rating() -> None:
    def feedback_pending(b: dict[str, Any]) -> None:
        b["content_attributes"] = {}

    def a_text(b: dict[str, Any]) -> None:
        b["content_type"] = "text"

    why = "a message update that is no rating"
    name = "a7_message_updated_csat_rating"
    assert changed(name, feedback_pending) == Delivery(ignored=why, delivery_id=delivery_id(name))
    assert changed(name, a_text) == Delivery(ignored=why, delivery_id=delivery_id(name))


# --- (b) abandoned, (c) transferred, (d) re-routed, (e) with the bot -----------------------------


def test_resolved_before_anyone_was_assigned_is_an_end_the_service_makes_an_abandonment() -> None:
    assert mapped("b1_conversation_created").facts == (
        conv(
            "102",
            "created",
            "chat.requested",
            "2026-11-24T10:10:00+00:00",
            "12",
            "2",
            visitorId="12",
            departmentId="2",
        ),
    )
    assert mapped("b2_conversation_status_changed_resolved") == Delivery(
        facts=(
            conv(
                "102",
                "resolved:1795515150000",
                "chat.ended",
                "2026-11-24T10:12:30+00:00",
                "12",
                "2",
            ),
        ),
        teams=(SUPPORT,),
        delivery_id=delivery_id("b2_conversation_status_changed_resolved"),
    )


def test_reassignment_is_an_acceptance_by_the_new_agent_the_service_makes_a_transfer() -> None:
    assert mapped("c2_conversation_updated_assigned_alice").facts == (
        conv(
            "103",
            "assignee:1:1795515608000",
            "chat.accepted",
            "2026-11-24T10:20:08+00:00",
            "13",
            "1",
            agentId="1",
        ),
    )
    assert mapped("c4_conversation_updated_reassigned_bruno") == Delivery(
        facts=(
            conv(
                "103",
                "assignee:2:1795515660250",
                "chat.accepted",
                "2026-11-24T10:21:00.250+00:00",
                "13",
                "1",
                agentId="2",
            ),
        ),
        agents=(BRUNO,),
        teams=(SALES,),
        delivery_id=delivery_id("c4_conversation_updated_reassigned_bruno"),
    )
    assert mapped("c5_message_created_agent").facts == (
        msg("103", 5012, "2026-11-24T10:21:10+00:00", "agent", "13", "1"),
    )


def test_team_changed_while_unassigned_re_routes_the_wait() -> None:
    assert mapped("d2_conversation_updated_team") == Delivery(
        facts=(
            conv(
                "104",
                "team:2:1795516245000",
                "chat.queued",
                "2026-11-24T10:30:45+00:00",
                "14",
                "2",
                departmentId="2",
            ),
        ),
        teams=(SUPPORT,),
        delivery_id=delivery_id("d2_conversation_updated_team"),
    )


def test_pending_conversation_starts_with_the_inboxs_bot_then_is_handed_over() -> None:
    assert mapped("e1_conversation_created_pending") == Delivery(
        facts=(
            conv(
                "105",
                "created",
                "chat.requested",
                "2026-11-24T10:40:00+00:00",
                "15",
                None,
                visitorId="15",
                botId="inbox-1-bot",
            ),
        ),
        delivery_id=delivery_id("e1_conversation_created_pending"),
    )
    assert mapped("e2_message_created_bot") == Delivery(
        facts=(msg("105", 5021, "2026-11-24T10:40:01+00:00", "bot", "15", None),),
        delivery_id=delivery_id("e2_message_created_bot"),
    )
    assert mapped("e3_conversation_status_changed_open") == Delivery(
        facts=(
            conv(
                "105",
                "open:1795516860000",
                "chat.queued",
                "2026-11-24T10:41:00+00:00",
                "15",
                None,
                departmentId=None,
            ),
        ),
        delivery_id=delivery_id("e3_conversation_status_changed_open"),
    )
    assert mapped("e4_conversation_updated_assigned") == Delivery(
        facts=(
            conv(
                "105",
                "assignee:3:1795516880000",
                "chat.accepted",
                "2026-11-24T10:41:20+00:00",
                "15",
                None,
                agentId="3",
            ),
        ),
        agents=(CHEN,),
        delivery_id=delivery_id("e4_conversation_updated_assigned"),
    )


# --- the other rows of the table, on edited fixtures --------------------------------------------


def _assign(user: int, name: str) -> Callable[[dict[str, Any]], None]:
    def change(b: dict[str, Any]) -> None:
        b["meta"]["assignee"] = {
            "id": user,
            "name": name,
            "available_name": name,
            "avatar_url": "",
            "type": "user",
            "availability_status": "online",
            "thumbnail": "",
        }
        b["meta"]["assignee_type"] = "User"

    return change


def _to_bot(b: dict[str, Any]) -> None:
    b["meta"]["assignee"] = {
        "id": 1,
        "name": "Shop assistant",
        "avatar_url": "",
        "type": "agent_bot",
    }
    b["meta"]["assignee_type"] = "AgentBot"


def test_created_already_assigned_is_requested_and_accepted_at_once() -> None:
    assert changed("a1_conversation_created", _assign(2, "Bruno Diaz")) == Delivery(
        facts=(
            conv(
                "101",
                "created",
                "chat.requested",
                "2026-11-24T10:00:00+00:00",
                "11",
                "1",
                visitorId="11",
                departmentId="1",
            ),
            conv(
                "101",
                "assignee:2:1795514400",
                "chat.accepted",
                "2026-11-24T10:00:00+00:00",
                "11",
                "1",
                agentId="2",
            ),
        ),
        agents=(BRUNO,),
        teams=(SALES,),
        delivery_id=delivery_id("a1_conversation_created"),
    )


def test_an_agent_bot_as_assignee_is_no_agent() -> None:
    """Chatwoot's `meta.assignee` is the assigned entity: an agent bot (`assignee_type`
    AgentBot) takes no chat and is no ChatPulse agent."""
    assert changed("a1_conversation_created", _to_bot) == mapped("a1_conversation_created")

    def handed_to_bot(b: dict[str, Any]) -> None:
        _to_bot(b)
        b["changed_attributes"] = [
            {"status": {"previous_value": "pending", "current_value": "open"}}
        ]

    assert changed("e3_conversation_status_changed_open", handed_to_bot) == mapped(
        "e3_conversation_status_changed_open"
    )


def test_created_resolved_never_waited() -> None:
    def blocked_contact(b: dict[str, Any]) -> None:
        b["status"] = "resolved"

    assert changed("b1_conversation_created", blocked_contact) == Delivery(
        ignored="a conversation created resolved: it never waited for anyone",
        delivery_id=delivery_id("b1_conversation_created"),
    )


def test_handed_over_straight_to_an_agent_is_queued_and_accepted() -> None:
    assert changed("e3_conversation_status_changed_open", _assign(3, "Chen Wei")) == Delivery(
        facts=(
            conv(
                "105",
                "open:1795516860000",
                "chat.queued",
                "2026-11-24T10:41:00+00:00",
                "15",
                None,
                departmentId=None,
            ),
            conv(
                "105",
                "assignee:3:1795516860000",
                "chat.accepted",
                "2026-11-24T10:41:00+00:00",
                "15",
                None,
                agentId="3",
            ),
        ),
        agents=(CHEN,),
        delivery_id=delivery_id("e3_conversation_status_changed_open"),
    )


def test_a_hand_off_without_changed_attributes_as_older_versions_send_it() -> None:
    def older(b: dict[str, Any]) -> None:
        del b["changed_attributes"]

    assert changed("e3_conversation_status_changed_open", older) == mapped(
        "e3_conversation_status_changed_open"
    )


@pytest.mark.parametrize("before", ["snoozed", "resolved"])
def test_opened_again_is_no_hand_off(before: str) -> None:
    """Snoozed -> open changes nothing; resolved -> open reopens an ended chat, which a
    ChatPulse chat cannot."""

    def reopened(b: dict[str, Any]) -> None:
        b["changed_attributes"] = [{"status": {"previous_value": before, "current_value": "open"}}]

    assert changed("e3_conversation_status_changed_open", reopened) == Delivery(
        ignored=f"{before} -> open: not a hand-off from the bot",
        delivery_id=delivery_id("e3_conversation_status_changed_open"),
    )


@pytest.mark.parametrize("status", ["snoozed", "pending"])
def test_other_statuses_change_no_state(status: str) -> None:
    def to(b: dict[str, Any]) -> None:
        b["status"] = status

    assert changed("a6_conversation_status_changed_resolved", to) == Delivery(
        ignored=f"status {status}: no change of a chat's state in ChatPulse",
        delivery_id=delivery_id("a6_conversation_status_changed_resolved"),
    )


def test_unassigned_into_another_team_is_a_transfer_to_that_department() -> None:
    def unassigned_to_support(b: dict[str, Any]) -> None:
        b["meta"]["assignee"] = None
        b["meta"]["assignee_type"] = None
        b["meta"]["team"] = {"id": 2, "name": "support"}
        b["changed_attributes"] = [
            {"assignee_id": {"previous_value": 2, "current_value": None}},
            {"team_id": {"previous_value": 1, "current_value": 2}},
        ]

    assert changed("c4_conversation_updated_reassigned_bruno", unassigned_to_support) == Delivery(
        facts=(
            conv(
                "103",
                "team:2:1795515660250",
                "chat.transferred",
                "2026-11-24T10:21:00.250+00:00",
                "13",
                "2",
                toDepartmentId="2",
            ),
        ),
        teams=(SUPPORT,),
        delivery_id=delivery_id("c4_conversation_updated_reassigned_bruno"),
    )


@pytest.mark.parametrize(
    "changes",
    [
        [{"assignee_id": {"previous_value": 2, "current_value": None}}],
        [{"team_id": {"previous_value": 1, "current_value": 2}}],
        [{"team_id": {"previous_value": 1, "current_value": None}}],
        [{"priority": {"previous_value": None, "current_value": "high"}}],
        None,
    ],
)
def test_updates_that_change_no_chat(changes: list[dict[str, Any]] | None) -> None:
    """An agent unassigned without a new team (the chat stays with nobody ChatPulse could
    name), a team changed under an assignee, another attribute."""

    def update(b: dict[str, Any]) -> None:
        b["changed_attributes"] = changes

    name = "c4_conversation_updated_reassigned_bruno"
    assert changed(name, update) == Delivery(
        ignored="no change of assignee or of an unassigned conversation's team",
        delivery_id=delivery_id(name),
    )
    assert mapped("conversation_updated_status_only") == Delivery(
        ignored="no change of assignee or of an unassigned conversation's team",
        delivery_id=delivery_id("conversation_updated_status_only"),
    )


def test_outgoing_messages_nobody_wrote_are_the_bots() -> None:
    """An automation rule's or a campaign's message has no sender."""

    def automated(b: dict[str, Any]) -> None:
        b["sender"] = None

    assert changed("a4_message_created_agent", automated).facts == (
        msg("101", 5002, "2026-11-24T10:00:20+00:00", "bot", "11", "1"),
    )


@pytest.mark.parametrize(
    ("kind", "sender"), [(0, "visitor"), (1, "agent"), ("incoming", "visitor")]
)
def test_message_types_as_numbers_and_older_time_text(kind: object, sender: str) -> None:
    def older(b: dict[str, Any]) -> None:
        b["message_type"] = kind
        b["created_at"] = "2026-11-24 10:00:20 UTC"

    assert changed("a4_message_created_agent", older).facts == (
        msg("101", 5002, "2026-11-24T10:00:20+00:00", sender, "11", "1"),
    )


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("message_created_activity", "an activity message"),
        ("message_created_private_note", "a private note"),
        (
            "webwidget_triggered",
            "a widget opened: Chatwoot never says when the visitor leaves, so visitors on"
            " site cannot be known",
        ),
        ("contact_created", "contact_created is not used by the connector"),
    ],
)
def test_webhooks_and_messages_chatpulse_does_not_use(name: str, why: str) -> None:
    assert mapped(name) == Delivery(ignored=why, delivery_id=delivery_id(name))


def test_template_messages_are_not_replies() -> None:
    def survey_sent(b: dict[str, Any]) -> None:
        b["event"] = "message_created"
        b["content_attributes"] = {}

    name = "a7_message_updated_csat_rating"
    assert changed(name, survey_sent) == Delivery(
        ignored="a template message", delivery_id=delivery_id(name)
    )


# --- when a conversation changed -----------------------------------------------------------------


def test_a_change_is_dated_by_updated_at_else_the_last_activity_else_receipt() -> None:
    def no_updated_at(b: dict[str, Any]) -> None:
        del b["updated_at"]

    def no_time_at_all(b: dict[str, Any]) -> None:
        for name in ("updated_at", "timestamp", "last_activity_at"):
            del b[name]

    name = "a6_conversation_status_changed_resolved"
    assert [f.occurred_at for f in changed(name, no_updated_at).facts] == [
        t("2026-11-24T10:01:05+00:00")  # `timestamp`: the last activity, the visitor's message
    ]
    assert [f.occurred_at for f in changed(name, no_time_at_all).facts] == [t(RECEIVED)]
    edited = copy.deepcopy(body(name))
    no_time_at_all(edited)
    with pytest.raises(PayloadError) as caught:
        map_delivery(edited, {})
    assert caught.value.field == "timestamp"


# --- redeliveries, malformed payloads ------------------------------------------------------------

WEBHOOKS = sorted(p.stem for p in FIXTURES.glob("*.json") if not p.stem.startswith("api_"))


@pytest.mark.parametrize("name", WEBHOOKS)
def test_redelivery_gives_the_same_keys(name: str) -> None:
    first = mapped(name, "2026-11-24T10:50:00+00:00")
    again = mapped(name, "2026-11-24T10:53:41.5+00:00")
    assert [f.key for f in again.facts] == [f.key for f in first.facts]
    assert (again.ignored, again.delivery_id) == (first.ignored, first.delivery_id)


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    """Sets (or, with DELETE, removes) the field at a dotted path of the body."""

    def change(b: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = b
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is DELETE:
            del node[int(last) if last.isdigit() else last]
        else:
            node[int(last) if last.isdigit() else last] = value

    return change


DELETE = object()


def _no_contact(b: dict[str, Any]) -> None:
    del b["meta"]["sender"]
    del b["contact_inbox"]


@pytest.mark.parametrize(
    ("name", "change", "field"),
    [
        ("a1_conversation_created", _set("event", DELETE), "event"),
        ("a1_conversation_created", _set("event", 7), "event"),
        ("a1_conversation_created", _set("id", ""), "id"),
        ("a1_conversation_created", _set("id", True), "id"),
        ("a1_conversation_created", _no_contact, "meta.sender.id"),
        ("a1_conversation_created", _set("meta.sender.id", 1.5), "meta.sender.id"),
        ("a1_conversation_created", _set("meta", "sales"), "meta"),
        ("a1_conversation_created", _set("meta.team.id", None), "meta.team.id"),
        ("a1_conversation_created", _set("created_at", "yesterday"), "created_at"),
        ("a1_conversation_created", _set("created_at", "2026-11-24T10:00:00"), "created_at"),
        ("a1_conversation_created", _set("status", None), "status"),
        ("a3_conversation_updated_assigned", _set("meta.assignee.id", None), "meta.assignee.id"),
        (
            "a3_conversation_updated_assigned",
            _set("changed_attributes", {"assignee_id": [None, 1]}),
            "changed_attributes",
        ),
        (
            "a3_conversation_updated_assigned",
            _set("changed_attributes.0.assignee_id", [None, 1]),
            "changed_attributes[0].assignee_id",
        ),
        (
            "a3_conversation_updated_assigned",
            _set("changed_attributes.0.assignee_id.current_value", False),
            "changed_attributes.assignee_id.current_value",
        ),
        (
            "d2_conversation_updated_team",
            _set("changed_attributes.0.team_id.current_value", 2.5),
            "changed_attributes.team_id.current_value",
        ),
        ("a6_conversation_status_changed_resolved", _set("updated_at", "soon"), "updated_at"),
        ("a6_conversation_status_changed_resolved", _set("updated_at", 1e20), "updated_at"),
        ("a2_message_created_visitor", _set("conversation", None), "conversation"),
        ("a2_message_created_visitor", _set("id", None), "id"),
        ("a2_message_created_visitor", _set("created_at", DELETE), "created_at"),
        ("a2_message_created_visitor", _set("conversation.id", None), "conversation.id"),
        (
            "a7_message_updated_csat_rating",
            _set("content_attributes.submitted_values.csat_survey_response.rating", "4"),
            "content_attributes.submitted_values.csat_survey_response.rating",
        ),
        (
            "a7_message_updated_csat_rating",
            _set("content_attributes.submitted_values.csat_survey_response.rating", 6),
            "content_attributes.submitted_values.csat_survey_response.rating",
        ),
        (
            "a7_message_updated_csat_rating",
            _set("content_attributes.submitted_values", [4]),
            "content_attributes.submitted_values",
        ),
    ],
)
def test_malformed_payload_names_the_field(
    name: str, change: Callable[[dict[str, Any]], object], field: str
) -> None:
    with pytest.raises(PayloadError) as caught:
        changed(name, change)
    assert caught.value.field == field


def test_a_payload_that_is_not_an_object() -> None:
    with pytest.raises(PayloadError) as caught:
        map_delivery([{"event": "conversation_created"}], {})
    assert caught.value.field == "body"


def test_a_time_of_receipt_not_as_the_service_writes_it() -> None:
    def no_time(b: dict[str, Any]) -> None:
        for name in ("updated_at", "timestamp", "last_activity_at"):
            del b[name]

    edited = copy.deepcopy(body("b2_conversation_status_changed_resolved"))
    no_time(edited)
    with pytest.raises(PayloadError) as caught:
        map_delivery(edited, {RECEIVED_AT_HEADER: "2026-11-24T10:50:00"})
    assert caught.value.field == f"headers.{RECEIVED_AT_HEADER}"


# --- the signature -------------------------------------------------------------------------------

SECRET = "cw-whsec-9fQ2LmX7vR4tZp8K"
SIGNED = dt.datetime(2026, 11, 24, 10, 0, 12, tzinfo=dt.UTC)
STAMP = int(SIGNED.timestamp())
RAW = json.dumps(body("a3_conversation_updated_assigned")).encode()


def signed_headers(
    raw: bytes = RAW,
    *,
    secret: str = SECRET,
    stamp: int | str = STAMP,
    received: dt.datetime = SIGNED,
) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "x-chatwoot-signature": chatwoot.signature(secret, int(stamp), raw),
        "x-chatwoot-timestamp": str(stamp),
        "x-chatwoot-delivery": "8b1c3f1e-5f2a-4c7e-9d0b-2a4e6c8f0a13",
        RECEIVED_AT_HEADER: received.isoformat(),
    }


def test_the_signature_is_sha256_hmac_of_timestamp_dot_body() -> None:
    # printf '1795514412.{"a":1}' | openssl dgst -sha256 -hmac k
    assert chatwoot.signature("k", 1795514412, b'{"a":1}') == (
        "sha256=ca72ec485a5a22e58345fcc182eb4b92da9f5d39ac3f5ed6171b4c96818bc428"
    )


def settings(secret: str | None = SECRET) -> ConnectorSettings:
    return ConnectorSettings(kind="chatwoot", signing_secret=secret)


def test_a_signed_delivery_is_chatwoots() -> None:
    assert chatwoot.authenticate(signed_headers(), RAW, settings()) is None
    # At the edge of the replay window, either side.
    for offset in (-300, 300):
        late = SIGNED + dt.timedelta(seconds=offset)
        assert chatwoot.authenticate(signed_headers(received=late), RAW, settings()) is None


@pytest.mark.parametrize(
    ("heads", "raw", "answer"),
    [
        (
            signed_headers(secret="another secret"),
            RAW,
            "X-Chatwoot-Signature does not match the body",
        ),
        (signed_headers(), RAW + b" ", "X-Chatwoot-Signature does not match the body"),
        (
            {**signed_headers(), "x-chatwoot-timestamp": str(STAMP + 1)},
            RAW,
            "X-Chatwoot-Signature does not match the body",
        ),
        (
            {k: v for k, v in signed_headers().items() if k != "x-chatwoot-signature"},
            RAW,
            "X-Chatwoot-Signature and X-Chatwoot-Timestamp are required",
        ),
        (
            {k: v for k, v in signed_headers().items() if k != "x-chatwoot-timestamp"},
            RAW,
            "X-Chatwoot-Signature and X-Chatwoot-Timestamp are required",
        ),
        (
            signed_headers(received=SIGNED + dt.timedelta(seconds=301)),
            RAW,
            "X-Chatwoot-Timestamp is more than 5 minutes from now (a replay?)",
        ),
        (
            signed_headers(received=SIGNED - dt.timedelta(seconds=301)),
            RAW,
            "X-Chatwoot-Timestamp is more than 5 minutes from now (a replay?)",
        ),
    ],
)
def test_a_delivery_chatwoot_did_not_sign_now(
    heads: dict[str, str], raw: bytes, answer: str
) -> None:
    assert chatwoot.authenticate(heads, raw, settings()) == answer


def test_a_timestamp_that_is_not_whole_seconds() -> None:
    stamp = "2026-11-24T10:00:12Z"
    mac = hmac.new(SECRET.encode(), stamp.encode() + b"." + RAW, "sha256")
    heads = {
        **signed_headers(),
        "x-chatwoot-timestamp": stamp,
        "x-chatwoot-signature": "sha256=" + mac.hexdigest(),
    }
    assert chatwoot.authenticate(heads, RAW, settings()) == (
        "X-Chatwoot-Timestamp must be whole seconds since the epoch"
    )


def test_without_a_signing_secret_only_the_url_is_checked() -> None:
    assert chatwoot.authenticate({}, b"not even JSON", settings(None)) is None


# --- the API's answers ---------------------------------------------------------------------------


def test_agents_with_their_availability() -> None:
    assert chatwoot.parse_agents(body("api_agents")) == [
        (AgentInfo("1", "Alice Martin", "alice@example.com"), "online"),
        (AgentInfo("2", "Bruno Diaz", "bruno@example.com"), "away"),
        (AgentInfo("3", "Chen Wei", "chen@example.com"), "offline"),
    ]
    assert chatwoot.parse_agents([{"id": 9, "availability_status": "busy", "email": "x"}]) == [
        (AgentInfo("9", "Agent 9"), "away")
    ]


def test_teams_and_their_members() -> None:
    assert chatwoot.parse_teams(body("api_teams")) == [SALES, SUPPORT]
    assert chatwoot.parse_teams([{"id": 7, "name": None}]) == [TeamInfo("7", "Team 7")]
    assert [a.key for a, _ in chatwoot.parse_agents(body("api_team_members_2"))] == ["2", "3"]


@pytest.mark.parametrize(
    ("parse", "answer", "field"),
    [
        (chatwoot.parse_agents, {"payload": []}, "body"),
        (
            chatwoot.parse_agents,
            [{"id": 1, "availability_status": "away"}],
            "[0].availability_status",
        ),
        (chatwoot.parse_agents, [{"id": 1}], "[0].availability_status"),
        (chatwoot.parse_agents, [{"availability_status": "online"}], "[0].id"),
        (chatwoot.parse_agents, ["alice"], "[0]"),
        (chatwoot.parse_teams, {"payload": []}, "body"),
        (chatwoot.parse_teams, [{"id": 1, "name": "sales"}, {"id": None}], "[1].id"),
        (chatwoot.parse_teams, [{"id": 1, "name": 5}], "[0].name"),
    ],
)
def test_malformed_api_answers_name_the_field(
    parse: Callable[[object], object], answer: object, field: str
) -> None:
    with pytest.raises(PayloadError) as caught:
        parse(answer)
    assert caught.value.field == field


# --- set-up --------------------------------------------------------------------------------------


def test_setup_names_the_url_the_events_and_the_signing_secret() -> None:
    url = "https://pulse.example.com/api/v3/connectors/0b3f/webhook/5f2a"
    text = chatwoot.setup_text(
        url,
        ConnectorSettings(
            kind="chatwoot",
            signing_secret=SECRET,
            api_url="https://chat.example.com",
            api_token="tok",
            account_id="1",
        ),
    )
    assert text == (
        "In Chatwoot: Settings > Integrations > Webhooks > Configure > Add new webhook.\n"
        f"  Webhook URL: {url}\n"
        "  Events to subscribe: Conversation Created, Conversation Status Changed,\n"
        "  Conversation Updated, Message Created, Message Updated.\n"
        "  Signing: the webhook's secret must be the one given to ChatPulse (--signing-secret);"
        " deliveries without a valid X-Chatwoot-Signature are refused.\n"
        "Agent availability is read from https://chat.example.com (account 1) with the access"
        " token given (Profile settings > Access Token; an administrator's token lists every"
        " agent)."
    )


def test_setup_without_the_api_says_how_to_read_availability() -> None:
    text = chatwoot.setup_text("https://pulse.example.com/hook", ConnectorSettings("chatwoot"))
    assert "Signing" not in text
    assert text.endswith(
        "Agent availability: Chatwoot sends no webhook for it. Give --api-url, --api-token"
        " and --account-id to read it from Chatwoot's API every 30 s."
    )
