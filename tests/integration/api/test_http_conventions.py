"""SPEC.md §2 and §5-§6 over real HTTP: auth, problem details, request ids, paths, docs, health,
site settings and tokens, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from chatpulse.clock import FixedClock
from chatpulse.store import tables
from chatpulse.store.db import make_engine
from tests.factories import right_now
from tests.support import Server, SiteClient, ev, running_server, uid

RIGHT_NOW = "/api/v3/livechat/realTime/RightNow"
EVENTS = "/api/v3/livechat/events"
DEPARTMENTS = "/api/v3/departments"
TOKENS = "/api/v3/tokens"
SITE = "/api/v3/site"
NOW = "2026-11-24T12:00:00.000Z"
NO_HEADER = (
    "an Authorization: Bearer <token> (or Basic, with the token as password) header is required"
)


def assert_problem(
    response: httpx.Response, status: int, title: str, detail: str, errors: list[dict[str, Any]]
) -> None:
    """The whole RFC 9457 body and its content type."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "errors": errors,
    }


def new_token(site: SiteClient, name: str, *scopes: str) -> dict[str, Any]:
    response = site.http.post(TOKENS, json={"name": name, "scopes": list(scopes)})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


# ---------------------------------------------------------------- auth


def test_no_token_is_401_with_www_authenticate(server: Server, site: SiteClient) -> None:
    anonymous = server.client()
    for response in (
        anonymous.get(RIGHT_NOW),
        anonymous.post(EVENTS, json=[]),
        anonymous.get(SITE),
        anonymous.get(RIGHT_NOW, headers={"Authorization": "Bearer"}),
        anonymous.get(RIGHT_NOW, headers={"Authorization": "Digest x"}),
    ):
        assert_problem(
            response,
            401,
            "Unauthorized",
            NO_HEADER,
            [{"field": "authorization", "message": NO_HEADER}],
        )
        assert response.headers["www-authenticate"].startswith("Bearer")
    anonymous.close()


def test_unknown_token_is_401_with_www_authenticate(server: Server, site: SiteClient) -> None:
    stranger = server.client(site.token + "x")
    basic = {"Authorization": "Basic dXNlcjpwYXNz"}  # user:pass, a password that is no token
    message = "unknown or revoked token"
    for response in (stranger.get(RIGHT_NOW), server.client().get(RIGHT_NOW, headers=basic)):
        assert_problem(
            response, 401, "Unauthorized", message, [{"field": "authorization", "message": message}]
        )
        assert response.headers["www-authenticate"] == 'Bearer realm="chatpulse"'
    stranger.close()


def test_a_missing_scope_is_403(site: SiteClient) -> None:
    reader = site.server.client(new_token(site, "wallboard", "realtime.read")["token"])
    assert reader.get(RIGHT_NOW).json() == right_now()
    message = "this token lacks the events.write scope"
    assert_problem(
        reader.post(EVENTS, json=[]),
        403,
        "Forbidden",
        message,
        [{"field": "scope", "message": message}],
    )
    message = "this token lacks the events.write or admin scope"
    assert_problem(
        reader.get(EVENTS), 403, "Forbidden", message, [{"field": "scope", "message": message}]
    )
    writer = site.server.client(new_token(site, "connector", "events.write")["token"])
    message = "this token lacks the realtime.read scope"
    assert_problem(
        writer.get(RIGHT_NOW), 403, "Forbidden", message, [{"field": "scope", "message": message}]
    )
    assert_problem(
        writer.get(TOKENS),
        403,
        "Forbidden",
        "this token lacks the admin scope",
        [{"field": "scope", "message": "this token lacks the admin scope"}],
    )
    reader.close()
    writer.close()


def test_site_id_parameter_must_be_the_tokens_site(site: SiteClient) -> None:
    assert site.get(RIGHT_NOW, siteId=str(site.site_id)) == right_now()
    message = "siteId is not the site of this token"
    assert_problem(
        site.http.get(RIGHT_NOW, params={"siteId": site.site_id + 1}),
        403,
        "Forbidden",
        message,
        [{"field": "siteId", "message": message}],
    )
    assert_problem(
        site.http.get(RIGHT_NOW, params={"siteId": "ten"}),
        400,
        "Bad Request",
        "siteId must be an integer",
        [{"field": "siteId", "message": "must be an integer"}],
    )


