"""The simulator's model: only valid event sequences, capacity kept, deterministic by seed."""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo

import pytest

from chatpulse.domain.events import EVENT_TYPES, Event
from chatpulse.domain.projector import Projector
from chatpulse.sim import curve
from chatpulse.sim.demo import PREFILL_S as DEMO_PREFILL_S
from chatpulse.sim.demo_zone import demo_zone
from chatpulse.sim.model import Model
from chatpulse.sim.plan import AWAY, OFFLINE, ONLINE, Roster, RosterAgent, plan_site
from tests.support import uid

S = 1_000_000
MINUTE = 60 * S
LUNCH, MEETING = uid("status", 1), uid("status", 2)
# 2026-11-24 10:00 UTC: the peak of the day in UTC.
TEN_UTC = int(dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC).timestamp()) * S
THREE_UTC = TEN_UTC - 7 * 3600 * S
PREFILL_S = int(DEMO_PREFILL_S)


def roster(agents: int, departments: int, seed: int = 1) -> Roster:
    plan = plan_site(random.Random(seed), agents, departments)
    dept_ids = tuple(uid("dept", i + 1) for i in range(departments))
    return Roster(
        dept_ids,
        tuple(
            RosterAgent(
                uid("agent", n + 1),
                tuple(dept_ids[i] for i in a.departments),
                a.max_concurrent_chats,
            )
            for n, a in enumerate(plan.agents)
        ),
        lunch_status_id=LUNCH,
        meeting_status_id=MEETING,
    )


def projector(r: Roster) -> Projector:
    return Projector(
        chats={},
        agents={},
        known_agents={a.id for a in r.agents},
        known_departments=set(r.department_ids),
        known_statuses={ONLINE, AWAY, OFFLINE, LUNCH, MEETING},
        visitors={},
        invitations={},
    )


def run(model: Model, start: int, seconds: int, step: int = 1) -> list[Event]:
    events: list[Event] = []
    for t in [*range(0, seconds, step), seconds]:
        events.extend(model.advance(start + t * S))
    return events


def test_a_long_run_is_accepted_by_the_projector_and_keeps_every_capacity() -> None:
    r = roster(agents=12, departments=3)
    capacity = {a.id: a.max_concurrent_chats for a in r.agents}
    model = Model(r, TEN_UTC, seed=5, rate=1.5)
    p = projector(r)
    seen: set[str] = set()
    last = 0
    for t in range(0, 6 * 3600, 10):
        for event in model.advance(TEN_UTC + t * S):
            assert event.occurred_at >= last
            last = event.occurred_at
            assert p.apply(event, 0) is None, event
            seen.add(event.type)
        assert all(a.ongoing_chats <= capacity[a.agent_id] for a in p.agents.values())
    # Every kind of event happened, so every rule above was exercised.
    assert seen == set(EVENT_TYPES)


def test_events_stay_within_the_advanced_time() -> None:
    model = Model(roster(6, 2), TEN_UTC, seed=3, rate=3)
    previous = TEN_UTC
    for t in range(1, 1200):
        now = TEN_UTC + t * S
        events = model.advance(now)
        assert all(previous <= e.occurred_at <= now for e in events)
        previous = now


def test_the_same_seed_gives_the_same_events_however_often_it_is_advanced() -> None:
    r = roster(8, 2)
    first = run(Model(r, TEN_UTC, seed=42), TEN_UTC, 1800)
    second = run(Model(r, TEN_UTC, seed=42), TEN_UTC, 1800, step=7)
    other = run(Model(r, TEN_UTC, seed=43), TEN_UTC, 1800)
    assert len(first) > 100
    assert first == second
    assert first != other


def test_another_start_gives_other_ids_with_the_same_seed() -> None:
    r = roster(4, 1)
    a = run(Model(r, TEN_UTC, seed=7), TEN_UTC, 600)
    b = run(Model(r, TEN_UTC + 1, seed=7), TEN_UTC + 1, 600)
    assert {e.id for e in a}.isdisjoint({e.id for e in b})


def test_the_first_instant_puts_the_staffing_target_online_and_the_rest_offline() -> None:
    # At 03:00 UTC the staffing share is 0.15 + 0.65 × 0.10 = 0.215: round(5 × 0.215) = 1.
    r = roster(5, 1)
    model = Model(r, THREE_UTC, seed=1, rate=0)
    events = model.advance(THREE_UTC)
    assert [(e.type, e.occurred_at) for e in events] == [("agent.status_changed", THREE_UTC)] * 5
    statuses = sorted(e.data["statusId"] for e in events)
    assert statuses == [ONLINE, OFFLINE, OFFLINE, OFFLINE, OFFLINE]
    assert {e.data["agentId"] for e in events} == {a.id for a in r.agents}
    # With no traffic, nothing happens before the next breaks and staffing (5 minutes on).
    assert model.advance(THREE_UTC + 5 * MINUTE - 1) == []


