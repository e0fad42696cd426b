"""Hostile event batches against POST /api/v3/livechat/events: never a 500, a rejected request
leaves the log and the four views exactly as they were, an accepted one grows the log by
exactly `accepted`."""

from __future__ import annotations

import json
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import agent_status, alice_in_sales, waiting_chat
from tests.support import AWAY, ONLINE, SiteClient, ev, uid

# Examples per backend (two backends: ~200 in all); CHATPULSE_FUZZ_BATCHES=2000 locally.
MAX_EXAMPLES = int(os.environ.get("CHATPULSE_FUZZ_BATCHES", "100"))
EVENTS = "/api/v3/livechat/events"
VIEWS = (
    "/api/v3/livechat/realTime/RightNow",
    "/api/v3/livechat/realTime/Queue",
    "/api/v3/livechat/realTime/Today",
    "/api/v3/livechat/realTime/Agents?pageSize=100&includeStatusDistribution=true",
)
MIB = 1024 * 1024
AGENT = uid("agent", 1)
# Answers seen, printed at the end of the module (pytest -s).
SEEN: Counter[int] = Counter()


@pytest.fixture(scope="module", autouse=True)
def summary() -> Iterator[None]:
    yield
    if SEEN:
        print(f"\nhostile batches: {sum(SEEN.values())}, by status: {dict(sorted(SEEN.items()))}")


def snapshot(site: SiteClient) -> dict[str, Any]:
    """The whole stored log and the four views, as a client sees them."""
    events: list[Any] = []
    after = 0
    while True:
        page = site.get(EVENTS, after=after, limit=1000)
        events.extend(page["events"])
        if page["nextAfter"] == after:
            break
        after = page["nextAfter"]
    return {
        "lastSequence": page["lastSequence"],
        "events": events,
        **{path: site.get(path) for path in VIEWS},
    }


# ---------------------------------------------------------------- building blocks

# A marker replaced, after serialisation, by `depth` nested arrays or objects.
DEEP = "\u0000deep:{kind}:{depth}\u0000"

hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "\u0000",
            "a\u0000b",
            "\ud800",
            "\udfff\ud800",
            "\u202eevil\u202c",
            "\u200f\u200e",
            "🙂👩🏽‍💻",
            "\ufeff",
            "null",
            "../../etc/passwd",
            "'; DROP TABLE events; --",
            "AAAAAAAA-0000-4000-8000-000000000001",
            "aaaaaaaa00004000800000000000000" + "1",
            "{aaaaaaaa-0000-4000-8000-000000000001}",
        ]
    ),
    # Huge strings, cheap to build: up to a little over the 1 MiB body limit.
    st.integers(0, MIB + 16).map(lambda n: "x" * n),
)
hostile_value = st.one_of(
    hostile_text,
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    st.builds(
        lambda kind, depth: DEEP.format(kind=kind, depth=depth),
        st.sampled_from(["array", "object"]),
        st.sampled_from([2, 100, 1000, 1025, 5000, 10_000]),
    ),
)
edge_instants = st.sampled_from(
    [
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00+23:59",
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T13:59:59.999999+14:00",
        "9999-12-31T23:59:59-14:00",
        "9999-12-31T23:59:59.999999Z",
        "9999-12-31T23:59:59-23:59",
        "2026-11-24T11:59:00+23:59",
        "2026-11-24T11:59:00-23:59",
        "2026-11-24T11:59:60Z",
        "2026-11-24T11:59:59.123456789Z",
        "2026-11-24T12:01:01Z",  # 61 s ahead of the server clock
        "2026-11-24T12:00:59.999999Z",
        "1970-01-01T00:00:00Z",
        "1900-02-29T00:00:00Z",
        "2026-11-24T11:59:00",
        "2026-11-24",
        "2026-11-24T11:59:00+24:00",
        "2026-11-24T11:59:00Z[Europe/Paris]",
        "２０２６-11-24T11:59:00Z",
        "",
    ]
)
seconds_before = st.integers(min_value=0, max_value=86_400)


