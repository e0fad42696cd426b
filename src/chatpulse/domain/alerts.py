"""Alert rules (docs/alerts.md): what a rule is, how a body becomes one, and how one subject's
state moves from a value and the clock. Pure: no I/O, no clock reads.

A *threshold* rule watches one numeric field of RightNow, Queue or Today (extension fields
included); a *silence* rule watches the seconds since the site's last stored event. Each
subject a rule watches (the view, or one Queue row) is `ok`, `warning` or `critical`:

- a level **fires** once its condition (`value <comparison> threshold`) has held without a
  break for the rule's hold time (0: at once); the higher level wins;
- a firing level **stays** while the value is still beyond its threshold moved back by the
  clear margin (hysteresis), so a value hovering at the threshold does not flap; it **clears**
  (to the lower level whose own condition, with the margin, still holds, or to ok) at once;
- no value (a null field, a Queue row that is gone) holds no condition: the subject clears.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from chatpulse.domain.errors import FieldError, InvalidBody
from chatpulse.domain.events import normalize_uuid
from chatpulse.domain.timeutil import MICROS, format_instant_exact

OK, WARNING, CRITICAL = "ok", "warning", "critical"
LEVELS = (OK, WARNING, CRITICAL)
SEVERITIES = (WARNING, CRITICAL)
RANK = {OK: 0, WARNING: 1, CRITICAL: 2}

THRESHOLD, SILENCE = "threshold", "silence"
KINDS = (THRESHOLD, SILENCE)

# The numeric fields a rule may watch, per view: Comm100's, then the extension fields of
# METRICS.md §7 (rules read the views with extended=true). Counts, seconds and percentages.
FIELDS: Mapping[str, tuple[str, ...]] = {
    "RightNow": (
        "loggedInAgents",
        "agentsInChat",
        "ongoingChatsWithAgent",
        "ongoingChatsWithBot",
        "ongoingChats",
        "currentQueueLength",
        "visitorOnSite",
        "chatUtilization",
        "longestWaitTime",
        "availableAgents",
        "awayAgents",
        "freeChatSlots",
    ),
    "Queue": (
        "ongoingChats",
        "maxConcurrentChats",
        "currentQueueLength",
        "avgWaitTimeinLast30Mins",
        "avgWaitTimeinLast60Mins",
        "abandonedChatsinLast30Mins",
        "switchedtoMessagesinLast30Mins",
        "longestWaitTime",
        "serviceLevelinLast30Mins",
        "serviceLevelinLast60Mins",
    ),
    "Today": (
        "totalChats",
        "chatRequests",
        "chats",
        "abandondedChats",
        "switchedToMessageChats",
        "missedChats",
        "chatAcceptanceRate",
        "serviceAccessibilityRate",
        "uniqueChatRate",
        "avgWaitingTime",
        "avgChatTime",
        "avgScore",
        "acceptedInvitations",
        "totalTransferredChats",
        "departmentTransferredChats",
        "agentAvgResponseTime",
        "agentUtilization",
        "serviceLevel",
        "avgSpeedOfAnswer",
        "longestWaitingTime",
    ),
}
VIEWS = tuple(FIELDS)
# The extension fields (METRICS.md §7): a view is read with extended=true only for them, so that
# rules on Comm100's fields share the computations of the streams that ask without it.
EXTENDED: Mapping[str, frozenset[str]] = {
    "RightNow": frozenset(("longestWaitTime", "availableAgents", "awayAgents", "freeChatSlots")),
    "Queue": frozenset(("longestWaitTime", "serviceLevelinLast30Mins", "serviceLevelinLast60Mins")),
    "Today": frozenset(("serviceLevel", "avgSpeedOfAnswer", "longestWaitingTime")),
}
# The fields that move with the clock alone, without an event (waits going on, sliding windows,
# open intervals). Every Queue field but three does: Queue is read anew at every judgement.
CLOCK: Mapping[str, frozenset[str]] = {
    "RightNow": frozenset(("longestWaitTime",)),
    "Queue": frozenset(FIELDS["Queue"]),
    "Today": frozenset(("longestWaitingTime", "agentUtilization")),
}

COMPARISONS: Mapping[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
MAX_HOLD_SECONDS = 86_400
MAX_THRESHOLD = 1e12
SILENCE_FIELD = "secondsSinceLastEvent"

# A Queue row's subject: its route target. The whole view (RightNow, Today, silence): "".
WHOLE = ""
NO_DEPARTMENT = "none"


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    site_id: int
    name: str
    kind: str
    view: str | None
    field: str | None
    department_id: str | None
    comparison: str
    warning: float | None
    critical: float | None
    hold_seconds: int
    clear_margin: float
    created_at: int
    updated_at: int

    def threshold(self, level: str) -> float | None:
        return self.warning if level == WARNING else self.critical if level == CRITICAL else None

    def holds(self, level: str, value: float | None, margin: float = 0.0) -> bool:
        """Whether `value` is beyond `level`'s threshold, moved back by `margin`."""
        threshold = self.threshold(level)
        if threshold is None or value is None:
            return False
        if self.comparison in (">", ">="):
            threshold -= margin
        else:
            threshold += margin
        return COMPARISONS[self.comparison](value, threshold)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "view": self.view,
            "field": self.field,
            "departmentId": self.department_id,
            "comparison": self.comparison,
            "warning": number_json(self.warning),
            "critical": number_json(self.critical),
            "holdSeconds": self.hold_seconds,
            "clearMargin": number_json(self.clear_margin),
            "createdTime": format_instant_exact(self.created_at),
            "updatedTime": format_instant_exact(self.updated_at),
        }


