"""Chatwoot's webhooks as facts (pure): docs/connectors.md, "Chatwoot", has the mapping table.

Shapes: Chatwoot's webhook events page (https://www.chatwoot.com/hc/user-guide/articles/
1677693021-how-to-use-webhooks, and chatwoot/docs `webhook-events.md`) and the presenters its
webhook listener sends (`Conversations::EventDataPresenter#push_data` for conversations, with
`changed_attributes` on `conversation_updated`; `Message#webhook_data` for messages). A
conversation (its `id`, the display id, unique in the account) is a ChatPulse chat, its contact
the visitor, its assignee the agent, its team the department. Chatwoot sends no webhook for an
agent's availability: the connector reads it from the API (`parse_agents`, chatwoot_api.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping

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

SIGNATURE_HEADER = "x-chatwoot-signature"
TIMESTAMP_HEADER = "x-chatwoot-timestamp"
DELIVERY_HEADER = "x-chatwoot-delivery"
MAX_SIGNATURE_AGE_S = 300  # a signed delivery older than this (or as far ahead) is a replay
# API availability_status -> ChatPulse's built-in status.
AVAILABILITY = {"online": "online", "busy": "away", "offline": "offline"}


# --- authentication ------------------------------------------------------------------------------


def authenticate(
    headers: Mapping[str, str], body: bytes, settings: ConnectorSettings
) -> str | None:
    """With a signing secret: `X-Chatwoot-Signature` must be `sha256=` and the hex HMAC-SHA256
    of `<X-Chatwoot-Timestamp>.<body>` under the secret, and the timestamp within 5 minutes of
    the time of receipt. Without one: None (the URL secret is then the only check)."""
    if not settings.signing_secret:
        return None
    signature = headers.get(SIGNATURE_HEADER)
    stamp = headers.get(TIMESTAMP_HEADER)
    if not signature or not stamp:
        return "X-Chatwoot-Signature and X-Chatwoot-Timestamp are required"
    digest = hmac.new(settings.signing_secret.encode(), stamp.encode() + b"." + body, "sha256")
    if not hmac.compare_digest(signature.encode(), b"sha256=" + digest.hexdigest().encode()):
        return "X-Chatwoot-Signature does not match the body"
    received = headers.get(RECEIVED_AT_HEADER)
    if received is not None:
        try:
            age = instant(received, RECEIVED_AT_HEADER).timestamp() - int(stamp)
        except (PayloadError, ValueError):
            return "X-Chatwoot-Timestamp must be whole seconds since the epoch"
        if abs(age) > MAX_SIGNATURE_AGE_S:
            return "X-Chatwoot-Timestamp is more than 5 minutes from now (a replay?)"
    return None


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The signature Chatwoot sends (for tests and the simulator)."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


# --- times ---------------------------------------------------------------------------------------


def _time(node: Node, name: str) -> dt.datetime:
    """Chatwoot writes times as unix seconds (conversations), Rails JSON text
    ("2026-11-29T09:30:00.000Z", messages) or "2026-11-29 09:30:00 UTC" (older versions)."""
    value = node.value.get(name)
    where = node.at(name)
    if isinstance(value, bool) or value is None:
        raise PayloadError(where, "must be a time")
    if isinstance(value, int | float):
        try:
            return dt.datetime.fromtimestamp(value, dt.UTC)
        except (OverflowError, OSError, ValueError):
            raise PayloadError(where, "must be a time") from None
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(" UTC"):
            text = text[:-4].replace(" ", "T") + "+00:00"
        return instant(text.replace("Z", "+00:00"), where)
    raise PayloadError(where, "must be a time")


def _received(headers: Mapping[str, str]) -> dt.datetime | None:
    value = headers.get(RECEIVED_AT_HEADER)
    return None if value is None else instant(value, f"headers.{RECEIVED_AT_HEADER}")


def _changed_at(conv: Node, headers: Mapping[str, str]) -> dt.datetime:
    """When a conversation changed: `updated_at` (newer versions), else its last activity
    (`timestamp`), else the time of receipt."""
    for name in ("updated_at", "timestamp", "last_activity_at"):
        if conv.has(name):
            return _time(conv, name)
    received = _received(headers)
    if received is None:
        raise PayloadError(conv.at("timestamp"), "is required")
    return received


# --- the mapping ---------------------------------------------------------------------------------


def _key(value: object, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        raise PayloadError(where, "must be an id")
    return str(value)


class _Conversation:
    """A conversation payload: its chat id, contact, team and assignee."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.id = _key(node.value.get("id"), node.at("id"))
        meta = node.opt_child("meta")
        sender = meta.opt_child("sender") if meta else None
        contact = sender.value.get("id") if sender else None
        if contact is None and node.has("contact_inbox"):
            contact = node.child("contact_inbox").value.get("contact_id")
        self.visitor = None if contact is None else _key(contact, node.at("meta.sender.id"))
        team = meta.opt_child("team") if meta else None
        self.team: TeamInfo | None = None
        if team is not None:
            key = _key(team.value.get("id"), team.at("id"))
            self.team = TeamInfo(key, str(team.value.get("name") or f"Team {key}"))
        assignee = meta.opt_child("assignee") if meta else None
        self.assignee: AgentInfo | None = None
        # Chatwoot's assignee may be an agent bot (`assignee_type` AgentBot, `type` agent_bot):
        # only a user (a person) takes a chat.
        if assignee is not None and assignee.value.get("type", "user") == "user":
            self.assignee = _agent(assignee)

    def fact(self, key: str, kind: str, at: dt.datetime, **data: str | int | None) -> Fact:
        return Fact(
            f"conversation:{self.id}:{key}",
            kind,
            at,
            {"chatId": self.id, **data},
            visitor=self.visitor,
            department=None if self.team is None else self.team.key,
        )

    def delivery(self, facts: list[Fact], delivery_id: str | None) -> Delivery:
        return Delivery(
            tuple(facts),
            agents=() if self.assignee is None else (self.assignee,),
            teams=() if self.team is None else (self.team,),
            delivery_id=delivery_id,
        )