def plausible_event() -> st.SearchStrategy[dict[str, Any]]:
    """Events that may well be accepted (some will rightly not be, by the state before them)."""
    arrived = st.builds(
        lambda event_id, visitor, s: ev(
            "visitor.arrived", -s, str(event_id), visitorId=str(visitor)
        ),
        st.uuids(),
        st.uuids(),
        seconds_before,
    )
    status = st.builds(
        lambda event_id, status_id, s: ev(
            "agent.status_changed", -s, str(event_id), agentId=AGENT, statusId=status_id
        ),
        st.uuids(),
        st.sampled_from([ONLINE, AWAY]),
        seconds_before,
    )
    return st.one_of(arrived, status)


@st.composite
def hostile_event(draw: st.DrawFn) -> Any:
    """A plausible event with one field (or the whole event) broken."""
    event = draw(plausible_event())
    how = draw(st.sampled_from(["field", "data-field", "drop", "extra", "instant", "whole"]))
    if how == "field":
        event[draw(st.sampled_from(["id", "type", "occurredAt", "data"]))] = draw(hostile_value)
    elif how == "data-field":
        event["data"][draw(st.sampled_from([*event["data"], "unknown"]))] = draw(hostile_value)
    elif how == "drop":
        del event[draw(st.sampled_from(["id", "type", "occurredAt", "data"]))]
    elif how == "extra":
        event[draw(hostile_text.filter(lambda t: len(t) < 100))] = draw(hostile_value)
    elif how == "instant":
        event["occurredAt"] = draw(edge_instants)
    else:
        return draw(hostile_value)
    return event


@st.composite
def batch(draw: st.DrawFn) -> list[Any]:
    """Mixed plausible and hostile events, with ids repeated inside the batch."""
    events: list[Any] = draw(
        st.lists(st.one_of(plausible_event(), hostile_event()), min_size=0, max_size=6)
    )
    dicts = [e for e in events if isinstance(e, dict) and isinstance(e.get("data"), dict)]
    if dicts and draw(st.booleans()):
        copy = json.loads(json.dumps(draw(st.sampled_from(dicts))))
        if draw(st.booleans()):
            copy["data"] = {**copy["data"], "visitorId": str(uuid.UUID(int=7))}
        events.insert(draw(st.integers(0, len(events))), copy)
    return events


def render(value: Any) -> bytes:
    """JSON text (lone surrogates escaped), with the deep-nesting markers expanded."""
    text = json.dumps(value, ensure_ascii=True)
    for kind in ("array", "object"):
        for depth in (2, 100, 1000, 1025, 5000, 10_000):
            marker = json.dumps(DEEP.format(kind=kind, depth=depth), ensure_ascii=True)
            if marker in text:
                nested = (
                    "[" * depth + "]" * depth
                    if kind == "array"
                    else '{"a":' * depth + "1" + "}" * depth
                )
                text = text.replace(marker, nested)
    return text.encode("utf-8")


@dataclass(frozen=True)
class Request:
    content_type: str | None
    body: bytes


JSON = "application/json"
NDJSON = "application/x-ndjson"


@st.composite
def request(draw: st.DrawFn) -> Request:
    events = draw(batch())
    shape = draw(
        st.sampled_from(
            ["array", "object", "ndjson", "wrong-type", "garbage", "bom", "tail", "huge"]
        )
    )
    if shape == "array":
        return Request(JSON, render(events))
    if shape == "object":
        return Request(
            draw(st.sampled_from([JSON, "Application/JSON; charset=utf-8"])),
            render(events[0] if events else {}),
        )
    if shape in ("ndjson", "bom", "tail"):
        lines = [render(e) for e in events]
        separators = st.sampled_from([b"\n", b"\n\n", b"\r\n", b"\n  \n"])
        body = b"".join(line + draw(separators) for line in lines)
        if shape == "bom":
            body = b"\xef\xbb\xbf" + body
        if shape == "tail":
            body += draw(st.sampled_from([b"garbage", b"{", b"]", b"\x00", b"\xff\xfe", b"null"]))
        return Request(NDJSON, body)
    if shape == "huge":
        # One string that brings the body just under, at, or just over the 1 MiB limit.
        filler = draw(st.sampled_from([MIB - 400, MIB - 200, MIB + 1, 2 * MIB]))
        event = ev("visitor.arrived", -1, visitorId=uid("visitor", 9))
        event["data"]["note"] = "x" * filler
        return Request(JSON, render([*events, event]))
    if shape == "wrong-type":
        kind = draw(
            st.sampled_from(
                [
                    None,
                    "text/plain",
                    "application/xml",
                    "multipart/form-data; boundary=x",
                    "application/x-www-form-urlencoded",
                    "application/jsonx",
                    "json",
                    "",
                ]
            )
        )
        return Request(kind, render(events))
    body = render(events)
    cut = draw(st.integers(0, len(body)))
    return Request(JSON, body[:cut] + draw(st.sampled_from([b"", b",", b"\x00", b"\xff"])))


