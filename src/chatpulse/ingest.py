"""Ingest: validate a batch against the current state and append it atomically (SPEC.md §4)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from chatpulse.domain.errors import ChatPulseError, FieldError, InvalidBody
from chatpulse.domain.events import Event, parse_event
from chatpulse.store.eventlog import IngestTransaction

MAX_EVENTS = 1000


@dataclass(frozen=True, slots=True)
class IngestResult:
    accepted: int
    duplicates: int
    last_sequence: int
    # The departments whose views the batch may change (store/eventlog.py); None: any.
    departments: frozenset[str] | None = None

    def as_json(self) -> dict[str, int]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "lastSequence": self.last_sequence,
        }


class ConflictingEvents(ChatPulseError):
    """Ids already stored (or repeated in the batch) with other content: 409, nothing stored."""

    def __init__(self, errors: list[FieldError]) -> None:
        first = errors[0]
        super().__init__(f"event {first.index}: {first.message}", errors, 409)


def ingest(engine: Engine, site_id: int, raw_events: Sequence[Any], now: int) -> IngestResult:
    """Store every event of the batch, or none of them."""
    shape_errors: list[FieldError] = []
    parsed: list[tuple[int, Event]] = []
    for index, raw in enumerate(raw_events):
        result = parse_event(raw, index, now)
        if isinstance(result, Event):
            parsed.append((index, result))
        else:
            shape_errors.extend(result)

    # An id repeated in the batch: the same content again is a duplicate, other content a conflict.
    conflicts: list[FieldError] = []
    first_seen: dict[str, Event] = {}
    fresh: list[tuple[int, Event]] = []
    duplicates = 0
    for index, event in parsed:
        seen = first_seen.get(event.id)
        if seen is None:
            first_seen[event.id] = event
            fresh.append((index, event))
        elif seen.same_content(event):
            duplicates += 1
        else:
            conflicts.append(_conflict(index, event.id, "earlier in this batch"))

    with IngestTransaction(engine, site_id) as tx:
        stored = tx.stored_events([e.id for _, e in fresh])
        new: list[tuple[int, Event]] = []
        for index, event in fresh:
            old = stored.get(event.id)
            if old is None:
                new.append((index, event))
            elif old.same_content(event):
                duplicates += 1
            else:
                conflicts.append(_conflict(index, event.id, "already stored"))
        if conflicts:
            raise ConflictingEvents(sorted(conflicts, key=lambda e: e.index or 0))

        projector = tx.projector_for([e for _, e in new])
        state_errors = [
            error for index, event in new if (error := projector.apply(event, index)) is not None
        ]
        errors = sorted(shape_errors + state_errors, key=lambda e: e.index or 0)
        if errors:
            raise InvalidBody(errors)
        last = tx.commit([e for _, e in new], projector, now)
    return IngestResult(len(new), duplicates, last, tx.changed_departments)


def _conflict(index: int, event_id: str, where: str) -> FieldError:
    return FieldError("id", f"event {event_id} was {where} with other content", index)


__all__ = ["MAX_EVENTS", "ConflictingEvents", "IngestResult", "ingest"]
