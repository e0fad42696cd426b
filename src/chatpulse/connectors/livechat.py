"""LiveChat (Text) webhooks v3.5/v3.6 as ChatPulse facts: a pure mapping, no I/O, no clock.

A LiveChat chat is a sequence of threads, and a thread is one conversation (a customer who
writes again after the chat was closed starts a new thread of the same chat): the ChatPulse
chat is the thread, named `"<chat id>/<thread id>"`. Customers are visitors, agents are agents
(their ids are their e-mail addresses), groups are departments, bots (agents whose ids are 32
hexadecimal digits) are bots.

LiveChat dates messages and threads but not the other webhooks (`chat_deactivated`,
`user_added_to_chat`, `chat_transferred`, `thread_properties_updated`, `routing_status_set`
carry no time at all): their facts happen when the delivery was received, which the connector
service says in the `x-chatpulse-received-at` header (`RECEIVED_AT_HEADER`, ISO 8601 with an
offset), set from its clock and never taken from the request.

The mapping table, with what cannot be known and what is assumed, is in docs/connectors.md.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import re
import shlex
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from chatpulse.connectors.model import (
    RECEIVED_AT_HEADER,
    AgentInfo,
    ConnectorSettings,
    Delivery,
    Fact,
    PayloadError,
    TeamInfo,
)
from chatpulse.connectors.reading import Node, instant

DEFAULT_API_URL = "https://api.livechatinc.com"
DEFAULT_API_VERSION = "3.6"
# The webhooks to register (one registration per action), in the order of a chat's life.
ACTIONS = (
    "incoming_chat",
    "incoming_event",
    "user_added_to_chat",
    "chat_transferred",
    "chat_deactivated",
    "thread_properties_updated",
    "routing_status_set",
)
# LiveChat's routing statuses ("accepting chats" in webhooks, "accepting_chats" in the APIs).
STATUS_WORDS = {
    "accepting chats": "online",
    "not accepting chats": "away",
    "offline": "offline",
}
# Event types a person writes to the other side; forms, system messages and custom events are not.
MESSAGE_TYPES = ("message", "file", "rich_message")
SCORES = {1: 5, 0: 1}  # rating.score: 1 thumbs up -> 5, 0 thumbs down -> 1
_BOT_ID = re.compile(r"^[0-9a-f]{32}$")


def _received_at(headers: Mapping[str, str]) -> dt.datetime:
    for name, value in headers.items():
        if name.lower() == RECEIVED_AT_HEADER:
            return instant(value, f"headers.{RECEIVED_AT_HEADER}")
    raise PayloadError(
        f"headers.{RECEIVED_AT_HEADER}", "missing: the connector service sets it from its clock"
    )


def is_bot(agent_id: str) -> bool:
    """Bots are agents whose ids are 32 hexadecimal digits; people's ids are e-mail addresses."""
    return "@" not in agent_id and _BOT_ID.match(agent_id) is not None


def _sender(author_id: str) -> str:
    """Who wrote an event, from the shape of its author's id (an event does not say more)."""
    if "@" in author_id:
        return "agent"
    return "bot" if is_bot(author_id) else "visitor"


# --- authentication ------------------------------------------------------------------------------


def authenticate(
    headers: Mapping[str, str], body: bytes, settings: ConnectorSettings
) -> str | None:
    """None when the body's `secret_key` is the one given at registration (LiveChat signs
    nothing: the secret travels in the JSON body, there is no signature header); None as well
    when no secret is configured, the core's URL secret then being the only check."""
    if not settings.signing_secret:
        return None
    try:
        envelope = json.loads(body)
    except (ValueError, RecursionError):
        return "the body is not JSON, so it has no secret_key"
    secret = envelope.get("secret_key") if isinstance(envelope, dict) else None
    if not isinstance(secret, str) or not secret:
        return "secret_key is missing"
    if not hmac.compare_digest(secret.encode(), settings.signing_secret.encode()):
        return "secret_key is not the connector's signing secret"
    return None


# --- the mapping ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Chat:
    """A thread as a ChatPulse chat, with what the payload says of its visitor and department."""

    ref: str
    visitor: str | None = None
    department: str | None = None

    def fact(self, key: str, type_: str, at: dt.datetime, **data: str | int) -> Fact:
        return Fact(
            key=f"{self.ref}:{key}",
            type=type_,
            occurred_at=at,
            data={"chatId": self.ref, **data},
            visitor=self.visitor,
            department=self.department,
        )


def _chat(body: Node) -> _Chat:
    return _Chat(f"{body.text('chat_id')}/{body.text('thread_id')}")


