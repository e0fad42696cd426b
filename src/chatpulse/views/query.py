"""A view request's query (SPEC.md §3): declared once, for the parser, the GET routes, the stream
and the OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from chatpulse.domain.errors import BadParameter
from chatpulse.domain.params import bool_param, int_param
from chatpulse.domain.window import Window, resolve_window

# Comm100's four, then the extension view Intervals (SPEC.md §3.7).
VIEWS = ("Agents", "Queue", "Today", "RightNow", "Intervals")
COMM100_VIEWS = VIEWS[:4]  # what a stream sends when it names no views
WINDOWED = ("Agents", "Today", "RightNow", "Intervals")
# Views whose JSON changes with the clock alone (wait times, open intervals).
TIME_DEPENDENT = ("Agents", "Queue", "Today", "Intervals")
INTERVAL_MINUTES = (15, 30, 60)
# The views of the present moment, read from the live state in memory (store/live.py).
LIVE_VIEWS = ("RightNow", "Queue", "Agents")

MAX_PAGE_INDEX = 999_999_999


@dataclass(frozen=True, slots=True)
class Param:
    """One query parameter: its name, the `ViewQuery` field it fills, how it is read from text,
    what the OpenAPI document says of it, and the views that read it."""

    name: str
    field: str
    read: Callable[[str, str | None], Any]
    description: str | None
    schema: dict[str, Any]
    views: tuple[str, ...]

    def openapi(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"in": "query", "name": self.name, "required": False}
        schema = self.schema
        if self.description is not None:
            doc["description"] = self.description
        if not schema:  # free text: what FastAPI writes for an optional str
            schema = {"anyOf": [{"type": "string"}, {"type": "null"}]}
            schema["description"] = self.description
        doc["schema"] = {**schema, "title": self.name[0].upper() + self.name[1:].lower()}
        return doc


def _text(_name: str, value: str | None) -> str | None:
    return value


def _integer(default: int, low: int, high: int | None) -> Callable[[str, str | None], int]:
    return lambda name, value: int_param(name, value, default, low, high)


def _interval_minutes(name: str, value: str | None) -> int:
    if value is None:
        return 60
    if value.strip() not in ("15", "30", "60"):
        raise BadParameter(name, "must be 15, 30 or 60")
    return int(value)


def _bounds(low: int, high: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": low, "maximum": high}


PARAMS = (
    Param(
        "departmentId",
        "department_id",
        _text,
        "Only this department",
        {"type": "string", "format": "uuid"},
        VIEWS,
    ),
    Param(
        "includeStatusDistribution",
        "include_status_distribution",
        bool_param,
        None,
        {"type": "boolean"},
        ("Agents",),
    ),
    Param(
        "pageIndex",
        "page_index",
        _integer(1, 1, None),
        "From 1",
        _bounds(1, MAX_PAGE_INDEX),
        ("Agents",),
    ),
    Param("pageSize", "page_size", _integer(10, 1, 100), "1 to 100", _bounds(1, 100), ("Agents",)),
    Param("timeZone", "time_zone", _text, "IANA zone; wins over utcOffset", {}, WINDOWED),
    Param("utcOffset", "utc_offset", _text, "Minutes east of UTC", _bounds(-720, 840), WINDOWED),
    Param("startTime", "start_time", _text, "ISO 8601 date or date-time", {}, WINDOWED),
    Param("endTime", "end_time", _text, "ISO 8601 date or date-time", {}, WINDOWED),
    Param(
        "extended",
        "extended",
        bool_param,
        "Add the fields beyond Comm100's (service level, longest wait, agent states)",
        {"type": "boolean"},
        VIEWS,
    ),
    Param(
        "intervalMinutes",
        "interval_minutes",
        _interval_minutes,
        "Length of each bucket",
        {"type": "integer", "enum": list(INTERVAL_MINUTES)},
        ("Intervals",),
    ),
)


@dataclass(frozen=True, slots=True)
class ViewQuery:
    """The parameters of one view request, checked; hashable (a key of the answer cache)."""

    department_id: str | None = None
    time_zone: str | None = None
    utc_offset: str | None = None
    start_time: str | None = None
    end_time: str | None = None
    page_index: int = 1
    page_size: int = 10
    include_status_distribution: bool = False
    extended: bool = False
    interval_minutes: int = 60

    @classmethod
    def parse(cls, params: Mapping[str, str | None]) -> ViewQuery:
        """Check every parameter the views know (unknown ones are ignored)."""
        return cls(**{p.field: p.read(p.name, params.get(p.name)) for p in PARAMS})

    def for_view(self, view: str) -> ViewQuery:
        """The same query with the parameters `view` does not read at their defaults: the key
        under which answers are shared, so that a wallboard's Queue (which also sends
        `pageSize` for its Agents) and an alert rule's Queue are one computation."""
        unread = _UNREAD.get(view, ())
        if not unread or all(getattr(self, name) == _DEFAULTS[name] for name in unread):
            return self
        return replace(self, **{name: _DEFAULTS[name] for name in unread})


_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(ViewQuery)}
_UNREAD: dict[str, tuple[str, ...]] = {
    view: tuple(p.field for p in PARAMS if view not in p.views) for view in VIEWS
}


def time_dependent(view: str, query: ViewQuery) -> bool:
    """Whether the view's JSON changes with the clock alone (RightNow's only with extended
    fields: its longest wait)."""
    return view in TIME_DEPENDENT or (view == "RightNow" and query.extended)


def parameters(*views: str) -> list[dict[str, Any]]:
    """The OpenAPI parameters that `views` read, in declaration order."""
    return [p.openapi() for p in PARAMS if any(view in p.views for view in views)]


def window_for(site_zone: str | None, query: ViewQuery, now: int) -> Window:
    return resolve_window(
        now,
        site_zone or "UTC",
        query.time_zone,
        query.utc_offset,
        query.start_time,
        query.end_time,
    )
