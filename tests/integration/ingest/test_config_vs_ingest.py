"""An agent's configuration change and an ingest that moves the same agent, at once on
PostgreSQL: the running totals (store/live_totals.py) must end as a recomputation gives them.
A configuration write takes the site's row lock first, as ingest does, so the two run one
after the other and each moves the totals from what the other left."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Engine, text

from chatpulse.domain.events import Event
from chatpulse.store import config, live_totals, replay, sites
from chatpulse.store.db import make_engine
from chatpulse.store.eventlog import IngestTransaction
from tests.support import ONLINE, T_MICROS, uid


@pytest.fixture
def pg(postgres_url: str) -> Engine:
    return make_engine(postgres_url)


def _blocked_on_a_lock(engine: Engine) -> bool:
    with engine.connect() as conn:
        waiting = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        ).scalar_one()
    return bool(waiting)


def test_a_deactivation_during_an_ingest_leaves_the_totals_right(pg: Engine) -> None:
    site = sites.create_site(pg, "Race", "UTC", T_MICROS)
    department = {"id": uid("dept", 1), "name": "Sales", "isAvailableInLiveChat": True}
    with config.writing(pg, site.id) as conn:
        config.insert_department(conn, site.id, {**department, "isDeleted": False})
    doc = {
        "id": uid("agent", 1),
        "siteId": site.id,
        "displayName": "Alice",
        "email": "alice@example.com",
        "firstName": "",
        "lastName": "",
        "isAdmin": False,
        "isActive": True,
        "isDeleted": False,
        "createdTime": "2026-11-24T00:00:00Z",
        "departmentIds": [uid("dept", 1)],
        "maxConcurrentChats": 2,
    }
    with config.writing(pg, site.id) as conn:
        config.insert_agent(conn, site.id, dict(doc))
    online = Event(
        uid("event", 1), "agent.status_changed", T_MICROS - 60_000_000,
        {"agentId": uid("agent", 1), "statusId": ONLINE},
    )  # fmt: skip

    def deactivate() -> None:
        with config.writing(pg, site.id) as conn:
            config.replace_agent(conn, site.id, {**doc, "isActive": False})

    deactivated = threading.Thread(target=deactivate)
    with IngestTransaction(pg, site.id) as tx:  # holds the site's row lock until commit
        projector = tx.projector_for([online])
        assert projector.apply(online, 0) is None
        deactivated.start()
        deadline = time.monotonic() + 30
        while not _blocked_on_a_lock(pg):  # the configuration write waits for the ingest
            assert time.monotonic() < deadline, "the configuration write never waited"
        tx.commit([online], projector, T_MICROS)
    deactivated.join(30)
    with pg.connect() as conn:
        stored = live_totals.read(conn, site.id, [""])[""]
    # Alice went online, then became inactive: she counts nowhere.
    assert (stored["logged_in"], stored["online_capacity"]) == (0, 0)
    assert replay.check(pg, site.id).ok
    pg.dispose()
