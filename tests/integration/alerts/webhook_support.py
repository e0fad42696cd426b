"""Helpers of the alert webhook tests: transitions written by our real storage
(store/alerts.py, which fills the outbox) and waits on the delivery log."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, select

from chatpulse.clock import Clock
from chatpulse.domain.alerts import OK, RuleBody, SubjectState, Transition
from chatpulse.store import alerts
from chatpulse.store import tables as t
from tests.support import SiteClient

WEBHOOKS = "/api/v3/alerts/webhooks"


class Flipper:
    """One threshold rule of a site whose single subject is moved from level to level; each
    move is one transition, stored (with its outbox rows) by store.alerts.apply."""

    def __init__(self, engine: Engine, site_id: int, clock: Clock, name: str = "Queue") -> None:
        self.engine, self.site_id, self.clock = engine, site_id, clock
        body = RuleBody(
            None, name, "threshold", "RightNow", "currentQueueLength", None, ">=", 5, 10, 0, 0
        )
        self.rule = alerts.create_rule(engine, site_id, str(uuid.uuid4()), body, clock.now())
        self.state = SubjectState()

    def to(self, level: str, value: float = 7) -> int:
        """Move to `level`; the transition's id."""
        now = self.clock.now()
        old = self.state
        threshold = self.rule.threshold(level if level != OK else old.state)
        transition = Transition(self.rule.id, "", old.state, level, value, threshold, now)
        new = SubjectState(level, now, value, None, None, old.revision)
        change = alerts.Change(self.rule, "", old, new, transition)
        (self.state,) = alerts.apply(self.engine, self.site_id, [change])
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(t.alert_transitions.c.id)
                    .where(t.alert_transitions.c.site_id == self.site_id)
                    .order_by(t.alert_transitions.c.id.desc())
                    .limit(1)
                ).scalar_one()
            )


def outbox(engine: Engine, webhook_id: str) -> list[Any]:
    """The webhook's outbox rows, by transition."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(t.alert_deliveries)
                .where(t.alert_deliveries.c.webhook_id == webhook_id)
                .order_by(t.alert_deliveries.c.transition_id)
            ).all()
        )


def create_webhook(site: SiteClient, url: str, **body: Any) -> dict[str, Any]:
    response = site.http.post(WEBHOOKS, json={"name": "Ops", "url": url, **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def deliveries(site: SiteClient, webhook_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = site.get(f"{WEBHOOKS}/{webhook_id}/deliveries")["list"]
    return found


def wait_until(condition: Callable[[], bool], seconds: float = 20, what: str = "") -> None:
    """Poll `condition` until it holds (fails after `seconds`)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not reached within {seconds} s: {what}"
        time.sleep(0.01)


def settled(site: SiteClient, webhook_id: str, count: int) -> Callable[[], bool]:
    """The log has `count` deliveries, none pending."""

    def check() -> bool:
        log = deliveries(site, webhook_id)
        return len(log) == count and all(d["status"] != "pending" for d in log)

    return check
