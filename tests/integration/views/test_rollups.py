"""The per-quarter sums of closed intervals and per-minute sums of ended waits (store/rollups.py):
Today's agentUtilization read through them, worked by hand; the migration that fills them from
stored rows gives the same sums as ingest kept; `chatpulse check` compares them with a replay."""

from __future__ import annotations

from typing import Any

from alembic import command
from sqlalchemy import Engine, select

from chatpulse.store import migrate, replay
from chatpulse.store import tables as t
from tests.factories import chat_accepted, chat_requested
from tests.support import OFFLINE, ONLINE, SiteClient, ev, uid

AWAY = "00000000-0000-0000-0000-000000000001"
TODAY = "/api/v3/livechat/realTime/Today"


def _chat(n: int, requested: float, accepted: float, agent: int, ended: float | None) -> list[Any]:
    events = [chat_requested(n, requested), chat_accepted(n, accepted, agent)]
    if ended is not None:
        events.append(ev("chat.ended", ended, chatId=uid("chat", n)))
    return events


def _load(site: SiteClient) -> None:
    """T = 12:00:00 UTC, a site in UTC: today's window is [00:00, 24:00), clipped to 12:00."""
    site.department(1, "Sales")
    site.department(2, "Support")
    for n, name, departments in ((1, "Alice", (1,)), (2, "Bob", (1,)), (3, "Carol", (1,))):
        site.agent(n, name, departments, capacity=2)
    site.agent(4, "Dave", (2,), capacity=2)
    status = "agent.status_changed"
    site.ok_events(
        # Alice: online 09:13:19.5 → away 10:53:19.75 → offline 11:43:20 (both closed, spanning
        # quarters 09:00 to 11:30)
        ev(status, -10000.5, agentId=uid("agent", 1), statusId=ONLINE),
        ev(status, -4000.25, agentId=uid("agent", 1), statusId=AWAY),
        ev(status, -1000, agentId=uid("agent", 1), statusId=OFFLINE),
        ev(status, -500, agentId=uid("agent", 2), statusId=ONLINE),  # Bob, open from 11:51:40
        ev(status, -7200, agentId=uid("agent", 3), statusId=ONLINE),  # Carol 10:00 → 11:00
        ev(status, -3600, agentId=uid("agent", 3), statusId=OFFLINE),
        ev(status, -1800, agentId=uid("agent", 4), statusId=ONLINE),  # Dave, open from 11:30
        # c1: Alice busy 09:30:10 → 10:29:59.5 (3589.5 s, closed)
        *_chat(1, -9000, -8990, 1, -5400.5),
        # c2: Bob busy from 11:55:10, still going (290 s by 12:00)
        *_chat(2, -300, -290, 2, None),
        # c3: Carol busy 10:03:30 → 10:20 (990 s): Carol is made inactive below
        *_chat(3, -7000, -6990, 3, -6000),
    )
    carol = site.http.get(f"/api/v3/agents/{uid('agent', 3)}").json()
    carol["isActive"] = False
    assert site.http.put(f"/api/v3/agents/{uid('agent', 3)}", json=carol).status_code == 200


def test_agent_utilization_from_the_sums_worked_by_hand(site: SiteClient) -> None:
    _load(site)
    # Whole day (aligned: read from the sums, with the open intervals from the rows):
    # H = 3589.5 (Alice, c1) + 290 (Bob, c2, open) = 3879.5 s; Carol's 990 s left out.
    # O = 6000.25 + 3000.25 (Alice, closed) + 500 (Bob, open) + 1800 (Dave, open) = 11300.5 s.
    # 3879.5 / 11300.5 = 34.3303… % → 34.33
    assert site.get(TODAY)["agentUtilization"] == 34.33
    # Sales only: Dave is not in it: O = 9500.5 s; 3879.5 / 9500.5 = 40.8347… % → 40.83
    assert site.get(TODAY, departmentId=uid("dept", 1))["agentUtilization"] == 40.83
    # [10:00:07, 11:50:00): neither bound on a quarter; Bob starts after the end.
    # O = Alice online 10:00:07 → 10:53:19.75 (3192.75) + away 3000.25 + Dave 11:30 → 11:50
    # (1200) = 7393 s; H = Alice 10:00:07 → 10:29:59.5 = 1792.5 s.
    # 1792.5 / 7393 = 24.2459… % → 24.25
    window = {"startTime": "2026-11-24T10:00:07Z", "endTime": "2026-11-24T11:50:00Z"}
    assert site.get(TODAY, **window)["agentUtilization"] == 24.25
    # [10:30, 11:45): on quarters. O = 1399.75 (online to 10:53:19.75) + 3000.25 (away)
    # + 900 (Dave 11:30 → 11:45) = 5300 s; H = 0 (c1 ended at 10:29:59.5): 0 %.
    window = {"startTime": "2026-11-24T10:30:00Z", "endTime": "2026-11-24T11:45:00Z"}
    assert site.get(TODAY, **window)["agentUtilization"] == 0


