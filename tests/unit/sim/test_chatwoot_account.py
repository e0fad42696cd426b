"""The simulated Chatwoot account: the model's events as the webhooks Chatwoot sends, which the
connector's mapping reads back as the same chat's facts."""

from __future__ import annotations

from typing import Any

from chatpulse.connectors.chatwoot import map_delivery
from chatpulse.domain.events import Event
from chatpulse.sim.chatwoot import Account
from chatpulse.sim.plan import AgentPlan, Plan

S = 1_000_000
TEN = 1795514400 * S  # 2026-11-24T10:00:00Z
PLAN = Plan(
    ("sales", "support"),
    (
        AgentPlan("Alice Martin", "alice@example.com", "Alice", "Martin", (0,), 3),
        AgentPlan("Bruno Diaz", "bruno@example.com", "Bruno", "Diaz", (0, 1), 2),
    ),
)


def event(kind: str, seconds: int, **data: Any) -> Event:
    return Event(f"e-{kind}-{seconds}", kind, TEN + seconds * S, data)


def facts(account: Account, *events: Event) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for e in events:
        for payload in account.webhooks(e):
            out += [(f.type, dict(f.data)) for f in map_delivery(payload, {}).facts]
    return out


def test_a_chat_with_the_bot_handed_to_a_team_answered_and_ended() -> None:
    account = Account(PLAN)
    assert facts(
        account,
        event("chat.requested", 0, chatId="c1", visitorId="v1", botId="b1"),
        event("chat.message", 1, chatId="c1", sender="bot"),
        event("chat.queued", 30, chatId="c1", departmentId="2"),
        event("chat.accepted", 42, chatId="c1", agentId="2"),
        event("chat.ended", 300, chatId="c1"),
        event("chat.rated", 310, chatId="c1", score=5),
    ) == [
        ("chat.requested", {"chatId": "1", "visitorId": "1", "botId": "inbox-1-bot"}),
        ("chat.message", {"chatId": "1", "sender": "bot"}),
        ("chat.queued", {"chatId": "1", "departmentId": None}),  # pending -> open
        ("chat.queued", {"chatId": "1", "departmentId": "2"}),  # then the team
        ("chat.accepted", {"chatId": "1", "agentId": "2"}),
        ("chat.ended", {"chatId": "1"}),
        ("chat.rated", {"chatId": "1", "score": 5}),
    ]


def test_status_changes_say_the_status_before() -> None:
    account = Account(PLAN)
    account.webhooks(event("chat.requested", 0, chatId="c1", visitorId="v1", departmentId="1"))
    [resolved] = account.webhooks(event("chat.abandoned", 20, chatId="c1"))
    assert resolved["event"] == "conversation_status_changed"
    assert resolved["changed_attributes"] == [
        {"status": {"previous_value": "open", "current_value": "resolved"}}
    ]
    assert resolved["meta"]["assignee_type"] is None


def test_agents_availability_is_the_apis() -> None:
    account = Account(PLAN)
    assert account.webhooks(event("agent.status_changed", 0, agentId="2", statusId="lunch")) == []
    assert [a["availability_status"] for a in account.api_agents()] == ["offline", "busy"]
    assert [a["id"] for a in account.api_team_members(2) or []] == [2]