# ---------------------------------------------------------------- the properties


@pytest.fixture
def armed(site: SiteClient) -> SiteClient:
    """A site with a department, an agent and a little history for the views to show."""
    alice_in_sales(site)
    site.ok_events(agent_status(1, -7200), *waiting_chat(1, arrived=-600, requested=-500))
    return site


def check_problem(response: Any) -> None:
    assert response.headers["content-type"] == "application/problem+json", response.text
    body = response.json()
    assert sorted(body) == ["detail", "errors", "status", "title", "type"], body
    assert body["status"] == response.status_code, body
    assert body["errors"], body
    for item in body["errors"]:
        assert sorted(item) in (["field", "message"], ["field", "index", "message"]), item


@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
@given(sent=request())
def test_hostile_batch_is_all_or_nothing(armed: SiteClient, sent: Request) -> None:
    before = snapshot(armed)
    headers = {"Content-Type": sent.content_type} if sent.content_type is not None else {}
    response = armed.http.post(EVENTS, content=sent.body, headers=headers)
    SEEN[response.status_code] += 1
    assert response.status_code in (200, 400, 409, 413, 415, 422), response.text[:2000]
    after = snapshot(armed)
    if response.status_code != 200:
        check_problem(response)
        assert after == before
        return
    answer = response.json()
    accepted = answer["accepted"]
    assert answer == {
        "accepted": accepted,
        "duplicates": answer["duplicates"],
        "lastSequence": before["lastSequence"] + accepted,
    }
    assert after["lastSequence"] == before["lastSequence"] + accepted
    assert after["events"][: len(before["events"])] == before["events"]
    assert len(after["events"]) == len(before["events"]) + accepted


def test_same_id_twice_in_a_batch_same_content_is_a_duplicate(site: SiteClient) -> None:
    event = ev("visitor.arrived", -10, uid("event", 1), visitorId=uid("visitor", 1))
    assert site.ok_events(event, event) == {"accepted": 1, "duplicates": 1, "lastSequence": 1}


def test_same_id_twice_in_a_batch_other_content_is_a_conflict(site: SiteClient) -> None:
    first = ev("visitor.arrived", -10, uid("event", 1), visitorId=uid("visitor", 1))
    other = ev("visitor.arrived", -10, uid("event", 1), visitorId=uid("visitor", 2))
    response = site.post_events(first, other)
    assert response.status_code == 409
    assert response.json()["errors"] == [
        {
            "index": 1,
            "field": "id",
            "message": f"event {uid('event', 1)} was earlier in this batch with other content",
        }
    ]
    assert site.get(EVENTS)["lastSequence"] == 0


@pytest.mark.parametrize("kind", ["array", "object"])
def test_ten_thousand_levels_of_nesting_is_a_clean_400(site: SiteClient, kind: str) -> None:
    deep = "[" * 10_000 + "]" * 10_000 if kind == "array" else '{"a":' * 10_000 + "1" + "}" * 10_000
    envelope = ev("visitor.arrived", -10, uid("event", 1), visitorId=uid("visitor", 1))
    envelope["data"]["x"] = "DEEP"
    body = json.dumps(envelope).replace('"DEEP"', deep)
    response = site.http.post(EVENTS, content=body, headers={"Content-Type": JSON})
    assert response.status_code == 400, response.text
    assert response.json()["errors"] == [{"field": "body", "message": "the body is not valid JSON"}]
