"""Pydantic models at the HTTP edge: request bodies (strict, no unknown fields) and, for the
OpenAPI document, the shapes of the Real Time answers (Comm100's names, typos included)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    WithJsonSchema,
    field_validator,
)

from chatpulse.domain.events import normalize_uuid
from chatpulse.domain.service_level import (
    DEFAULT_SERVICE_LEVEL_SECONDS,
    DEFAULT_SHORT_ABANDON_SECONDS,
    SERVICE_LEVEL_RANGE,
    SHORT_ABANDON_RANGE,
)

# ---------------------------------------------------------------- Real Time answers

EXT = "Only with extended=true (METRICS.md §7)"


class RightNowModel(BaseModel):
    loggedInAgents: int
    agentsInChat: int
    chatUtilization: int
    visitorOnSite: int
    ongoingChats: int
    ongoingChatsWithAgent: int
    currentQueueLength: int
    ongoingChatsWithBot: int
    longestWaitTime: int | None = Field(None, description=EXT + ": whole seconds")
    availableAgents: int | None = Field(None, description=EXT)
    awayAgents: int | None = Field(None, description=EXT)
    freeChatSlots: int | None = Field(None, description=EXT)


class TodayModel(BaseModel):
    totalChats: int
    chatRequests: int
    chats: int
    abandondedChats: int
    switchedToMessageChats: int
    missedChats: int
    chatAcceptanceRate: float
    serviceAccessibilityRate: float
    uniqueChatRate: float
    avgWaitingTime: float
    avgChatTime: float
    avgScore: float
    acceptedInvitations: int
    totalTransferredChats: int
    departmentTransferredChats: int
    agentAvgResponseTime: float
    agentUtilization: float
    serviceLevel: float | None = Field(None, description=EXT + "; null: nothing to judge")
    avgSpeedOfAnswer: float | None = Field(None, description=EXT + ": seconds")
    longestWaitingTime: float | None = Field(None, description=EXT + ": seconds")


class IntervalModel(TodayModel):
    """One bucket of the Intervals view: Today over [startTime, endTime), extension fields
    always included (serviceLevel null when nothing was judged)."""

    startTime: str
    endTime: str
    serviceLevel: float | None
    avgSpeedOfAnswer: float
    longestWaitingTime: float


class AgentRow(BaseModel):
    agentId: str
    displayName: str
    currentStatusId: str
    onGoingChats: int
    maxConcurrentChats: int
    intradayChats: int
    intradayLinearChatTime: str = Field(description=".NET TimeSpan text, [d.]hh:mm:ss[.fffffff]")
    statusDistribution: dict[str, int]
    currentStatusSince: str | None = Field(None, description=EXT + ": the last status change")
    missedChats: int | None = Field(None, description=EXT + ": chat.missed in the window")


class AgentsPage(BaseModel):
    total: int
    pageCount: int
    pageIndex: int
    pageSize: int
    list: list[AgentRow]


class QueueVisitor(BaseModel):
    visitorId: str
    contactIdentityId: str | None
    waitTime: int


class QueueRow(BaseModel):
    routeToDepartmentId: str | None
    routeToDepartment: dict[str, Any] | None
    routeToAgentId: str | None
    routeToAgent: dict[str, Any] | None
    ongoingChats: int
    maxConcurrentChats: int
    currentQueueLength: int
    avgWaitTimeinLast30Mins: int
    avgWaitTimeinLast60Mins: int
    abandonedChatsinLast30Mins: int
    switchedtoMessagesinLast30Mins: int
    visitors: list[QueueVisitor]
    longestWaitTime: int | None = Field(None, description=EXT + ": whole seconds")
    serviceLevelinLast30Mins: float | None = Field(None, description=EXT + "; null: none judged")
    serviceLevelinLast60Mins: float | None = Field(None, description=EXT + "; null: none judged")


class IngestAnswer(BaseModel):
    accepted: int
    duplicates: int
    lastSequence: int


# ---------------------------------------------------------------- other answers (document only:
# the routes answer with Json directly, so these describe the bodies and validate nothing)


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DepartmentModel(Out):
    id: str
    siteId: int
    name: str
    description: str
    isAvailableInLiveChat: bool
    isAvailableInTicketingAndMessaging: bool
    isDeleted: bool
    serviceLevelSeconds: int | None
    shortAbandonSeconds: int | None


class AgentModel(Out):
    id: str
    siteId: int
    displayName: str
    email: str
    firstName: str
    lastName: str
    isAdmin: bool
    isActive: bool
    phone: str
    title: str
    bio: str
    apiKey: None = Field(description="Always null: ChatPulse keeps no agent secrets")
    createdTime: str
    isLocked: bool
    lockedTime: str | None
    isDeleted: bool
    systemAvatarId: str | int | None
    ifCustomizeAvatar: bool
    customizeAvatar: str
    avatar: str
    departmentIds: list[str]
    maxConcurrentChats: int


class StatusModel(Out):
    id: str
    name: str
    type: Literal["online", "away", "offline"]
    isSystem: bool
    order: int
    isDeleted: bool = Field(False, description="Only in lists with includeDeleted=true")


class SiteModel(Out):
    id: int
    name: str
    timeZone: str
    serviceLevelSeconds: int
    shortAbandonSeconds: int


class TokenModel(Out):
    id: str
    name: str
    scopes: list[str]
    createdTime: str


class NewTokenModel(TokenModel):
    token: str = Field(description="The secret; shown this once")


class StoredEvent(Out):
    sequence: int
    id: str
    type: str
    occurredAt: str
    recordedAt: str
    data: dict[str, Any]


class EventsPage(Out):
    events: list[StoredEvent]
    lastSequence: int
    nextAfter: int


class StatusAnswer(Out):
    status: str


# ---------------------------------------------------------------- request bodies


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # PostgreSQL text cannot hold U+0000; refused on every backend, so both behave alike.
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(text, str) and "\x00" in text for text in texts):
            raise ValueError("must not contain NUL (U+0000)")
        return value


# Documented constraints that the validators below enforce with their own messages.
NOT_BLANK: dict[str, Any] = {"pattern": r"\S"}


def _uuid(value: str | None) -> str | None:
    if value is None:
        return None
    canonical = normalize_uuid(value)
    if canonical is None:
        raise ValueError("must be a UUID")
    return canonical


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _between(low: int, high: int) -> Any:
    """A validator of an optional integer from `low` to `high` (None passes)."""

    def check(value: int | None) -> int | None:
        if value is not None and not low <= value <= high:
            raise ValueError(f"must be an integer from {low} to {high}")
        return value

    return check


_T_RANGE: dict[str, Any] = {"minimum": SERVICE_LEVEL_RANGE[0], "maximum": SERVICE_LEVEL_RANGE[1]}
_S_RANGE: dict[str, Any] = {"minimum": SHORT_ABANDON_RANGE[0], "maximum": SHORT_ABANDON_RANGE[1]}
_T_TEXT = "Service-level threshold T in seconds (METRICS.md §7)"
_S_TEXT = "Short-abandon threshold S in seconds (METRICS.md §7)"


class DepartmentBody(Body):
    id: StrictStr | None = None
    siteId: StrictInt | None = None
    name: StrictStr = Field(max_length=200, json_schema_extra=NOT_BLANK)
    description: StrictStr = Field("", max_length=4000)
    isAvailableInLiveChat: StrictBool = True
    isAvailableInTicketingAndMessaging: StrictBool = False
    isDeleted: StrictBool | None = None
    serviceLevelSeconds: StrictInt | None = Field(
        None, description=_T_TEXT + "; null: the site's", json_schema_extra=_T_RANGE
    )
    shortAbandonSeconds: StrictInt | None = Field(
        None, description=_S_TEXT + "; null: the site's", json_schema_extra=_S_RANGE
    )

    _check_id = field_validator("id")(_uuid)
    _check_name = field_validator("name")(_not_blank)
    _check_t = field_validator("serviceLevelSeconds")(_between(*SERVICE_LEVEL_RANGE))
    _check_s = field_validator("shortAbandonSeconds")(_between(*SHORT_ABANDON_RANGE))


class AgentBody(Body):
    id: StrictStr | None = None
    siteId: StrictInt | None = None
    displayName: StrictStr = Field(max_length=200, json_schema_extra=NOT_BLANK)
    email: StrictStr = Field(max_length=320, json_schema_extra={"pattern": r"^[^@\s]+@\S+$"})
    firstName: StrictStr = Field("", max_length=200)
    lastName: StrictStr = Field("", max_length=200)
    isAdmin: StrictBool = False
    isActive: StrictBool = True
    phone: StrictStr = Field("", max_length=100)
    title: StrictStr = Field("", max_length=200)
    bio: StrictStr = Field("", max_length=4000)
    apiKey: StrictStr | None = None
    createdTime: StrictStr | None = None
    isLocked: StrictBool = False
    lockedTime: StrictStr | None = None
    isDeleted: StrictBool | None = None
    systemAvatarId: StrictStr | StrictInt | None = None
    ifCustomizeAvatar: StrictBool = False
    customizeAvatar: StrictStr = Field("", max_length=2000)
    avatar: StrictStr = Field("", max_length=2000)
    departmentIds: list[StrictStr] = Field(default_factory=list, max_length=1000)
    maxConcurrentChats: StrictInt = Field(3, ge=0, le=100)

    _check_id = field_validator("id")(_uuid)
    _check_name = field_validator("displayName")(_not_blank)

    @field_validator("email")
    @classmethod
    def _check_email(cls, value: str) -> str:
        local, at, domain = value.partition("@")
        if not at or not local or not domain or any(ch.isspace() for ch in value):
            raise ValueError("must be an email address")
        return value

    @field_validator("departmentIds")
    @classmethod
    def _check_departments(cls, value: list[str]) -> list[str]:
        out = []
        for item in value:
            canonical = normalize_uuid(item)
            if canonical is None:
                raise ValueError(f"{item[:40]!r} is not a UUID")
            out.append(canonical)
        return out


class StatusBody(Body):
    id: StrictStr | None = None
    name: StrictStr = Field(max_length=200, json_schema_extra=NOT_BLANK)
    type: StrictStr = Field(json_schema_extra={"enum": ["online", "away", "offline"]})
    isSystem: StrictBool | None = None
    order: StrictInt | None = Field(None, ge=0, le=1_000_000)

    _check_id = field_validator("id")(_uuid)
    _check_name = field_validator("name")(_not_blank)

    @field_validator("type")
    @classmethod
    def _check_type(cls, value: str) -> str:
        if value not in ("online", "away", "offline"):
            raise ValueError("must be online, away or offline")
        return value


class TokenBody(Body):
    name: StrictStr = Field("", max_length=200)
    scopes: list[StrictStr] | None = Field(None, max_length=5)


class SiteBody(Body):
    id: StrictInt | None = None
    name: StrictStr = Field(max_length=200, json_schema_extra=NOT_BLANK)
    timeZone: StrictStr = Field("UTC", max_length=64)
    serviceLevelSeconds: StrictInt = Field(
        DEFAULT_SERVICE_LEVEL_SECONDS, description=_T_TEXT, json_schema_extra=_T_RANGE
    )
    shortAbandonSeconds: StrictInt = Field(
        DEFAULT_SHORT_ABANDON_SECONDS, description=_S_TEXT, json_schema_extra=_S_RANGE
    )

    _check_name = field_validator("name")(_not_blank)
    _check_t = field_validator("serviceLevelSeconds")(_between(*SERVICE_LEVEL_RANGE))
    _check_s = field_validator("shortAbandonSeconds")(_between(*SHORT_ABANDON_RANGE))


class ConnectorBody(Body):
    """A new connector (docs/connectors.md)."""

    kind: Literal["chatwoot", "livechat"]
    name: StrictStr | None = Field(None, max_length=200)
    signingSecret: StrictStr | None = Field(
        None, max_length=400, description="the platform's webhook secret, if it has one"
    )
    apiUrl: StrictStr | None = Field(None, max_length=400)
    apiToken: StrictStr | None = Field(None, max_length=400)
    accountId: StrictStr | None = Field(None, max_length=100)
    pollSeconds: StrictInt | None = Field(
        None, description="agent availability poll (Chatwoot), 0 = none; default 30 with API"
    )
    reorderMs: StrictInt | None = Field(None, description="reorder buffer, 0…5000 ms (100)")


class ConnectorModel(BaseModel):
    id: str
    siteId: int
    kind: str
    name: str
    signingSecretSet: bool
    apiUrl: str | None
    apiTokenSet: bool
    accountId: str | None
    pollSeconds: int
    reorderMs: int
    createdTime: str
    lastPollTime: str | None
    lastPollError: str | None


class NewConnectorModel(ConnectorModel):
    webhookUrl: str = Field(description="shown once: the URL to enter in the platform")
    setup: str = Field(description="the settings to enter in the platform")


class ConnectorDropModel(BaseModel):
    id: int
    recordedTime: str
    occurredTime: str | None
    deliveryId: str | None
    factKey: str | None
    type: str | None
    reason: str


class ConnectorDropsModel(BaseModel):
    total: int
    list: list[ConnectorDropModel]


class DeliveryModel(BaseModel):
    accepted: int
    duplicates: int
    skipped: int
    dropped: int
    repaired: int
    lastSequence: int
    ignored: str | None = None


class SyncModel(BaseModel):
    agents: int = Field(description="agents read from the platform's API")
    departments: int = Field(description="teams (Chatwoot) or groups (LiveChat) read")


# ---- alerts (docs/alerts.md) ----------------------------------------------------------------


# A number or null, checked by domain/alerts.parse_rule (one error naming the field, where
# pydantic's union would name it twice, once per member type).
Number = Annotated[Any, WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "null"}]})]


class AlertRuleBody(Body):
    """A rule: a threshold on a numeric field of a view, or the site's silence."""

    id: StrictStr | None = Field(None, description="UUID; the server's when absent")
    name: StrictStr = Field(max_length=200)
    kind: Literal["threshold", "silence"] = "threshold"
    view: Literal["RightNow", "Queue", "Today"] | None = Field(
        None, description="threshold rules: the view whose field is watched"
    )
    field: StrictStr | None = Field(
        None, description="a numeric field of the view, extension fields included"
    )
    departmentId: StrictStr | None = Field(
        None, description="that department's figures (Queue: its row); Queue without: every row"
    )
    comparison: Literal[">", ">=", "<", "<="] | None = Field(None, description="default >")
    warning: Number = Field(None, description="silence rules: seconds without events")
    critical: Number = None
    holdSeconds: StrictInt | None = Field(
        None, description="the condition must last this long before the alert fires (0)"
    )
    clearMargin: Number = Field(
        None, description="the value must come back past the threshold by this much to clear"
    )
    createdTime: StrictStr | None = Field(None, description="ignored (read-only)")
    updatedTime: StrictStr | None = Field(None, description="ignored (read-only)")