def number_json(value: float | None) -> float | int | None:
    """A stored float as JSON: whole numbers without a fraction (60, not 60.0)."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


@dataclass(frozen=True, slots=True)
class SubjectState:
    """One subject of one rule: its level since when, the last value judged, and since when
    each level's condition has held (for the hold time)."""

    state: str = OK
    since: int = 0
    value: float | None = None
    warning_since: int | None = None
    critical_since: int | None = None
    revision: int = 0

    @property
    def quiet(self) -> bool:
        """Nothing worth storing: ok and no hold running."""
        return self.state == OK and self.warning_since is None and self.critical_since is None


@dataclass(frozen=True, slots=True)
class Transition:
    rule_id: str
    subject: str
    from_state: str
    to_state: str
    value: float | None
    threshold: float | None
    at: int


def judge(
    rule: Rule, subject: str, current: SubjectState, value: float | None, now: int
) -> tuple[SubjectState, Transition | None]:
    """The subject's state at `now` given the value seen then, and its transition if the level
    changed."""
    hold = rule.hold_seconds * MICROS
    since = {
        level: ((previous if previous is not None else now) if rule.holds(level, value) else None)
        for level, previous in (
            (WARNING, current.warning_since),
            (CRITICAL, current.critical_since),
        )
    }
    fired = OK
    for level in SEVERITIES:
        start = since[level]
        if start is not None and now - start >= hold:
            fired = level
    kept = OK
    for level in SEVERITIES:
        if RANK[level] <= RANK[current.state] and rule.holds(level, value, rule.clear_margin):
            kept = level
    state = fired if RANK[fired] >= RANK[kept] else kept
    changed = state != current.state
    new = replace(
        current,
        state=state,
        since=now if changed else current.since,
        value=value,
        warning_since=since[WARNING],
        critical_since=since[CRITICAL],
    )
    if not changed:
        return new, None
    level = state if state != OK else current.state
    transition = Transition(
        rule.id, subject, current.state, state, value, rule.threshold(level), now
    )
    return new, transition


# ---- bodies ------------------------------------------------------------------------------

_THRESHOLD_KEYS = {
    "id",
    "name",
    "kind",
    "view",
    "field",
    "departmentId",
    "comparison",
    "warning",
    "critical",
    "holdSeconds",
    "clearMargin",
}
_READ_ONLY = {"createdTime", "updatedTime"}


@dataclass(frozen=True, slots=True)
class RuleBody:
    """A checked body: what a create or replace stores (the id only on create)."""

    id: str | None
    name: str
    kind: str
    view: str | None
    field: str | None
    department_id: str | None
    comparison: str
    warning: float | None
    critical: float | None
    hold_seconds: int
    clear_margin: float


def _number(body: Mapping[str, Any], key: str, errors: list[FieldError]) -> float | None:
    raw = body.get(key)
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        errors.append(FieldError(key, "must be a number or null"))
        return None
    value = float(raw)
    if not math.isfinite(value) or abs(value) > MAX_THRESHOLD:
        errors.append(FieldError(key, f"must be a finite number of at most {MAX_THRESHOLD:g}"))
        return None
    return value