def _sums(engine: Engine, site_id: int) -> dict[str, set[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            table.name: {
                tuple(row) for row in conn.execute(select(table).where(table.c.site_id == site_id))
            }
            for table in (t.wait_minutes, t.time_quarters)
        }


def test_the_migration_fills_the_sums_as_ingest_keeps_them(site: SiteClient) -> None:
    _load(site)
    abandoned = uid("chat", 9)
    site.ok_events(  # a wait that ends abandoned: one row of wait_minutes
        chat_requested(9, -100),
        ev("chat.abandoned", -40, chatId=abandoned),
    )
    engine = site.server.engine
    kept = _sums(engine, site.site_id)
    minute_of_end = (site.server.clock.now() - 40_000_000) // 60_000_000  # 11:59
    dept = uid("dept", 1)
    assert {row[1:] for row in kept["wait_minutes"]} == {
        # ..., answered in time (≤ T 30 s), counted (every answer; an abandon ≥ S 0 s)
        (minute_of_end, dept, "", 1, 60_000_000, 1, 0, 0, 1),  # c9: 60 s, abandoned
        (minute_of_end - 149, dept, "", 1, 10_000_000, 0, 0, 1, 1),  # c1 accepted 09:30:10
        (minute_of_end - 4, dept, "", 1, 10_000_000, 0, 0, 1, 1),  # c2 accepted 11:55:10
        (minute_of_end - 116, dept, "", 1, 10_000_000, 0, 0, 1, 1),  # c3 accepted 10:03:30
    }
    cfg = migrate.alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    assert migrate.current_revision(engine) == "0001"
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.HEAD
    assert _sums(engine, site.site_id) == kept
    assert replay.check(engine, site.site_id).ok


RIGHT_NOW = "/api/v3/livechat/realTime/RightNow"


def _agents_figures(site: SiteClient, department: int | None = None) -> tuple[int, int, int]:
    params = {} if department is None else {"departmentId": uid("dept", department)}
    body = site.get(RIGHT_NOW, **params)
    return body["loggedInAgents"], body["agentsInChat"], body["chatUtilization"]


def test_live_totals_follow_state_and_configuration(site: SiteClient) -> None:
    site.department(1, "Sales")
    site.department(2, "Support")
    alice = site.agent(1, "Alice", (1, 2), capacity=3)
    bob = site.agent(2, "Bob", (1,), capacity=2)
    site.agent(3, "Carol", (2,), capacity=4)
    status = "agent.status_changed"
    site.ok_events(
        ev(status, -600, agentId=uid("agent", 1), statusId=ONLINE),
        ev(status, -500, agentId=uid("agent", 2), statusId=ONLINE),
        ev(status, -400, agentId=uid("agent", 3), statusId=AWAY),
        *_chat(1, -300, -290, 1, None),  # Alice
        *_chat(2, -300, -280, 2, None),  # Bob
        *_chat(3, -300, -270, 1, None),  # Alice
    )
    # Logged in: Alice and Bob (online), Carol (away); in chat: Alice (2), Bob (1);
    # online chats 3 over online capacity 3 + 2 = 5: 60 %.
    assert _agents_figures(site) == (3, 2, 60)
    assert _agents_figures(site, 1) == (2, 2, 60)  # Alice and Bob
    assert _agents_figures(site, 2) == (2, 1, 67)  # Alice and Carol: 2 of 3 = 66.7 %
    bob["departmentIds"] = [uid("dept", 2)]
    assert site.http.put(f"/api/v3/agents/{uid('agent', 2)}", json=bob).status_code == 200
    assert _agents_figures(site, 1) == (1, 1, 67)  # Alice alone: 2 of 3
    assert _agents_figures(site, 2) == (3, 2, 60)  # Alice, Bob, Carol: 3 of 5
    alice["isActive"] = False
    assert site.http.put(f"/api/v3/agents/{uid('agent', 1)}", json=alice).status_code == 200
    assert _agents_figures(site) == (2, 1, 50)  # Bob (1 of 2) and Carol
    assert _agents_figures(site, 1) == (0, 0, 0)
    site.ok_events(ev("chat.ended", -10, chatId=uid("chat", 2)))  # Bob's chat ends
    assert _agents_figures(site) == (2, 0, 0)
    assert site.http.delete(f"/api/v3/agents/{uid('agent', 3)}").status_code == 204
    assert _agents_figures(site, 2) == (1, 0, 0)  # Bob only
    assert replay.check(site.server.engine, site.site_id).ok
