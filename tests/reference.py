"""The reference model: replays an event log by brute force and computes the four views.

Written from METRICS.md alone, for the property tests to compare the served views with. It is
deliberately simple and slow (every view rescans every event); it shares nothing with the
projections but the definitions, so a bug in one is unlikely to be repeated in the other.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

SECOND = 1_000_000
MINUTE = 60 * SECOND
OFFLINE_STATUS = "00000000-0000-0000-0000-000000000002"
TYPE_ORDER = {"online": 0, "away": 1, "offline": 2}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

RefEvent = tuple[int, str, Mapping[str, Any]]  # (occurredAt in µs, type, data), in log order
Target = tuple[str | None, str | None]  # a route target: (department, agent)


@dataclass(frozen=True, slots=True)
class Config:
    """The site's configuration as the API returns it (Comm100 objects), deleted items too."""

    departments: Sequence[Mapping[str, Any]]
    agents: Sequence[Mapping[str, Any]]
    status_types: Mapping[str, str]  # status id -> online / away / offline
    service_level_seconds: int = 30  # the site's T
    short_abandon_seconds: int = 0  # the site's S

    def active_agents(self, department_id: str | None) -> list[Mapping[str, Any]]:
        return [
            a
            for a in self.agents
            if a["isActive"]
            and not a["isDeleted"]
            and (department_id is None or department_id in a["departmentIds"])
        ]

    def thresholds(self, department_id: str | None) -> tuple[int, int]:
        """(T, S) in µs for a wait whose route target, when it ended, was this department (None:
        an agent or no department); a department's null or absent override is the site's."""
        doc: Mapping[str, Any] = next((d for d in self.departments if d["id"] == department_id), {})
        t = doc.get("serviceLevelSeconds")
        s = doc.get("shortAbandonSeconds")
        return (
            (self.service_level_seconds if t is None else t) * SECOND,
            (self.short_abandon_seconds if s is None else s) * SECOND,
        )


# ------------------------------------------------------------------------------- windows


