"""The chat lifecycle of METRICS.md §1 and the live records the projections keep per entity."""

from __future__ import annotations

from dataclasses import dataclass

BOT = "BOT"
WAITING = "WAITING"
ONGOING = "ONGOING"
ENDED = "ENDED"
ABANDONED = "ABANDONED"
SWITCHED = "SWITCHED"
LIVE_STATES = (BOT, WAITING, ONGOING)
FINAL_STATES = (ENDED, ABANDONED, SWITCHED)

# How a wait ended.
ANSWERED = "answered"
WAIT_ABANDONED = "abandoned"
WAIT_SWITCHED = "switched"

# The end of an interval that is still open: larger than any instant, so that "ended after X"
# is one index range that also finds the open intervals.
OPEN = 9_000_000_000_000_000_000


@dataclass(slots=True)
class ChatRecord:
    """Everything the views need to know of one chat, kept up to date event by event."""

    chat_id: str
    visitor_id: str
    contact_identity_id: str | None
    state: str
    requested_at: int
    last_event_at: int
    department_id: str | None = None
    cohort_department_id: str | None = None
    route_department_id: str | None = None
    route_agent_id: str | None = None
    agent_id: str | None = None
    handler_since: int | None = None
    handling_no: int = 0
    wait_no: int = 0
    wait_started_at: int | None = None
    first_wait_ended_at: int | None = None
    first_wait_length: int | None = None
    # The route department of the first wait when it ended (its service-level thresholds).
    first_wait_department_id: str | None = None
    accepted_at: int | None = None
    ended_at: int | None = None
    transferred: bool = False
    department_transferred: bool = False
    first_agent_id: str | None = None
    multi_agent: bool = False
    score: int | None = None
    response_total: int = 0
    response_count: int = 0
    pending_visitor_since: int | None = None
    is_new: bool = False


@dataclass(slots=True)
class WaitRecord:
    """One stretch of a chat in WAITING; `ended_at` is OPEN while it lasts."""

    chat_id: str
    wait_no: int
    visitor_id: str
    contact_identity_id: str | None
    route_department_id: str | None
    route_agent_id: str | None
    started_at: int
    ended_at: int = OPEN
    outcome: str | None = None
    is_new: bool = False


@dataclass(slots=True)
class HandlingRecord:
    """A handling interval: from the moment an agent got a chat to the moment it lost it."""

    chat_id: str
    handling_no: int
    agent_id: str
    started_at: int
    ended_at: int = OPEN
    is_new: bool = False


@dataclass(slots=True)
class StatusRecord:
    """A stretch of one agent in one status."""

    agent_id: str
    status_no: int
    status_id: str
    started_at: int
    ended_at: int = OPEN
    is_new: bool = False


@dataclass(slots=True)
class BusyRecord:
    """A stretch in which an agent handles at least one chat: the union of its handling
    intervals, kept as it grows, so that linear chat time is a plain sum of clipped lengths."""

    agent_id: str
    busy_no: int
    started_at: int
    ended_at: int = OPEN
    is_new: bool = False


@dataclass(slots=True)
class AgentLive:
    """An agent's present: status, since when, how many chats it handles now."""

    agent_id: str
    status_id: str | None = None
    status_since: int | None = None
    status_no: int = 0
    ongoing_chats: int = 0
    busy_no: int = 0
    busy_since: int | None = None
    # The latest start or end of a handling interval applied so far: a boundary earlier than
    # this (chats of one agent may arrive out of time order) invalidates the busy intervals.
    handled_until: int = 0
    is_new: bool = True


@dataclass(slots=True)
class VisitorRecord:
    visitor_id: str
    on_site: bool
    last_event_at: int
    contact_identity_id: str | None = None
    is_new: bool = False


@dataclass(slots=True)
class InvitationRecord:
    invitation_id: str
    visitor_id: str
    agent_id: str | None
    sent_at: int
    accepted_at: int | None
    last_event_at: int
    is_new: bool = False
