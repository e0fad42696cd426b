"""Service level (METRICS.md §7): thresholds are read at the request, so a change of the site's
or a department's T or S judges the past again, in the Queue rows, Today and Intervals alike;
the stored sums stay what a replay of the log computes. T is 2026-11-24 12:00 UTC.

The log, every wait ended within the last 30 minutes:

| chat | route | wait | end |
|---|---|---|---|
| c1 | Sales | 15 s | answered by Alice |
| c2 | Sales | 25 s | answered by Alice |
| c3 | Support | 4 s | abandoned |
| c4 | Support | 40 s | answered by Bob |
| c5 | none | 50 s | switched to a message |
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from chatpulse.store import replay
from tests.factories import chat_accepted, chat_requested
from tests.support import ONLINE, SiteClient, ev, uid

REALTIME = "/api/v3/livechat/realTime/"
WINDOW = {"startTime": "2026-11-24T11:00:00Z", "endTime": "2026-11-24T12:00:00Z"}
SALES, SUPPORT = uid("dept", 1), uid("dept", 2)


def _load(site: SiteClient) -> None:
    site.department(1, "Sales")
    site.department(2, "Support")
    site.agent(1, "Alice", (1,))
    site.agent(2, "Bob", (2,))
    site.ok_events(
        ev("agent.status_changed", -3000, agentId=uid("agent", 1), statusId=ONLINE),
        ev("agent.status_changed", -3000, agentId=uid("agent", 2), statusId=ONLINE),
        chat_requested(1, -1200, 1),
        chat_accepted(1, -1185, 1),
        chat_requested(2, -1100, 1),
        chat_accepted(2, -1075, 1),
        chat_requested(3, -1000, 2),
        ev("chat.abandoned", -996, chatId=uid("chat", 3)),
        chat_requested(4, -900, 2),
        chat_accepted(4, -860, 2),
        chat_requested(5, -800, None),
        ev("chat.switched_to_message", -750, chatId=uid("chat", 5)),
    )


def _levels(site: SiteClient) -> dict[str, Any]:
    """Each Queue row's (30, 60 minutes) service levels, Today's, and each 30-minute bucket's."""
    rows = site.get(REALTIME + "Queue", extended="true")
    today = site.get(REALTIME + "Today", extended="true", **WINDOW)
    buckets = site.get(REALTIME + "Intervals", intervalMinutes="30", **WINDOW)
    return {
        "queue": {
            row["routeToDepartmentId"]: (
                row["serviceLevelinLast30Mins"],
                row["serviceLevelinLast60Mins"],
            )
            for row in rows
        },
        "today": today["serviceLevel"],
        "intervals": [bucket["serviceLevel"] for bucket in buckets],
    }


def test_a_change_of_thresholds_judges_the_past_again(site: SiteClient, engine: Engine) -> None:
    _load(site)
    # T 30, S 0 (the defaults): Sales 15 and 25 s in time; Support's 4 s abandon counts
    # against, 40 s late; the switch (50 s, no department) counts against. Today: c1 and c2 in
    # time of 5. The first half hour of the window had no chat: nothing to judge, null.
    assert _levels(site) == {
        "queue": {SALES: (100.0, 100.0), SUPPORT: (0.0, 0.0), None: (0.0, 0.0)},
        "today": 40.0,
        "intervals": [None, 40.0],
    }
    today = site.get(REALTIME + "Today", extended="true", **WINDOW)
    assert today["avgSpeedOfAnswer"] == 26.67  # (15 + 25 + 40) / 3 answered first waits
    assert today["longestWaitingTime"] == 50.0  # c5's

    # T 20, S 5: c2 (25 s) late; c3 (4 s < 5) a short abandon, left out. Today: c1 of c1, c2,
    # c4, c5.
    changed = site.http.put(
        "/api/v3/site",
        json={"name": "Test site", "serviceLevelSeconds": 20, "shortAbandonSeconds": 5},
    )
    assert changed.status_code == 200, changed.text
    assert _levels(site) == {
        "queue": {SALES: (50.0, 50.0), SUPPORT: (0.0, 0.0), None: (0.0, 0.0)},
        "today": 25.0,
        "intervals": [None, 25.0],
    }
    assert replay.check(engine, site.site_id).ok

    # Support's own T 45 (its S stays the site's 5): c4 (40 s) in time there.
    response = site.http.put(
        f"/api/v3/departments/{SUPPORT}", json={"name": "Support", "serviceLevelSeconds": 45}
    )
    assert response.status_code == 200, response.text
    assert response.json()["serviceLevelSeconds"] == 45
    assert response.json()["shortAbandonSeconds"] is None
    assert _levels(site) == {
        "queue": {SALES: (50.0, 50.0), SUPPORT: (100.0, 100.0), None: (0.0, 0.0)},
        "today": 50.0,
        "intervals": [None, 50.0],
    }
    assert replay.check(engine, site.site_id).ok

    # Only short abandons left to judge in Support: S 10 removes c3, and a late T removes c4's
    # success but not the wait: 0 of 1. Then S 60 leaves nothing: null, not 0.
    site.http.put(
        f"/api/v3/departments/{SUPPORT}",
        json={"name": "Support", "serviceLevelSeconds": 10, "shortAbandonSeconds": 60},
    )
    levels = _levels(site)
    assert levels["queue"][SUPPORT] == (0.0, 0.0)  # c4 answered (counted, late); c3 left out
    site.http.put(f"/api/v3/departments/{SUPPORT}", json={"name": "Support"})
    assert _levels(site)["queue"][SUPPORT] == (0.0, 0.0)  # back to the site's T 20, S 5


def test_a_service_level_with_nothing_to_judge_is_null(site: SiteClient) -> None:
    site.department(1, "Sales")
    site.http.put("/api/v3/site", json={"name": "Test site", "shortAbandonSeconds": 10})
    site.ok_events(chat_requested(1, -100, 1), ev("chat.abandoned", -95, chatId=uid("chat", 1)))
    row = site.get(REALTIME + "Queue", extended="true")[0]
    assert (row["serviceLevelinLast30Mins"], row["serviceLevelinLast60Mins"]) == (None, None)
    assert row["abandonedChatsinLast30Mins"] == 1  # still an abandon, just not judged
    today = site.get(REALTIME + "Today", extended="true", **WINDOW)
    assert (today["serviceLevel"], today["avgSpeedOfAnswer"]) == (None, 0)
    assert today["longestWaitingTime"] == 5.0


def test_without_extended_the_answers_are_comm100s(site: SiteClient) -> None:
    _load(site)
    assert len(site.get(REALTIME + "RightNow")) == 8
    assert len(site.get(REALTIME + "Today")) == 17
    assert "serviceLevelinLast30Mins" not in site.get(REALTIME + "Queue")[0]
    agent = site.get(REALTIME + "Agents")["list"][0]
    assert "missedChats" not in agent and "currentStatusSince" not in agent
