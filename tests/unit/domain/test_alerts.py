"""The alert state machine and rule bodies (domain/alerts.py), worked by hand."""

from __future__ import annotations

from typing import Any

import pytest

from chatpulse.domain.alerts import (
    CRITICAL,
    OK,
    WARNING,
    Rule,
    SubjectState,
    judge,
    observe,
    parse_rule,
)
from chatpulse.domain.errors import InvalidBody

S = 1_000_000


def make(
    comparison: str = ">",
    warning: float | None = 60,
    critical: float | None = 120,
    hold: int = 0,
    margin: float = 0,
    view: str = "Queue",
    field: str = "longestWaitTime",
    department: str | None = None,
    kind: str = "threshold",
) -> Rule:
    return Rule(
        "r",
        1,
        "rule",
        kind,
        view,
        field,
        department,
        comparison,
        warning,
        critical,
        hold,
        margin,
        0,
        0,
    )


def run(rule: Rule, values: list[tuple[int, float | None]]) -> list[tuple[str, str, int]]:
    """Judge a series of (second, value); the transitions as (from, to, second)."""
    state = SubjectState()
    out = []
    for second, value in values:
        state, transition = judge(rule, "", state, value, second * S)
        if transition is not None:
            out.append((transition.from_state, transition.to_state, transition.at // S))
    return out


def test_strictly_greater_fires_past_the_threshold_not_at_it() -> None:
    assert run(make(), [(0, 60), (1, 61), (2, 120), (3, 121), (4, 59)]) == [
        (OK, WARNING, 1),
        (WARNING, CRITICAL, 3),
        (CRITICAL, OK, 4),
    ]


def test_at_least_fires_at_the_threshold() -> None:
    assert run(make(">="), [(0, 59), (1, 60), (2, 120)]) == [
        (OK, WARNING, 1),
        (WARNING, CRITICAL, 2),
    ]


def test_below_thresholds_for_service_levels() -> None:
    rule = make("<", warning=80, critical=50, view="Today", field="serviceLevel")
    assert run(rule, [(0, 90), (1, 79.99), (2, 50), (3, 49.5), (4, None)]) == [
        (OK, WARNING, 1),
        (WARNING, CRITICAL, 3),
        (CRITICAL, OK, 4),  # no value (nothing judged): clears
    ]


def test_hold_time_needs_the_condition_unbroken() -> None:
    rule = make(hold=30)
    # true from 10, broken at 25, true again from 30: fires at 60, not at 40.
    values: list[tuple[int, float | None]] = [(10, 61), (25, 10), (30, 61), (59, 70), (60, 70)]
    assert run(rule, values) == [(OK, WARNING, 60)]


def test_escalation_holds_too_but_clearing_is_immediate() -> None:
    rule = make(hold=10)
    values: list[tuple[int, float | None]] = [
        (0, 130),  # both conditions start
        (9, 130),
        (10, 130),  # both held 10 s: straight to critical
        (11, 0),  # cleared at once
    ]
    assert run(rule, values) == [(OK, CRITICAL, 10), (CRITICAL, OK, 11)]


def test_clear_margin_keeps_a_hovering_value_from_flapping() -> None:
    rule = make(margin=5)
    values: list[tuple[int, float | None]] = [
        (0, 61),  # warning
        (1, 58),  # below 60 but above 55: stays
        (2, 61),
        (3, 56),
        (4, 55),  # 55 is not > 55: clears
        (5, 61),  # fires again
        (6, 125),  # critical
        (7, 117),  # within 5 of 120: stays critical
        (8, 115),  # not > 115: down to warning (115 > 55)
    ]
    assert run(rule, values) == [
        (OK, WARNING, 0),
        (WARNING, OK, 4),
        (OK, WARNING, 5),
        (WARNING, CRITICAL, 6),
        (CRITICAL, WARNING, 8),
    ]


def test_a_rule_with_only_a_critical_threshold() -> None:
    assert run(make(warning=None, critical=10), [(0, 9), (1, 11), (2, 3)]) == [
        (OK, CRITICAL, 1),
        (CRITICAL, OK, 2),
    ]


def test_the_transition_names_the_threshold_entered_or_left() -> None:
    rule = make()
    state, up = judge(rule, "x", SubjectState(), 130, 5 * S)
    assert up is not None and (up.threshold, up.value, up.subject) == (120, 130, "x")
    _, down = judge(rule, "x", state, 1, 6 * S)
    assert down is not None and (down.to_state, down.threshold) == (OK, 120)


def test_silence_counts_whole_seconds_since_the_last_event_or_the_rule() -> None:
    rule = make(kind="silence", view="", field="", warning=300, critical=None, comparison=">=")
    assert observe(rule, None, 1_000 * S + 999_999, 700 * S) == [("", 300.0)]
    assert observe(rule, None, 10 * S, None) == [("", 10.0)]  # the rule was created at 0


def test_queue_rules_see_one_row_or_every_row() -> None:
    rows: list[dict[str, Any]] = [
        {"routeToDepartmentId": "d1", "routeToAgentId": None, "longestWaitTime": 70},
        {"routeToDepartmentId": None, "routeToAgentId": None, "longestWaitTime": 5},
        {"routeToDepartmentId": None, "routeToAgentId": "a1", "longestWaitTime": 0},
    ]
    assert observe(make(), rows, 0, None) == [
        ("department:d1", 70.0),
        ("none", 5.0),
        ("agent:a1", 0.0),
    ]
    assert observe(make(department="d1"), rows, 0, None) == [("department:d1", 70.0)]
    assert observe(make(department="d2"), rows, 0, None) == [("department:d2", None)]


def errors_of(body: Any) -> list[tuple[str, str]]:
    with pytest.raises(InvalidBody) as caught:
        parse_rule(body, creating=True)
    return [(e.field, e.message) for e in caught.value.errors]


def test_bodies_name_every_field_that_is_wrong() -> None:
    assert errors_of({"name": "x", "view": "Queue", "field": "longestWait", "warning": 1}) == [
        ("field", "is not a numeric field of Queue")
    ]
    assert errors_of({"name": "x", "view": "Agents", "field": "total", "warning": 1}) == [
        ("view", "must be RightNow, Queue or Today")
    ]
    assert errors_of({"name": "x", "view": "Today", "field": "chats", "warning": "5"}) == [
        ("warning", "must be a number or null")
    ]
    assert errors_of({"name": "x", "view": "Today", "field": "chats"}) == [
        ("warning", "a rule needs a warning or a critical threshold")
    ]
    assert errors_of(
        {"name": "x", "view": "Today", "field": "chats", "warning": 10, "critical": 5}
    ) == [("critical", "must be at least warning with comparison >")]
    assert errors_of(
        {"name": "", "kind": "silence", "view": "Queue", "warning": 0.5, "color": "red"}
    ) == [
        ("color", "is not a field of a rule"),
        ("name", "is required (non-empty text)"),
        ("view", "is not a setting of a silence rule"),
        ("warning", "must be a whole number of seconds above 0"),
    ]
    assert errors_of({"name": "x", "view": "Today", "field": "chats", "warning": True}) == [
        ("warning", "must be a number or null")
    ]
