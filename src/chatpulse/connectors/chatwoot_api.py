"""Chatwoot's Application API as ChatPulse reads it: agents with their availability, teams and
their members (`GET <api_url>/api/v1/accounts/<account_id>/…`, header `api_access_token`).

References: https://developers.chatwoot.com/api-reference/agents/list-agents-in-account,
https://developers.chatwoot.com/api-reference/teams/list-all-teams and
https://developers.chatwoot.com/api-reference/teams/list-team-agents.
"""

from __future__ import annotations

from dataclasses import replace

import httpx

from chatpulse.connectors import chatwoot
from chatpulse.connectors.model import AgentInfo, ConnectorSettings, PayloadError, TeamInfo


class PlatformApiError(Exception):
    """Chatwoot's API did not answer what ChatPulse asked: why, in a sentence."""


def _get(settings: ConnectorSettings, client: httpx.Client, path: str) -> object:
    if not (settings.api_url and settings.api_token and settings.account_id):
        raise PlatformApiError("the connector has no Chatwoot API URL, token and account id")
    url = f"{settings.api_url.rstrip('/')}/api/v1/accounts/{settings.account_id}/{path}"
    try:
        response = client.get(url, headers={"api_access_token": settings.api_token})
    except httpx.TimeoutException:
        raise PlatformApiError(f"Chatwoot {path}: no answer in time") from None
    except httpx.HTTPError as err:
        raise PlatformApiError(f"Chatwoot {path}: {type(err).__name__}: {err}") from None
    if response.status_code != 200:
        raise PlatformApiError(f"Chatwoot {path}: HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError:
        raise PlatformApiError(f"Chatwoot {path}: the answer is not JSON") from None


def fetch_agents(settings: ConnectorSettings, client: httpx.Client) -> list[tuple[AgentInfo, str]]:
    """Every agent of the account with its availability (online, away or offline)."""
    try:
        return chatwoot.parse_agents(_get(settings, client, "agents"))
    except PayloadError as err:
        raise PlatformApiError(f"Chatwoot agents: unexpected answer: {err}") from None


def fetch_teams(settings: ConnectorSettings, client: httpx.Client) -> list[TeamInfo]:
    try:
        return chatwoot.parse_teams(_get(settings, client, "teams"))
    except PayloadError as err:
        raise PlatformApiError(f"Chatwoot teams: unexpected answer: {err}") from None


def fetch_directory(
    settings: ConnectorSettings, client: httpx.Client
) -> tuple[list[AgentInfo], list[TeamInfo]]:
    """Agents (with the teams each belongs to) and teams: one call per team for its members."""
    agents = [agent for agent, _ in fetch_agents(settings, client)]
    teams = fetch_teams(settings, client)
    memberships: dict[str, list[str]] = {agent.key: [] for agent in agents}
    for team in teams:
        try:
            members = chatwoot.parse_agents(
                _get(settings, client, f"teams/{team.key}/team_members")
            )
        except PayloadError as err:
            raise PlatformApiError(f"Chatwoot team members: unexpected answer: {err}") from None
        for member, _ in members:
            memberships.setdefault(member.key, []).append(team.key)
    agents = [replace(a, department_keys=tuple(memberships[a.key])) for a in agents]
    return agents, teams
