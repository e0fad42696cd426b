"""Every Queue row on its own, silence, a restart, two servers on one database, the stream's
alert event: over real HTTP on both backends, with the test's clock."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from chatpulse.clock import FixedClock
from tests.factories import agent_status, alice_in_sales, chat_accepted, waiting_chat
from tests.integration.alerts.support import (
    ALERTS,
    RULES,
    evaluated_at,
    history,
    instant,
    judged,
    rule,
    wait_until,
)
from tests.sse import SseReader
from tests.support import T_MICROS, SiteClient, new_site, running_server, uid

S = 1_000_000
STREAM = "/api/v3/livechat/realTime/stream"


def brief(alerts: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (a["routeToDepartmentId"], a["routeToAgentId"], a["severity"], a["value"]) for a in alerts
    ]


def test_a_queue_rule_without_department_judges_every_row_on_its_own(
    site: SiteClient, clock: FixedClock
) -> None:
    alice_in_sales(site)
    site.department(2, "Support")
    rule(site, view="Queue", field="currentQueueLength", comparison=">=", warning=1, critical=2)
    site.ok_events(
        *waiting_chat(1, arrived=-30, requested=-20, department=1),
        *waiting_chat(2, arrived=-30, requested=-10, department=1),
        *waiting_chat(3, arrived=-30, requested=-5, department=2),
        *waiting_chat(4, arrived=-30, requested=-5, department=None),
    )
    firing = evaluated_at(site, 0)["alerts"]
    # critical first, then the oldest (all since T), then by rule and subject
    assert brief(firing) == [
        (uid("dept", 1), None, "critical", 2),
        (uid("dept", 2), None, "warning", 1),
        (None, None, "warning", 1),
    ]
    site.ok_events(agent_status(1, 1), chat_accepted(3, 2, agent=1))  # Support's one accepted
    wait_until(lambda: len(site.get(ALERTS)["alerts"]) == 2)
    assert brief(site.get(ALERTS)["alerts"]) == [
        (uid("dept", 1), None, "critical", 2),
        (None, None, "warning", 1),
    ]
    support = [h for h in history(site) if h["routeToDepartmentId"] == uid("dept", 2)]
    assert [(h["from"], h["to"], h["value"]) for h in support] == [
        ("ok", "warning", 1),
        ("warning", "ok", 0),
    ]


def test_silence_fires_when_no_event_comes_and_clears_with_the_next(
    site: SiteClient, clock: FixedClock
) -> None:
    alice_in_sales(site)
    site.ok_events(agent_status(1, -100))  # received at T (the server's clock)
    made = rule(site, name="Connector quiet", kind="silence", warning=300, critical=600)
    clock.value = T_MICROS + 299 * S
    assert evaluated_at(site, 299)["alerts"] == []
    clock.value = T_MICROS + 300 * S
    assert evaluated_at(site, 300)["alerts"] == [
        {
            "ruleId": made["id"],
            "ruleName": "Connector quiet",
            "kind": "silence",
            "view": None,
            "field": None,
            "departmentId": None,
            "routeToDepartmentId": None,
            "routeToAgentId": None,
            "severity": "warning",
            "value": 300,
            "threshold": 300,
            "since": instant(300),
        }
    ]
    clock.value = T_MICROS + 650 * S
    assert [a["severity"] for a in evaluated_at(site, 650)["alerts"]] == ["critical"]
    site.ok_events(agent_status(1, 640))
    wait_until(lambda: site.get(ALERTS)["alerts"] == [])
    assert [(h["from"], h["to"], h["value"], h["time"]) for h in history(site)] == [
        ("ok", "warning", 300, instant(300)),
        ("warning", "critical", 650, instant(650)),
        ("critical", "ok", 0, instant(650)),
    ]


def test_silence_on_a_site_that_never_had_an_event_counts_from_the_rule(
    site: SiteClient, clock: FixedClock
) -> None:
    clock.value = T_MICROS + 10 * S
    rule(site, kind="silence", warning=60)
    clock.value = T_MICROS + 69 * S
    assert evaluated_at(site, 69)["alerts"] == []
    clock.value = T_MICROS + 70 * S
    assert [a["value"] for a in evaluated_at(site, 70)["alerts"]] == [60]


def test_a_restart_neither_repeats_nor_forgets(engine: Engine, clock: FixedClock) -> None:
    with running_server(engine, clock) as first:
        site = new_site(first)
        alice_in_sales(site)
        fires = {"view": "RightNow", "field": "currentQueueLength", "comparison": ">="}
        rule(site, name="fires", warning=1, **fires)
        holds = {"view": "Queue", "field": "longestWaitTime", "departmentId": uid("dept", 1)}
        rule(site, name="holds", warning=30, holdSeconds=60, **holds)
        site.ok_events(*waiting_chat(1, arrived=-60, requested=-40))  # waits 40 s at T
        evaluated_at(site, 0)  # "fires" fires; the hold of "holds" starts at T
        assert [h["ruleName"] for h in history(site)] == ["fires"]
        site.http.close()
    with running_server(engine, clock) as second:
        site = SiteClient(site.site_id, site.token, second.client(site.token), second)
        clock.value = T_MICROS + 59 * S
        evaluated_at(site, 59)
        assert [h["ruleName"] for h in history(site)] == ["fires"]  # not repeated
        clock.value = T_MICROS + 60 * S  # the hold that started before the restart ends now
        evaluated_at(site, 60)
        assert [(h["ruleName"], h["to"], h["time"]) for h in history(site)] == [
            ("fires", "warning", instant(0)),
            ("holds", "warning", instant(60)),
        ]
        site.ok_events(agent_status(1, 60), chat_accepted(1, 60))
        wait_until(lambda: site.get(ALERTS)["alerts"] == [])
        assert sorted((h["ruleName"], h["to"]) for h in history(site)[2:]) == [
            ("fires", "ok"),
            ("holds", "ok"),
        ]
        site.http.close()


def test_two_servers_on_one_database_store_each_transition_once(
    engine: Engine, clock: FixedClock
) -> None:
    managers = [running_server(engine, clock) for _ in range(2)]
    servers = [manager.__enter__() for manager in managers]
    running = [True, True]
    try:
        one = new_site(servers[0])
        two = SiteClient(one.site_id, one.token, servers[1].client(one.token), servers[1])
        alice_in_sales(one)
        one.ok_events(*waiting_chat(1, arrived=-60, requested=-50))
        two.ok_events(*waiting_chat(2, arrived=-60, requested=-40))
        one.ok_events(*waiting_chat(3, arrived=-60, requested=-30))
        queue = {"view": "RightNow", "field": "currentQueueLength", "comparison": ">="}
        rule(two, warning=1, critical=3, **queue)
        judged(servers)
        evaluators = [server.app.state.alert_evaluator for server in servers]
        assert sorted(e.leader for e in evaluators) == [False, True]
        lead = [e.leader for e in evaluators].index(True)
        managers[lead].__exit__(None, None, None)  # a graceful stop hands the lease over
        running[lead] = False
        rest, client = servers[1 - lead], [one, two][1 - lead]
        client.ok_events(agent_status(1, 1), chat_accepted(1, 2))  # 2 wait: down to warning
        wait_until(lambda: [a["severity"] for a in client.get(ALERTS)["alerts"]] == ["warning"])
        judged([rest])
        assert rest.app.state.alert_evaluator.leader
        assert [(h["from"], h["to"], h["value"]) for h in history(client)] == [
            ("ok", "critical", 3),
            ("critical", "warning", 2),
        ]
        one.http.close()
        two.http.close()
    finally:
        for manager, alive in zip(managers, running, strict=True):
            if alive:
                manager.__exit__(None, None, None)


def test_the_stream_sends_the_firing_alerts_on_connect_and_on_change(
    site: SiteClient, clock: FixedClock
) -> None:
    alice_in_sales(site)
    made = rule(site, view="RightNow", field="currentQueueLength", comparison=">=", warning=1)
    params = {"views": "RightNow", "alerts": "true"}
    with site.http.stream("GET", STREAM, params=params, timeout=20) as response:
        reader = SseReader(response.iter_lines())
        assert reader.next_event().event == "RightNow"
        first = reader.next_event()
        assert (first.event, first.id, first.json()) == ("alert", "", {"alerts": []})
        site.ok_events(*waiting_chat(1, arrived=-20, requested=-10))
        event = reader.next_event()
        while event.event != "alert":
            event = reader.next_event()
        assert event.json() == {
            "alerts": [
                {
                    "ruleId": made["id"],
                    "ruleName": "rule",
                    "kind": "threshold",
                    "view": "RightNow",
                    "field": "currentQueueLength",
                    "departmentId": None,
                    "routeToDepartmentId": None,
                    "routeToAgentId": None,
                    "severity": "warning",
                    "value": 1,
                    "threshold": 1,
                    "since": instant(0),
                }
            ]
        }
        site.http.delete(f"{RULES}/{made['id']}")
        event = reader.next_event()
        while event.event != "alert":
            event = reader.next_event()
        assert event.json() == {"alerts": []}
    plain = {"views": "RightNow"}
    with site.http.stream("GET", STREAM, params=plain, timeout=20) as response:
        reader = SseReader(response.iter_lines())
        assert reader.next_event().event == "RightNow"
        site.ok_events(*waiting_chat(2, arrived=-20, requested=-10))
        assert reader.next_event().event == "RightNow"  # no alert event unless asked
