"""The fifteen event types of SPEC.md §4: their shape, and parsing of one raw event envelope."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from enum import Enum
from typing import Any

from chatpulse.domain.errors import FieldError
from chatpulse.domain.timeutil import MICROS, OUT_OF_RANGE, instant_in_range, parse_iso

FUTURE_TOLERANCE = 60 * MICROS  # occurredAt may run at most this far ahead of the server clock


class Kind(Enum):
    UUID = "uuid"
    SENDER = "sender"
    SCORE = "score"


SENDERS = ("visitor", "agent", "bot")

# type -> {field: (kind, required)}
SCHEMAS: dict[str, dict[str, tuple[Kind, bool]]] = {
    "agent.status_changed": {"agentId": (Kind.UUID, True), "statusId": (Kind.UUID, True)},
    "visitor.arrived": {"visitorId": (Kind.UUID, True), "contactIdentityId": (Kind.UUID, False)},
    "visitor.left": {"visitorId": (Kind.UUID, True)},
    "invitation.sent": {
        "invitationId": (Kind.UUID, True),
        "visitorId": (Kind.UUID, True),
        "agentId": (Kind.UUID, False),
    },
    "invitation.accepted": {"invitationId": (Kind.UUID, True)},
    "chat.requested": {
        "chatId": (Kind.UUID, True),
        "visitorId": (Kind.UUID, True),
        "contactIdentityId": (Kind.UUID, False),
        "departmentId": (Kind.UUID, False),
        "agentId": (Kind.UUID, False),
        "botId": (Kind.UUID, False),
        "invitationId": (Kind.UUID, False),
    },
    "chat.queued": {
        "chatId": (Kind.UUID, True),
        "departmentId": (Kind.UUID, False),
        "agentId": (Kind.UUID, False),
    },
    "chat.accepted": {"chatId": (Kind.UUID, True), "agentId": (Kind.UUID, True)},
    "chat.missed": {"chatId": (Kind.UUID, True), "agentId": (Kind.UUID, True)},
    "chat.transferred": {
        "chatId": (Kind.UUID, True),
        "toAgentId": (Kind.UUID, False),
        "toDepartmentId": (Kind.UUID, False),
    },
    "chat.message": {"chatId": (Kind.UUID, True), "sender": (Kind.SENDER, True)},
    "chat.ended": {"chatId": (Kind.UUID, True)},
    "chat.abandoned": {"chatId": (Kind.UUID, True)},
    "chat.switched_to_message": {"chatId": (Kind.UUID, True)},
    "chat.rated": {"chatId": (Kind.UUID, True), "score": (Kind.SCORE, True)},
}
EVENT_TYPES = tuple(SCHEMAS)
ENVELOPE_FIELDS = ("id", "type", "occurredAt", "data")


@dataclass(frozen=True, slots=True)
class Event:
    """One validated event; ids lower case, `occurred_at` in microseconds since the epoch (UTC)."""

    id: str
    type: str
    occurred_at: int
    data: dict[str, Any]

    def entity(self) -> tuple[str, str]:
        """The entity whose events must not go back in time: (kind, id)."""
        family = self.type.split(".", 1)[0]
        if family == "chat":
            return ("chat", self.data["chatId"])
        if family == "agent":
            return ("agent", self.data["agentId"])
        if family == "visitor":
            return ("visitor", self.data["visitorId"])
        return ("invitation", self.data["invitationId"])

    def same_content(self, other: Event) -> bool:
        return (
            self.type == other.type
            and self.occurred_at == other.occurred_at
            and self.data == other.data
        )


_CANONICAL_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


def normalize_uuid(value: Any) -> str | None:
    """Canonical lower-case UUID text, or None when `value` is not a UUID string."""
    if not isinstance(value, str) or not 32 <= len(value) <= 45:
        return None
    if _CANONICAL_UUID.fullmatch(value):  # the usual form: no need to parse it
        return value.lower()
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def parse_event(raw: Any, index: int, now: int) -> Event | list[FieldError]:
    """Check one raw envelope's shape (not the state rules); return the Event or its problems."""
    if not isinstance(raw, dict):
        return [FieldError("event", "must be a JSON object", index)]
    errors: list[FieldError] = []
    for key in raw:
        if key not in ENVELOPE_FIELDS:
            errors.append(FieldError(_field_name(key), "is not a known field", index))

    event_id = normalize_uuid(raw.get("id"))
    if "id" not in raw:
        errors.append(FieldError("id", "is required", index))
    elif event_id is None:
        errors.append(FieldError("id", "must be a UUID", index))

    event_type = raw.get("type")
    schema = SCHEMAS.get(event_type) if isinstance(event_type, str) else None
    if "type" not in raw:
        errors.append(FieldError("type", "is required", index))
    elif schema is None:
        errors.append(FieldError("type", f"must be one of {', '.join(EVENT_TYPES)}", index))

    occurred_at = _parse_occurred_at(raw, index, now, errors)

    data = raw.get("data")
    clean: dict[str, Any] = {}
    if "data" not in raw:
        errors.append(FieldError("data", "is required", index))
    elif not isinstance(data, dict):
        errors.append(FieldError("data", "must be a JSON object", index))
    elif schema is not None:
        clean = _parse_data(str(event_type), schema, data, index, errors)

    if errors:
        return errors
    assert event_id is not None and occurred_at is not None and isinstance(event_type, str)
    return Event(event_id, event_type, occurred_at, clean)


