"""What a platform mapping produces from one webhook delivery: facts in the platform's ids.

A mapping module (`chatwoot.py`, `livechat.py`) is pure: a parsed JSON payload in, a `Delivery`
out. It knows the platform's shapes and nothing of ChatPulse's storage. The connector service
(`services/connectors.py`) turns the platform ids into stable UUIDs (`ids.py`), creates agents
and departments met for the first time, orders the facts by time, repairs what can be repaired
against the current state (`reconcile.py`) and ingests the result in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

# The kinds of platform entity whose ids become UUIDs, by the ChatPulse data field naming them.
ID_FIELDS: Mapping[str, str] = {
    "chatId": "chat",
    "visitorId": "visitor",
    "contactIdentityId": "contact",
    "agentId": "agent",
    "toAgentId": "agent",
    "departmentId": "department",
    "toDepartmentId": "department",
    "invitationId": "invitation",
    "botId": "bot",
}
# The header the connector service sets on every delivery (from its clock, never the sender's):
# when it was received, ISO 8601 with an offset, for payloads that do not say when.
RECEIVED_AT_HEADER = "x-chatpulse-received-at"
# `statusId` of an `agent.status_changed` fact: one of these words (the built-in statuses).
STATUS_WORDS = ("online", "away", "offline")


class PayloadError(Exception):
    """The payload is not what the platform documents: `field` (a dotted path) and why."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True, slots=True)
class Fact:
    """One ChatPulse event to be, named in the platform's terms.

    `key` is unique among the connector's facts and the same every time the platform delivers
    the same thing again (its event or delivery id, plus a suffix when one delivery yields
    several facts): the stored event's id is derived from it, which makes redeliveries
    duplicates. `data` has the fields of the event type (SPEC.md §4) with the platform's ids
    as strings in the id fields (`ID_FIELDS`) and a word of `STATUS_WORDS` as `statusId`.
    `visitor` and `department` name the chat's visitor and team when the platform says them,
    so that a chat can be created first when a later fact arrives before its start.
    """

    key: str
    type: str
    occurred_at: datetime  # aware
    data: Mapping[str, str | int | None]
    visitor: str | None = None
    department: str | None = None


@dataclass(frozen=True, slots=True)
class AgentInfo:
    """An agent as the platform describes it (created or updated in ChatPulse on sight)."""

    key: str
    display_name: str
    email: str | None = None
    # The platform's teams/groups the agent belongs to, when the payload says (None: unknown).
    department_keys: tuple[str, ...] | None = None
    max_concurrent_chats: int | None = None


@dataclass(frozen=True, slots=True)
class TeamInfo:
    """A team (Chatwoot) or group (LiveChat): a ChatPulse department."""

    key: str
    name: str


@dataclass(frozen=True, slots=True)
class Delivery:
    """Everything one webhook delivery says. `ignored` says why it maps to nothing (an event
    type the connector does not use), so that it is acknowledged and not counted as a drop."""

    facts: tuple[Fact, ...] = ()
    agents: tuple[AgentInfo, ...] = ()
    teams: tuple[TeamInfo, ...] = ()
    ignored: str | None = None
    # The platform's id of this delivery or event, when it has one (logged with drops).
    delivery_id: str | None = None
    # Set by the connector service (never by a mapping) when the payload was not the
    # documented shape: why. The delivery is acknowledged and counted as one drop.
    unreadable: str | None = None


@dataclass(frozen=True, slots=True)
class ConnectorSettings:
    """A connector's configuration, as the mapping and the platform API client need it."""

    kind: str  # "chatwoot" or "livechat"
    # Checks the platform's own signature or secret, when the platform has one (else None).
    signing_secret: str | None = None
    # Platform API access, for the agent availability poll and directory sync (else None).
    api_url: str | None = None
    api_token: str | None = None
    account_id: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)


class Platform(Protocol):
    """What each platform module provides (module-level functions, see chatwoot.py)."""

    def authenticate(
        self, headers: Mapping[str, str], body: bytes, settings: ConnectorSettings
    ) -> str | None:
        """None when the delivery is the platform's; else why not (answered 401)."""

    def map_delivery(self, payload: object, headers: Mapping[str, str]) -> Delivery:
        """The delivery's facts; PayloadError when the payload is not the documented shape."""

    def setup_text(self, webhook_url: str, settings: ConnectorSettings) -> str:
        """The exact settings to enter in the platform for this webhook URL."""
