"""Repairs (connectors/reconcile.py): each kind of surprising fact, and what goes into the log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chatpulse.connectors.ids import Ids
from chatpulse.connectors.model import Fact
from chatpulse.connectors.reconcile import Drop, Reconciler
from chatpulse.domain.events import Event
from chatpulse.domain.projector import Projector
from chatpulse.domain.statuses import AWAY_ID, OFFLINE_ID, ONLINE_ID
from chatpulse.domain.timeutil import to_micros

IDS = Ids(10000, "3f1d2c0e-0000-4000-8000-000000000001")
T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
NOW = to_micros(T0 + timedelta(hours=1))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def us(seconds: float) -> int:
    return to_micros(at(seconds))


def fact(key: str, kind: str, seconds: float, **data: Any) -> Fact:
    visitor = data.pop("visitor", None)
    department = data.pop("department", None)
    return Fact(key, kind, at(seconds), data, visitor, department)


def reconciler() -> Reconciler:
    projector = Projector(
        chats={},
        agents={},
        known_agents={IDS.of("agent", "a1"), IDS.of("agent", "a2")},
        known_departments={IDS.of("department", "t1"), IDS.of("department", "t2")},
        known_statuses={ONLINE_ID, AWAY_ID, OFFLINE_ID},
        visitors={},
        invitations={},
    )
    return Reconciler(projector, IDS)


def feed(rec: Reconciler, *facts: Fact) -> Reconciler:
    for f in facts:
        event = IDS.event(f, NOW)
        assert isinstance(event, Event), event
        rec.take(f, event)
    return rec


def ev(key: str, kind: str, seconds: float, **data: str) -> Event:
    """The event expected in the log: platform keys in `data` turned into the connector's ids."""
    kinds = {"chatId": "chat", "visitorId": "visitor", "agentId": "agent", "toAgentId": "agent"}
    kinds |= {"departmentId": "department", "toDepartmentId": "department"}
    out = {
        name: IDS.of(kinds[name], value) if name in kinds else value for name, value in data.items()
    }
    return Event(IDS.event_id(key), kind, us(seconds), out)


def test_facts_in_order_go_in_as_they_are() -> None:
    rec = feed(
        reconciler(),
        fact("c1:req", "chat.requested", 0, chatId="c1", visitorId="v1", departmentId="t1"),
        fact("c1:acc", "chat.accepted", 20, chatId="c1", agentId="a1"),
        fact("c1:end", "chat.ended", 90, chatId="c1"),
    )
    assert rec.events == [
        ev("c1:req", "chat.requested", 0, chatId="c1", visitorId="v1", departmentId="t1"),
        ev("c1:acc", "chat.accepted", 20, chatId="c1", agentId="a1"),
        ev("c1:end", "chat.ended", 90, chatId="c1"),
    ]
    assert (rec.drops, rec.repairs, rec.skipped) == ([], 0, 0)


def test_a_message_before_its_chat_starts_the_chat_in_the_named_team() -> None:
    rec = feed(
        reconciler(),
        fact("m1", "chat.message", 5, chatId="c1", sender="visitor", visitor="v9", department="t2"),
    )
    assert rec.events == [
        ev("m1#start", "chat.requested", 5, chatId="c1", visitorId="v9", departmentId="t2"),
        ev("m1", "chat.message", 5, chatId="c1", sender="visitor"),
    ]
    assert rec.repairs == 1


def test_a_chat_started_by_a_repair_then_requested_drops_the_late_request() -> None:
    rec = feed(
        reconciler(),
        fact("m1", "chat.message", 5, chatId="c1", sender="visitor", visitor="v1"),
        fact("req", "chat.requested", 3, chatId="c1", visitorId="v1"),
    )
    assert [e.type for e in rec.events] == ["chat.requested", "chat.message"]
    # dropped at its own time, not the time a stored fact would have been moved up to
    assert rec.drops == [Drop("req", "chat.requested", us(3), "chat already exists")]


