"""LiveChat webhooks -> facts: every row of the mapping table, on LiveChat's documented payloads
(tests/fixtures/connectors/livechat), with the whole Delivery compared."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chatpulse.connectors import livechat
from chatpulse.connectors.livechat import RECEIVED_AT_HEADER, map_delivery
from chatpulse.connectors.model import (
    AgentInfo,
    ConnectorSettings,
    Delivery,
    Fact,
    PayloadError,
    TeamInfo,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "connectors" / "livechat"
CUSTOMER = "b7eff798-f8df-4364-8059-649c35c9ed0c"
CUSTOMER2 = "5280e68c-9692-4212-8ba9-85f7d8af55cd"
SMITH, JONES = "smith@example.com", "jones@example.com"
BOT = "5c9871d5372c824cbf22d860a707a578"
A = "PJ0MRSHTDG/K600PKZON8"
B = "PS0X0L086G/PZ070E0W1B"
C = "QA37PVJ75B/QA37PVJ76C"
D = "R2YX3PQZ8W/R2YX3PQZ9A"
F = "TB7MZ2KQ1X/TB7MZ2KQ2Y"
RECEIVED = "2026-03-02T09:30:00.250000+00:00"
SMITH_INFO = AgentInfo(SMITH, "Agent Smith", email=SMITH)
JONES_INFO = AgentInfo(JONES, "Agent Jones", email=JONES)


def fixture(name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / f"{name}.json").read_text()))


def body(name: str) -> Any:
    return fixture(name)["body"]


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


def msg(chat: str, event: str, at: str, sender: str, **known: str | None) -> Fact:
    return Fact(
        f"{chat}:event:{event}", "chat.message", t(at), {"chatId": chat, "sender": sender}, **known
    )


# --- (a) queued in group 1, answered, ended, rated -----------------------------------------------


def test_queued_chat_is_requested_in_its_group_and_waits() -> None:
    assert mapped("a1_incoming_chat_queued") == Delivery(
        facts=(
            Fact(
                f"{A}:requested",
                "chat.requested",
                t("2026-03-02T09:15:03.120431Z"),
                {"chatId": A, "visitorId": CUSTOMER, "departmentId": "1"},
                visitor=CUSTOMER,
                department="1",
            ),
        ),
        teams=(TeamInfo("1", "Group 1"),),
    )


def test_customer_message_is_a_visitor_message_at_its_own_time() -> None:
    assert mapped("a2_customer_message") == Delivery(
        facts=(msg(A, "K600PKZON8_2", "2026-03-02T09:15:10.502118Z", "visitor", visitor=CUSTOMER),),
        delivery_id="K600PKZON8_2",
    )


def test_agent_added_to_the_chat_accepts_it_when_received() -> None:
    received = "2026-03-02T09:16:02.004000+00:00"
    assert mapped("a3_agent_added", received) == Delivery(
        facts=(
            Fact(
                f"{A}:joined:{SMITH}", "chat.accepted", t(received), {"chatId": A, "agentId": SMITH}
            ),
        ),
        agents=(SMITH_INFO,),
    )


def test_agent_message_and_the_next_customer_message() -> None:
    assert mapped("a4_agent_message") == Delivery(
        facts=(msg(A, "K600PKZON8_4", "2026-03-02T09:16:05.230094Z", "agent"),),
        delivery_id="K600PKZON8_4",
    )
    assert mapped("a5_customer_message") == Delivery(
        facts=(msg(A, "K600PKZON8_5", "2026-03-02T09:16:40.007712Z", "visitor", visitor=CUSTOMER),),
        delivery_id="K600PKZON8_5",
    )


def test_deactivated_chat_ends_when_received() -> None:
    received = "2026-03-02T09:20:11.300000+00:00"
    assert mapped("a6_chat_deactivated", received) == Delivery(
        facts=(Fact(f"{A}:ended", "chat.ended", t(received), {"chatId": A}),)
    )


def test_thumbs_up_is_a_rating_of_5_and_thumbs_down_of_1() -> None:
    received = "2026-03-02T09:20:30+00:00"
    assert mapped("a7_thread_rated_good", received) == Delivery(
        facts=(Fact(f"{A}:rated:1", "chat.rated", t(received), {"chatId": A, "score": 5}),)
    )

    def thumbs_down(b: dict[str, Any]) -> None:
        b["payload"]["properties"]["rating"] = {"score": 0}

    assert changed("a7_thread_rated_good", thumbs_down) == Delivery(
        facts=(Fact(f"{A}:rated:0", "chat.rated", t(RECEIVED), {"chatId": A, "score": 1}),)
    )


def test_lifecycle_a_in_order() -> None:
    names = [p.stem for p in sorted(FIXTURES.glob("a*.json")) if not p.stem.startswith("api")]
    facts = [fact for name in names for fact in mapped(name).facts]
    assert [(f.type, dict(f.data)) for f in facts] == [
        ("chat.requested", {"chatId": A, "visitorId": CUSTOMER, "departmentId": "1"}),
        ("chat.message", {"chatId": A, "sender": "visitor"}),
        ("chat.accepted", {"chatId": A, "agentId": SMITH}),
        ("chat.message", {"chatId": A, "sender": "agent"}),
        ("chat.message", {"chatId": A, "sender": "visitor"}),
        ("chat.ended", {"chatId": A}),
        ("chat.rated", {"chatId": A, "score": 5}),
    ]


# --- (b) abandoned, (c) agent transfer, (d) group transfer while queued, (f) bot -----------------


def test_queued_chat_with_its_first_message_then_ended_by_the_customer() -> None:
    assert mapped("b1_incoming_chat_queued") == Delivery(
        facts=(
            Fact(
                f"{B}:requested",
                "chat.requested",
                t("2026-03-02T10:02:44.310877Z"),
                {"chatId": B, "visitorId": CUSTOMER2, "departmentId": "2"},
                visitor=CUSTOMER2,
                department="2",
            ),
            msg(
                B,
                "PZ070E0W1B_1",
                "2026-03-02T10:02:44.311020Z",
                "visitor",
                visitor=CUSTOMER2,
                department="2",
            ),
        ),
        teams=(TeamInfo("2", "Group 2"),),
    )
    # Still waiting: the connector service turns this end into chat.abandoned.
    assert mapped("b2_chat_deactivated_by_customer") == Delivery(
        facts=(Fact(f"{B}:ended", "chat.ended", t(RECEIVED), {"chatId": B}),)
    )


def test_chat_assigned_at_once_is_accepted_when_it_starts_without_the_welcome_message() -> None:
    started = t("2026-03-02T11:30:00.501233Z")
    known = {"visitor": CUSTOMER, "department": "1"}
    assert mapped("c1_incoming_chat_assigned") == Delivery(
        facts=(
            Fact(
                f"{C}:requested",
                "chat.requested",
                started,
                {"chatId": C, "visitorId": CUSTOMER, "departmentId": "1"},
                **known,
            ),
            Fact(
                f"{C}:joined:{SMITH}",
                "chat.accepted",
                started,
                {"chatId": C, "agentId": SMITH},
                **known,
            ),
            msg(C, "QA37PVJ76C_2", "2026-03-02T11:30:00.612001Z", "visitor", **known),
        ),
        agents=(SMITH_INFO,),
        teams=(TeamInfo("1", "Group 1"),),
    )


def test_transfer_to_an_agent_then_the_agent_added_and_the_first_removed() -> None:
    assert mapped("c2_chat_transferred_to_agent") == Delivery(
        facts=(
            Fact(
                f"{C}:transfer:agent:{JONES}",
                "chat.transferred",
                t(RECEIVED),
                {"chatId": C, "toAgentId": JONES},
            ),
        ),
        agents=(AgentInfo(JONES, JONES, email=JONES),),
    )
    # Jones already has the chat: the connector service drops an accept by the chat's own agent.
    assert mapped("c3_agent_added") == Delivery(
        facts=(
            Fact(
                f"{C}:joined:{JONES}", "chat.accepted", t(RECEIVED), {"chatId": C, "agentId": JONES}
            ),
        ),
        agents=(JONES_INFO,),
    )
    assert mapped("c4_agent_removed") == Delivery(
        ignored="LiveChat's user_removed_from_chat webhook changes no ChatPulse figure"
    )


def test_transfer_to_a_group_by_a_person_is_a_transfer_to_that_department() -> None:
    assert mapped("d1_incoming_chat_queued").facts[0].data == {
        "chatId": D,
        "visitorId": CUSTOMER2,
        "departmentId": "1",
    }
    # The chat was still waiting: the connector service makes this a chat.queued (a new route).
    assert mapped("d2_chat_transferred_to_group_queued") == Delivery(
        facts=(
            Fact(
                f"{D}:transfer:group:2:2026-03-02T12:47:03.118000Z",
                "chat.transferred",
                t(RECEIVED),
                {"chatId": D, "toDepartmentId": "2"},
            ),
        ),
        teams=(TeamInfo("2", "Group 2"),),
    )


def test_chat_with_the_bot_then_handed_to_a_group_queue() -> None:
    started = t("2026-03-02T14:05:10.000421Z")
    known = {"visitor": CUSTOMER, "department": "1"}
    assert mapped("f1_incoming_chat_bot") == Delivery(
        facts=(
            Fact(
                f"{F}:requested",
                "chat.requested",
                started,
                {"chatId": F, "visitorId": CUSTOMER, "departmentId": "1", "botId": BOT},
                **known,
            ),
            msg(F, "TB7MZ2KQ2Y_1", "2026-03-02T14:05:10.000600Z", "visitor", **known),
        ),
        teams=(TeamInfo("1", "Group 1"),),
    )
    assert mapped("f2_bot_message") == Delivery(
        facts=(msg(F, "TB7MZ2KQ2Y_2", "2026-03-02T14:05:11.204900Z", "bot"),),
        delivery_id="TB7MZ2KQ2Y_2",
    )
    assert mapped("f3_chat_transferred_by_bot_queued") == Delivery(
        facts=(
            Fact(
                f"{F}:handoff:2026-03-02T14:05:12.550000Z",
                "chat.queued",
                t(RECEIVED),
                {"chatId": F, "departmentId": "1"},
            ),
        ),
        teams=(TeamInfo("1", "Group 1"),),
    )


def test_bot_handing_the_chat_straight_to_an_agent_queues_it_and_the_agent_takes_it() -> None:
    def straight_to_smith(b: dict[str, Any]) -> None:
        del b["payload"]["queue"]
        b["payload"]["transferred_to"] = {"group_ids": [1], "agent_ids": [SMITH]}

    at = t(RECEIVED)
    assert changed("f3_chat_transferred_by_bot_queued", straight_to_smith) == Delivery(
        facts=(
            Fact(f"{F}:handoff", "chat.queued", at, {"chatId": F, "departmentId": "1"}),
            Fact(f"{F}:joined:{SMITH}", "chat.accepted", at, {"chatId": F, "agentId": SMITH}),
        ),
        agents=(AgentInfo(SMITH, SMITH, email=SMITH),),
        teams=(TeamInfo("1", "Group 1"),),
    )


def test_transfer_queued_for_one_agent_and_v3_5_queue_time() -> None:
    def queued_for_jones(b: dict[str, Any]) -> None:
        b["payload"]["transferred_to"] = {"agent_ids": [JONES]}
        b["payload"]["queue"] = {
            "position": 1,
            "wait_time": 10,
            "queued_at_us": "2026-03-02T12:47:03Z",
        }

    assert changed("d2_chat_transferred_to_group_queued", queued_for_jones) == Delivery(
        facts=(
            Fact(
                f"{D}:queued:agent:{JONES}:2026-03-02T12:47:03Z",
                "chat.queued",
                t(RECEIVED),
                {"chatId": D, "agentId": JONES},
            ),
        ),
        agents=(AgentInfo(JONES, JONES, email=JONES),),
    )


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (
            lambda b: b["payload"].update(transferred_to={"group_ids": [], "agent_ids": []}),
            "a transfer to no group and no person",
        ),
        (
            lambda b: b["payload"].pop("thread_id"),
            "a transfer of an inactive chat changes no figure",
        ),
    ],
)
def test_transfers_that_change_nothing(
    change: Callable[[dict[str, Any]], object], why: str
) -> None:
    assert changed("c2_chat_transferred_to_agent", change) == Delivery(ignored=why)


# --- events that are not messages, users that take no chat ---------------------------------------


def test_files_and_rich_messages_are_messages() -> None:
    assert mapped("file_event") == Delivery(
        facts=(msg(A, "K600PKZON8_6", "2026-03-02T09:17:02.410300Z", "visitor", visitor=CUSTOMER),),
        delivery_id="K600PKZON8_6",
    )

    def rich(b: dict[str, Any]) -> None:
        b["payload"]["event"].update(type="rich_message", template_id="quick_replies")

    assert changed("a4_agent_message", rich) == Delivery(
        facts=(msg(A, "K600PKZON8_4", "2026-03-02T09:16:05.230094Z", "agent"),),
        delivery_id="K600PKZON8_4",
    )


@pytest.mark.parametrize(
    ("name", "change", "why"),
    [
        ("system_message_event", None, "a system_message event is not a message"),
        (
            "a2_customer_message",
            lambda b: b["payload"]["event"].update(type="filled_form"),
            "a filled_form event is not a message",
        ),
        (
            "a4_agent_message",
            lambda b: b["payload"]["event"].update(visibility="agents"),
            "an event visible to agents only is not a message to the visitor",
        ),
        (
            "a4_agent_message",
            lambda b: b["payload"]["event"].update(properties={"lc2": {"welcome_message": True}}),
            "the automatic welcome message is nobody's reply",
        ),
    ],
)
def test_events_that_are_not_messages(
    name: str, change: Callable[[dict[str, Any]], object] | None, why: str
) -> None:
    delivery = changed(name, change) if change else mapped(name)
    assert delivery == Delivery(ignored=why, delivery_id=body(name)["payload"]["event"]["id"])


def _user(**fields: object) -> Callable[[dict[str, Any]], None]:
    def change(b: dict[str, Any]) -> None:
        b["payload"]["user"].update(fields)
        b["payload"]["user_type"] = b["payload"]["user"]["type"]

    return change


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (_user(id=CUSTOMER, type="customer"), "a customer added to a chat changes no figure"),
        (_user(id=BOT), "a bot added to a chat: ChatPulse has no way back to the bot"),
        (
            _user(visibility="agents"),
            "an agent added to supervise (visible to agents only) takes no chat",
        ),
        (
            lambda b: b["payload"].pop("thread_id"),
            "a user added to an inactive chat changes no figure",
        ),
    ],
)
def test_users_added_who_take_no_chat(change: Callable[[dict[str, Any]], object], why: str) -> None:
    assert changed("a3_agent_added", change) == Delivery(ignored=why)


def test_rating_updates_without_a_score_and_chat_level_ratings_are_ignored() -> None:
    def comment_only(b: dict[str, Any]) -> None:
        b["payload"]["properties"] = {"rating": {"comment": "Thanks again"}}

    assert changed("a7_thread_rated_good", comment_only) == Delivery(
        ignored="no rating score among the updated thread properties"
    )
    # A chat's properties name no thread, so no ChatPulse chat: the thread's rating is the one.
    assert mapped("chat_properties_rated") == Delivery(
        ignored="LiveChat's chat_properties_updated webhook changes no ChatPulse figure"
    )


# --- agents' statuses, and what LiveChat's webhooks cannot say -----------------------------------


@pytest.mark.parametrize(
    ("name", "agent", "status"),
    [
        ("e1_routing_smith_accepting", SMITH, "online"),
        ("e2_routing_jones_accepting", JONES, "online"),
        ("e3_routing_smith_not_accepting", SMITH, "away"),
        ("e4_routing_jones_not_accepting", JONES, "away"),
    ],
)
def test_routing_status_is_the_agents_status_when_received(
    name: str, agent: str, status: str
) -> None:
    assert mapped(name) == Delivery(
        facts=(
            Fact(
                f"routing:{agent}:{status}:{RECEIVED}",
                "agent.status_changed",
                t(RECEIVED),
                {"agentId": agent, "statusId": status},
            ),
        ),
        agents=(AgentInfo(agent, agent, email=agent),),
    )


def test_routing_status_as_the_apis_write_it_and_a_bots_status() -> None:
    def underscores(b: dict[str, Any]) -> None:
        b["payload"]["status"] = "not_accepting_chats"

    delivery = changed("e1_routing_smith_accepting", underscores)
    assert delivery.facts[0].data == {"agentId": SMITH, "statusId": "away"}
    assert mapped("e5_routing_bot_offline") == Delivery(
        ignored="a bot's routing status: bots are not agents in ChatPulse"
    )


@pytest.mark.parametrize(
    ("name", "why"),
    [
        (
            "incoming_customer_v3_5",
            "LiveChat's incoming_customer webhook changes no ChatPulse figure",
        ),
        (
            "c4_agent_removed",
            "LiveChat's user_removed_from_chat webhook changes no ChatPulse figure",
        ),
    ],
)
def test_webhooks_chatpulse_does_not_use(name: str, why: str) -> None:
    assert mapped(name) == Delivery(ignored=why)


# --- redeliveries, malformed payloads ------------------------------------------------------------

# Every webhook fixture but the routing statuses (e*), which carry nothing but the status.
REDELIVERABLE = sorted(
    p.stem for p in FIXTURES.glob("*.json") if not re.match(r"api_|e\d_", p.stem)
)


@pytest.mark.parametrize("name", REDELIVERABLE)
def test_redelivery_gives_the_same_keys(name: str) -> None:
    first = mapped(name, "2026-03-02T09:30:00+00:00")
    again = mapped(name, "2026-03-02T09:30:41.5+00:00")
    assert [f.key for f in again.facts] == [f.key for f in first.facts]
    assert (again.ignored, again.delivery_id) == (first.ignored, first.delivery_id)


def test_a_redelivered_routing_status_is_a_new_fact_of_the_same_status() -> None:
    first = mapped("e1_routing_smith_accepting", "2026-03-02T09:30:00+00:00").facts[0]
    again = mapped("e1_routing_smith_accepting", "2026-03-02T09:30:11+00:00").facts[0]
    assert first.key != again.key
    assert first.data == again.data


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


@pytest.mark.parametrize(
    ("name", "change", "field"),
    [
        ("a1_incoming_chat_queued", _set("action", DELETE), "action"),
        ("a1_incoming_chat_queued", _set("payload", []), "payload"),
        (
            "a1_incoming_chat_queued",
            _set("payload.chat.thread.created_at", DELETE),
            "payload.chat.thread.created_at",
        ),
        (
            "a1_incoming_chat_queued",
            _set("payload.chat.thread.created_at", "yesterday"),
            "payload.chat.thread.created_at",
        ),
        (
            "a1_incoming_chat_queued",
            _set("payload.chat.thread.created_at", "2026-03-02T09:15:03"),
            "payload.chat.thread.created_at",
        ),
        (
            "a1_incoming_chat_queued",
            _set("payload.chat.users.0.type", "agent"),
            "payload.chat.users",
        ),
        (
            "a1_incoming_chat_queued",
            _set("payload.chat.users.1.type", 7),
            "payload.chat.users[1].type",
        ),
        (
            "a1_incoming_chat_queued",
            _set("payload.chat.thread.access.group_ids", ["1"]),
            "payload.chat.thread.access.group_ids[0]",
        ),
        (
            "a1_incoming_chat_queued",
            _set("payload.chat.thread.events.0", "form"),
            "payload.chat.thread.events[0]",
        ),
        ("a2_customer_message", _set("payload.event.author_id", DELETE), "payload.event.author_id"),
        (
            "a2_customer_message",
            _set("payload.event.created_at", 1772442910),
            "payload.event.created_at",
        ),
        ("a2_customer_message", _set("payload.thread_id", ""), "payload.thread_id"),
        ("a3_agent_added", _set("payload.user", DELETE), "payload.user"),
        (
            "c2_chat_transferred_to_agent",
            _set("payload.transferred_to.group_ids", [True]),
            "payload.transferred_to.group_ids[0]",
        ),
        (
            "c2_chat_transferred_to_agent",
            _set("payload.transferred_to.agent_ids", "smith"),
            "payload.transferred_to.agent_ids",
        ),
        (
            "a7_thread_rated_good",
            _set("payload.properties.rating.score", 3),
            "payload.properties.rating.score",
        ),
        (
            "a7_thread_rated_good",
            _set("payload.properties.rating.score", "1"),
            "payload.properties.rating.score",
        ),
        ("e1_routing_smith_accepting", _set("payload.status", "busy"), "payload.status"),
        ("e1_routing_smith_accepting", _set("payload.agent_id", None), "payload.agent_id"),
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
        map_delivery([{"action": "incoming_chat"}], {})
    assert caught.value.field == "body"


@pytest.mark.parametrize("received", [None, "now", "2026-03-02T09:30:00"])
def test_facts_dated_on_receipt_need_the_time_of_receipt(received: str | None) -> None:
    heads = {} if received is None else {RECEIVED_AT_HEADER: received}
    with pytest.raises(PayloadError) as caught:
        map_delivery(body("a6_chat_deactivated"), heads)
    assert caught.value.field == f"headers.{RECEIVED_AT_HEADER}"


def test_time_of_receipt_in_any_header_case_and_offset() -> None:
    heads = {"X-ChatPulse-Received-At": "2026-03-02T10:30:00.250+01:00"}
    delivery = map_delivery(body("a6_chat_deactivated"), heads)
    assert delivery.facts[0].occurred_at == t(RECEIVED)
    assert delivery.facts[0].occurred_at.tzinfo == dt.UTC


# --- the secret key ------------------------------------------------------------------------------

SECRET = "lc-whk-7Qm2xR9vT4pL"


def raw(name: str) -> bytes:
    return json.dumps(body(name)).encode()


@pytest.mark.parametrize(
    ("payload", "secret", "answer"),
    [
        (raw("a2_customer_message"), SECRET, None),
        (
            raw("a2_customer_message"),
            "another secret",
            "secret_key is not the connector's signing secret",
        ),
        (b'{"action": "incoming_event", "payload": {}}', SECRET, "secret_key is missing"),
        (b'{"secret_key": 42}', SECRET, "secret_key is missing"),
        (b"[1, 2]", SECRET, "secret_key is missing"),
        (b"secret_key=" + SECRET.encode(), SECRET, "the body is not JSON, so it has no secret_key"),
        (b"\xff\xfe", SECRET, "the body is not JSON, so it has no secret_key"),
        (b"not even JSON", None, None),  # no secret configured: the core's URL secret decides
    ],
)
def test_secret_key_in_the_body(payload: bytes, secret: str | None, answer: str | None) -> None:
    settings = ConnectorSettings(kind="livechat", signing_secret=secret)
    assert livechat.authenticate({"content-type": "application/json"}, payload, settings) == answer


# --- the APIs' answers ---------------------------------------------------------------------------


def test_agents_with_their_groups_and_chat_limits() -> None:
    assert livechat.parse_agents(body("api_list_agents")) == [
        AgentInfo(
            SMITH, "Agent Smith", email=SMITH, department_keys=("0", "1"), max_concurrent_chats=6
        ),
        AgentInfo(
            JONES, "Agent Jones", email=JONES, department_keys=("0", "2"), max_concurrent_chats=3
        ),
        AgentInfo(
            "lee@example.com",
            "Kim Lee",
            email="lee@example.com",
            department_keys=("0",),
            max_concurrent_chats=2,
        ),
    ]
    assert livechat.parse_agents([{"id": "ann@example.com"}]) == [
        AgentInfo("ann@example.com", "ann@example.com", email="ann@example.com")
    ]


def test_groups_and_routing_statuses() -> None:
    assert livechat.parse_groups(body("api_list_groups")) == [
        TeamInfo("0", "General"),
        TeamInfo("1", "Sales"),
        TeamInfo("2", "Support"),
    ]
    assert livechat.parse_groups([{"id": 7}]) == [TeamInfo("7", "Group 7")]
    assert livechat.parse_routing_statuses(body("api_list_routing_statuses")) == [
        (SMITH, "online"),
        (JONES, "away"),
        ("lee@example.com", "offline"),
    ]


@pytest.mark.parametrize(
    ("parse", "answer", "field"),
    [
        (livechat.parse_agents, {"agents": []}, "body"),
        (livechat.parse_agents, [{"id": SMITH, "groups": [{"id": "1"}]}], "[0].groups[0].id"),
        (livechat.parse_agents, [{"id": SMITH}, {"name": "Jones"}], "[1].id"),
        (livechat.parse_agents, [{"id": SMITH, "max_chats_count": 2.5}], "[0].max_chats_count"),
        (livechat.parse_groups, [{"id": 0, "name": "General"}, {"id": None}], "[1].id"),
        (livechat.parse_routing_statuses, [{"agent_id": SMITH, "status": "busy"}], "[0].status"),
    ],
)
def test_malformed_api_answers_name_the_field(
    parse: Callable[[object], object], answer: object, field: str
) -> None:
    with pytest.raises(PayloadError) as caught:
        parse(answer)
    assert caught.value.field == field


# --- set-up --------------------------------------------------------------------------------------


def test_setup_registers_every_action_to_the_url_with_the_secret() -> None:
    url = "https://pulse.example.com/api/v3/connectors/livechat/hook-5f2a"
    settings = ConnectorSettings(
        kind="livechat", signing_secret=SECRET, options={"client_id": "c6e4f62e2a2dab12"}
    )
    text = livechat.setup_text(url, settings)
    for action in livechat.ACTIONS:
        assert f"\n     {action}\n" in text
    assert f"   for action in {' '.join(livechat.ACTIONS)}; do\n" in text
    assert "https://api.livechatinc.com/v3.6/configuration/action/register_webhook" in text
    assert (
        f'"type": "license", "url": "{url}", "secret_key": "{SECRET}", '
        '"owner_client_id": "c6e4f62e2a2dab12"}' in text
    )
    assert "enable_license_webhooks" in text
    assert text.endswith(
        "ChatPulse refuses a delivery whose secret_key is not this connector's secret.\n"
    )


def test_setup_without_a_secret_says_only_the_url_is_checked() -> None:
    text = livechat.setup_text("https://pulse.example.com/hook", ConnectorSettings(kind="livechat"))
    assert '"secret_key": "<a secret of your choice>"' in text
    assert '"owner_client_id": "<Client ID of your app>"' in text
    assert "ChatPulse checks only the secret in the URL" in text