def _agent(node: Node) -> AgentInfo:
    key = _key(node.value.get("id"), node.at("id"))
    name = node.value.get("available_name") or node.value.get("name")
    email = node.value.get("email")
    return AgentInfo(
        key,
        str(name) if isinstance(name, str) and name.strip() else f"Agent {key}",
        email if isinstance(email, str) and "@" in email else None,
    )


def map_delivery(payload: object, headers: Mapping[str, str]) -> Delivery:
    """The facts of one Chatwoot webhook (docs/connectors.md, the Chatwoot table)."""
    body = Node.of(payload, "")
    event = body.text("event")
    delivery_id = headers.get(DELIVERY_HEADER)
    if event == "conversation_created":
        return _created(body, delivery_id)
    if event == "conversation_status_changed":
        return _status_changed(body, headers, delivery_id)
    if event == "conversation_updated":
        return _updated(body, headers, delivery_id)
    if event == "message_created":
        return _message(body, delivery_id)
    if event == "message_updated":
        return _rating(body, headers, delivery_id)
    if event == "webwidget_triggered":
        return Delivery(
            ignored="a widget opened: Chatwoot never says when the visitor leaves, so visitors"
            " on site cannot be known",
            delivery_id=delivery_id,
        )
    return Delivery(ignored=f"{event} is not used by the connector", delivery_id=delivery_id)


def _created(body: Node, delivery_id: str | None) -> Delivery:
    c = _Conversation(body)
    at = _time(body, "created_at") if body.has("created_at") else _time(body, "timestamp")
    team = None if c.team is None else c.team.key
    if c.visitor is None:
        raise PayloadError("meta.sender.id", "is required")
    status = body.text("status")
    if status not in ("open", "pending"):  # a blocked contact's is resolved at once
        return Delivery(
            ignored=f"a conversation created {status}: it never waited for anyone",
            delivery_id=delivery_id,
        )
    if status == "pending":  # with the inbox's agent bot
        bot = f"inbox-{body.value.get('inbox_id')}-bot"
        start = c.fact("created", "chat.requested", at, visitorId=c.visitor, botId=bot)
        return c.delivery([start], delivery_id)
    facts = [c.fact("created", "chat.requested", at, visitorId=c.visitor, departmentId=team)]
    if c.assignee is not None:
        assigned = f"assignee:{c.assignee.key}:{int(at.timestamp())}"
        facts.append(c.fact(assigned, "chat.accepted", at, agentId=c.assignee.key))
    return c.delivery(facts, delivery_id)


