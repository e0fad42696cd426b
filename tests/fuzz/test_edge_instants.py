"""Date-times at the edges of what can be written (UTC years 0001 and 9999, offsets up to
±23:59) wherever a time is accepted: `occurredAt`, `lockedTime`, the window parameters of every
view and of the stream. Never a 500: an instant is either taken (2xx) or refused with a problem
naming its field, exactly when its UTC value falls outside years 1 to 9999. Both backends."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import SiteClient, uid

EXAMPLES = int(os.environ.get("CHATPULSE_FUZZ_INSTANTS", "60"))
REALTIME = "/api/v3/livechat/realTime"
OUT_OF_RANGE = "must fall in the UTC years 0001 to 9999"
FIRST = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
LAST = dt.datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=dt.UTC)

# Local date-times at both ends of the calendar, with offsets (minutes) that can push them out.
edge_local = st.one_of(
    st.datetimes(dt.datetime(1, 1, 1), dt.datetime(1, 1, 2, 23, 59, 59)),
    st.datetimes(dt.datetime(9999, 12, 30), dt.datetime(9999, 12, 31, 23, 59, 59, 999_999)),
)
MOST = 23 * 60 + 59  # the largest offset ISO 8601 text can carry, ±23:59
offsets = st.one_of(st.sampled_from([0, 1, -1, 840, -720, MOST, -MOST]), st.integers(-MOST, MOST))


def text_of(local: dt.datetime, offset: int | None) -> str:
    """ISO 8601 with a four-digit year, and the offset (None: no offset, a local time)."""
    text = (
        f"{local.year:04d}-{local.month:02d}-{local.day:02d}T"
        f"{local.hour:02d}:{local.minute:02d}:{local.second:02d}.{local.microsecond:06d}"
    )
    if offset is None:
        return text
    sign = "-" if offset < 0 else "+"
    return f"{text}{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"


def utc_micros(local: dt.datetime, offset: int) -> int:
    """local − offset, as microseconds since 0001-01-01T00:00:00Z, in integers (Python's own
    datetime range cannot get in the way)."""
    seconds = (local.toordinal() - 1) * 86_400 + local.hour * 3600 + local.minute * 60
    return (seconds + local.second - offset * 60) * 1_000_000 + local.microsecond


LAST_MICROS = utc_micros(LAST.replace(tzinfo=None), 0)


def utc_in_range(local: dt.datetime, offset: int) -> bool:
    return 0 <= utc_micros(local, offset) <= LAST_MICROS


def instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def refused(response: Any, status: int, field: str, message: str = OUT_OF_RANGE) -> bool:
    body = response.json()
    return (
        response.status_code == status
        and response.headers["content-type"] == "application/problem+json"
        and any(e["field"] == field and e["message"] == message for e in body["errors"])
    )


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(local=edge_local, offset=offsets)
def test_occurred_at_and_locked_time_at_the_edges(
    site: SiteClient, local: dt.datetime, offset: int
) -> None:
    text = text_of(local, offset)
    inside = utc_in_range(local, offset)
    future = inside and local.year > 5000  # in range, and far past the server's clock
    event = {
        "id": str(uuid.uuid4()),
        "type": "visitor.arrived",
        "occurredAt": text,
        "data": {"visitorId": str(uuid.uuid4())},
    }
    response = site.post_events(event)
    if inside and not future:
        assert response.status_code == 200, (text, response.text)
        stored = site.get("/api/v3/livechat/events", after=response.json()["lastSequence"] - 1)
        expected = FIRST + dt.timedelta(microseconds=utc_micros(local, offset))
        assert instant(stored["events"][0]["occurredAt"]) == expected, text
    elif future:
        assert refused(response, 422, "occurredAt", "is more than 60 s in the future"), text
    else:
        assert refused(response, 422, "occurredAt"), (text, response.text)

    agent = {"displayName": "Edge", "email": f"{uuid.uuid4().hex}@example.com", "lockedTime": text}
    created = site.http.post("/api/v3/agents", json=agent)
    if inside:
        assert created.status_code == 201, (text, created.text)
        locked = instant(created.json()["lockedTime"])  # kept to the millisecond
        expected = FIRST + dt.timedelta(microseconds=utc_micros(local, offset))
        assert dt.timedelta(0) <= expected - locked < dt.timedelta(milliseconds=1), text
    else:
        assert refused(created, 422, "lockedTime"), (text, created.text)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    local=edge_local,
    offset=offsets,
    with_offset=st.booleans(),
    name=st.sampled_from(["startTime", "endTime"]),
    view=st.sampled_from(["Agents", "Today", "RightNow", "stream"]),
)
def test_window_parameters_at_the_edges(
    site: SiteClient, local: dt.datetime, offset: int, with_offset: bool, name: str, view: str
) -> None:
    """Absolute (`+hh:mm`) or local (with `utcOffset`): out of range is a 400 naming the
    parameter; in range is 200, or a 400 naming a window rule (start after end, too long)."""
    params = {name: text_of(local, offset if with_offset else None)}
    if not with_offset:
        params["utcOffset"] = str(max(-720, min(840, offset)))
    used = offset if with_offset else max(-720, min(840, offset))
    if view == "Agents":
        params["includeStatusDistribution"] = "true"
    if view == "stream":
        params["views"] = "Agents,Today,RightNow"
        with site.http.stream("GET", f"{REALTIME}/stream", params=params) as response:
            status = response.status_code
            if status != 200:
                response.read()
    else:
        response = site.http.get(f"{REALTIME}/{view}", params=params)
        status = response.status_code
    assert status in (200, 400), (params, status)
    if not utc_in_range(local, used):
        assert status == 400 and refused(response, 400, name), params
    elif status == 400:
        fields = [e["field"] for e in response.json()["errors"]]
        assert fields in (["startTime"], ["endTime"]), (params, response.text)


def test_the_first_and_last_instants_in_every_place(site: SiteClient) -> None:
    """The exact ends: taken, and written back with four-digit years."""
    site.agent(1, "Alice")
    first = {
        "id": uid("event", 1),
        "type": "visitor.arrived",
        "occurredAt": "0001-01-01T14:00:00+14:00",
        "data": {"visitorId": uid("visitor", 1)},
    }
    assert site.ok_events(first) == {"accepted": 1, "duplicates": 0, "lastSequence": 1}
    assert site.get("/api/v3/livechat/events", after=0)["events"][0]["occurredAt"] == (
        "0001-01-01T00:00:00.000Z"
    )
    response = site.http.put(
        f"/api/v3/agents/{uid('agent', 1)}",
        json={
            "displayName": "Alice",
            "email": "alice1@example.com",
            "lockedTime": "9999-12-31T09:59:59.999-14:00",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["lockedTime"] == "9999-12-31T23:59:59.999Z"
    today = site.get(f"{REALTIME}/Today", startTime="0001-01-01T00:00:00Z", endTime="0001-01-02")
    assert (today["totalChats"], today["agentUtilization"]) == (0, 0)
