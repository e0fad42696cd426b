"""LiveChat's Web APIs as ChatPulse reads them: agents and groups (Configuration API) and the
agents' routing statuses (Agent Chat API), with a Personal Access Token.

Every call is `POST <api_url>/v<version>/<api>/action/<action>` with a JSON body. A Personal
Access Token is Basic authentication, the Account ID as user and the token as password: with
`settings.account_id` set, `settings.api_token` is that token; without it, `api_token` is the
Base64 text the Developer Console also gives (Account ID and token already joined). The option
`auth` = `bearer` sends `api_token` as an OAuth access token instead.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import TypeVar

import httpx

from chatpulse.connectors import livechat
from chatpulse.connectors.model import AgentInfo, ConnectorSettings, PayloadError, TeamInfo

# What ChatPulse asks list_agents for, beyond the default fields.
AGENT_FIELDS = ["groups", "max_chats_count"]

T = TypeVar("T")


class PlatformApiError(Exception):
    """LiveChat's API did not answer what ChatPulse asked: why, in a sentence."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def authorization(settings: ConnectorSettings) -> str:
    """The Authorization header for the connector's token."""
    token = settings.api_token
    if not token:
        raise PlatformApiError("no LiveChat API token is configured")
    if settings.options.get("auth") == "bearer":
        return f"Bearer {token}"
    if settings.account_id:
        token = base64.b64encode(f"{settings.account_id}:{token}".encode()).decode("ascii")
    return f"Basic {token}"


def call(
    settings: ConnectorSettings, client: httpx.Client, api: str, action: str, body: object
) -> object:
    """One action of one API (`configuration` or `agent`): its parsed JSON answer."""
    version = settings.options.get("api_version", livechat.DEFAULT_API_VERSION)
    base = (settings.api_url or livechat.DEFAULT_API_URL).rstrip("/")
    url = f"{base}/v{version}/{api}/action/{action}"
    headers = {"Authorization": authorization(settings), "Content-Type": "application/json"}
    try:
        response = client.post(url, json=body, headers=headers)
    except httpx.TimeoutException:
        raise PlatformApiError(f"LiveChat {action}: no answer in time") from None
    except httpx.HTTPError as err:
        raise PlatformApiError(f"LiveChat {action}: {type(err).__name__}: {err}") from None
    if response.status_code != 200:
        raise PlatformApiError(f"LiveChat {action}: HTTP {response.status_code}{_why(response)}")
    try:
        return response.json()
    except ValueError:
        raise PlatformApiError(f"LiveChat {action}: the answer is not JSON") from None


def _why(response: httpx.Response) -> str:
    """LiveChat's own words from its error body `{"error": {"type", "message"}}`, if any."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return ""
    if not isinstance(error, dict):
        return ""
    return f" ({error.get('type')}: {error.get('message')})"


def _parsed(action: str, parse: Callable[[object], list[T]], answer: object) -> list[T]:
    try:
        return parse(answer)
    except PayloadError as err:
        raise PlatformApiError(f"LiveChat {action}: unexpected answer: {err}") from None


def fetch_agents(settings: ConnectorSettings, client: httpx.Client) -> list[AgentInfo]:
    """Every agent of the license, with the groups each belongs to and their chat limit."""
    answer = call(settings, client, "configuration", "list_agents", {"fields": AGENT_FIELDS})
    return _parsed("list_agents", livechat.parse_agents, answer)


def fetch_groups(settings: ConnectorSettings, client: httpx.Client) -> list[TeamInfo]:
    """Every group of the license."""
    answer = call(settings, client, "configuration", "list_groups", {})
    return _parsed("list_groups", livechat.parse_groups, answer)


def fetch_routing_statuses(
    settings: ConnectorSettings, client: httpx.Client
) -> list[tuple[str, str]]:
    """(agent id, online/away/offline) for every agent, as LiveChat routes chats now."""
    answer = call(settings, client, "agent", "list_routing_statuses", {})
    return _parsed("list_routing_statuses", livechat.parse_routing_statuses, answer)