def _status_changed(body: Node, headers: Mapping[str, str], delivery_id: str | None) -> Delivery:
    c = _Conversation(body)
    at = _changed_at(body, headers)
    status = body.text("status")
    stamp = int(at.timestamp() * 1000)
    if status == "resolved":
        return c.delivery([c.fact(f"resolved:{stamp}", "chat.ended", at)], delivery_id)
    # A payload without changed_attributes (older versions) says only the new status.
    before = _changes(body, "previous_value").get("status", "pending")
    if status == "open" and before != "pending":
        # snoozed -> open changes nothing; resolved -> open reopens an ended chat, which
        # ChatPulse cannot (its messages after the end are dropped).
        return Delivery(
            ignored=f"{before} -> open: not a hand-off from the bot", delivery_id=delivery_id
        )
    if status == "open":  # the bot handed over (pending -> open)
        team = None if c.team is None else c.team.key
        queued = c.fact(f"open:{stamp}", "chat.queued", at, departmentId=team)
        facts = [queued]
        if c.assignee is not None:
            assigned = f"assignee:{c.assignee.key}:{stamp}"
            facts.append(c.fact(assigned, "chat.accepted", at, agentId=c.assignee.key))
        return c.delivery(facts, delivery_id)
    return Delivery(
        ignored=f"status {status}: no change of a chat's state in ChatPulse",
        delivery_id=delivery_id,
    )


def _changes(body: Node, side: str = "current_value") -> dict[str, object]:
    """`changed_attributes` ([{name: {previous_value, current_value}}]) as {name: value},
    the current values (or, with `side` previous_value, the previous ones)."""
    out: dict[str, object] = {}
    for i, item in enumerate(body.items("changed_attributes")):
        entry = Node.of(item, f"changed_attributes[{i}]")
        for name, change in entry.value.items():
            out[name] = Node.of(change, entry.at(name)).value.get(side)
    return out


def _updated(body: Node, headers: Mapping[str, str], delivery_id: str | None) -> Delivery:
    c = _Conversation(body)
    changes = _changes(body)
    at = _changed_at(body, headers)
    stamp = int(at.timestamp() * 1000)
    facts: list[Fact] = []
    if "assignee_id" in changes:
        agent = changes["assignee_id"]
        if agent is not None:
            key = _key(agent, "changed_attributes.assignee_id.current_value")
            facts.append(c.fact(f"assignee:{key}:{stamp}", "chat.accepted", at, agentId=key))
        elif "team_id" in changes and changes["team_id"] is not None:
            team = _key(changes["team_id"], "changed_attributes.team_id.current_value")
            facts.append(
                c.fact(f"team:{team}:{stamp}", "chat.transferred", at, toDepartmentId=team)
            )
    elif "team_id" in changes and changes["team_id"] is not None and c.assignee is None:
        team = _key(changes["team_id"], "changed_attributes.team_id.current_value")
        facts.append(c.fact(f"team:{team}:{stamp}", "chat.queued", at, departmentId=team))
    if not facts:
        return Delivery(
            ignored="no change of assignee or of an unassigned conversation's team",
            delivery_id=delivery_id,
        )
    return c.delivery(facts, delivery_id)


