"""Alert webhooks survive SIGKILL: a `chatpulse serve` process killed while a delivery is on the
wire, a new one started on the same database; every transition still reaches the receiver
under its one delivery id, in transition order, the one in flight sent again. SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from chatpulse.clock import SystemClock
from tests.factories import bearer, tenant
from tests.fakes.webhook_receiver import always, receiving
from tests.integration.alerts.webhook_support import WEBHOOKS, Flipper, outbox, wait_until
from tests.integration.procs import ServerProcess

N = 20
ENV = {
    "CHATPULSE_ALERT_WEBHOOKS_ALLOW_PRIVATE": "true",
    "CHATPULSE_ALERT_WEBHOOK_TIMEOUT_MS": "1000",
    "CHATPULSE_ALERT_WEBHOOK_RETRY_BASE_MS": "50",
    "CHATPULSE_ALERT_WEBHOOK_LEASE_MS": "1000",  # at least timeout + 5 s: taken over in ≤ 6 s
    "CHATPULSE_LOG_REQUESTS": "false",
    "CHATPULSE_ALERT_EVALUATION": "false",  # the states are moved by hand (Flipper)
}


@pytest.fixture
def procs(database_url: str, tmp_path: Path) -> Iterator[list[ServerProcess]]:
    started: list[ServerProcess] = []
    yield started
    for proc in started:
        proc.stop()


def test_a_killed_server_loses_no_delivery_and_keeps_the_order(
    engine: Engine, database_url: str, tmp_path: Path, procs: list[ServerProcess]
) -> None:
    site_id, token = tenant(engine, "Kill site")
    # Each request held 0.2 s before its 200: a kill lands mid-delivery.
    with receiving(always(200, delay_s=0.2)) as receiver:
        first = ServerProcess(database_url, tmp_path / "first.log", env=ENV)
        procs.append(first)
        first.start()
        created = httpx.post(
            first.url + WEBHOOKS,
            json={"name": "Pager", "url": receiver.url},
            headers=bearer(token),
            timeout=10,
        )
        assert created.status_code == 201, created.text
        webhook_id = created.json()["id"]
        rule = Flipper(engine, site_id, SystemClock())
        levels = ["warning", "critical", "warning", "ok"] * (N // 4)
        transitions = [rule.to(level) for level in levels]
        receiver.wait_for(lambda got: len(got) >= 5)
        first.kill()
        at_kill = receiver.received()
        answered_at_kill = set(receiver.answered_ids())

        second = ServerProcess(database_url, tmp_path / "second.log", env=ENV)
        procs.append(second)
        second.start()
        wait_until(
            lambda: all(row.status == "delivered" for row in outbox(engine, webhook_id)),
            seconds=60,
            what="every delivery delivered after the restart",
        )

    rows = outbox(engine, webhook_id)
    ids = [row.id for row in rows]
    assert [row.transition_id for row in rows] == transitions  # one delivery per transition
    assert len(set(ids)) == N
    got = receiver.received()
    assert {r.delivery_id for r in got} == set(ids)  # none lost, none under another id
    assert receiver.ids_in_order() == ids  # first receipts in transition order
    for request in got:  # each id always carries its own transition
        position = ids.index(request.delivery_id)
        assert request.json()["alert"]["transitionId"] == transitions[position]
    in_flight = at_kill[-1].delivery_id
    if in_flight not in answered_at_kill:  # no answer reached the killed server: sent again
        assert [r.delivery_id for r in got].count(in_flight) >= 2
    # Nothing is sent before the one ahead of it was delivered: a resend repeats the head, never
    # an earlier one.
    positions = [ids.index(r.delivery_id) for r in got]
    assert positions == sorted(positions)
