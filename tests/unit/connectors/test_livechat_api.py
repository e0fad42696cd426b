"""The LiveChat API client against a local LiveChat (tests/fakes/livechat_api.py), over HTTP."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from chatpulse.connectors.livechat_api import (
    PlatformApiError,
    authorization,
    fetch_agents,
    fetch_groups,
    fetch_routing_statuses,
)
from chatpulse.connectors.model import AgentInfo, ConnectorSettings, TeamInfo
from tests.fakes.livechat_api import ACCOUNT_ID, TOKEN, FakeLiveChatApi

SMITH, JONES, LEE = "smith@example.com", "jones@example.com", "lee@example.com"


@pytest.fixture
def api() -> Iterator[FakeLiveChatApi]:
    with FakeLiveChatApi() as fake:
        yield fake


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as http:
        yield http


def settings(api: FakeLiveChatApi, **changes: Any) -> ConnectorSettings:
    given = ConnectorSettings("livechat", api_url=api.url, api_token=TOKEN, account_id=ACCOUNT_ID)
    return dataclasses.replace(given, **changes)


def test_agents_with_their_groups_and_limits(api: FakeLiveChatApi, client: httpx.Client) -> None:
    assert fetch_agents(settings(api), client) == [
        AgentInfo(SMITH, "Agent Smith", SMITH, department_keys=("0", "1"), max_concurrent_chats=6),
        AgentInfo(JONES, "Agent Jones", JONES, department_keys=("0", "2"), max_concurrent_chats=3),
        AgentInfo(LEE, "Kim Lee", LEE, department_keys=("0",), max_concurrent_chats=2),
    ]
    assert api.requests == [
        ("/v3.6/configuration/action/list_agents", {"fields": ["groups", "max_chats_count"]})
    ]


def test_groups(api: FakeLiveChatApi, client: httpx.Client) -> None:
    assert fetch_groups(settings(api), client) == [
        TeamInfo("0", "General"),
        TeamInfo("1", "Sales"),
        TeamInfo("2", "Support"),
    ]
    assert api.requests == [("/v3.6/configuration/action/list_groups", {})]


def test_routing_statuses_of_people(api: FakeLiveChatApi, client: httpx.Client) -> None:
    assert fetch_routing_statuses(settings(api), client) == [
        (SMITH, "online"),
        (JONES, "away"),
        (LEE, "offline"),
    ]
    assert api.requests == [("/v3.6/agent/action/list_routing_statuses", {})]


def test_the_console_s_base64_token_and_another_api_version(client: httpx.Client) -> None:
    joined = base64.b64encode(f"{ACCOUNT_ID}:{TOKEN}".encode()).decode()
    with FakeLiveChatApi(version="3.5") as api:
        given = settings(api, api_token=joined, account_id=None, options={"api_version": "3.5"})
        assert [team.key for team in fetch_groups(given, client)] == ["0", "1", "2"]
        assert api.requests == [("/v3.5/configuration/action/list_groups", {})]


def test_authorization_header() -> None:
    pat = ConnectorSettings(kind="livechat", api_token="fra:tok", account_id="acc")
    assert authorization(pat) == "Basic " + base64.b64encode(b"acc:fra:tok").decode()
    oauth = ConnectorSettings(kind="livechat", api_token="dal:oauth", options={"auth": "bearer"})
    assert authorization(oauth) == "Bearer dal:oauth"
    with pytest.raises(PlatformApiError, match="no LiveChat API token is configured"):
        authorization(ConnectorSettings(kind="livechat"))


def test_a_wrong_token_is_livechat_s_401(api: FakeLiveChatApi, client: httpx.Client) -> None:
    with pytest.raises(PlatformApiError) as caught:
        fetch_agents(settings(api, api_token="fra:revoked"), client)
    assert caught.value.message == (
        "LiveChat list_agents: HTTP 401 (authentication: Invalid access token)"
    )


def test_no_answer_in_time() -> None:
    with (
        FakeLiveChatApi(delay=1.0) as api,
        httpx.Client(timeout=0.1) as slow,
        pytest.raises(PlatformApiError) as caught,
    ):
        fetch_groups(settings(api), slow)
    assert caught.value.message == "LiveChat list_groups: no answer in time"


def test_nobody_listening(client: httpx.Client) -> None:
    with FakeLiveChatApi() as api:
        gone = settings(api)
    with pytest.raises(PlatformApiError, match=r"^LiveChat list_groups: ConnectError: "):
        fetch_groups(gone, client)


def test_an_answer_not_as_documented(client: httpx.Client) -> None:
    with (
        FakeLiveChatApi(groups=[{"id": "sales", "name": "Sales"}]) as api,
        pytest.raises(PlatformApiError) as caught,
    ):
        fetch_groups(settings(api), client)
    assert caught.value.message == (
        "LiveChat list_groups: unexpected answer: [0].id: must be an integer"
    )


def test_an_answer_that_is_not_json(client: httpx.Client) -> None:
    def not_json(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>maintenance</html>")

    given = ConnectorSettings(kind="livechat", api_token="t", account_id="a")
    with (
        httpx.Client(transport=httpx.MockTransport(not_json)) as broken,
        pytest.raises(PlatformApiError) as caught,
    ):
        fetch_groups(given, broken)
    assert caught.value.message == "LiveChat list_groups: the answer is not JSON"


def test_an_unknown_action_is_livechat_s_404(api: FakeLiveChatApi, client: httpx.Client) -> None:
    with pytest.raises(PlatformApiError) as caught:
        fetch_groups(settings(api, options={"api_version": "9.9"}), client)
    assert caught.value.message == "LiveChat list_groups: HTTP 404 (not_found: Method not found)"