# ---------------------------------------------------------------- problem details


def test_problem_details_for_every_error_status(site: SiteClient) -> None:
    assert_problem(
        site.http.get(RIGHT_NOW, params={"utcOffset": "841"}),
        400,
        "Bad Request",
        "utcOffset must be an integer from -720 to 840",
        [{"field": "utcOffset", "message": "must be an integer from -720 to 840"}],
    )
    assert_problem(
        site.http.get("/api/v3/livechat/realTime/Nowhere"),
        404,
        "Not Found",
        "no such path",
        [{"field": "path", "message": "no such path"}],
    )
    not_allowed = site.http.delete(SITE)
    assert_problem(
        not_allowed,
        405,
        "Method Not Allowed",
        "method not allowed on this path",
        [{"field": "method", "message": "method not allowed on this path"}],
    )
    assert not_allowed.headers["allow"] == "GET, HEAD, PUT"
    assert site.http.post(TOKENS + "/x").headers["allow"] == "DELETE"
    site.department(1, "Sales")
    assert_problem(
        site.http.post(DEPARTMENTS, json={"id": uid("dept", 1), "name": "Support"}),
        409,
        "Conflict",
        f"id department {uid('dept', 1)} already exists",
        [{"field": "id", "message": f"department {uid('dept', 1)} already exists"}],
    )
    too_large = b"[" + b" " * (1024 * 1024) + b"]"
    assert_problem(
        site.http.post(EVENTS, content=too_large, headers={"Content-Type": "application/json"}),
        413,
        "Request Entity Too Large",
        "the body is larger than 1048576 bytes",
        [{"field": "body", "message": "the body is larger than 1048576 bytes"}],
    )
    message = "Content-Type must be application/json or application/x-ndjson"
    assert_problem(
        site.http.post(EVENTS, content=b"[]", headers={"Content-Type": "text/plain"}),
        415,
        "Unsupported Media Type",
        message,
        [{"field": "Content-Type", "message": message}],
    )
    assert_problem(
        site.http.post(DEPARTMENTS, json={"name": "Support", "colour": "red"}),
        422,
        "Unprocessable Entity",
        "colour is not a known field",
        [{"field": "colour", "message": "is not a known field"}],
    )
    assert site.get(DEPARTMENTS)[0]["name"] == "Sales"
    assert len(site.get(DEPARTMENTS)) == 1


def test_a_config_body_that_is_not_json_is_415_or_400(site: SiteClient) -> None:
    message = "Content-Type must be application/json"
    for headers in ({"Content-Type": "text/plain"}, {"Content-Type": "application/xml"}):
        assert_problem(
            site.http.post(DEPARTMENTS, content=b'{"name": "Sales"}', headers=headers),
            415,
            "Unsupported Media Type",
            message,
            [{"field": "Content-Type", "message": message}],
        )
    assert_problem(
        site.http.post(
            DEPARTMENTS, content=b'{"name": ', headers={"Content-Type": "application/json"}
        ),
        400,
        "Bad Request",
        "the body is not valid JSON",
        [{"field": "body", "message": "is not valid JSON"}],
    )
    assert_problem(
        site.http.post(DEPARTMENTS),
        422,
        "Unprocessable Entity",
        "body is required",
        [{"field": "body", "message": "is required"}],
    )
    charset = site.http.post(
        DEPARTMENTS,
        content=b'{"name": "Sales"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert charset.status_code == 201
    assert site.get(DEPARTMENTS) == [charset.json()]


def test_a_bad_boolean_parameter_is_400_naming_it(site: SiteClient) -> None:
    assert_problem(
        site.http.get(DEPARTMENTS, params={"includeDeleted": "maybe"}),
        400,
        "Bad Request",
        "includeDeleted must be true or false",
        [{"field": "includeDeleted", "message": "must be true or false"}],
    )


# ---------------------------------------------------------------- request ids and paths


def test_every_response_carries_a_request_id(server: Server, site: SiteClient) -> None:
    generated = [
        site.http.get(RIGHT_NOW),
        site.http.get("/api/v3/nowhere"),
        server.client().get(RIGHT_NOW),
        server.client().get("/healthz"),
    ]
    ids = [r.headers["x-request-id"] for r in generated]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids), ids
    assert len(set(ids)) == len(ids)
    echoed = site.http.get(RIGHT_NOW, headers={"X-Request-Id": "wallboard-7f3a"})
    assert echoed.headers["x-request-id"] == "wallboard-7f3a"
    refused = server.client().get(RIGHT_NOW, headers={"X-Request-Id": "trace-1"})
    assert refused.status_code == 401
    assert refused.headers["x-request-id"] == "trace-1"


