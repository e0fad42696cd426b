"""Thresholds are read at the request (METRICS.md §7): changing the site's or a department's
T or S re-judges the waits already stored, with numbers worked by hand."""

from __future__ import annotations

from typing import Any

from tests.support import SiteClient, ev, uid

SALES, SUPPORT, ALICE = uid("dept", 1), uid("dept", 2), uid("agent", 1)
WINDOW = {"startTime": "2026-11-24T11:00:00Z", "endTime": "2026-11-24T12:00:00Z"}


def chat(n: int, requested: float, ended: float, outcome: str, **route: str) -> list[Any]:
    """Chat n waits from `requested` to `ended` (seconds from T), then is answered by Alice or
    leaves."""
    data = {"chatId": uid("chat", n)}
    last = (
        ev("chat.accepted", ended, **data, agentId=ALICE)
        if outcome == "answered"
        else ev(f"chat.{outcome}", ended, **data)
    )
    return [ev("chat.requested", requested, **data, visitorId=uid("visitor", n), **route), last]


def judged(site: SiteClient) -> dict[str, Any]:
    """Today's serviceLevel, each Intervals bucket's, and each queue row's (30 min, 60 min)."""
    today = site.get("/api/v3/livechat/realTime/Today", extended="true", **WINDOW)
    buckets = site.get("/api/v3/livechat/realTime/Intervals", intervalMinutes=30, **WINDOW)
    rows = site.get("/api/v3/livechat/realTime/Queue", extended="true")
    return {
        "today": today["serviceLevel"],
        "buckets": [b["serviceLevel"] for b in buckets],
        "rows": {
            row["routeToDepartmentId"] or row["routeToAgentId"] or "none": (
                row["serviceLevelinLast30Mins"],
                row["serviceLevelinLast60Mins"],
            )
            for row in rows
        },
    }


def put(site: SiteClient, path: str, body: dict[str, Any]) -> None:
    response = site.http.put(path, json=body)
    assert response.status_code == 200, response.text


def test_changing_thresholds_re_judges_the_stored_waits(site: SiteClient) -> None:
    site.department(1, "Sales")
    site.department(2, "Support", serviceLevelSeconds=60)
    site.agent(1, "Alice", (1,))
    site.ok_events(
        *chat(1, -2000, -1980, "answered", departmentId=SALES),  # 20 s, 33 min ago
        *chat(2, -1000, -955, "answered", departmentId=SALES),  # 45 s
        *chat(3, -900, -892, "abandoned", departmentId=SALES),  # 8 s
        *chat(4, -800, -750, "answered", departmentId=SUPPORT),  # 50 s
        *chat(5, -700, -690, "answered"),  # 10 s, no department
        *chat(6, -600, -575, "answered", agentId=ALICE),  # 25 s, routed to Alice
    )
    # The site's T = 30, S = 0; Support's T = 60. In time: 1 (20), 4 (50 ≤ 60), 5 (10), 6 (25);
    # late: 2 (45), 3 (abandoned, 8 ≥ 0). Today 4 ÷ 6; buckets [11:00, 11:30): chat 1 alone,
    # [11:30, 12:00): 3 ÷ 5. Sales' row: in 30 min 2 and 3, 0 ÷ 2; in 60 min 1 ÷ 3.
    assert judged(site) == {
        "today": 66.67,
        "buckets": [100.0, 60.0],
        "rows": {
            SALES: (0.0, 33.33),
            SUPPORT: (100.0, 100.0),
            "none": (100.0, 100.0),
            ALICE: (100.0, 100.0),
        },
    }

    put(
        site,
        "/api/v3/site",
        {
            "name": "Test site",
            "timeZone": "UTC",
            "serviceLevelSeconds": 20,
            "shortAbandonSeconds": 10,
        },
    )
    # T = 20, S = 10 (Support keeps T = 60, takes S = 10): 1 (20 ≤ 20) in time, 6 (25) now
    # late, 3 (8 < 10) a short abandon, left out. Today in 1, 4, 5 of 1, 2, 4, 5, 6: 3 ÷ 5;
    # second bucket in 4, 5 of 2, 4, 5, 6: 2 ÷ 4; Sales in 30 min: 2 alone, 0 ÷ 1; in 60: 1 ÷ 2.
    assert judged(site) == {
        "today": 60.0,
        "buckets": [100.0, 50.0],
        "rows": {
            SALES: (0.0, 50.0),
            SUPPORT: (100.0, 100.0),
            "none": (100.0, 100.0),
            ALICE: (0.0, 0.0),
        },
    }

    put(
        site,
        f"/api/v3/departments/{SALES}",
        {"name": "Sales", "serviceLevelSeconds": 45, "shortAbandonSeconds": 0},
    )
    put(site, f"/api/v3/departments/{SUPPORT}", {"name": "Support", "serviceLevelSeconds": None})
    # Sales T = 45, S = 0: 1 and 2 (45 ≤ 45) in time, 3 counted and late. Support back to the
    # site's T = 20: 4 (50) late. Today in 1, 2, 5 of 6: 3 ÷ 6; second bucket in 2, 5 of 2–6:
    # 2 ÷ 5; Sales in 30 min 2 in, 3 late: 1 ÷ 2; in 60 min 2 ÷ 3.
    assert judged(site) == {
        "today": 50.0,
        "buckets": [100.0, 40.0],
        "rows": {
            SALES: (50.0, 66.67),
            SUPPORT: (0.0, 0.0),
            "none": (100.0, 100.0),
            ALICE: (0.0, 0.0),
        },
    }