def _wall_to_instant(wall: dt.datetime, zone: dt.tzinfo) -> int:
    """A local wall time as an instant: its first occurrence; inside a DST gap, the wall time
    read with the offset in force before the gap (02:30 in a 02:00→03:00 gap is 03:30)."""
    offsets = {
        (wall + dt.timedelta(hours=h)).replace(tzinfo=zone).utcoffset() for h in range(-30, 31, 6)
    }
    found = []
    for offset in offsets:
        assert offset is not None
        instant = (wall - offset).replace(tzinfo=dt.UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == wall:
            found.append(instant)
    if found:
        return _micros(min(found))
    before = (wall - dt.timedelta(hours=6)).replace(tzinfo=zone).utcoffset()
    assert before is not None
    return _micros((wall - before).replace(tzinfo=dt.UTC))


def _micros(moment: dt.datetime) -> int:
    return (moment - _EPOCH) // dt.timedelta(microseconds=1)


def _local(instant: int, zone: dt.tzinfo) -> dt.datetime:
    return (_EPOCH + dt.timedelta(microseconds=instant)).astimezone(zone).replace(tzinfo=None)


def parse_instant(text: str, zone: dt.tzinfo) -> int:
    """startTime / endTime: absolute with an offset, else local; a date alone is local midnight."""
    if len(text) == 10:
        day = dt.date.fromisoformat(text)
        return _wall_to_instant(dt.datetime(day.year, day.month, day.day), zone)
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        return _micros(moment)
    return _wall_to_instant(moment, zone)


def window(
    now: int, zone: dt.tzinfo, start_time: str | None, end_time: str | None
) -> tuple[int, int] | None:
    """[start, end) of SPEC.md §2.1, or None where the parameters are rejected."""
    end = now if end_time is None else min(parse_instant(end_time, zone), now)
    if start_time is None:  # the local day holding the instant just before the end
        day = _local(end - 1, zone).date()
        start = _wall_to_instant(dt.datetime(day.year, day.month, day.day), zone)
    else:
        start = parse_instant(start_time, zone)
    if start >= end or end - start > 31 * 86_400 * SECOND:
        return None
    return start, end


# ------------------------------------------------------------------------------- replay


@dataclass(slots=True)
class _Wait:
    start: int
    target: Target
    end: int | None = None
    outcome: str | None = None


@dataclass(slots=True)
class _Chat:
    visitor_id: str
    contact_identity_id: str | None
    requested_at: int
    state: str
    department: str | None
    target: Target
    cohort_department: str | None = None
    waits: list[_Wait] = field(default_factory=list)
    handlings: list[list[Any]] = field(default_factory=list)  # [agent, start, end | None]
    accepted_at: int | None = None
    ended_at: int | None = None
    transferred: bool = False
    department_transferred: bool = False
    score: int | None = None
    responses: list[int] = field(default_factory=list)
    pending_since: int | None = None


@dataclass(slots=True)
class Replay:
    """Everything the log says, entity by entity."""

    chats: dict[str, _Chat] = field(default_factory=dict)
    statuses: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    on_site: set[str] = field(default_factory=set)
    invitations_accepted: list[int] = field(default_factory=list)
    missed: list[tuple[int, str]] = field(default_factory=list)  # (time, agent) of chat.missed


def _target(department_id: str | None, agent_id: str | None) -> Target:
    return (department_id, None) if department_id else (None, agent_id)


def replay(events: Iterable[RefEvent]) -> Replay:
    """Apply the events of a valid log in log order (each entity's own events are in time
    order; different entities may interleave)."""
    r = Replay()
    for t, kind, d in events:
        if kind == "agent.status_changed":
            r.statuses.setdefault(d["agentId"], []).append((t, d["statusId"]))
        elif kind == "visitor.arrived":
            r.on_site.add(d["visitorId"])
        elif kind == "visitor.left":
            r.on_site.discard(d["visitorId"])
        elif kind == "invitation.accepted":
            r.invitations_accepted.append(t)
        elif kind == "chat.requested":
            chat = _Chat(
                d["visitorId"],
                d.get("contactIdentityId"),
                t,
                "BOT",
                d.get("departmentId"),
                _target(d.get("departmentId"), d.get("agentId")),
                cohort_department=d.get("departmentId"),
            )
            r.chats[d["chatId"]] = chat
            if d.get("botId") is None:
                _wait(chat, t)
        elif kind.startswith("chat."):
            if kind == "chat.missed":
                r.missed.append((t, d["agentId"]))
            _chat_event(r.chats[d["chatId"]], t, kind, d)
    return r


def _wait(chat: _Chat, t: int) -> None:
    if not chat.waits:
        chat.cohort_department = chat.department
    chat.state = "WAITING"
    chat.waits.append(_Wait(t, chat.target))


def _end_wait(chat: _Chat, t: int, outcome: str) -> None:
    chat.waits[-1].end = t
    chat.waits[-1].outcome = outcome


def _chat_event(chat: _Chat, t: int, kind: str, d: Mapping[str, Any]) -> None:
    if kind == "chat.queued":
        if d.get("departmentId"):
            chat.department = d["departmentId"]
        chat.target = _target(d.get("departmentId"), d.get("agentId"))
        if chat.state == "BOT":
            _wait(chat, t)
        else:
            chat.waits[-1].target = chat.target
    elif kind == "chat.accepted":
        _end_wait(chat, t, "answered")
        chat.state = "ONGOING"
        chat.accepted_at = t if chat.accepted_at is None else chat.accepted_at
        chat.handlings.append([d["agentId"], t, None])
    elif kind == "chat.transferred":
        chat.handlings[-1][2] = t
        chat.transferred = True
        if d.get("toAgentId"):
            chat.handlings.append([d["toAgentId"], t, None])
        else:
            chat.department_transferred = True
            chat.department = d["toDepartmentId"]
            chat.target = (d["toDepartmentId"], None)
            _wait(chat, t)
    elif kind == "chat.message":
        if chat.state == "ONGOING":
            if d["sender"] == "visitor" and chat.pending_since is None:
                chat.pending_since = t
            elif d["sender"] == "agent" and chat.pending_since is not None:
                chat.responses.append(t - chat.pending_since)
                chat.pending_since = None
    elif kind == "chat.ended":
        if chat.state == "ONGOING":
            chat.handlings[-1][2] = t
        chat.state = "ENDED"
        chat.ended_at = t
    elif kind in ("chat.abandoned", "chat.switched_to_message"):
        outcome = "abandoned" if kind == "chat.abandoned" else "switched"
        _end_wait(chat, t, outcome)
        chat.state = "ABANDONED" if outcome == "abandoned" else "SWITCHED"
        chat.ended_at = t
    elif kind == "chat.rated":
        chat.score = d["score"]


# ------------------------------------------------------------------------------- arithmetic


def _round2(value: Fraction) -> float:
    scaled = value * 100
    whole = int(scaled)  # values here are never negative
    if scaled - whole >= Fraction(1, 2):
        whole += 1
    return whole / 100


def _ratio(part: int, whole: int) -> float:
    return 0 if whole == 0 else _round2(Fraction(100 * part, whole))


def _mean_seconds(values: Sequence[int]) -> float:
    return 0 if not values else _round2(Fraction(sum(values), len(values) * SECOND))


def _half_up(numerator: int, denominator: int) -> int:
    if denominator == 0:
        return 0
    value = Fraction(numerator, denominator)
    whole = int(value)
    return whole + 1 if value - whole >= Fraction(1, 2) else whole


def _union_length(intervals: Iterable[tuple[int, int]]) -> int:
    """Brute force: the length of a union of [a, b) intervals."""
    points = sorted({p for a, b in intervals for p in (a, b)})
    spans = list(intervals)
    return sum(
        b - a for a, b in itertools.pairwise(points) if any(x <= a and b <= y for x, y in spans)
    )


def timespan(micros: int) -> str:
    seconds, fraction = divmod(micros, SECOND)
    days, seconds = divmod(seconds, 86_400)
    clock = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    text = (f"{days}." if days else "") + clock
    return text + (f".{fraction:06d}0" if fraction else "")


def iso_ms(instant: int) -> str:
    """SPEC.md §2's time format: UTC with milliseconds (the microseconds cut off) and `Z`."""
    moment = _EPOCH + dt.timedelta(microseconds=instant)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def service_level(config: Config, waits: Iterable[_Wait]) -> float | None:
    """METRICS.md §7: answered in time ÷ counted × 100 over ended waits, each judged with the
    thresholds of its route target's department when it ended; None when nothing counted."""
    in_time = counted = 0
    for w in waits:
        assert w.end is not None
        t, s = config.thresholds(w.target[0])
        length = w.end - w.start
        if w.outcome == "answered":
            counted += 1
            in_time += length <= t
        elif length >= s:  # abandoned or switched; shorter than S: a short abandon, left out
            counted += 1
    return None if counted == 0 else _round2(Fraction(100 * in_time, counted))


# ------------------------------------------------------------------------------- helpers


def _ongoing_of(r: Replay, agent_id: str) -> int:
    return sum(
        1 for c in r.chats.values() if c.state == "ONGOING" and c.handlings[-1][0] == agent_id
    )


def _status_type(r: Replay, config: Config, agent_id: str) -> str:
    history = r.statuses.get(agent_id)
    return config.status_types[history[-1][1]] if history else "offline"


def _status_id(r: Replay, agent_id: str) -> str:
    history = r.statuses.get(agent_id)
    return history[-1][1] if history else OFFLINE_STATUS


def _status_spans(r: Replay, agent_id: str, until: int) -> list[tuple[int, int, str]]:
    """(start, end, status) stretches, Offline from the beginning of time to the first event."""
    history = r.statuses.get(agent_id, [])
    marks = [(-(2**62), OFFLINE_STATUS), *history]
    return [
        (start, marks[i + 1][0] if i + 1 < len(marks) else until, status)
        for i, (start, status) in enumerate(marks)
    ]


def _clip(a: int, b: int, start: int, end: int) -> int:
    return max(0, min(b, end) - max(a, start))


def _linear_chat_time(r: Replay, agent_id: str, start: int, live_end: int) -> int:
    spans = []
    for chat in r.chats.values():
        for agent, a, b in chat.handlings:
            if agent == agent_id:
                lo, hi = max(a, start), min(live_end if b is None else b, live_end)
                if lo < hi:
                    spans.append((lo, hi))
    return _union_length(spans)


# ------------------------------------------------------------------------------- the views


def right_now(
    r: Replay,
    config: Config,
    department_id: str | None,
    now: int | None = None,
    extended: bool = False,
) -> dict[str, Any]:
    """RightNow; with `extended`, also the fields of METRICS.md §7 (which need `now`)."""
    agents = config.active_agents(department_id)
    logged_in = [a for a in agents if _status_type(r, config, a["id"]) in ("online", "away")]
    online = [a for a in agents if _status_type(r, config, a["id"]) == "online"]

    def chats_in(state: str) -> int:
        return sum(
            1
            for c in r.chats.values()
            if c.state == state
            and (
                department_id is None
                or (c.target[0] if state == "WAITING" else c.department) == department_id
            )
        )

    with_agent, with_bot = chats_in("ONGOING"), chats_in("BOT")
    out: dict[str, Any] = {
        "loggedInAgents": len(logged_in),
        "agentsInChat": sum(1 for a in agents if _ongoing_of(r, a["id"]) > 0),
        "chatUtilization": _half_up(
            100 * sum(_ongoing_of(r, a["id"]) for a in online),
            sum(a["maxConcurrentChats"] for a in online),
        ),
        "visitorOnSite": len(r.on_site),
        "ongoingChats": with_agent + with_bot,
        "ongoingChatsWithAgent": with_agent,
        "currentQueueLength": chats_in("WAITING"),
        "ongoingChatsWithBot": with_bot,
    }
    if extended:
        assert now is not None
        waiting = [
            c
            for c in r.chats.values()
            if c.state == "WAITING" and (department_id is None or c.target[0] == department_id)
        ]
        out["longestWaitTime"] = max(
            ((now - c.waits[-1].start) // SECOND for c in waiting), default=0
        )
        out["availableAgents"] = sum(
            1 for a in online if _ongoing_of(r, a["id"]) < a["maxConcurrentChats"]
        )
        out["awayAgents"] = sum(1 for a in agents if _status_type(r, config, a["id"]) == "away")
        out["freeChatSlots"] = sum(
            max(0, a["maxConcurrentChats"] - _ongoing_of(r, a["id"])) for a in online
        )
    return out


def today(
    r: Replay,
    config: Config,
    start: int,
    end: int,
    now: int,
    department_id: str | None,
    extended: bool = False,
) -> dict[str, Any]:
    cohort = [
        c
        for c in r.chats.values()
        if start <= c.requested_at < end
        and (department_id is None or c.cohort_department == department_id)
    ]
    requests = [c for c in cohort if c.waits]
    accepted = [c for c in cohort if c.accepted_at is not None]
    switched = [c for c in cohort if c.state == "SWITCHED"]
    first_waits = [
        c.waits[0].end - c.waits[0].start for c in cohort if c.waits and c.waits[0].end is not None
    ]
    chat_times = [
        c.ended_at - c.accepted_at
        for c in accepted
        if c.state == "ENDED" and c.ended_at is not None and c.accepted_at is not None
    ]
    scores = [c.score for c in cohort if c.score is not None]
    responses = [x for c in cohort for x in c.responses]
    live_end = min(end, now)
    agents = config.active_agents(department_id)
    handled = sum(_linear_chat_time(r, a["id"], start, live_end) for a in agents)
    logged_in = sum(
        _clip(a, b, start, live_end)
        for agent in agents
        for a, b, status in _status_spans(r, agent["id"], live_end)
        if config.status_types[status] in ("online", "away")
    )
    out: dict[str, Any] = {
        "totalChats": len(cohort),
        "chatRequests": len(requests),
        "chats": len(accepted),
        "abandondedChats": sum(1 for c in cohort if c.state == "ABANDONED"),
        "switchedToMessageChats": len(switched),
        "missedChats": sum(
            1 for c in requests if c.state in ("ABANDONED", "SWITCHED") and c.accepted_at is None
        ),
        "chatAcceptanceRate": _ratio(len(accepted), len(requests)),
        "serviceAccessibilityRate": _ratio(len(requests) - len(switched), len(requests)),
        "uniqueChatRate": _ratio(
            sum(1 for c in accepted if len({h[0] for h in c.handlings}) == 1), len(accepted)
        ),
        "avgWaitingTime": _mean_seconds(first_waits),
        "avgChatTime": _mean_seconds(chat_times),
        "avgScore": 0 if not scores else _round2(Fraction(sum(scores), len(scores))),
        "acceptedInvitations": sum(1 for t in r.invitations_accepted if start <= t < end),
        "totalTransferredChats": sum(1 for c in cohort if c.transferred),
        "departmentTransferredChats": sum(1 for c in cohort if c.department_transferred),
        "agentAvgResponseTime": _mean_seconds(responses),
        "agentUtilization": _ratio(handled, logged_in) if logged_in else 0,
    }
    if extended:
        ended = [c.waits[0] for c in cohort if c.waits and c.waits[0].end is not None]
        answered = [w.end - w.start for w in ended if w.end is not None and w.outcome == "answered"]
        longest = max(
            (
                (now if c.waits[0].end is None else c.waits[0].end) - c.waits[0].start
                for c in requests
            ),
            default=0,
        )
        out["serviceLevel"] = service_level(config, ended)
        out["avgSpeedOfAnswer"] = _mean_seconds(answered)
        out["longestWaitingTime"] = _round2(Fraction(longest, SECOND)) if longest else 0
    return out


def agents(
    r: Replay,
    config: Config,
    start: int,
    end: int,
    now: int,
    department_id: str | None,
    page_index: int,
    page_size: int,
    include_status_distribution: bool,
    extended: bool = False,
) -> dict[str, Any]:
    live_end = min(end, now)
    chosen = sorted(
        config.active_agents(department_id),
        key=lambda a: (
            TYPE_ORDER[_status_type(r, config, a["id"])],
            -_ongoing_of(r, a["id"]),
            a["displayName"].casefold(),
            a["id"],
        ),
    )
    page = chosen[(page_index - 1) * page_size : page_index * page_size]
    rows = []
    for a in page:
        got = sum(
            1
            for c in r.chats.values()
            for agent, t, _ in c.handlings
            if agent == a["id"] and start <= t < end
        )
        distribution: dict[str, int] = {}
        if include_status_distribution:
            spent: dict[str, int] = {}
            for s, e, status in _status_spans(r, a["id"], live_end):
                spent[status] = spent.get(status, 0) + _clip(s, e, start, live_end)
            distribution = {k: v // SECOND for k, v in spent.items() if v // SECOND > 0}
        row: dict[str, Any] = {
            "agentId": a["id"],
            "displayName": a["displayName"],
            "currentStatusId": _status_id(r, a["id"]),
            "onGoingChats": _ongoing_of(r, a["id"]),
            "maxConcurrentChats": a["maxConcurrentChats"],
            "intradayChats": got,
            "intradayLinearChatTime": timespan(_linear_chat_time(r, a["id"], start, live_end)),
            "statusDistribution": distribution,
        }
        if extended:
            history = r.statuses.get(a["id"])
            row["currentStatusSince"] = iso_ms(history[-1][0]) if history else None
            row["missedChats"] = sum(
                1 for t, agent in r.missed if agent == a["id"] and start <= t < end
            )
        rows.append(row)
    total = len(chosen)
    return {
        "total": total,
        "pageCount": (total + page_size - 1) // page_size,
        "pageIndex": page_index,
        "pageSize": page_size,
        "list": rows,
    }


def queue(
    r: Replay, config: Config, now: int, department_id: str | None, extended: bool = False
) -> list[dict[str, Any]]:
    waits = [(c, w) for c in r.chats.values() for w in c.waits]

    def covered(target: Target) -> list[tuple[_Chat, _Wait]]:
        return [(c, w) for c, w in waits if w.target == target]

    def busy(target: Target) -> bool:
        return any(w.end is None or now - 60 * MINUTE < w.end <= now for _, w in covered(target))

    def online(agent: Mapping[str, Any]) -> bool:
        return _status_type(r, config, agent["id"]) == "online"

    def row(
        target: Target,
        department: Mapping[str, Any] | None,
        agent: Mapping[str, Any] | None,
        ongoing: int,
        capacity: int,
    ) -> dict[str, Any]:
        mine = covered(target)
        waiting = sorted(
            ((w.start, c.visitor_id, c.contact_identity_id) for c, w in mine if w.end is None)
        )
        ended_30 = [w for _, w in mine if w.end is not None and now - 30 * MINUTE < w.end <= now]
        ended_60 = [w for _, w in mine if w.end is not None and now - 60 * MINUTE < w.end <= now]
        out: dict[str, Any] = {
            "routeToDepartmentId": department["id"] if department else None,
            "routeToDepartment": dict(department) if department else None,
            "routeToAgentId": agent["id"] if agent else None,
            "routeToAgent": dict(agent) if agent else None,
            "ongoingChats": ongoing,
            "maxConcurrentChats": capacity,
            "currentQueueLength": len(waiting),
            "avgWaitTimeinLast30Mins": _half_up(
                sum(w.end - w.start for w in ended_30 if w.end), len(ended_30) * SECOND
            ),
            "avgWaitTimeinLast60Mins": _half_up(
                sum(w.end - w.start for w in ended_60 if w.end), len(ended_60) * SECOND
            ),
            "abandonedChatsinLast30Mins": sum(1 for w in ended_30 if w.outcome == "abandoned"),
            "switchedtoMessagesinLast30Mins": sum(1 for w in ended_30 if w.outcome == "switched"),
            "visitors": [
                {"visitorId": v, "contactIdentityId": ci, "waitTime": (now - s) // SECOND}
                for s, v, ci in waiting
            ],
        }
        if extended:
            out["longestWaitTime"] = max((v["waitTime"] for v in out["visitors"]), default=0)
            out["serviceLevelinLast30Mins"] = service_level(config, ended_30)
            out["serviceLevelinLast60Mins"] = service_level(config, ended_60)
        return out

    def department_row(d: Mapping[str, Any]) -> dict[str, Any]:
        return row(
            (d["id"], None),
            d,
            None,
            sum(1 for c in r.chats.values() if c.state == "ONGOING" and c.department == d["id"]),
            sum(a["maxConcurrentChats"] for a in config.active_agents(d["id"]) if online(a)),
        )

    if department_id is not None:
        return [department_row(next(d for d in config.departments if d["id"] == department_id))]
    shown = sorted(
        (d for d in config.departments if not d["isDeleted"] and d["isAvailableInLiveChat"]),
        key=lambda d: (d["name"].casefold(), d["id"]),
    )
    out = [department_row(d) for d in shown]
    if not shown or busy((None, None)):
        out.append(
            row(
                (None, None),
                None,
                None,
                sum(1 for c in r.chats.values() if c.state == "ONGOING" and c.department is None),
                sum(a["maxConcurrentChats"] for a in config.active_agents(None) if online(a)),
            )
        )
    for a in sorted(
        config.active_agents(None), key=lambda a: (a["displayName"].casefold(), a["id"])
    ):
        if busy((None, a["id"])):
            own = a["maxConcurrentChats"] if online(a) else 0
            out.append(row((None, a["id"]), None, a, _ongoing_of(r, a["id"]), own))
    return out


def intervals(
    r: Replay,
    config: Config,
    start: int,
    end: int,
    now: int,
    department_id: str | None,
    interval_minutes: int,
) -> list[dict[str, Any]]:
    """Intervals (SPEC.md §3.7): [start, end) cut into buckets of `interval_minutes` of elapsed
    time from the start, the last one ending at the end; each bucket is Today over itself,
    extension fields included; buckets that start at or after `now` are left out."""
    out = []
    for bucket_start in range(start, end, interval_minutes * MINUTE):
        if bucket_start >= now:
            break
        bucket_end = min(bucket_start + interval_minutes * MINUTE, end)
        fields = today(r, config, bucket_start, bucket_end, now, department_id, extended=True)
        out.append({"startTime": iso_ms(bucket_start), "endTime": iso_ms(bucket_end), **fields})
    return out
