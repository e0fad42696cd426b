"""The Chatwoot API client against a local Chatwoot account (sim.chatwoot.api_server), over
HTTP: agents with their availability, teams and their members, and the API failing."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from chatpulse.connectors.chatwoot_api import (
    PlatformApiError,
    fetch_agents,
    fetch_directory,
    fetch_teams,
)
from chatpulse.connectors.model import AgentInfo, ConnectorSettings, TeamInfo
from chatpulse.sim.chatwoot import Account, api_server
from chatpulse.sim.plan import AgentPlan, Plan

TOKEN = "cw-tok-Qm2xR9vT4pLk8Zs1"
# Chatwoot writes team names in lower case.
PLAN = Plan(
    ("sales", "support"),
    (
        AgentPlan("Alice Martin", "alice@example.com", "Alice", "Martin", (0,), 3),
        AgentPlan("Bruno Diaz", "bruno@example.com", "Bruno", "Diaz", (0, 1), 2),
        AgentPlan("Chen Wei", "chen@example.com", "Chen", "Wei", (1,), 4),
    ),
)


@pytest.fixture
def account() -> Account:
    chatwoot = Account(PLAN)
    chatwoot.users[1]["availability_status"] = "online"
    chatwoot.users[2]["availability_status"] = "busy"
    return chatwoot


@pytest.fixture
def url(account: Account) -> Iterator[str]:
    with api_server(account, TOKEN) as base:
        yield base


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as http:
        yield http


def settings(url: str, **changes: Any) -> ConnectorSettings:
    given = ConnectorSettings("chatwoot", api_url=url, api_token=TOKEN, account_id="1")
    return dataclasses.replace(given, **changes)


def test_agents_with_their_availability(url: str, client: httpx.Client) -> None:
    assert fetch_agents(settings(url), client) == [
        (AgentInfo("1", "Alice Martin", "alice@example.com"), "online"),
        (AgentInfo("2", "Bruno Diaz", "bruno@example.com"), "away"),
        (AgentInfo("3", "Chen Wei", "chen@example.com"), "offline"),
    ]


def test_an_availability_changed_in_chatwoot_is_read_at_the_next_call(
    account: Account, url: str, client: httpx.Client
) -> None:
    account.users[1]["availability_status"] = "busy"
    account.users[3]["availability_status"] = "online"
    assert [status for _, status in fetch_agents(settings(url), client)] == [
        "away",
        "away",
        "online",
    ]


def test_teams(url: str, client: httpx.Client) -> None:
    assert fetch_teams(settings(url + "/"), client) == [
        TeamInfo("1", "sales"),
        TeamInfo("2", "support"),
    ]


def test_the_directory_asks_each_team_for_its_members(url: str, client: httpx.Client) -> None:
    assert fetch_directory(settings(url), client) == (
        [
            AgentInfo("1", "Alice Martin", "alice@example.com", department_keys=("1",)),
            AgentInfo("2", "Bruno Diaz", "bruno@example.com", department_keys=("1", "2")),
            AgentInfo("3", "Chen Wei", "chen@example.com", department_keys=("2",)),
        ],
        [TeamInfo("1", "sales"), TeamInfo("2", "support")],
    )


def test_a_wrong_token_is_chatwoots_401(url: str, client: httpx.Client) -> None:
    with pytest.raises(PlatformApiError) as caught:
        fetch_agents(settings(url, api_token="revoked"), client)
    assert str(caught.value) == "Chatwoot agents: HTTP 401"


def test_another_account_is_chatwoots_404(url: str, client: httpx.Client) -> None:
    with pytest.raises(PlatformApiError) as caught:
        fetch_teams(settings(url, account_id="2"), client)
    assert str(caught.value) == "Chatwoot teams: HTTP 404"


def test_no_answer_in_time() -> None:
    """A server that takes the connection and never answers."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        base = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with httpx.Client(timeout=0.2) as slow, pytest.raises(PlatformApiError) as caught:
            fetch_agents(settings(base), slow)
    assert str(caught.value) == "Chatwoot agents: no answer in time"


def test_nobody_listening(account: Account, client: httpx.Client) -> None:
    with api_server(account, TOKEN) as base:
        gone = settings(base)
    with pytest.raises(PlatformApiError, match=r"^Chatwoot agents: ConnectError: "):
        fetch_agents(gone, client)


@pytest.mark.parametrize("missing", ["api_url", "api_token", "account_id"])
def test_without_the_api_nothing_is_asked(missing: str, client: httpx.Client) -> None:
    given = settings("http://127.0.0.1:9", **{missing: None})
    with pytest.raises(PlatformApiError) as caught:
        fetch_agents(given, client)
    assert str(caught.value) == "the connector has no Chatwoot API URL, token and account id"


def test_an_answer_not_as_documented(account: Account, url: str, client: httpx.Client) -> None:
    account.users[2]["availability_status"] = "away"
    with pytest.raises(PlatformApiError) as caught:
        fetch_agents(settings(url), client)
    assert str(caught.value) == (
        "Chatwoot agents: unexpected answer: [1].availability_status: must be online, busy"
        " or offline"
    )
    with pytest.raises(PlatformApiError) as caught:
        fetch_directory(settings(url), client)
    assert str(caught.value) == (
        "Chatwoot agents: unexpected answer: [1].availability_status: must be online, busy"
        " or offline"
    )


def test_team_members_not_as_documented() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/team_members"):
            return httpx.Response(200, json={"payload": []})
        if request.url.path.endswith("/teams"):
            return httpx.Response(200, json=[{"id": 1, "name": "sales"}])
        return httpx.Response(200, json=[])

    with (
        httpx.Client(transport=httpx.MockTransport(answer)) as mocked,
        pytest.raises(PlatformApiError) as caught,
    ):
        fetch_directory(settings("https://chat.example.com"), mocked)
    assert str(caught.value) == (
        "Chatwoot team members: unexpected answer: body: must be an array of agents"
    )


def test_an_answer_that_is_not_json() -> None:
    def maintenance(request: httpx.Request) -> httpx.Response:
        assert request.headers["api_access_token"] == TOKEN
        assert request.url == "https://chat.example.com/api/v1/accounts/1/teams"
        return httpx.Response(200, text="<html>maintenance</html>")

    with (
        httpx.Client(transport=httpx.MockTransport(maintenance)) as broken,
        pytest.raises(PlatformApiError) as caught,
    ):
        fetch_teams(settings("https://chat.example.com/"), broken)
    assert str(caught.value) == "Chatwoot teams: the answer is not JSON"
