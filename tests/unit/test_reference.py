"""The reference model's extension fields (METRICS.md §7) on small examples worked by hand, so
that the property tests compare the served views with something known to be right."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import pytest

from tests import reference as ref
from tests.conftest import SHARED

SECOND = ref.SECOND
NOW = 1_795_521_600 * SECOND  # 2026-11-24T12:00:00Z
DAY = (NOW - 12 * 3600 * SECOND, NOW)  # today, UTC
SALES, SUPPORT = "dddddddd-0000-4000-8000-000000000001", "dddddddd-0000-4000-8000-000000000002"
ALICE, BOB, CAROL = (f"aaaaaaaa-0000-4000-8000-00000000000{n}" for n in (1, 2, 3))
DAVE, EVE, FRANK = (f"aaaaaaaa-0000-4000-8000-00000000000{n}" for n in (4, 5, 6))
ONLINE, AWAY = "00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000001"
STATUS_TYPES = {ONLINE: "online", AWAY: "away", "00000000-0000-0000-0000-000000000002": "offline"}


def at(seconds: float) -> int:
    """NOW + seconds, in µs (exact for the thousandths used here)."""
    return NOW + round(seconds * SECOND)


def department(
    dept_id: str, name: str, t: int | None = None, s: int | None = None
) -> dict[str, Any]:
    return {
        "id": dept_id,
        "name": name,
        "isAvailableInLiveChat": True,
        "isDeleted": False,
        "serviceLevelSeconds": t,
        "shortAbandonSeconds": s,
    }


def agent(
    agent_id: str, name: str, capacity: int, departments: tuple[str, ...] = (), active: bool = True
) -> dict[str, Any]:
    return {
        "id": agent_id,
        "displayName": name,
        "isActive": active,
        "isDeleted": False,
        "departmentIds": list(departments),
        "maxConcurrentChats": capacity,
    }


def config(
    t: int = 30,
    s: int = 0,
    departments: tuple[dict[str, Any], ...] = (),
    agents: tuple[dict[str, Any], ...] = (),
) -> ref.Config:
    return ref.Config(list(departments), list(agents), STATUS_TYPES, t, s)


def chat(n: int, seconds: float, dept: str | None = None, **extra: Any) -> ref.RefEvent:
    """chat.requested of chat n (visitor n), NOW + seconds."""
    data: dict[str, Any] = {"chatId": f"chat-{n}", "visitorId": f"visitor-{n}", **extra}
    if dept:
        data["departmentId"] = dept
    return (at(seconds), "chat.requested", data)


def then(kind: str, n: int, seconds: float, **data: Any) -> ref.RefEvent:
    """Any later chat event of chat n."""
    return (at(seconds), f"chat.{kind}", {"chatId": f"chat-{n}", **data})


def service_levels(log: list[ref.RefEvent], cfg: ref.Config) -> dict[str | None, Any]:
    """Today's serviceLevel (key None) and each queue row's serviceLevelinLast60Mins."""
    r = ref.replay(log)
    out: dict[str | None, Any] = {None: ref.today(r, cfg, *DAY, NOW, None, True)["serviceLevel"]}
    for row in ref.queue(r, cfg, NOW, None, True):
        out[row["routeToDepartmentId"] or row["routeToAgentId"] or "none"] = row[
            "serviceLevelinLast60Mins"
        ]
    return out


def test_answered_in_time_is_L_at_most_T_and_changing_T_re_judges_the_same_waits() -> None:
    log = [
        *(chat(1, -600), then("accepted", 1, -580, agentId=ALICE)),  # 20 s
        *(chat(2, -500), then("accepted", 2, -470, agentId=ALICE)),  # 30 s exactly
        *(chat(3, -400), then("accepted", 3, -369.999999, agentId=ALICE)),  # 30.000001 s
        *(chat(4, -300), then("abandoned", 4, -250)),  # 50 s, counted (S = 0)
    ]
    # T = 30: in time 20 s and 30 s (L ≤ T) → 2 of 4 counted = 50 %; every wait ended in the
    # last hour, in the no-department row.
    assert service_levels(log, config(t=30)) == {None: 50.0, "none": 50.0}
    assert service_levels(log, config(t=20)) == {None: 25.0, "none": 25.0}  # 20 s only: 1 of 4
    assert service_levels(log, config(t=10)) == {None: 0.0, "none": 0.0}  # judged, none in time
    assert service_levels(log, config(t=60)) == {None: 75.0, "none": 75.0}  # all three answered


def test_short_abandons_are_left_out_and_an_abandon_of_exactly_S_counts() -> None:
    log = [
        *(chat(1, -600), then("accepted", 1, -595, agentId=ALICE)),  # 5 s, in time
        *(chat(2, -500), then("abandoned", 2, -490.000001)),  # 9.999999 s < S: short
        *(chat(3, -400), then("abandoned", 3, -390)),  # 10 s = S: counted, not in time
        *(chat(4, -300), then("switched_to_message", 4, -297)),  # 3 s: short
        *(chat(5, -200), then("switched_to_message", 5, -155)),  # 45 s: counted
    ]
    # S = 10: counted 1 + 1 + 1 = 3, in time 1 → 33.333… → 33.33
    assert service_levels(log, config(s=10)) == {None: 33.33, "none": 33.33}
    assert service_levels(log, config(s=0)) == {None: 20.0, "none": 20.0}  # all 5 counted
    assert service_levels(log, config(s=60)) == {None: 100.0, "none": 100.0}  # the answer only


def test_a_service_level_with_nothing_counted_is_none() -> None:
    cfg = config(s=10, departments=(department(SALES, "Sales"),))
    assert service_levels([], cfg) == {None: None, SALES: None}
    log = [
        *(chat(1, -600, SALES), then("abandoned", 1, -595)),  # short
        *(chat(2, -500, SALES), then("switched_to_message", 2, -491)),  # short
        chat(3, -400, SALES),  # still waiting: not ended, not judged
        (at(-300), "chat.requested", {"chatId": "chat-4", "visitorId": "v", "botId": "b"}),
    ]
    assert service_levels(log, cfg) == {None: None, SALES: None}
    r = ref.replay(log)
    today = ref.today(r, cfg, *DAY, NOW, None, True)
    # No answered first wait: 0; the longest first wait is chat 3's, 400 s up to now.
    assert (today["avgSpeedOfAnswer"], today["longestWaitingTime"]) == (0, 400.0)
    assert ref.today(ref.replay([]), cfg, *DAY, NOW, None, True)["longestWaitingTime"] == 0


def test_a_department_override_wins_and_its_null_takes_the_sites() -> None:
    cfg = config(
        t=30,
        s=10,
        departments=(department(SALES, "Sales", t=10), department(SUPPORT, "Support", s=0)),
    )
    log = [
        *(chat(1, -600, SALES), then("accepted", 1, -580, agentId=ALICE)),  # 20 s > Sales' 10
        *(chat(2, -500, SALES), then("abandoned", 2, -495)),  # 5 s < the site's S 10: short
        *(chat(3, -400, SUPPORT), then("accepted", 3, -380, agentId=ALICE)),  # 20 s ≤ site's 30
        *(chat(4, -300, SUPPORT), then("abandoned", 4, -295)),  # 5 s ≥ Support's S 0: counted
    ]
    # Sales 0 of 1; Support 1 of 2; together 1 of 3.
    assert service_levels(log, cfg) == {None: 33.33, SALES: 0.0, SUPPORT: 50.0}
    with_site_thresholds = config(
        t=30, s=10, departments=(department(SALES, "Sales"), department(SUPPORT, "Support"))
    )
    # Without overrides: chats 1 and 3 in time, 2 and 4 short → 100 % everywhere.
    assert service_levels(log, with_site_thresholds) == {None: 100.0, SALES: 100.0, SUPPORT: 100.0}


def test_waits_routed_to_an_agent_or_to_no_department_use_the_sites_thresholds() -> None:
    cfg = config(
        t=30,
        departments=(department(SALES, "Sales", t=10),),
        agents=(agent(ALICE, "Alice", 3, (SALES,)),),
    )
    log = [
        *(chat(1, -600, agentId=ALICE), then("accepted", 1, -580, agentId=ALICE)),  # 20 s ≤ 30
        chat(2, -500, SALES),  # in Sales, then routed to Alice: judged by the site's T
        then("queued", 2, -498, agentId=ALICE),
        then("accepted", 2, -480, agentId=ALICE),  # 20 s ≤ 30
        *(chat(3, -400), then("accepted", 3, -380, agentId=ALICE)),  # no department: 20 s ≤ 30
        *(chat(4, -300, SALES), then("accepted", 4, -280, agentId=ALICE)),  # Sales: 20 s > 10
    ]
    # 3 of 4; Alice's row: chats 1 and 2, both in time; Sales' row: chat 4 only.
    assert service_levels(log, cfg) == {None: 75.0, SALES: 0.0, "none": 100.0, ALICE: 100.0}
    # The Sales cohort (department when first queued): chats 2 and 4 → 1 of 2.
    r = ref.replay(log)
    assert ref.today(r, cfg, *DAY, NOW, SALES, True)["serviceLevel"] == 50.0


def test_a_requeued_wait_is_judged_by_the_department_it_ended_in() -> None:
    cfg = config(
        t=30,
        departments=(department(SALES, "Sales", t=10), department(SUPPORT, "Support", t=60)),
    )
    log = [
        chat(1, -600, SALES),
        then("queued", 1, -595, departmentId=SUPPORT),
        then("accepted", 1, -560, agentId=ALICE),  # 40 s, ended in Support: ≤ 60, in time
        chat(2, -500, SUPPORT),
        then("queued", 2, -495, departmentId=SALES),
        then("accepted", 2, -480, agentId=ALICE),  # 20 s, ended in Sales: > 10, late
    ]
    assert service_levels(log, cfg) == {None: 50.0, SALES: 0.0, SUPPORT: 100.0}


def test_today_judges_first_waits_only_and_the_queue_every_wait() -> None:
    cfg = config(
        t=30,
        departments=(department(SALES, "Sales", t=10), department(SUPPORT, "Support", t=60)),
    )
    log = [
        chat(1, -600, SALES),
        then("accepted", 1, -595, agentId=ALICE),  # first wait 5 s in Sales: in time
        then("transferred", 1, -500, toDepartmentId=SALES),
        then("accepted", 1, -450, agentId=BOB),  # second wait 50 s in Sales: late
    ]
    assert service_levels(log, cfg) == {None: 100.0, SALES: 50.0, SUPPORT: None}
    today = ref.today(ref.replay(log), cfg, *DAY, NOW, None, True)
    assert (today["avgSpeedOfAnswer"], today["longestWaitingTime"]) == (5.0, 5.0)


def test_today_speed_of_answer_and_longest_first_wait() -> None:
    cfg = config()
    log = [
        *(chat(1, -100), then("accepted", 1, -90, agentId=ALICE)),  # 10 s
        then("transferred", 1, -85, toDepartmentId=SALES),  # a second wait, 85 s: not a first
        *(chat(2, -80), then("abandoned", 2, -50)),  # 30 s, abandoned
        chat(3, -60),  # waiting 60 s at NOW
        (at(-45), "chat.requested", {"chatId": "chat-4", "visitorId": "v", "botId": "b"}),
        *(chat(5, -40), then("accepted", 5, -27.655, agentId=ALICE)),  # 12.345 s
    ]
    r = ref.replay(log)
    today = ref.today(r, cfg, *DAY, NOW, None, True)
    # Answered first waits 10 and 12.345 s → 11.1725 → 11.17; in time 2 of 3 → 66.67.
    assert (today["serviceLevel"], today["avgSpeedOfAnswer"]) == (66.67, 11.17)
    assert today["longestWaitingTime"] == 60.0  # chat 3, still waiting, up to now
    # A window that ended before: chat 3's wait still counts up to now; chat 5 is not in it.
    past = ref.today(r, cfg, at(-100), at(-50), NOW, None, True)
    assert (past["serviceLevel"], past["avgSpeedOfAnswer"], past["longestWaitingTime"]) == (
        50.0,
        10.0,
        60.0,
    )
    assert set(ref.today(r, cfg, *DAY, NOW, None)) == set(today) - {
        "serviceLevel",
        "avgSpeedOfAnswer",
        "longestWaitingTime",
    }


def test_right_now_agent_capacity_fields() -> None:
    cfg = config(
        departments=(department(SALES, "Sales"),),
        agents=(
            agent(ALICE, "Alice", 2, (SALES,)),  # online, 1 of 2: available, 1 free
            agent(BOB, "Bob", 3),  # online, 1 of 3: available, 2 free (not in Sales)
            agent(CAROL, "Carol", 3, (SALES,)),  # away
            agent(DAVE, "Dave", 0, (SALES,)),  # online, capacity 0: not available
            agent(EVE, "Eve", 1),  # online, 2 chats of 1: over capacity, 0 free (not -1)
            agent(FRANK, "Frank", 5, (SALES,), active=False),  # inactive: left out
        ),
    )
    statuses: list[ref.RefEvent] = [
        (at(-900), "agent.status_changed", {"agentId": a, "statusId": ONLINE})
        for a in (ALICE, BOB, DAVE, EVE, FRANK)
    ]
    statuses.append((at(-900), "agent.status_changed", {"agentId": CAROL, "statusId": AWAY}))
    log = [
        *statuses,
        *(chat(1, -800, SALES), then("accepted", 1, -790, agentId=ALICE)),
        *(chat(2, -800), then("accepted", 2, -790, agentId=BOB)),
        *(chat(3, -800), then("accepted", 3, -790, agentId=EVE)),
        *(chat(4, -800), then("accepted", 4, -790, agentId=EVE)),
        chat(5, -300.5, SALES),  # waiting 300.5 s → 300
        chat(6, -400.9),  # waiting 400.9 s → 400, no department
        chat(7, -500, SALES),
        then("queued", 7, -450, agentId=ALICE),  # now routed to Alice: not Sales'
    ]
    r = ref.replay(log)
    everyone = ref.right_now(r, cfg, None, NOW, True)
    assert {k: everyone[k] for k in list(everyone)[8:]} == {
        "longestWaitTime": 500,  # chat 7
        "availableAgents": 2,  # Alice, Bob
        "awayAgents": 1,  # Carol
        "freeChatSlots": 3,  # Alice 1 + Bob 2
    }
    sales = ref.right_now(r, cfg, SALES, NOW, True)
    assert {k: sales[k] for k in list(sales)[8:]} == {
        "longestWaitTime": 300,  # chat 5
        "availableAgents": 1,
        "awayAgents": 1,
        "freeChatSlots": 1,
    }
    assert len(ref.right_now(r, cfg, None)) == 8


def test_queue_longest_wait_is_the_rows_longest_visitor() -> None:
    cfg = config(departments=(department(SALES, "Sales"), department(SUPPORT, "Support")))
    log = [chat(1, -300.5, SALES), chat(2, -120, SALES)]
    rows = {
        row["routeToDepartmentId"]: row for row in ref.queue(ref.replay(log), cfg, NOW, None, True)
    }
    assert (rows[SALES]["longestWaitTime"], rows[SUPPORT]["longestWaitTime"]) == (300, 0)
    assert "longestWaitTime" not in ref.queue(ref.replay(log), cfg, NOW, None)[0]


def test_agents_status_since_and_missed_chats() -> None:
    cfg = config(agents=(agent(ALICE, "Alice", 3), agent(BOB, "Bob", 3)))
    log = [
        (at(-7200), "agent.status_changed", {"agentId": ALICE, "statusId": ONLINE}),
        (at(-60.0125), "agent.status_changed", {"agentId": ALICE, "statusId": AWAY}),
        chat(1, -4000),
        then("missed", 1, -3700, agentId=ALICE),  # before the window below
        then("missed", 1, -3500, agentId=ALICE),
        then("missed", 1, -3400, agentId=ALICE),  # the same chat again: counted again
        then("missed", 1, -3300, agentId=BOB),
        then("accepted", 1, -3000, agentId=BOB),
    ]
    r = ref.replay(log)
    page = ref.agents(r, cfg, at(-3600), NOW, NOW, None, 1, 10, False, True)["list"]
    assert [(a["displayName"], a["currentStatusSince"], a["missedChats"]) for a in page] == [
        ("Alice", "2026-11-24T11:58:59.987Z", 2),  # 11:58:59.9875: milliseconds cut off
        ("Bob", None, 1),
    ]


def test_intervals_cut_the_window_from_its_start_and_leave_out_buckets_from_now_on() -> None:
    cfg = config()
    log = [
        *(chat(1, -4500), then("accepted", 1, -4490, agentId=ALICE)),  # before the window
        *(chat(2, -3000), then("accepted", 2, -2980, agentId=ALICE)),  # bucket 1, 20 s
        *(chat(3, -1700), then("abandoned", 3, -1600)),  # bucket 2, 100 s
        chat(4, -30),  # bucket 3, waiting 30 s at NOW
    ]
    r = ref.replay(log)
    # 70 minutes in 30-minute buckets: 30 + 30 + 10.
    buckets = ref.intervals(r, cfg, at(-4200), NOW, NOW, None, 30)
    assert [(b["startTime"], b["endTime"]) for b in buckets] == [
        ("2026-11-24T10:50:00.000Z", "2026-11-24T11:20:00.000Z"),
        ("2026-11-24T11:20:00.000Z", "2026-11-24T11:50:00.000Z"),
        ("2026-11-24T11:50:00.000Z", "2026-11-24T12:00:00.000Z"),
    ]
    picked = [
        (b["totalChats"], b["serviceLevel"], b["avgSpeedOfAnswer"], b["longestWaitingTime"])
        for b in buckets
    ]
    assert picked == [(1, 100.0, 20.0, 20.0), (1, 0.0, 0, 100.0), (1, None, 0, 30.0)]
    # Each bucket is Today over it, every field.
    bounds = [(at(-4200), at(-2400)), (at(-2400), at(-600)), (at(-600), NOW)]
    for b, (start, end) in zip(buckets, bounds, strict=True):
        fields = {k: v for k, v in b.items() if k not in ("startTime", "endTime")}
        assert fields == ref.today(r, cfg, start, end, NOW, None, True)
    # Asked past now, the buckets from now on are left out; the one holding now is kept.
    later = ref.intervals(r, cfg, at(-4200), at(3600), at(-1800), None, 60)
    assert [(b["startTime"], b["endTime"]) for b in later] == [
        ("2026-11-24T10:50:00.000Z", "2026-11-24T11:50:00.000Z")
    ]


# ------------------------------------------------------------------ the shared worked example

EXAMPLE = SHARED / "scenarios" / "extensions" / "extensions_basic.json"


def _fill(text: str) -> str:
    """The scenario's {T-90} placeholders, with NOW as T."""
    if text.startswith("{T") and text.endswith("}"):
        return ref.iso_ms(at(int(text[2:-1] or 0)))
    return text