def test_an_acceptance_of_a_chat_ongoing_with_another_agent_is_a_transfer() -> None:
    rec = feed(
        reconciler(),
        fact("req", "chat.requested", 0, chatId="c1", visitorId="v1"),
        fact("a1", "chat.accepted", 10, chatId="c1", agentId="a1"),
        fact("a2", "chat.accepted", 50, chatId="c1", agentId="a2"),
        fact("a2-again", "chat.accepted", 60, chatId="c1", agentId="a2"),
    )
    assert rec.events[2] == ev("a2", "chat.transferred", 50, chatId="c1", toAgentId="a2")
    assert len(rec.events) == 3
    assert (rec.repairs, rec.skipped, rec.drops) == (1, 1, [])


def test_an_acceptance_before_the_start_starts_the_chat_then_accepts_it() -> None:
    rec = feed(
        reconciler(),
        fact("acc", "chat.accepted", 7, chatId="c1", agentId="a1", visitor="v1", department="t1"),
    )
    assert rec.events == [
        ev("acc#start", "chat.requested", 7, chatId="c1", visitorId="v1", departmentId="t1"),
        ev("acc", "chat.accepted", 7, chatId="c1", agentId="a1"),
    ]


def test_an_acceptance_of_a_chat_with_the_bot_queues_it_first() -> None:
    rec = feed(
        reconciler(),
        fact("req", "chat.requested", 0, chatId="c1", visitorId="v1", botId="bot"),
        fact("acc", "chat.accepted", 30, chatId="c1", agentId="a1"),
    )
    assert rec.events[1:] == [
        ev("acc#queued", "chat.queued", 30, chatId="c1"),
        ev("acc", "chat.accepted", 30, chatId="c1", agentId="a1"),
    ]


def test_an_end_of_a_chat_never_assigned_is_an_abandonment() -> None:
    rec = feed(
        reconciler(),
        fact("req", "chat.requested", 0, chatId="c1", visitorId="v1"),
        fact("end", "chat.ended", 45, chatId="c1"),
    )
    assert rec.events[1] == ev("end", "chat.abandoned", 45, chatId="c1")


def test_transfers_of_a_waiting_chat_are_an_acceptance_or_a_reroute() -> None:
    rec = feed(
        reconciler(),
        fact("r1", "chat.requested", 0, chatId="c1", visitorId="v1", departmentId="t1"),
        fact("t1", "chat.transferred", 5, chatId="c1", toDepartmentId="t2"),
        fact("t2", "chat.transferred", 9, chatId="c1", toAgentId="a1"),
    )
    assert rec.events[1:] == [
        ev("t1", "chat.queued", 5, chatId="c1", departmentId="t2"),
        ev("t2", "chat.accepted", 9, chatId="c1", agentId="a1"),
    ]


def test_a_reroute_of_an_ongoing_chat_is_a_transfer_to_the_department() -> None:
    rec = feed(
        reconciler(),
        fact("r1", "chat.requested", 0, chatId="c1", visitorId="v1", departmentId="t1"),
        fact("a", "chat.accepted", 5, chatId="c1", agentId="a1"),
        fact("q", "chat.queued", 9, chatId="c1", departmentId="t2"),
    )
    assert rec.events[2] == ev("q", "chat.transferred", 9, chatId="c1", toDepartmentId="t2")


def test_a_late_fact_is_moved_up_to_the_chats_last_event() -> None:
    rec = feed(
        reconciler(),
        fact("r1", "chat.requested", 0, chatId="c1", visitorId="v1"),
        fact("a", "chat.accepted", 30, chatId="c1", agentId="a1"),
        fact("m", "chat.message", 20, chatId="c1", sender="visitor"),
    )
    assert rec.events[2] == ev("m", "chat.message", 30, chatId="c1", sender="visitor")
    assert rec.repairs == 1


def test_a_late_fact_dropped_all_the_same_is_no_repair_and_keeps_its_time() -> None:
    rec = feed(
        reconciler(),
        fact("r1", "chat.requested", 0, chatId="c1", visitorId="v1"),
        fact("a", "chat.accepted", 10, chatId="c1", agentId="a1"),
        fact("m", "chat.message", 40, chatId="c1", sender="visitor"),
        fact("end", "chat.ended", 60, chatId="c1"),
        fact("m-late", "chat.message", 30, chatId="c1", sender="agent"),
    )
    assert rec.drops == [Drop("m-late", "chat.message", us(30), "chat already ended")]
    assert (len(rec.events), rec.repairs, rec.skipped) == (4, 0, 0)


