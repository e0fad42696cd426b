"""The live state in memory (domain/live.py): folded event by event, with running totals worked
out by hand."""

from __future__ import annotations

import random
from typing import Any

from chatpulse.domain.events import Event
from chatpulse.domain.live import EndedWait, LiveState
from chatpulse.domain.queue_metrics import WaitSums
from chatpulse.domain.rollups import WAIT_MINUTE
from chatpulse.domain.site_config import AgentConfig, DepartmentConfig, SiteConfig

S = 1_000_000
HOUR = 3600 * S
D1, D2 = "d1", "d2"
ONLINE, AWAY, LUNCH = "s-online", "s-away", "s-lunch"
T0 = 100 * HOUR  # events start here


def config() -> SiteConfig:
    def agent(
        agent_id: str, capacity: int, departments: tuple[str, ...], active: bool = True
    ) -> AgentConfig:
        doc = {"id": agent_id, "displayName": agent_id.upper()}
        return AgentConfig(agent_id, agent_id.upper(), agent_id, capacity, active, departments, doc)

    return SiteConfig.of(
        1,
        {
            "a1": agent("a1", 3, (D1,)),
            "a2": agent("a2", 2, (D1, D2)),
            "gone": agent("gone", 5, (D2,), active=False),
        },
        {ONLINE: "online", AWAY: "away", LUNCH: "away"},
        {
            D1: DepartmentConfig(D1, False, True, {"id": D1, "name": "One"}),
            D2: DepartmentConfig(D2, False, True, {"id": D2, "name": "Two"}),
        },
    )


class Log:
    def __init__(self) -> None:
        self.events: list[tuple[int, Event]] = []

    def add(self, kind: str, seconds: int, **data: Any) -> None:
        n = len(self.events) + 1
        self.events.append((n, Event(f"e{n}", kind, T0 + seconds * S, data)))


def empty(horizon: int = T0 - HOUR) -> LiveState:
    return LiveState.start(0, config(), [], [], [], horizon, [])


def test_agents_and_chats_move_the_running_totals() -> None:
    log = Log()
    log.add("agent.status_changed", 0, agentId="a1", statusId=ONLINE)
    log.add("agent.status_changed", 0, agentId="a2", statusId=LUNCH)
    log.add("agent.status_changed", 0, agentId="gone", statusId=ONLINE)  # inactive: not counted
    log.add("chat.requested", 10, chatId="c1", visitorId="v1", departmentId=D1)
    log.add("chat.requested", 11, chatId="c2", visitorId="v2", botId="b", departmentId=D2)
    log.add("chat.accepted", 40, chatId="c1", agentId="a1")
    log.add("visitor.arrived", 41, visitorId="v9")
    state = empty()
    state.fold(log.events)
    assert state.sequence == 7
    # a1 online in D1 with 1 chat of capacity 3; a2 away (Lunch) in D1 and D2; c2 with the bot.
    assert state.figures("") == {
        "logged_in": 2,
        "in_chat": 1,
        "online_chats": 1,
        "online_capacity": 3,
        "bot_chats": 1,
        "waiting_chats": 0,
        "ongoing_chats": 1,
        "visitors_on_site": 1,
        "available": 1,  # a1: 1 of 3
        "away": 1,  # a2
        "free_slots": 2,  # a1's 3 − 1
    }
    assert state.figures(D2) == {
        "logged_in": 1,
        "in_chat": 0,
        "online_chats": 0,
        "online_capacity": 0,
        "bot_chats": 1,
        "waiting_chats": 0,
        "ongoing_chats": 0,
        "visitors_on_site": 0,
        "available": 0,
        "away": 1,  # a2 is in D2 too
        "free_slots": 0,
    }
    assert [c.chat_id for c in state.open_waits(None)] == []

    more = Log()
    more.events = list(log.events)
    more.add("chat.ended", 100, chatId="c1")
    more.add("chat.queued", 101, chatId="c2", departmentId=D1)
    more.add("visitor.left", 102, visitorId="v9")
    state.fold(more.events)  # the first seven are already folded: skipped
    assert state.sequence == 10
    assert set(state.chats) == {"c2"}  # the ended chat leaves memory
    assert state.figures("")["in_chat"] == 0
    assert state.figures("")["waiting_chats"] == 1
    assert state.figures(D1)["waiting_chats"] == 1
    assert state.figures(D2)["bot_chats"] == 0
    assert state.figures("")["visitors_on_site"] == 0
    assert [c.chat_id for c in state.open_waits(D1)] == ["c2"]