def _message(body: Node, delivery_id: str | None) -> Delivery:
    if body.value.get("private") is True:
        return Delivery(ignored="a private note", delivery_id=delivery_id)
    kind = body.value.get("message_type")
    kinds = {0: "incoming", 1: "outgoing", 2: "activity", 3: "template"}
    kind = kinds.get(kind, kind) if isinstance(kind, int) else kind
    if kind not in ("incoming", "outgoing"):
        article = "an" if str(kind)[:1] in "aeiou" else "a"
        return Delivery(ignored=f"{article} {kind} message", delivery_id=delivery_id)
    c = _Conversation(body.child("conversation"))
    sender_node = body.opt_child("sender")
    sender_type = sender_node.value.get("type") if sender_node else None
    if kind == "incoming":
        sender = "visitor"
    elif sender_type == "user":
        sender = "agent"
    else:
        sender = "bot"
    message = _key(body.value.get("id"), "id")
    fact = Fact(
        f"message:{message}",
        "chat.message",
        _time(body, "created_at"),
        {"chatId": c.id, "sender": sender},
        visitor=c.visitor,
        department=None if c.team is None else c.team.key,
    )
    return c.delivery([fact], delivery_id)


def _rating(body: Node, headers: Mapping[str, str], delivery_id: str | None) -> Delivery:
    attributes = body.opt_child("content_attributes")
    submitted = attributes.opt_child("submitted_values") if attributes else None
    response = submitted.opt_child("csat_survey_response") if submitted else None
    if body.value.get("content_type") != "input_csat" or response is None:
        return Delivery(ignored="a message update that is no rating", delivery_id=delivery_id)
    rating = response.integer("rating")
    if not 1 <= rating <= 5:
        raise PayloadError(response.at("rating"), "must be an integer from 1 to 5")
    c = _Conversation(body.child("conversation"))
    at = _received(headers) or _time(body, "created_at")
    message = _key(body.value.get("id"), "id")
    fact = c.fact(f"csat:{message}:{rating}", "chat.rated", at, score=rating)
    return Delivery((fact,), delivery_id=delivery_id)


# --- the API's answers ---------------------------------------------------------------------------


def parse_agents(body: object) -> list[tuple[AgentInfo, str]]:
    """`GET /api/v1/accounts/{account_id}/agents`: each agent with its status word."""
    if not isinstance(body, list):
        raise PayloadError("body", "must be an array of agents")
    out: list[tuple[AgentInfo, str]] = []
    for i, item in enumerate(body):
        node = Node.of(item, f"[{i}]")
        availability = node.text("availability_status")
        if availability not in AVAILABILITY:
            raise PayloadError(node.at("availability_status"), "must be online, busy or offline")
        out.append((_agent(node), AVAILABILITY[availability]))
    return out


def parse_teams(body: object) -> list[TeamInfo]:
    """`GET /api/v1/accounts/{account_id}/teams`."""
    if not isinstance(body, list):
        raise PayloadError("body", "must be an array of teams")
    teams: list[TeamInfo] = []
    for i, item in enumerate(body):
        node = Node.of(item, f"[{i}]")
        key = _key(node.value.get("id"), node.at("id"))
        teams.append(TeamInfo(key, node.opt_text("name") or f"Team {key}"))
    return teams


def setup_text(webhook_url: str, settings: ConnectorSettings) -> str:
    """What to enter in Chatwoot."""
    lines = [
        "In Chatwoot: Settings > Integrations > Webhooks > Configure > Add new webhook.",
        f"  Webhook URL: {webhook_url}",
        "  Events to subscribe: Conversation Created, Conversation Status Changed,",
        "  Conversation Updated, Message Created, Message Updated.",
    ]
    if settings.signing_secret:
        lines.append(
            "  Signing: the webhook's secret must be the one given to ChatPulse"
            " (--signing-secret); deliveries without a valid X-Chatwoot-Signature are refused."
        )
    if settings.api_url and settings.api_token:
        lines.append(
            f"Agent availability is read from {settings.api_url} (account"
            f" {settings.account_id}) with the access token given (Profile settings > Access"
            " Token; an administrator's token lists every agent)."
        )
    else:
        lines.append(
            "Agent availability: Chatwoot sends no webhook for it. Give --api-url, --api-token"
            " and --account-id to read it from Chatwoot's API every 30 s."
        )
    return "\n".join(lines)
