"""Schemathesis against the app's own OpenAPI document, over real HTTP to a running server: never
a 500, every answer as documented, every 4xx RFC 9457 problem details."""

from __future__ import annotations

import json
import os
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import AuthContext, Case, CheckContext, Response
from schemathesis.specs.openapi.checks import positive_data_acceptance

from chatpulse.api.app import create_app
from chatpulse.clock import FixedClock
from chatpulse.settings import Settings
from chatpulse.store import sites
from tests.factories import agent_status, alice_in_sales, chat_accepted, waiting_chat
from tests.support import SiteClient, uid

# Examples per operation; CHATPULSE_FUZZ_EXAMPLES=500 for a long local run.
MAX_EXAMPLES = int(os.environ.get("CHATPULSE_FUZZ_EXAMPLES", "15"))
STREAM = "/api/v3/livechat/realTime/stream"
# Cases sent and answers seen per operation, printed at the end of the module (pytest -s).
SEEN: Counter[tuple[str, int]] = Counter()


def _document() -> dict[str, Any]:
    """The app's OpenAPI document, built without a database (test_served_document_is_the_fuzzed_one
    checks the running server serves the same one)."""
    app = create_app(Settings(database_url="sqlite://", log_requests=False), None, FixedClock(0))
    return app.openapi()


# The SSE stream is excluded: a 200 answer never ends, so the fuzzer would wait on it forever;
# test_stream_rejects_malformed_queries covers its error answers instead.
schema = schemathesis.openapi.from_dict(_document()).exclude(path=STREAM)
# A body past the size limit is refused before it is parsed (413, documented on every route with
# a body): as much a rejection of invalid data as a 422. The fuzzer rarely makes one that large.
_rejection = schema.config.checks.negative_data_rejection
_rejection.expected_statuses = [*_rejection.expected_statuses, "413"]


PLACEHOLDER = "placeholder-replaced-per-case"


@pytest.fixture(scope="module", autouse=True)
def summary() -> Iterator[None]:
    yield
    if SEEN:
        print(f"\nfuzz cases: {sum(SEEN.values())}")
        for (label, status), count in sorted(SEEN.items()):
            print(f"  {label}: {status} x{count}")


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx: schemathesis.SerializationContext, value: Any) -> dict[str, Any]:
    """NDJSON bodies: text as it is (lone surrogates too), anything else one JSON value a line."""
    if isinstance(value, bytes):
        return {"data": value}
    if isinstance(value, str):
        return {"data": value.encode("utf-8", "surrogatepass")}
    items = value if isinstance(value, list) else [value]
    return {"data": b"\n".join(_json_line(item) for item in items)}


def _json_line(item: Any) -> bytes:
    """One JSON value; integers past 64 bits (which the generator may make, and orjson refuses)
    written by the standard library, so the server gets to refuse them."""
    try:
        return orjson.dumps(item)
    except TypeError:
        return json.dumps(item, ensure_ascii=False).encode("utf-8", "surrogatepass")


@schema.auth(refresh_interval=None)
class FreshToken:
    """A new all-scope token for every case: DELETE /api/v3/tokens/{id} may revoke the token of
    the case that sends it (the fuzzer can learn ids from GET /tokens), never a later case's.
    Schemathesis leaves the header out for the cases that test a missing Authorization."""

    def get(self, case: Case, ctx: AuthContext) -> str:
        # Some cases are built while pytest collects, before any site exists: they get a
        # placeholder that the test swaps for a fresh token.
        return PLACEHOLDER

    def set(self, case: Case, data: str, ctx: AuthContext) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


# HTTP framing is uvicorn's, not the app's: it answers a malformed header or a bogus
# Transfer-Encoding with its own plain-text 400 before the app sees the request.
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_VALUE = re.compile(r"^[\t\x20-\x7e\x80-\xff]*$")
_FRAMING = {"transfer-encoding", "content-length", "host", "connection", "expect", "upgrade"}


def _sendable(headers: dict[str, Any]) -> dict[str, Any]:
    return {
        name: value
        for name, value in headers.items()
        if _TOKEN.match(name)
        and name.lower() not in _FRAMING
        and (not isinstance(value, str) or _VALUE.match(value))
    }


def _arm(case: Case, site: SiteClient) -> None:
    """Swap the placeholder for a new token of `site`; keep only headers HTTP can carry."""
    headers = _sendable(case.headers or {})
    case.headers = headers
    if headers.get("Authorization") == f"Bearer {PLACEHOLDER}":
        engine = site.server.engine
        _, token = sites.create_token(engine, site.site_id, "fuzz", sites.ALL_SCOPES, 0)
        case.headers = {**headers, "Authorization": f"Bearer {token}"}