def parse_rule(body: Any, creating: bool) -> RuleBody:
    """A rule from a JSON body, or InvalidBody (422) naming every field that is wrong."""
    if not isinstance(body, dict):
        raise InvalidBody([FieldError("body", "must be a JSON object")])
    errors: list[FieldError] = []
    for key in sorted(set(body) - _THRESHOLD_KEYS - _READ_ONLY):
        errors.append(FieldError(key, "is not a field of a rule"))
    rule_id: str | None = None
    if "id" in body and body["id"] is not None:
        rule_id = normalize_uuid(body["id"]) if isinstance(body["id"], str) else None
        if rule_id is None:
            errors.append(FieldError("id", "must be a UUID"))
        elif not creating:
            rule_id = None  # a replace keeps the path's id (checked by the caller)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        errors.append(FieldError("name", "is required (non-empty text)"))
        name = ""
    elif len(name) > 200:
        errors.append(FieldError("name", "must be at most 200 characters"))
    kind = body.get("kind", THRESHOLD)
    if kind not in KINDS:
        errors.append(FieldError("kind", "must be threshold or silence"))
        kind = THRESHOLD
    warning = _number(body, "warning", errors)
    critical = _number(body, "critical", errors)
    hold = body.get("holdSeconds", 0)
    if isinstance(hold, bool) or not isinstance(hold, int) or not 0 <= hold <= MAX_HOLD_SECONDS:
        errors.append(FieldError("holdSeconds", f"must be an integer 0…{MAX_HOLD_SECONDS}"))
        hold = 0
    margin = _number(body, "clearMargin", errors)
    if margin is not None and margin < 0:
        errors.append(FieldError("clearMargin", "must not be negative"))
    no_threshold = body.get("warning") is None and body.get("critical") is None
    if no_threshold and not any(e.field in ("warning", "critical") for e in errors):
        errors.append(FieldError("warning", "a rule needs a warning or a critical threshold"))
    view: str | None = None
    field: str | None = None
    department: str | None = None
    comparison = ">="
    if kind == SILENCE:
        for key in ("view", "field", "departmentId", "comparison", "clearMargin"):
            if body.get(key) is not None:
                errors.append(FieldError(key, "is not a setting of a silence rule"))
        for key, value in (("warning", warning), ("critical", critical)):
            if value is not None and (value <= 0 or not value.is_integer()):
                errors.append(FieldError(key, "must be a whole number of seconds above 0"))
        margin = 0.0
    else:
        view = body.get("view")
        if view not in FIELDS:
            errors.append(FieldError("view", "must be RightNow, Queue or Today"))
            view = None
        field = body.get("field")
        if not isinstance(field, str):
            errors.append(FieldError("field", "is required"))
            field = None
        elif view is not None and field not in FIELDS[view]:
            errors.append(FieldError("field", f"is not a numeric field of {view}"))
        raw_department = body.get("departmentId")
        if raw_department is not None:
            department = normalize_uuid(raw_department) if isinstance(raw_department, str) else None
            if department is None:
                errors.append(FieldError("departmentId", "must be a UUID or null"))
        comparison = body.get("comparison", ">")
        if comparison not in COMPARISONS:
            errors.append(FieldError("comparison", "must be one of >, >=, <, <="))
            comparison = ">"
        if warning is not None and critical is not None:
            upward = comparison in (">", ">=")
            if (critical < warning) if upward else (critical > warning):
                word = "at least" if upward else "at most"
                errors.append(
                    FieldError("critical", f"must be {word} warning with comparison {comparison}")
                )
    if errors:
        raise InvalidBody(errors)
    return RuleBody(
        rule_id,
        name.strip(),
        kind,
        view,
        field,
        department,
        comparison,
        warning,
        critical,
        hold,
        margin or 0.0,
    )


def subject_of_row(row: Mapping[str, Any]) -> str:
    """A Queue row's subject: its route target."""
    department = row.get("routeToDepartmentId")
    if department:
        return f"department:{department}"
    agent = row.get("routeToAgentId")
    if agent:
        return f"agent:{agent}"
    return NO_DEPARTMENT


def subject_json(subject: str) -> dict[str, str | None]:
    """A subject as the API shows it: the Queue row's route target, if any."""
    kind, _, key = subject.partition(":")
    return {
        "routeToDepartmentId": key if kind == "department" else None,
        "routeToAgentId": key if kind == "agent" else None,
    }


def value_of(raw: Any) -> float | None:
    """A view's field as a number (None: null, absent or not a number)."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    return float(raw)


def observe(
    rule: Rule, doc: Any, now: int, quiet_since: int | None
) -> list[tuple[str, float | None]]:
    """What a rule sees: (subject, value) for each subject. `doc`: the rule's view as JSON (None:
    it could not be computed, e.g. its department was deleted); `quiet_since` (silence rules):
    when the site's last event was received, or the rule created if later."""
    if rule.kind == SILENCE:
        since = quiet_since if quiet_since is not None else rule.created_at
        return [(WHOLE, float(max(0, now - since) // MICROS))]
    assert rule.field is not None
    if rule.view != "Queue":
        return [(WHOLE, value_of(doc.get(rule.field)) if isinstance(doc, dict) else None)]
    rows = doc if isinstance(doc, list) else []
    if rule.department_id is not None:
        subject = f"department:{rule.department_id}"
        for row in rows:
            if isinstance(row, dict) and row.get("routeToDepartmentId") == rule.department_id:
                return [(subject, value_of(row.get(rule.field)))]
        return [(subject, None)]
    return [
        (subject_of_row(row), value_of(row.get(rule.field)))
        for row in rows
        if isinstance(row, dict)
    ]
