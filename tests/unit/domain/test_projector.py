"""The chat lifecycle of METRICS.md §1, applied by the projector to in-memory state."""

from __future__ import annotations

from typing import Any

from chatpulse.domain.chat import ABANDONED, BOT, ENDED, ONGOING, OPEN, SWITCHED, WAITING
from chatpulse.domain.events import Event
from chatpulse.domain.projector import Projector

S = 1_000_000
A1, A2 = "a1", "a2"
D1, D2 = "d1", "d2"
ONLINE = "00000000-0000-0000-0000-000000000000"


def projector() -> Projector:
    return Projector(
        chats={},
        agents={},
        known_agents={A1, A2},
        known_departments={D1, D2},
        known_statuses={ONLINE},
        visitors={},
        invitations={},
    )


def apply(p: Projector, kind: str, t: int, **data: Any) -> str | None:
    error = p.apply(Event(f"e{t}", kind, t * S, data), 0)
    return None if error is None else error.message


def test_whole_life_of_a_transferred_chat() -> None:
    p = projector()
    assert apply(p, "chat.requested", 0, chatId="c", visitorId="v", botId="b") is None
    assert p.chats["c"].state == BOT and p.chats["c"].wait_no == 0
    apply(p, "chat.message", 1, chatId="c", sender="visitor")  # with the bot: not a response
    apply(p, "chat.queued", 10, chatId="c", departmentId=D1)
    apply(p, "chat.queued", 15, chatId="c", agentId=A1)  # re-route: same wait
    chat = p.chats["c"]
    assert (chat.state, chat.wait_no, chat.wait_started_at) == (WAITING, 1, 10 * S)
    assert (chat.department_id, chat.cohort_department_id) == (D1, D1)
    assert (chat.route_department_id, chat.route_agent_id) == (None, A1)
    apply(p, "chat.accepted", 40, chatId="c", agentId=A1)
    assert (chat.state, chat.first_wait_length, chat.accepted_at) == (ONGOING, 30 * S, 40 * S)
    apply(p, "chat.message", 41, chatId="c", sender="visitor")
    apply(p, "chat.message", 43, chatId="c", sender="visitor")
    apply(p, "chat.message", 50, chatId="c", sender="agent")
    assert (chat.response_total, chat.response_count) == (9 * S, 1)
    apply(p, "chat.transferred", 60, chatId="c", toDepartmentId=D2)
    assert (chat.state, chat.wait_no, chat.department_id, chat.cohort_department_id) == (
        WAITING,
        2,
        D2,
        D1,
    )
    assert p.agents[A1].ongoing_chats == 0
    apply(p, "chat.accepted", 70, chatId="c", agentId=A2)
    apply(p, "chat.transferred", 80, chatId="c", toAgentId=A1)
    assert chat.first_wait_length == 30 * S  # only the first wait
    assert (chat.multi_agent, chat.transferred, chat.department_transferred) == (True, True, True)
    apply(p, "chat.ended", 90, chatId="c")
    assert (chat.state, chat.ended_at) == (ENDED, 90 * S)
    handlings = sorted(
        (h.agent_id, h.started_at // S, h.ended_at // S) for h in p.handlings.values()
    )
    assert handlings == [(A1, 40, 60), (A1, 80, 90), (A2, 70, 80)]
    waits = sorted(
        (w.wait_no, w.started_at // S, w.ended_at // S, w.outcome) for w in p.waits.values()
    )
    assert waits == [(1, 10, 40, "answered"), (2, 60, 70, "answered")]


def test_waits_end_abandoned_or_switched() -> None:
    p = projector()
    apply(p, "chat.requested", 0, chatId="x", visitorId="v", departmentId=D1)
    apply(p, "chat.abandoned", 5, chatId="x")
    apply(p, "chat.requested", 0, chatId="y", visitorId="w")
    apply(p, "chat.switched_to_message", 7, chatId="y")
    assert (p.chats["x"].state, p.chats["y"].state) == (ABANDONED, SWITCHED)
    assert p.waits[("x", 1)].outcome == "abandoned"
    assert p.waits[("y", 1)].ended_at == 7 * S


def test_invalid_pairs_change_nothing() -> None:
    p = projector()
    apply(p, "chat.requested", 0, chatId="c", visitorId="v")
    for kind, data in [
        ("chat.ended", {}),
        ("chat.transferred", {"toAgentId": A1}),
        ("chat.rated", {"score": 3}),
    ]:
        assert apply(p, kind, 1, chatId="c", **data) is not None
    chat = p.chats["c"]
    assert (chat.state, chat.last_event_at) == (WAITING, 0)


def test_a_message_while_waiting_is_valid_and_starts_no_response() -> None:
    p = projector()
    apply(p, "chat.requested", 0, chatId="c", visitorId="v")
    for second, sender in ((1, "visitor"), (2, "agent"), (3, "visitor")):
        assert apply(p, "chat.message", second, chatId="c", sender=sender) is None
    chat = p.chats["c"]
    assert (chat.state, chat.last_event_at, chat.pending_visitor_since) == (WAITING, 3 * S, None)
    assert (chat.response_count, chat.response_total) == (0, 0)
    apply(p, "chat.accepted", 10, chatId="c", agentId=A1)
    apply(p, "chat.message", 11, chatId="c", sender="agent")  # answers nothing yet
    apply(p, "chat.message", 12, chatId="c", sender="visitor")
    apply(p, "chat.message", 20, chatId="c", sender="agent")
    assert (chat.response_count, chat.response_total) == (1, 8 * S)


def test_status_intervals_chain() -> None:
    p = projector()
    apply(p, "agent.status_changed", 0, agentId=A1, statusId=ONLINE)
    apply(p, "agent.status_changed", 5, agentId=A1, statusId=ONLINE)
    spans = sorted((s.status_no, s.started_at // S, s.ended_at) for s in p.statuses.values())
    assert spans == [(1, 0, 5 * S), (2, 5, OPEN)]