def test_ended_waits_of_the_last_hour_by_route_target() -> None:
    log = Log()
    log.add("chat.requested", 0, chatId="c1", visitorId="v1", departmentId=D1)
    log.add("chat.requested", 0, chatId="c2", visitorId="v2", agentId="a1")
    log.add("chat.requested", 0, chatId="c3", visitorId="v3", departmentId=D1)
    log.add("chat.abandoned", 30, chatId="c1")  # 30 s, 100 minutes before now
    log.add("chat.switched_to_message", 5940, chatId="c2")  # 5,940 s: ended 1 min before now
    log.add("chat.accepted", 4000, chatId="c3", agentId="a2")  # 4,000 s, 34:00 before now
    state = empty()
    state.fold(log.events)
    now = T0 + 6000 * S
    # Judged with the default thresholds (T 30 s, S 0): c3 answered late, c2 switched: both
    # counted, neither in time.
    c3 = WaitSums(1, 4000 * S, 0, 0, 0, 0, in_time_60=0, counted_60=1)
    assert state.ended_waits(now, None) == {
        (D1, None): c3,
        (None, "a1"): WaitSums(1, 5940 * S, 1, 5940 * S, 0, 1, 0, 1, 0, 1),
    }
    assert state.ended_waits(now, D1) == {(D1, None): c3}
    # An hour that starts before what memory holds: the caller reads the projections.
    assert state.ended_waits(T0 - 30 * S, None) is None
    state.forget_before(now - 65 * WAIT_MINUTE)
    assert state.horizon == T0 + 6000 * S - 65 * WAIT_MINUTE - (
        (T0 + 6000 * S - 65 * WAIT_MINUTE) % WAIT_MINUTE
    )
    assert sorted(w.length for waits in state.ended.values() for w in waits) == [
        4000 * S,
        5940 * S,
    ]


def test_a_transfer_moves_the_chat_between_agents_and_departments() -> None:
    log = Log()
    log.add("agent.status_changed", 0, agentId="a1", statusId=ONLINE)
    log.add("agent.status_changed", 0, agentId="a2", statusId=ONLINE)
    log.add("chat.requested", 1, chatId="c", visitorId="v", departmentId=D1)
    log.add("chat.accepted", 2, chatId="c", agentId="a1")
    log.add("chat.transferred", 3, chatId="c", toAgentId="a2")
    state = empty()
    state.fold(log.events)
    assert (state.agents["a1"].ongoing_chats, state.agents["a2"].ongoing_chats) == (0, 1)
    assert state.figures(D2)["online_chats"] == 1  # a2 is in D2; a1 is not
    assert state.figures(D1)["online_chats"] == 1
    assert state.figures("")["online_capacity"] == 5
    log.add("chat.transferred", 4, chatId="c", toDepartmentId=D2)
    state.fold(log.events)
    assert state.figures("")["in_chat"] == 0
    assert state.figures(D2)["waiting_chats"] == 1
    assert state.figures(D1)["ongoing_chats"] == 0
    assert [(c.route_department_id, c.wait_started_at) for c in state.open_waits(None)] == [
        (D2, T0 + 4 * S)
    ]


def test_ended_waits_by_minute_sums_equal_a_count_wait_by_wait() -> None:
    """Whole minutes read from the per-minute sums, edge minutes wait by wait: the same as
    counting every wait, at instants on, just before and just after minute boundaries."""
    rng = random.Random(5)
    targets = [(D1, None), (D2, None), (None, "a1"), (None, None)]
    waits = [
        EndedWait(
            T0 + rng.randint(0, 3 * HOUR),
            rng.choice(targets),
            rng.randint(0, 600 * S),
            rng.choice(["answered", "abandoned", "switched"]),
        )
        for _ in range(3000)
    ]
    state = LiveState.start(0, config(), [], [], [], T0, waits)
    for _ in range(200):
        minute = T0 + rng.randint(61, 180) * WAIT_MINUTE
        now = minute + rng.choice([0, 1, -1, rng.randint(0, WAIT_MINUTE - 1)])
        department = rng.choice([None, D1])
        expected: dict[Any, WaitSums] = {}
        for w in waits:
            if not now - 60 * WAIT_MINUTE < w.ended_at <= now:
                continue
            if department is not None and w.target[0] != department:
                continue
            sums = expected.setdefault(w.target, WaitSums())
            in_time = w.outcome == "answered" and w.length <= 30 * S  # the default T, S 0
            sums.count_60 += 1
            sums.total_60 += w.length
            sums.in_time_60 += in_time
            sums.counted_60 += 1
            if w.ended_at > now - 30 * WAIT_MINUTE:
                sums.count_30 += 1
                sums.total_30 += w.length
                sums.abandoned_30 += w.outcome == "abandoned"
                sums.switched_30 += w.outcome == "switched"
                sums.in_time_30 += in_time
                sums.counted_30 += 1
        assert state.ended_waits(now, department) == expected, now