def test_at_the_peak_four_agents_in_five_are_on_shift() -> None:
    # At 10:00 the share is 0.15 + 0.65 × 1.0 = 0.8: round(10 × 0.8) = 8 online.
    model = Model(roster(10, 2), TEN_UTC, seed=9, rate=0)
    events = model.advance(TEN_UTC)
    online = [e for e in events if e.data["statusId"] == ONLINE]
    assert (len(events), len(online)) == (10, 8)


def test_the_daily_curve_is_interpolated_by_local_hour() -> None:
    assert curve.arrival_share(10.0) == 1.0
    assert curve.arrival_share(7.5) == (0.35 + 0.60) / 2
    assert curve.arrival_share(23.5) == (0.25 + 0.20) / 2  # wraps to midnight
    assert curve.staffing_share(3.0) == 0.15 + 0.65 * 0.10
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    assert curve.local_hour(TEN_UTC + 30 * MINUTE, paris) == 11.5  # UTC+1 in November


def test_no_traffic_without_agents_or_rate() -> None:
    assert run(Model(roster(0, 1), TEN_UTC, seed=1), TEN_UTC, 3600) == []
    zero = run(Model(roster(3, 1), TEN_UTC, seed=1, rate=0), TEN_UTC, 3600, step=60)
    assert {e.type for e in zero} == {"agent.status_changed"}


def test_a_single_agent_of_capacity_one_never_holds_two_chats() -> None:
    r = Roster(
        (uid("dept", 1),),
        (RosterAgent(uid("agent", 1), (uid("dept", 1),), 1),),
        lunch_status_id=LUNCH,
        meeting_status_id=MEETING,
    )
    model = Model(r, TEN_UTC, seed=11, rate=20)
    p = projector(r)
    kinds: set[str] = set()
    for t in range(0, 2 * 3600, 5):
        for event in model.advance(TEN_UTC + t * S):
            assert p.apply(event, 0) is None, event
            kinds.add(event.type)
        assert all(a.ongoing_chats <= 1 for a in p.agents.values())
    # The one agent is swamped: visitors give up waiting.
    assert {"chat.accepted", "chat.abandoned", "chat.switched_to_message"} <= kinds


# The instants of tests/unit/sim/test_demo_zone.py, with the zone the demo picks at each and the
# staffing target there, worked out by hand: round(40 × (0.15 + 0.65 × arrival share)).
DEMO_STARTS = [
    # Brisbane 14:00: share 1.0 → 40 × 0.8 = 32
    (dt.datetime(2026, 11, 28, 4, tzinfo=dt.UTC), "Australia/Brisbane", 32),
    # Anchorage 14:59:30: share 1.0 − 0.05 × 119/120 = 0.950417 → 40 × 0.767771 = 30.71 → 31
    (dt.datetime(2026, 12, 31, 23, 59, 30, tzinfo=dt.UTC), "America/Anchorage", 31),
    # Honolulu 14:30: share 0.975 → 40 × 0.78375 = 31.35 → 31
    (dt.datetime(2026, 3, 29, 0, 30, tzinfo=dt.UTC), "Pacific/Honolulu", 31),
    # Johannesburg 14:00: 32
    (dt.datetime(2026, 11, 24, 12, tzinfo=dt.UTC), "Africa/Johannesburg", 32),
]


@pytest.mark.parametrize(("start", "zone", "on_shift"), DEMO_STARTS)
def test_the_demo_shows_a_busy_operation_within_its_first_minute(
    start: dt.datetime, zone: str, on_shift: int
) -> None:
    """`chatpulse demo` with its defaults (40 agents, 4 departments): the model replays the
    3 hours before the start in the zone the demo picks, then runs live for a minute."""
    now = int(start.timestamp()) * S
    picked = demo_zone(now)
    assert picked.name == zone
    r = roster(40, 4)
    model = Model(r, now - PREFILL_S * S, seed=1, zone=zoneinfo.ZoneInfo(picked.name))
    p = projector(r)
    history: list[Event] = []
    for t in range(0, PREFILL_S + 1, 60):
        history.extend(model.advance(now - (PREFILL_S - t) * S))
    for event in history:
        assert p.apply(event, 0) is None, event
    # Staffing last ran at the start itself (3 h = 36 rounds of 5 minutes).
    assert sum(a.on_shift for a in model.agents.values()) == on_shift
    # Today so far: chats accepted and ended in the local afternoon (the 3 hours from 11:00 or
    # later are all of the site's local today).
    local_day = picked.local.date()
    accepted = [e for e in history if e.type == "chat.accepted"]
    assert len(accepted) > 0 and len([e for e in history if e.type == "chat.ended"]) > 0
    zone_info = zoneinfo.ZoneInfo(zone)
    assert {dt.datetime.fromtimestamp(e.occurred_at / S, zone_info).date() for e in history} == {
        local_day
    }
    waiting_seen = 0
    for second in range(1, 61):
        for event in model.advance(now + second * S):
            assert p.apply(event, 0) is None, event
        assert sum(1 for a in p.agents.values() if a.ongoing_chats) > 0  # agents in chat
        waiting_seen += bool(model.waiting)
    assert waiting_seen > 0  # visitors waited in some queue