def _matches(expected: Any, got: Any) -> bool:
    """The scenario format's matching (shared/scenarios/README.md), the matchers used here."""
    if isinstance(expected, dict) and "$approx" in expected:
        return bool(abs(got - expected["$approx"]) <= expected["tol"])
    if isinstance(expected, dict) and "$len" in expected:
        return len(got) == expected["$len"]
    if isinstance(expected, dict) and "$partial" in expected:
        return all(_matches(v, got.get(k)) for k, v in expected["$partial"].items())
    if isinstance(expected, dict):
        return (
            isinstance(got, dict)
            and set(expected) == set(got)
            and all(_matches(v, got[k]) for k, v in expected.items())
        )
    if isinstance(expected, list):
        return (
            isinstance(got, list)
            and len(expected) == len(got)
            and all(_matches(e, g) for e, g in zip(expected, got, strict=True))
        )
    if isinstance(expected, str):
        return _fill(expected) == got
    return bool(expected == got and isinstance(expected, bool) == isinstance(got, bool))


def _answer(r: ref.Replay, cfg: ref.Config, view: str, query: Mapping[str, Any]) -> Any:
    extended = query.get("extended") == "true"
    dept = query.get("departmentId")
    start_time, end_time = (
        _fill(query[k]) if k in query else None for k in ("startTime", "endTime")
    )
    bounds = ref.window(NOW, ref.dt.UTC, start_time, end_time)
    assert bounds is not None
    if view == "RightNow":
        return ref.right_now(r, cfg, dept, NOW, extended)
    if view == "Queue":
        return ref.queue(r, cfg, NOW, dept, extended)
    if view == "Today":
        return ref.today(r, cfg, *bounds, NOW, dept, extended)
    if view == "Agents":
        return ref.agents(r, cfg, *bounds, NOW, dept, 1, 10, False, extended)
    return ref.intervals(r, cfg, *bounds, NOW, dept, int(query["intervalMinutes"]))