def _delivery(facts: Iterable[Fact], names: Mapping[str, str | None] | None = None) -> Delivery:
    """The facts, with the agents and groups they name (a group's name is not in webhooks)."""
    facts = tuple(facts)
    agents: dict[str, AgentInfo] = {}
    teams: dict[str, TeamInfo] = {}
    for fact in facts:
        for field_name in ("agentId", "toAgentId"):
            agent = fact.data.get(field_name)
            if isinstance(agent, str):
                name = (names or {}).get(agent)
                agents.setdefault(agent, AgentInfo(agent, name or agent, email=agent))
        for field_name in ("departmentId", "toDepartmentId"):
            group = fact.data.get(field_name)
            if isinstance(group, str):
                teams.setdefault(group, TeamInfo(group, f"Group {group}"))
    return Delivery(facts=facts, agents=tuple(agents.values()), teams=tuple(teams.values()))


def _message(chat: _Chat, event: Node) -> Fact | str:
    """A chat.message from a LiveChat event, or why the event is not one."""
    kind = event.text("type")
    if kind not in MESSAGE_TYPES:
        return f"a {kind} event is not a message"
    if event.value.get("visibility") == "agents":
        return "an event visible to agents only is not a message to the visitor"
    properties = event.opt_child("properties")
    lc2 = properties.opt_child("lc2") if properties else None
    if lc2 is not None and lc2.value.get("welcome_message") is True:
        return "the automatic welcome message is nobody's reply"
    author = event.text("author_id")
    sender = _sender(author)
    if sender == "visitor":
        chat = _Chat(chat.ref, author, chat.department)
    key = f"event:{event.text('id')}"
    return chat.fact(key, "chat.message", event.instant("created_at"), sender=sender)


def _first_group(*accesses: Node | None) -> str | None:
    for access in accesses:
        groups = access.integers("group_ids") if access is not None else []
        if groups:
            return str(groups[0])
    return None


def _incoming_chat(body: Node, headers: Mapping[str, str]) -> Delivery:
    node = body.child("chat")
    thread = node.child("thread")
    users = node.children("users")
    customers = [user.text("id") for user in users if user.text("type") == "customer"]
    if not customers:
        raise PayloadError(node.at("users"), "has no user of type customer")
    group = _first_group(thread.opt_child("access"), node.opt_child("access"))
    chat = _Chat(f"{node.text('id')}/{thread.text('id')}", customers[0], group)
    started = thread.instant("created_at")
    present = [u for u in users if u.text("type") == "agent" and u.value.get("present") is True]
    people = [u for u in present if not is_bot(u.text("id"))]
    bots = [u.text("id") for u in present if is_bot(u.text("id"))]
    queued = thread.has("queue")

    request: dict[str, str | int] = {"visitorId": customers[0]}
    if group is not None:
        request["departmentId"] = group
    if bots and not people and not queued:
        request["botId"] = bots[0]
    facts = [chat.fact("requested", "chat.requested", started, **request)]
    names: dict[str, str | None] = {}
    if people and not queued:
        agent = people[0].text("id")
        names[agent] = people[0].opt_text("name")
        facts.append(chat.fact(f"joined:{agent}", "chat.accepted", started, agentId=agent))
    for event in thread.children("events"):
        message = _message(chat, event)
        if isinstance(message, Fact):
            facts.append(message)
    return _delivery(facts, names)


def _incoming_event(body: Node, headers: Mapping[str, str]) -> Delivery:
    event = body.child("event")
    message = _message(_chat(body), event)
    if isinstance(message, str):
        return Delivery(ignored=message, delivery_id=event.text("id"))
    return Delivery(facts=(message,), delivery_id=event.text("id"))


def _user_added(body: Node, headers: Mapping[str, str]) -> Delivery:
    user = body.child("user")
    if (body.opt_text("user_type") or user.text("type")) != "agent":
        return Delivery(ignored="a customer added to a chat changes no figure")
    if not body.has("thread_id"):
        return Delivery(ignored="a user added to an inactive chat changes no figure")
    agent = user.text("id")
    if is_bot(agent):
        return Delivery(ignored="a bot added to a chat: ChatPulse has no way back to the bot")
    if user.value.get("visibility") == "agents":
        return Delivery(
            ignored="an agent added to supervise (visible to agents only) takes no chat"
        )
    at = _received_at(headers)
    fact = _chat(body).fact(f"joined:{agent}", "chat.accepted", at, agentId=agent)
    return _delivery([fact], {agent: user.opt_text("name")})


