"""The event log as a service: a batch in (ingest, then the stream hub told), a page out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chatpulse.services.ingest import IngestResult, ingest
from chatpulse.services.runtime import Runtime
from chatpulse.store import sites
from chatpulse.store.db import read_connection
from chatpulse.store.eventlog import read_events


def append(runtime: Runtime, site_id: int, raw_events: Sequence[Any]) -> IngestResult:
    """Blocking: ingest the batch (atomic, idempotent; durable when this returns), then tell the
    process's observers which site and departments it changed."""
    result = ingest(runtime.engine, site_id, raw_events, runtime.clock.now())
    if result.accepted:
        runtime.notify(site_id, result.last_sequence, result.departments)
    return result


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