def test_paths_are_matched_case_insensitively(site: SiteClient) -> None:
    for path in (
        "/api/v3/livechat/realtime/rightnow",
        "/API/V3/LIVECHAT/REALTIME/RIGHTNOW",
        "/api/v3/LiveChat/RealTime/RightNow",
    ):
        assert site.get(path) == right_now(), path
    department = site.department(1, "Sales")
    assert site.get(f"/API/V3/Departments/{uid('dept', 1).upper()}") == department
    assert site.get("/api/v3/livechat/agentstatuses")[0]["name"] == "Online"


def test_head_answers_wherever_get_does_with_its_headers_and_no_body(
    server: Server, site: SiteClient
) -> None:
    site.department(1, "Sales")
    paths = (
        RIGHT_NOW,
        "/api/v3/livechat/realTime/Queue",
        "/v4/livechat/realTime/Today",
        SITE,
        DEPARTMENTS,
        f"{DEPARTMENTS}/{uid('dept', 1)}",
        f"{EVENTS}?after=0",
        "/healthz",
        "/readyz",
        "/openapi.json",
        "/wallboard",
        "/wallboard/wallboard.js",
    )
    for path in paths:
        got, head = site.http.get(path), site.http.head(path)
        assert (head.status_code, head.content) == (got.status_code, b""), path
        assert head.status_code == 200, path
        for name in ("content-type", "content-length"):
            assert head.headers[name] == got.headers[name], (path, name)
    refused = server.client().head(RIGHT_NOW)
    assert (refused.status_code, refused.content) == (401, b"")
    assert refused.headers["content-type"] == "application/problem+json"
    missing = site.http.head(f"{DEPARTMENTS}/{uid('dept', 9)}")
    assert (missing.status_code, missing.content) == (404, b"")


def test_head_on_the_stream_sends_its_headers_and_ends(site: SiteClient) -> None:
    head = site.http.head("/api/v3/livechat/realTime/stream")
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-type"].startswith("text/event-stream")
    assert site.get(RIGHT_NOW) == right_now()  # and the server serves on


def test_a_trailing_slash_is_404_never_a_redirect_built_from_the_host_header(
    site: SiteClient,
) -> None:
    for path in (RIGHT_NOW + "/", DEPARTMENTS + "/", "/healthz/"):
        response = site.http.get(path, headers={"Host": "attacker.example"})
        assert_problem(
            response,
            404,
            "Not Found",
            "no such path",
            [{"field": "path", "message": "no such path"}],
        )
        assert "location" not in response.headers


# ---------------------------------------------------------------- docs and health


def test_openapi_document_is_3_1_and_lists_the_api(server: Server) -> None:
    response = server.client().get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1.")
    assert {
        RIGHT_NOW,
        "/api/v3/livechat/realTime/Queue",
        "/api/v3/livechat/realTime/Today",
        "/api/v3/livechat/realTime/Agents",
        EVENTS,
        DEPARTMENTS,
        "/api/v3/agents/{agent_id}",
        "/api/v3/livechat/agentStatuses",
        SITE,
        TOKENS,
    } <= set(document["paths"])


def test_docs_page_is_html(server: Server) -> None:
    response = server.client().get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in response.text


