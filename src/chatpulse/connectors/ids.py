"""A platform's ids as ChatPulse UUIDs, and a fact as an event (pure).

Ids are name-based (UUID version 5) over the site, the connector and the kind of entity, so the
same platform id always gives the same UUID for one connector, and two connectors (or two
sites) never share one. An event's id comes from its fact's key the same way: a redelivered
webhook gives the same event ids, which ingest answers as duplicates.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from chatpulse.connectors.model import ID_FIELDS, STATUS_WORDS, Fact
from chatpulse.domain.events import FUTURE_TOLERANCE, Event, parse_event
from chatpulse.domain.statuses import AWAY_ID, OFFLINE_ID, ONLINE_ID
from chatpulse.domain.timeutil import format_instant_exact, instant_in_range

# The namespace of every connector id (a fixed, random UUID: never change it).
NAMESPACE = uuid.UUID("6b0f6f5e-3c1e-4c55-9a51-1d7c2f2a9e41")
STATUS_IDS = dict(zip(STATUS_WORDS, (ONLINE_ID, AWAY_ID, OFFLINE_ID), strict=True))


@dataclass(frozen=True, slots=True)
class Ids:
    """The UUIDs of one connector of one site."""

    site_id: int
    connector_id: str

    def of(self, kind: str, key: str) -> str:
        """The UUID of the platform's `kind` entity `key` (kind: chat, agent, department…)."""
        name = f"{self.site_id}/{self.connector_id}/{kind}/{key}"
        return str(uuid.uuid5(NAMESPACE, name))

    def event_id(self, fact_key: str) -> str:
        return self.of("event", fact_key)

    def event(self, fact: Fact, now: int) -> Event | str:
        """The fact as a valid event, or why it cannot be one. A time more than the tolerated
        minute ahead of the server's clock (a platform's clock running fast) becomes now."""
        data: dict[str, Any] = {}
        for name, value in fact.data.items():
            if value is None:
                continue
            kind = ID_FIELDS.get(name)
            if kind is not None:
                data[name] = self.of(kind, str(value))
            elif name == "statusId":
                status = STATUS_IDS.get(str(value))
                if status is None:
                    return f"statusId: unknown status {value!r}"
                data[name] = status
            else:
                data[name] = value
        at = instant_in_range(fact.occurred_at)
        if at is None:
            return "occurredAt: out of range"
        if at > now + FUTURE_TOLERANCE:
            at = now
        raw = {
            "id": self.event_id(fact.key),
            "type": fact.type,
            "occurredAt": format_instant_exact(at),
            "data": data,
        }
        parsed = parse_event(raw, 0, now)
        if isinstance(parsed, Event):
            return parsed
        return "; ".join(f"{e.field}: {e.message}" for e in parsed)
