"""Mapping between the domain's live records and projection rows (same names on both sides)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from chatpulse.domain.chat import (
    AgentLive,
    BusyRecord,
    ChatRecord,
    HandlingRecord,
    InvitationRecord,
    StatusRecord,
    VisitorRecord,
    WaitRecord,
)

R = TypeVar("R")


def _columns(cls: type) -> tuple[str, ...]:
    return tuple(name for name in cls.__slots__ if name != "is_new")  # type: ignore[attr-defined]


CHAT_COLUMNS = _columns(ChatRecord)
WAIT_COLUMNS = _columns(WaitRecord)
HANDLING_COLUMNS = _columns(HandlingRecord)
STATUS_COLUMNS = _columns(StatusRecord)
AGENT_COLUMNS = _columns(AgentLive)
BUSY_COLUMNS = _columns(BusyRecord)
VISITOR_COLUMNS = _columns(VisitorRecord)
INVITATION_COLUMNS = _columns(InvitationRecord)


def to_row(site_id: int, record: object, columns: tuple[str, ...]) -> dict[str, Any]:
    row = {name: getattr(record, name) for name in columns}
    row["site_id"] = site_id
    return row


def from_row(cls: type[R], row: Mapping[str, Any], columns: tuple[str, ...]) -> R:
    record = cls(**{name: row[name] for name in columns})
    record.is_new = False  # type: ignore[attr-defined]
    return record