@pytest.mark.skipif(not EXAMPLE.exists() and os.environ.get("CI") != "true", reason=f"no {EXAMPLE}")
def test_the_shared_worked_example_of_the_extensions() -> None:
    """shared/scenarios/extensions/extensions_basic.json, its requests answered by the model at
    T = NOW (so its "about 300 s" are exactly 300 s here)."""
    steps = json.loads(EXAMPLE.read_text())["steps"]
    site: dict[str, Any] = {}
    departments: list[dict[str, Any]] = []
    agents: list[dict[str, Any]] = []
    log: list[ref.RefEvent] = []
    checked = 0
    for step in steps:
        if step.get("status", 200) >= 300:
            continue  # rejected requests: the server's business, not the model's
        if step.get("put") == "/api/v3/site":
            site = step["body"]
        elif step.get("post") == "/api/v3/departments":
            departments.append(
                {"siteId": "{SITE}", "isDeleted": False, "serviceLevelSeconds": None}
                | {"shortAbandonSeconds": None}
                | step["body"]
            )
        elif step.get("post") == "/api/v3/agents":
            agents.append({"isActive": True, "isDeleted": False} | step["body"])
        elif "events" in step:
            log += [(at(e["at"]), e["type"], e["data"]) for e in step["events"]]
        elif "get" in step:
            cfg = ref.Config(
                departments,
                agents,
                STATUS_TYPES,
                site.get("serviceLevelSeconds", 30),
                site.get("shortAbandonSeconds", 0),
            )
            view = step["get"].rsplit("/", 1)[1]
            got = _answer(ref.replay(log), cfg, view, step.get("query", {}))
            assert _matches(step["expect"], got), (step.get("label"), got)
            checked += 1
    assert checked == 7