def _transferred(body: Node, headers: Mapping[str, str]) -> Delivery:
    if not body.has("thread_id"):
        return Delivery(ignored="a transfer of an inactive chat changes no figure")
    chat = _chat(body)
    target = body.child("transferred_to")
    groups = [str(group) for group in target.integers("group_ids")]
    people = [agent for agent in target.texts("agent_ids") if not is_bot(agent)]
    queue = body.opt_child("queue")
    # queued_at (queued_at_us in v3.5) may be when the customer's wait began rather than this
    # transfer: it only makes the key of a queued transfer more particular.
    queued_at = queue and (queue.opt_text("queued_at") or queue.opt_text("queued_at_us"))
    suffix = f":{queued_at}" if queued_at else ""
    at = _received_at(headers)
    requester = body.opt_text("requester_id")
    if requester is not None and is_bot(requester):
        # The bot hands the chat over: to a queue, or straight to a person who takes it.
        route = {"departmentId": groups[0]} if groups else {}
        if not groups and people and queue is not None:
            route = {"agentId": people[0]}
        facts = [chat.fact(f"handoff{suffix}", "chat.queued", at, **route)]
        if people and queue is None:
            facts.append(chat.fact(f"joined:{people[0]}", "chat.accepted", at, agentId=people[0]))
        return _delivery(facts)
    if people and queue is None:
        key = f"transfer:agent:{people[0]}"
        return _delivery([chat.fact(key, "chat.transferred", at, toAgentId=people[0])])
    if groups:
        key = f"transfer:group:{groups[0]}{suffix}"
        return _delivery([chat.fact(key, "chat.transferred", at, toDepartmentId=groups[0])])
    if people:
        key = f"queued:agent:{people[0]}{suffix}"
        return _delivery([chat.fact(key, "chat.queued", at, agentId=people[0])])
    return Delivery(ignored="a transfer to no group and no person")


def _deactivated(body: Node, headers: Mapping[str, str]) -> Delivery:
    return Delivery(facts=(_chat(body).fact("ended", "chat.ended", _received_at(headers)),))


def _thread_properties(body: Node, headers: Mapping[str, str]) -> Delivery:
    rating = body.child("properties").opt_child("rating")
    if rating is None or not rating.has("score"):
        return Delivery(ignored="no rating score among the updated thread properties")
    score = rating.integer("score")
    if score not in SCORES:
        raise PayloadError(rating.at("score"), "must be 0 (thumbs down) or 1 (thumbs up)")
    at = _received_at(headers)
    return Delivery(
        facts=(_chat(body).fact(f"rated:{score}", "chat.rated", at, score=SCORES[score]),)
    )


def status_word(status: str, field_name: str) -> str:
    """online, away or offline for a LiveChat routing status, written with spaces or underscores."""
    word = STATUS_WORDS.get(status.replace("_", " "))
    if word is None:
        raise PayloadError(field_name, f"unknown routing status {status!r}")
    return word


def _routing_status(body: Node, headers: Mapping[str, str]) -> Delivery:
    agent = body.text("agent_id")
    status = status_word(body.text("status"), body.at("status"))
    if is_bot(agent):
        return Delivery(ignored="a bot's routing status: bots are not agents in ChatPulse")
    at = _received_at(headers)
    fact = Fact(
        key=f"routing:{agent}:{status}:{at.isoformat()}",
        type="agent.status_changed",
        occurred_at=at,
        data={"agentId": agent, "statusId": status},
    )
    return _delivery([fact])


_MAPPERS: Mapping[str, Callable[[Node, Mapping[str, str]], Delivery]] = {
    "incoming_chat": _incoming_chat,
    "incoming_event": _incoming_event,
    "user_added_to_chat": _user_added,
    "chat_transferred": _transferred,
    "chat_deactivated": _deactivated,
    "thread_properties_updated": _thread_properties,
    "routing_status_set": _routing_status,
}


def map_delivery(payload: object, headers: Mapping[str, str]) -> Delivery:
    """The facts of one webhook delivery (the parsed JSON body). PayloadError names the field
    that is not as LiveChat documents it; an action ChatPulse does not use is `ignored`."""
    envelope = Node.of(payload, "")
    action = envelope.text("action")
    mapper = _MAPPERS.get(action)
    if mapper is None:
        return Delivery(ignored=f"LiveChat's {action} webhook changes no ChatPulse figure")
    return mapper(envelope.child("payload"), headers)


# --- the APIs' answers ---------------------------------------------------------------------------


def _answer(body: object) -> list[Node]:
    if not isinstance(body, list):
        raise PayloadError("body", "must be an array")
    return [Node.of(item, f"[{i}]") for i, item in enumerate(body)]