def test_what_cannot_be_repaired_is_dropped_with_its_reason() -> None:
    rec = feed(
        reconciler(),
        fact("end-unknown", "chat.ended", 1, chatId="c9"),
        fact("r1", "chat.requested", 0, chatId="c1", visitorId="v1"),
        fact("rate-unaccepted", "chat.rated", 3, chatId="c1", score=5),
        fact("end", "chat.ended", 4, chatId="c1"),
        fact("msg-after", "chat.message", 5, chatId="c1", sender="agent"),
        fact("acc-ghost", "chat.accepted", 6, chatId="c2", agentId="nobody", visitor="v2"),
    )
    assert rec.drops == [
        Drop("end-unknown", "chat.ended", us(1), "unknown chat: its start was never received"),
        Drop(
            "rate-unaccepted",
            "chat.rated",
            us(3),
            "type: chat.rated needs a chat accepted by an agent; chat "
            f"{IDS.of('chat', 'c1')} was not",
        ),
        Drop("msg-after", "chat.message", us(5), "chat already abandoned"),
        Drop(
            "acc-ghost",
            "chat.accepted",
            us(6),
            f"data.agentId: unknown agent {IDS.of('agent', 'nobody')}",
        ),
    ]
    # the ghost's chat was started by the repair (a visitor waits) before its acceptance failed
    assert [e.type for e in rec.events] == [
        "chat.requested",
        "chat.abandoned",
        "chat.requested",
    ]


def test_statuses_unchanged_are_skipped_and_late_ones_moved_up() -> None:
    rec = feed(
        reconciler(),
        fact("s1", "agent.status_changed", 10, agentId="a1", statusId="online"),
        fact("s2", "agent.status_changed", 20, agentId="a1", statusId="online"),
        fact("s3", "agent.status_changed", 15, agentId="a1", statusId="away"),
        fact("s4", "agent.status_changed", 12, agentId="a1", statusId="offline"),
    )
    # s2 said nothing new (so s3 at 15 is in order); s4 is older than s3: moved up to 15
    assert rec.events == [
        ev("s1", "agent.status_changed", 10, agentId="a1", statusId=ONLINE_ID),
        ev("s3", "agent.status_changed", 15, agentId="a1", statusId=AWAY_ID),
        ev("s4", "agent.status_changed", 15, agentId="a1", statusId=OFFLINE_ID),
    ]
    assert (rec.skipped, rec.repairs) == (1, 1)


def test_visitors_arriving_twice_or_leaving_unseen_are_skipped() -> None:
    rec = feed(
        reconciler(),
        fact("l0", "visitor.left", 1, visitorId="v1"),
        fact("a1", "visitor.arrived", 2, visitorId="v1"),
        fact("a2", "visitor.arrived", 3, visitorId="v1"),
        fact("l1", "visitor.left", 4, visitorId="v1"),
    )
    assert [e.type for e in rec.events] == ["visitor.arrived", "visitor.left"]
    assert rec.skipped == 2


def test_ids_are_stable_per_connector_and_differ_between_connectors() -> None:
    other = Ids(10000, "3f1d2c0e-0000-4000-8000-000000000002")
    assert IDS.of("chat", "42") == Ids(10000, IDS.connector_id).of("chat", "42")
    assert IDS.of("chat", "42") != other.of("chat", "42")
    assert IDS.of("chat", "42") != Ids(10001, IDS.connector_id).of("chat", "42")
    assert IDS.of("chat", "42") != IDS.of("agent", "42")


def test_a_time_far_ahead_of_the_server_becomes_now_and_bad_values_are_reasons() -> None:
    ahead = Fact("f", "chat.message", at(3600 + 120), {"chatId": "c1", "sender": "visitor"})
    event = IDS.event(ahead, NOW)
    assert isinstance(event, Event) and event.occurred_at == NOW
    bad = Fact("g", "chat.rated", at(0), {"chatId": "c1", "score": 9})
    assert IDS.event(bad, NOW) == "data.score: must be an integer from 1 to 5"
    status = Fact("h", "agent.status_changed", at(0), {"agentId": "a1", "statusId": "busy"})
    assert IDS.event(status, NOW) == "statusId: unknown status 'busy'"