def test_health_and_readiness(server: Server) -> None:
    client = server.client()
    healthz = client.get("/healthz")
    assert (healthz.status_code, healthz.json()) == (200, {"status": "ok"})
    readyz = client.get("/readyz")
    assert (readyz.status_code, readyz.json()) == (200, {"status": "ready"})
    client.close()


def test_not_ready_while_the_schema_is_not_migrated(tmp_path: Path, clock: FixedClock) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with running_server(engine, clock) as bare:
        client = bare.client()
        assert client.get("/healthz").json() == {"status": "ok"}
        assert_problem(
            client.get("/readyz"),
            503,
            "Service Unavailable",
            "the database schema is not current",
            [{"field": "database", "message": "run chatpulse migrate"}],
        )
        client.close()
    engine.dispose()


# ---------------------------------------------------------------- site


def site_doc(site: SiteClient, name: str, zone: str, t: int = 30, s: int = 0) -> dict[str, Any]:
    return {
        "id": site.site_id,
        "name": name,
        "timeZone": zone,
        "serviceLevelSeconds": t,
        "shortAbandonSeconds": s,
    }


def test_site_get_and_put(site: SiteClient) -> None:
    assert site.get(SITE) == site_doc(site, "Test site", "UTC")
    response = site.http.put(SITE, json={"name": "Acme", "timeZone": "America/Toronto"})
    expected = site_doc(site, "Acme", "America/Toronto")
    assert response.status_code == 200
    assert response.json() == expected
    assert site.get(SITE) == expected
    round_trip = site.http.put(SITE, json=expected)
    assert round_trip.json() == expected
    changed = site_doc(site, "Acme", "America/Toronto", 20, 5)
    assert site.http.put(SITE, json=changed).json() == changed
    assert site.get(SITE) == changed
    # PUT replaces: thresholds left out take their defaults again (SPEC.md §5).
    assert site.http.put(SITE, json={"name": "Acme"}).json() == site_doc(site, "Acme", "UTC")


def test_site_is_readable_with_any_scope_and_writable_with_admin(site: SiteClient) -> None:
    reader = site.server.client(new_token(site, "wallboard", "realtime.read")["token"])
    assert reader.get(SITE).json() == site_doc(site, "Test site", "UTC")
    message = "this token lacks the admin scope"
    assert_problem(
        reader.put(SITE, json={"name": "Mine", "timeZone": "UTC"}),
        403,
        "Forbidden",
        message,
        [{"field": "scope", "message": message}],
    )
    assert site.get(SITE)["name"] == "Test site"
    reader.close()


def test_invalid_site_bodies_name_the_field(site: SiteClient) -> None:
    cases: list[tuple[Any, str, str]] = [
        (
            {"name": "Acme", "timeZone": "Mars/Olympus_Mons"},
            "timeZone",
            "must be an IANA time zone name",
        ),
        ({"name": "Acme", "timeZone": ""}, "timeZone", "must be an IANA time zone name"),
        (
            {"name": "Acme", "timeZone": "../../etc/passwd"},
            "timeZone",
            "must be an IANA time zone name",
        ),
        ({"timeZone": "UTC"}, "name", "is required"),
        ({"name": "Acme", "id": site.site_id + 1}, "id", "must be the id of this token's site"),
        ({"name": "Acme", "locale": "fr"}, "locale", "is not a known field"),
        ({"name": "Acme", "serviceLevelSeconds": 0}, "serviceLevelSeconds", T_RANGE),
        ({"name": "Acme", "serviceLevelSeconds": 3601}, "serviceLevelSeconds", T_RANGE),
        (
            {"name": "Acme", "serviceLevelSeconds": "30"},
            "serviceLevelSeconds",
            "must be an integer",
        ),
        (
            {"name": "Acme", "serviceLevelSeconds": None},
            "serviceLevelSeconds",
            "must be an integer",
        ),
        ({"name": "Acme", "shortAbandonSeconds": -1}, "shortAbandonSeconds", S_RANGE),
        ({"name": "Acme", "shortAbandonSeconds": 3601}, "shortAbandonSeconds", S_RANGE),
    ]
    for body, field, message in cases:
        assert_problem(
            site.http.put(SITE, json=body),
            422,
            "Unprocessable Entity",
            f"{field} {message}",
            [{"field": field, "message": message}],
        )
    assert site.get(SITE) == site_doc(site, "Test site", "UTC")