class AlertRuleModel(BaseModel):
    id: str
    name: str
    kind: str
    view: str | None
    field: str | None
    departmentId: str | None
    comparison: str
    warning: float | None
    critical: float | None
    holdSeconds: int
    clearMargin: float
    createdTime: str
    updatedTime: str


class AlertModel(BaseModel):
    """A firing alert: a rule's subject at warning or critical."""

    ruleId: str
    ruleName: str
    kind: str
    view: str | None
    field: str | None
    departmentId: str | None
    routeToDepartmentId: str | None = Field(description="the Queue row, for Queue rules")
    routeToAgentId: str | None
    severity: Literal["warning", "critical"]
    value: float | None = Field(description="the value when it entered this severity")
    threshold: float | None
    since: str


class AlertsModel(BaseModel):
    alerts: list[AlertModel]
    evaluatedAt: str | None = Field(description="the clock of the last finished evaluation")


class AlertTransitionModel(BaseModel):
    transitionId: int
    ruleId: str
    ruleName: str | None
    kind: str | None
    view: str | None
    field: str | None
    departmentId: str | None
    routeToDepartmentId: str | None
    routeToAgentId: str | None
    from_: Literal["ok", "warning", "critical"] = Field(alias="from")
    to: Literal["ok", "warning", "critical"]
    severity: Literal["warning", "critical"]
    value: float | None
    threshold: float | None
    time: str


class AlertHistoryModel(BaseModel):
    transitions: list[AlertTransitionModel]
    lastTransitionId: int
    nextAfter: int
