"""Helpers of the alert tests: rules through the API, and waiting for the evaluator."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from chatpulse.domain.timeutil import format_instant_exact
from tests.support import T_MICROS, Server, SiteClient

ALERTS = "/api/v3/alerts"
RULES = "/api/v3/alerts/rules"


def wait_until(condition: Callable[[], bool], seconds: float = 20) -> None:
    """Poll a condition until it holds (a deadline, not a sleep standing in for one)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def rule(site: SiteClient, **body: Any) -> dict[str, Any]:
    response = site.http.post(RULES, json={"name": "rule", **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def instant(seconds: float) -> str:
    """T + seconds as the API writes instants."""
    return format_instant_exact(T_MICROS + int(seconds * 1_000_000))


def evaluated_at(site: SiteClient, seconds: float) -> dict[str, Any]:
    """GET the firing alerts once the server's evaluator has judged every rule at T + seconds
    (what the test's clock reads now): two whole rounds after this call, the second of which
    started after it."""
    assert site.server.clock.now() == T_MICROS + int(seconds * 1_000_000)
    evaluator = site.server.app.state.alert_evaluator
    start = evaluator.ticks
    wait_until(lambda: evaluator.ticks >= start + 2)
    found: dict[str, Any] = site.get(ALERTS)
    return found


def judged(servers: list[Server]) -> None:
    """Wait until whichever of `servers` evaluates has judged every rule twice more (the second
    round started after this call)."""

    def leader() -> Any:
        found = [s.app.state.alert_evaluator for s in servers if s.app.state.alert_evaluator.leader]
        return found[0] if found else None

    wait_until(lambda: leader() is not None)
    evaluator = leader()
    start = evaluator.ticks
    wait_until(lambda: evaluator.ticks >= start + 2 or not evaluator.leader)
    if not evaluator.leader:  # the lease moved meanwhile: judge on the new holder
        judged(servers)


def history(site: SiteClient, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
    transitions: list[dict[str, Any]] = site.get(f"{ALERTS}/history", after=after, limit=limit)[
        "transitions"
    ]
    return transitions