T_RANGE = "must be an integer from 1 to 3600"
INTEGER = "must be an integer"
S_RANGE = "must be an integer from 0 to 3600"


# ---------------------------------------------------------------- tokens


def test_a_token_is_shown_once_and_listed_without_its_secret(site: SiteClient) -> None:
    created = site.http.post(TOKENS, json={"name": "wallboard", "scopes": ["realtime.read"]})
    assert created.status_code == 201
    body = created.json()
    secret = body["token"]
    assert body == {
        "id": body["id"],
        "name": "wallboard",
        "scopes": ["realtime.read"],
        "createdTime": NOW,
        "token": secret,
    }
    assert re.fullmatch(r"cp_[A-Za-z0-9_-]{43}", secret)
    listed = site.get(TOKENS)
    assert listed == [
        {
            "id": listed[0]["id"],
            "name": "test",
            "scopes": ["realtime.read", "events.write", "config.read", "config.write", "admin"],
            "createdTime": "1970-01-01T00:00:00.000Z",
        },
        {"id": body["id"], "name": "wallboard", "scopes": ["realtime.read"], "createdTime": NOW},
    ]
    assert secret not in site.http.get(TOKENS).text
    wallboard = site.server.client(secret)
    assert wallboard.get(RIGHT_NOW).json() == right_now()
    wallboard.close()


def test_token_scopes_default_to_all_but_admin_and_must_be_known(site: SiteClient) -> None:
    created = site.http.post(TOKENS, json={"name": "connector"})
    assert created.json()["scopes"] == [
        "realtime.read",
        "events.write",
        "config.read",
        "config.write",
    ]
    message = "must be some of realtime.read, events.write, config.read, config.write, admin"
    for scopes in (["realtime.read", "root"], []):
        assert_problem(
            site.http.post(TOKENS, json={"name": "x", "scopes": scopes}),
            422,
            "Unprocessable Entity",
            f"scopes {message}",
            [{"field": "scopes", "message": message}],
        )
    assert [t["name"] for t in site.get(TOKENS)] == ["test", "connector"]


def test_a_revoked_token_is_refused_on_its_very_next_request(site: SiteClient) -> None:
    created = new_token(site, "connector", "events.write", "realtime.read")
    connector = site.server.client(created["token"])
    accepted = connector.post(
        EVENTS, json=[ev("visitor.arrived", -10, visitorId=uid("visitor", 1))]
    )
    assert accepted.json() == {"accepted": 1, "duplicates": 0, "lastSequence": 1}
    revoked = site.http.delete(f"{TOKENS}/{created['id']}")
    assert revoked.status_code == 204
    assert revoked.content == b""
    refused = connector.post(EVENTS, json=[ev("visitor.left", -5, visitorId=uid("visitor", 1))])
    message = "unknown or revoked token"
    assert_problem(
        refused, 401, "Unauthorized", message, [{"field": "authorization", "message": message}]
    )
    assert site.get(RIGHT_NOW)["visitorOnSite"] == 1
    assert [t["name"] for t in site.get(TOKENS)] == ["test"]
    assert_problem(
        site.http.delete(f"{TOKENS}/{created['id']}"),
        404,
        "Not Found",
        "token not found",
        [{"field": "id", "message": "not found"}],
    )
    connector.close()


def test_tokens_are_stored_only_as_hashes(site: SiteClient) -> None:
    created = new_token(site, "audit", "admin")
    secret = created["token"]
    with site.server.engine.connect() as conn:
        query = select(tables.tokens).where(tables.tokens.c.site_id == site.site_id)
        rows = conn.execute(query).mappings().all()
    assert len(rows) == 2
    for row in rows:
        for column, value in row.items():
            assert secret not in str(value), column
            assert site.token not in str(value), column
    stored = {row["id"]: row["token_hash"] for row in rows}
    assert stored[created["id"]] == hashlib.sha256(secret.encode()).hexdigest()