def _field_name(key: Any) -> str:
    text = str(key)
    return text if len(text) <= 64 else text[:61] + "..."


def _parse_occurred_at(
    raw: dict[str, Any], index: int, now: int, errors: list[FieldError]
) -> int | None:
    if "occurredAt" not in raw:
        errors.append(FieldError("occurredAt", "is required", index))
        return None
    value = raw["occurredAt"]
    moment = parse_iso(value) if isinstance(value, str) and len(value) <= 64 else None
    if moment is None or len(value.strip()) <= 10:
        errors.append(FieldError("occurredAt", "must be an ISO 8601 date-time", index))
        return None
    if moment.tzinfo is None:
        errors.append(
            FieldError(
                "occurredAt", "must have a UTC offset or Z (e.g. 2026-11-24T09:30:00Z)", index
            )
        )
        return None
    micros = instant_in_range(moment)
    if micros is None:
        errors.append(FieldError("occurredAt", OUT_OF_RANGE, index))
        return None
    if micros > now + FUTURE_TOLERANCE:
        errors.append(FieldError("occurredAt", "is more than 60 s in the future", index))
        return None
    return micros


def _parse_data(
    event_type: str,
    schema: dict[str, tuple[Kind, bool]],
    data: dict[str, Any],
    index: int,
    errors: list[FieldError],
) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, value in data.items():
        spec = schema.get(key)
        name = f"data.{_field_name(key)}"
        if spec is None:
            errors.append(FieldError(name, f"is not a field of {event_type}", index))
            continue
        kind, required = spec
        if value is None and not required:
            continue
        if kind is Kind.UUID:
            parsed = normalize_uuid(value)
            if parsed is None:
                errors.append(FieldError(name, "must be a UUID", index))
                continue
            clean[key] = parsed
        elif kind is Kind.SENDER:
            if value not in SENDERS:
                errors.append(FieldError(name, "must be one of visitor, agent, bot", index))
                continue
            clean[key] = value
        else:
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
                errors.append(FieldError(name, "must be an integer from 1 to 5", index))
                continue
            clean[key] = value
    for key, (_, required) in schema.items():
        if required and data.get(key) is None:
            errors.append(FieldError(f"data.{key}", "is required", index))
    if event_type == "chat.requested" and "departmentId" in clean and "agentId" in clean:
        errors.append(
            FieldError("data.agentId", "cannot be given together with departmentId", index)
        )
    if event_type == "chat.queued" and "departmentId" in clean and "agentId" in clean:
        errors.append(
            FieldError("data.agentId", "cannot be given together with departmentId", index)
        )
    if event_type == "chat.transferred":
        given = ("toAgentId" in clean) + ("toDepartmentId" in clean)
        if given != 1 and not any(e.field.startswith("data.to") for e in errors):
            errors.append(
                FieldError(
                    "data.toAgentId",
                    "exactly one of toAgentId and toDepartmentId is required",
                    index,
                )
            )
    return clean
