"""Rules judged by the server's evaluator over real HTTP, on both backends, with the test's
clock: hold times, hysteresis, every Queue row, silence. Every number worked out by hand."""

from __future__ import annotations

from chatpulse.clock import FixedClock
from tests.factories import alice_in_sales, chat_accepted, waiting_chat
from tests.integration.alerts.support import (
    ALERTS,
    evaluated_at,
    history,
    instant,
    rule,
    wait_until,
)
from tests.support import T_MICROS, SiteClient, uid

S = 1_000_000


def at_clock(clock: FixedClock, seconds: int) -> None:
    clock.value = T_MICROS + seconds * S


def test_a_queue_wait_rule_holds_before_firing_escalates_and_clears_on_accept(
    site: SiteClient, clock: FixedClock
) -> None:
    alice_in_sales(site)
    sales = uid("dept", 1)
    made = rule(
        site,
        name="Sales wait",
        view="Queue",
        field="longestWaitTime",
        departmentId=sales,
        comparison=">",
        warning=60,
        critical=120,
        holdSeconds=30,
    )
    site.ok_events(*waiting_chat(1, arrived=-20, requested=-10))  # waits since T-10
    assert evaluated_at(site, 0)["alerts"] == []
    at_clock(clock, 51)  # waited 61 s > 60: the warning's hold starts
    assert evaluated_at(site, 51)["alerts"] == []
    at_clock(clock, 80)  # held 29 s
    assert evaluated_at(site, 80)["alerts"] == []
    at_clock(clock, 81)  # held 30 s: fires
    firing = evaluated_at(site, 81)["alerts"]
    assert firing == [
        {
            "ruleId": made["id"],
            "ruleName": "Sales wait",
            "kind": "threshold",
            "view": "Queue",
            "field": "longestWaitTime",
            "departmentId": sales,
            "routeToDepartmentId": sales,
            "routeToAgentId": None,
            "severity": "warning",
            "value": 91,
            "threshold": 60,
            "since": instant(81),
        }
    ]
    at_clock(clock, 131)  # 141 s > 120: the critical hold starts
    assert [a["severity"] for a in evaluated_at(site, 131)["alerts"]] == ["warning"]
    at_clock(clock, 161)
    assert [a["severity"] for a in evaluated_at(site, 161)["alerts"]] == ["critical"]
    site.ok_events(chat_accepted(1, 161))  # nobody waits: longest 0, clears at once
    wait_until(lambda: site.get(ALERTS)["alerts"] == [])
    assert [(h["from"], h["to"], h["value"], h["threshold"], h["time"]) for h in history(site)] == [
        ("ok", "warning", 91, 60, instant(81)),
        ("warning", "critical", 171, 120, instant(161)),
        ("critical", "ok", 0, 120, instant(161)),
    ]