def parse_agents(body: object) -> list[AgentInfo]:
    """Configuration API `list_agents`, asked for the `groups` and `max_chats_count` fields."""
    agents = []
    for node in _answer(body):
        agent_id = node.text("id")
        groups = None
        if node.has("groups"):
            groups = tuple(str(group.integer("id")) for group in node.children("groups"))
        agents.append(
            AgentInfo(
                key=agent_id,
                display_name=node.opt_text("name") or agent_id,
                email=agent_id if "@" in agent_id else None,
                department_keys=groups,
                max_concurrent_chats=node.opt_integer("max_chats_count"),
            )
        )
    return agents


def parse_groups(body: object) -> list[TeamInfo]:
    """Configuration API `list_groups`."""
    teams = []
    for node in _answer(body):
        group = str(node.integer("id"))
        teams.append(TeamInfo(key=group, name=node.opt_text("name") or f"Group {group}"))
    return teams


def parse_routing_statuses(body: object) -> list[tuple[str, str]]:
    """Agent Chat API `list_routing_statuses`: (agent id, status word) for each person (bots
    left out, as in `routing_status_set`)."""
    statuses = []
    for node in _answer(body):
        agent = node.text("agent_id")
        word = status_word(node.text("status"), node.at("status"))
        if not is_bot(agent):
            statuses.append((agent, word))
    return statuses


# --- set-up --------------------------------------------------------------------------------------


def _register_command(api: str, webhook_url: str, secret: str, client_id: str) -> list[str]:
    """A shell loop registering every action; the JSON built by json.dumps, quoted for sh."""
    body = json.dumps(
        {
            "action": "ACTION",
            "type": "license",
            "url": webhook_url,
            "secret_key": secret,
            "owner_client_id": client_id,
        }
    )
    before, after = body.split('"ACTION"')
    data = shlex.quote(before + '"') + '"$action"' + shlex.quote('"' + after)
    return [
        f"   for action in {' '.join(ACTIONS)}; do",
        f"     curl -X POST {api}/configuration/action/register_webhook \\",
        "       -u '<Account ID>:<Personal Access Token>' \\",
        "       -H 'Content-Type: application/json' \\",
        f"       -d {data}",
        "   done",
    ]


def setup_text(webhook_url: str, settings: ConnectorSettings) -> str:
    """The steps that make LiveChat send its webhooks to `webhook_url` (options: `client_id`,
    the app owning the webhooks; `api_version`, 3.6 unless said)."""
    version = settings.options.get("api_version", DEFAULT_API_VERSION)
    api = f"{(settings.api_url or DEFAULT_API_URL).rstrip('/')}/v{version}"
    client_id = settings.options.get("client_id", "<Client ID of your app>")
    secret = settings.signing_secret or "<a secret of your choice>"
    lines = [
        f"LiveChat sends each webhook to the URLs registered for its action: {webhook_url}",
        "",
        "1. In the Developer Console (https://platform.text.com/console/), create an app",
        "   (Apps > Create new app) and copy its Client ID.",
        "2. In Settings > Authorization > Personal Access Tokens, create a token with the scopes",
        "   webhooks.configuration:rw and webhooks.state:rw (to register the webhooks) and",
        "   agents--all:ro, groups--all:ro, agents-bot--all:ro (for ChatPulse to read agents,",
        "   groups and routing statuses). Keep the Account ID and the token.",
        "3. Register one webhook of type license for each of these actions, with the URL above and",
        "   the same secret key:",
        *(f"     {action}" for action in ACTIONS),
        "   either in the app's Chat Webhooks building block (Webhook URL, Secret key, type",
        "   license, one trigger per webhook), or with the Configuration API:",
        "",
        *_register_command(api, webhook_url, secret, client_id),
        "",
        "4. Install the app on your license (the app's Private installation tab > Install app):",
        "   LiveChat turns an app's license webhooks on where the app is installed. If they were",
        "   turned off, turn them on again with:",
        "",
        f"   curl -X POST {api}/configuration/action/enable_license_webhooks \\",
        "     -u '<Account ID>:<Personal Access Token>' \\",
        "     -H 'Content-Type: application/json' \\",
        f"     -d {shlex.quote(json.dumps({'owner_client_id': client_id}))}",
        "",
    ]
    if settings.signing_secret:
        lines.append(
            "ChatPulse refuses a delivery whose secret_key is not this connector's secret."
        )
    else:
        lines += [
            "No signing secret is configured: ChatPulse checks only the secret in the URL. Set the",
            "connector's signing secret to the secret key you chose to check it as well.",
        ]
    return "\n".join(lines) + "\n"
