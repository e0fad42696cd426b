"""The connectors' configuration API (scope admin), their webhook URL's authentication, and
site isolation of both (docs/connectors.md)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from chatpulse.store import sites
from tests.factories import problem
from tests.support import SiteClient

CONNECTORS = "/api/v3/connectors"


def not_found() -> dict[str, Any]:
    return problem(404, "connector not found", [{"field": "id", "message": "not found"}])


def add(site: SiteClient, **body: Any) -> dict[str, Any]:
    response = site.http.post(CONNECTORS, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def path_of(created: dict[str, Any]) -> str:
    return urlsplit(str(created["webhookUrl"])).path


def test_a_connector_is_created_listed_shown_and_removed(site: SiteClient) -> None:
    created = add(site, kind="chatwoot", name="Support desk", signingSecret="s1")
    base = site.server.base_url
    path = f"/api/v3/connectors/{created['id']}/webhook/"
    assert created["webhookUrl"].startswith(base + path)
    secret = created["webhookUrl"][len(base + path) :]
    assert len(secret) == 64 and int(secret, 16) >= 0
    shown = {
        "id": created["id"],
        "siteId": site.site_id,
        "kind": "chatwoot",
        "name": "Support desk",
        "signingSecretSet": True,
        "apiUrl": None,
        "apiTokenSet": False,
        "accountId": None,
        "pollSeconds": 0,
        "reorderMs": 100,
        "createdTime": created["createdTime"],
        "lastPollTime": None,
        "lastPollError": None,
    }
    assert {k: v for k, v in created.items() if k not in ("webhookUrl", "setup")} == shown
    assert created["setup"]  # the platform's settings text (tested with each platform)
    assert site.get(CONNECTORS) == [shown]
    assert site.get(f"{CONNECTORS}/{created['id']}") == shown
    assert site.get(f"{CONNECTORS}/{created['id']}/drops") == {"total": 0, "list": []}

    assert site.http.delete(f"{CONNECTORS}/{created['id']}").status_code == 204
    assert site.get(CONNECTORS) == []
    gone = site.http.get(f"{CONNECTORS}/{created['id']}")
    assert (gone.status_code, gone.json()) == (404, not_found())
    # its URL stops at once (this process served the removal)
    answer = site.http.post(path + secret, json={"event": "conversation_created"})
    assert (answer.status_code, answer.json()) == (404, not_found())


def test_a_chatwoot_connector_with_its_api_polls_every_30_seconds_by_default(
    site: SiteClient,
) -> None:
    created = add(
        site, kind="chatwoot", apiUrl="https://chat.example.com", apiToken="t", accountId="3"
    )
    assert (created["pollSeconds"], created["apiTokenSet"], created["accountId"]) == (30, True, "3")
    assert created["name"] == "Chatwoot"
    livechat = add(site, kind="livechat", reorderMs=0)
    assert (livechat["name"], livechat["pollSeconds"], livechat["reorderMs"]) == ("Livechat", 0, 0)


def test_invalid_connectors_are_422s_naming_the_field(site: SiteClient) -> None:
    cases: list[tuple[dict[str, Any], list[dict[str, str]]]] = [
        (
            {"kind": "chatwoot", "pollSeconds": 30},
            [
                {"field": "apiUrl", "message": "is required for the availability poll"},
                {"field": "apiToken", "message": "is required for the availability poll"},
                {"field": "accountId", "message": "is required for the availability poll"},
            ],
        ),
        (
            {"kind": "livechat", "reorderMs": 5001, "pollSeconds": -1},
            [
                {"field": "pollSeconds", "message": "must be an integer from 0 to 86400"},
                {"field": "reorderMs", "message": "must be an integer from 0 to 5000"},
            ],
        ),
        (
            {"kind": "chatwoot", "apiUrl": "ftp://x", "name": " "},
            [
                {"field": "apiUrl", "message": "must be an http:// or https:// URL"},
                {"field": "name", "message": "must not be blank"},
            ],
        ),
    ]
    for body, errors in cases:
        response = site.http.post(CONNECTORS, json=body)
        assert response.status_code == 422, response.text
        assert response.json()["errors"] == errors
    unknown = site.http.post(CONNECTORS, json={"kind": "intercom"})
    assert unknown.status_code == 422
    assert [e["field"] for e in unknown.json()["errors"]] == ["kind"]
    assert site.get(CONNECTORS) == []


def test_only_admin_tokens_configure_connectors(site: SiteClient) -> None:
    _, token = sites.create_token(
        site.server.engine,
        site.site_id,
        "ops",
        tuple(s for s in sites.ALL_SCOPES if s != "admin"),
        0,
    )
    with site.server.client(token) as http:
        for method, path in (("GET", CONNECTORS), ("POST", CONNECTORS)):
            response = http.request(method, path, json={"kind": "chatwoot"})
            assert response.status_code == 403, (method, response.text)
    assert site.get(CONNECTORS) == []


def test_a_webhook_with_a_wrong_secret_or_id_is_a_404_and_stores_nothing(site: SiteClient) -> None:
    created = add(site, kind="chatwoot")
    good = path_of(created)
    bad_secret = good[:-1] + ("0" if good[-1] != "0" else "1")
    unknown = good.replace(created["id"], "00000000-0000-4000-8000-000000000000")
    for path in (bad_secret, unknown, "/api/v3/connectors/not-a-uuid/webhook/x"):
        answer = httpx.post(site.server.base_url + path, json={"event": "conversation_created"})
        assert (answer.status_code, answer.json()) == (404, not_found()), path
    assert site.get("/api/v3/livechat/events")["events"] == []


def test_a_webhook_body_that_is_not_a_json_object_is_a_400(site: SiteClient) -> None:
    url = site.server.base_url + path_of(add(site, kind="chatwoot"))
    for body in (b"not json", b"[1, 2]", b'"text"'):
        answer = httpx.post(url, content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == 400, body
        assert answer.json() == problem(
            400, "must be a JSON object", [{"field": "body", "message": "must be a JSON object"}]
        )
    assert site.get("/api/v3/livechat/events")["events"] == []


def test_another_sites_connectors_are_not_found(site: SiteClient, other_site: SiteClient) -> None:
    mine = add(site, kind="livechat", name="Alpha LiveChat")
    theirs = other_site
    assert theirs.get(CONNECTORS) == []
    for method, suffix in (("GET", ""), ("GET", "/drops"), ("POST", "/sync"), ("DELETE", "")):
        answer = theirs.http.request(method, f"{CONNECTORS}/{mine['id']}{suffix}")
        assert (answer.status_code, answer.json()) == (404, not_found()), (method, suffix)
    forbidden = theirs.http.get(CONNECTORS, params={"siteId": site.site_id})
    assert forbidden.status_code == 403
    assert [c["id"] for c in site.get(CONNECTORS)] == [mine["id"]]
