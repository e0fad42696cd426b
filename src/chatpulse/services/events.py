"""The stored event log, read back a page at a time (for audits and replays)."""

from __future__ import annotations

from typing import Any

from chatpulse.services.runtime import Runtime
from chatpulse.store import sites
from chatpulse.store.db import read_connection
from chatpulse.store.eventlog import read_events


def page(runtime: Runtime, site_id: int, after: int, limit: int) -> dict[str, Any]:
    """Blocking: up to `limit` stored events after sequence `after`, and the site's last
    sequence, read in one snapshot."""
    with read_connection(runtime.engine) as conn:
        events = read_events(conn, site_id, after, limit)
        last = sites.last_sequence(conn, site_id)
    return {
        "events": events,
        "lastSequence": last,
        "nextAfter": events[-1]["sequence"] if events else after,
    }