def problem_details(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every 4xx answer is problem details naming the fields at fault."""
    if not 400 <= response.status_code < 500:
        return None
    media = response.headers.get("content-type", [""])[0].split(";")[0].strip()
    assert media == "application/problem+json", f"a {response.status_code} as {media!r}"
    body = response.json()
    assert isinstance(body, dict), body
    assert sorted(body) == ["detail", "errors", "status", "title", "type"], body
    assert isinstance(body["type"], str) and isinstance(body["title"], str), body
    assert body["status"] == response.status_code, body
    assert isinstance(body["detail"], str) and body["detail"], body
    assert isinstance(body["errors"], list) and body["errors"], body
    for item in body["errors"]:
        assert sorted(item) in (["field", "message"], ["field", "index", "message"]), item
        assert isinstance(item["field"], str) and isinstance(item["message"], str), item
        assert isinstance(item.get("index", 0), int), item
    return True


@pytest.fixture
def seeded(site: SiteClient) -> dict[str, str]:
    """Something of everything, so lists, items and views answer with bodies to validate; by
    path parameter name, the ids that exist."""
    alice_in_sales(site)
    status = site.http.post(
        "/api/v3/livechat/agentStatuses", json={"name": "Lunch", "type": "away"}
    )
    assert status.status_code == 201, status.text
    token = site.http.post("/api/v3/tokens", json={"name": "spare"})
    assert token.status_code == 201, token.text
    site.ok_events(
        agent_status(1, -3600),
        *waiting_chat(1, arrived=-900, requested=-800, department=None),
        chat_accepted(1, -700),
        *waiting_chat(2, arrived=-600, requested=-500),
    )
    return {
        "department_id": uid("dept", 1),
        "agent_id": uid("agent", 1),
        "status_id": status.json()["id"],
        "token_id": token.json()["id"],
    }


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(
    case: Case, site: SiteClient, seeded: dict[str, str]
) -> None:
    _arm(case, site)
    generated = repr(sorted((case.path_parameters or {}).items())).encode()
    if case.path_parameters and zlib.crc32(generated) % 2:
        # Half the cases (chosen by what was generated, so a failure replays) name an id that
        # exists, so reads, replaces and deletes get past 404.
        for name in case.path_parameters:
            case.path_parameters[name] = seeded.get(name, case.path_parameters[name])
    response = case.call_and_validate(
        base_url=site.server.base_url,
        additional_checks=[problem_details],
        # The document gives each value's shape, not the rules beyond it (an IANA zone name, an
        # agent that exists, a window of at most 31 days, an event that fits the stored state),
        # so a schema-valid request may rightly be a 400 or 422.
        excluded_checks=[positive_data_acceptance],
    )
    SEEN[(case.operation.label, response.status_code)] += 1


def test_served_document_is_the_fuzzed_one(site: SiteClient) -> None:
    response = httpx.get(f"{site.server.base_url}/openapi.json")
    assert response.status_code == 200
    assert response.json() == _document()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("views=Nope", "views"),
        ("views=Agents,", "views"),
        ("utcOffset=abc", "utcOffset"),
        ("utcOffset=841", "utcOffset"),
        ("timeZone=Mars/Olympus", "timeZone"),
        ("startTime=yesterday", "startTime"),
        ("startTime=2026-11-24T12:00:00Z&endTime=2026-11-24T11:00:00Z", "startTime"),
        ("pageSize=0", "pageSize"),
        ("includeStatusDistribution=maybe", "includeStatusDistribution"),
        ("departmentId=not-a-uuid", "departmentId"),
        ("siteId=%00", "siteId"),
    ],
)
def test_stream_rejects_malformed_queries(site: SiteClient, query: str, field: str) -> None:
    response = site.http.get(f"{STREAM}?{query}")
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 400 and body["title"] == "Bad Request"
    assert [e["field"] for e in body["errors"]] == [field], body


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/api/v3/departments", {"name": "Sa\u0000les"}, "name"),
        ("POST", "/api/v3/agents", {"displayName": "A", "email": "a@b.c", "bio": "\u0000"}, "bio"),
        ("POST", "/api/v3/livechat/agentStatuses", {"name": "x\u0000", "type": "away"}, "name"),
        ("POST", "/api/v3/tokens", {"name": "\u0000"}, "name"),
        ("PUT", "/api/v3/site", {"name": "Site\u0000", "timeZone": "UTC"}, "name"),
    ],
)
def test_nul_in_a_config_text_is_a_422_on_every_backend(
    site: SiteClient, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    # Found while fuzzing: PostgreSQL text cannot hold U+0000, and the insert was a 500.
    response = site.http.request(method, path, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [
        {"field": field, "message": "must not contain NUL (U+0000)"}
    ]
