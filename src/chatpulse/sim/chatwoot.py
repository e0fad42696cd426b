"""A simulated Chatwoot account: the simulator's traffic as Chatwoot's webhooks, and the part of
Chatwoot's Application API the connector reads (agents with their availability, teams).

Used by `chatpulse demo --connector chatwoot` and the connector benchmark. The model
(sim/model.py) runs on a roster whose ids are Chatwoot's (user ids, team ids, as text); each of
its events becomes the webhook Chatwoot sends for the same change (docs/connectors.md, shapes of
Chatwoot's `Conversations::EventDataPresenter` and `Message#webhook_data`), and agents' status
changes become their `availability_status` in the API (Chatwoot sends no webhook for it).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from chatpulse.domain.events import Event
from chatpulse.domain.timeutil import from_micros
from chatpulse.sim.plan import Plan, Roster, RosterAgent

# The roster's status ids: Chatwoot has three availabilities; breaks are "busy".
AVAILABILITY = {"online": "online", "away": "busy", "lunch": "busy", "meeting": "busy"}
ACCOUNT = {"id": 1, "name": "Demo account"}
INBOX = {"id": 1, "name": "Website"}


@dataclass(slots=True)
class _Conversation:
    display_id: int
    contact_id: int
    created_at: int  # unix seconds
    status: str = "open"
    assignee: int | None = None
    team: int | None = None
    accepted: bool = False


@dataclass(slots=True)
class Account:
    """One Chatwoot account: its users, teams, contacts and conversations as the model moves."""

    plan: Plan
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    teams: dict[int, str] = field(default_factory=dict)
    members: dict[int, list[int]] = field(default_factory=dict)
    _conversations: dict[str, _Conversation] = field(default_factory=dict)
    _contacts: dict[str, int] = field(default_factory=dict)
    _next: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        for n, name in enumerate(self.plan.departments, 1):
            self.teams[n] = name
            self.members[n] = []
        for n, agent in enumerate(self.plan.agents, 1):
            self.users[n] = {
                "id": n,
                "name": agent.display_name,
                "available_name": agent.display_name,
                "email": agent.email,
                "availability_status": "offline",
            }
            for d in agent.departments:
                self.members[d + 1].append(n)

    @property
    def roster(self) -> Roster:
        """The model's roster, in Chatwoot's ids."""
        return Roster(
            tuple(str(n) for n in self.teams),
            tuple(
                RosterAgent(
                    str(n), tuple(str(d + 1) for d in a.departments), a.max_concurrent_chats
                )
                for n, a in enumerate(self.plan.agents, 1)
            ),
            lunch_status_id="lunch",
            meeting_status_id="meeting",
            online_status_id="online",
            away_status_id="away",
            offline_status_id="offline",
        )

    # ------------------------------------------------------------------ webhooks

    def webhooks(self, event: Event) -> list[dict[str, Any]]:
        """The webhook payloads Chatwoot sends for this change (none for some)."""
        with self._lock:
            return self._webhooks(event)

    def _webhooks(self, event: Event) -> list[dict[str, Any]]:
        data, at = event.data, event.occurred_at
        kind = event.type
        if kind == "agent.status_changed":
            status = AVAILABILITY.get(data["statusId"], "offline")
            self.users[int(data["agentId"])]["availability_status"] = status
            return []
        if kind == "visitor.arrived":
            contact = self._contact(data["visitorId"])
            return [{"event": "webwidget_triggered", "id": contact, **self._widget(contact, at)}]
        if not kind.startswith("chat.") or kind == "chat.missed":
            return []
        chat_id = data["chatId"]
        if kind == "chat.requested":
            team = data.get("departmentId")
            conversation = self._conversations[chat_id] = _Conversation(
                next(self._next),
                self._contact(data["visitorId"]),
                at // 1_000_000,
                status="pending" if data.get("botId") else "open",
                team=int(team) if team else None,
            )
            return [self._conversation("conversation_created", conversation, at)]
        found = self._conversations.get(chat_id)
        if found is None:
            return []
        conversation = found
        if kind == "chat.message":
            return [self._message(conversation, data["sender"], at)]
        if kind == "chat.queued":
            changed: list[dict[str, Any]] = []
            if conversation.status == "pending":
                conversation.status = "open"
                changed.append(self._status_changed(conversation, at, "pending"))
            team = data.get("departmentId")
            if team is not None and int(team) != conversation.team:
                before = conversation.team
                conversation.team = int(team)
                changed.append(
                    self._updated(conversation, at, "team_id", before, conversation.team)
                )
            return changed
        if kind in ("chat.accepted", "chat.transferred"):
            out: list[dict[str, Any]] = []
            to_team = data.get("toDepartmentId")
            if to_team is not None:
                before_assignee = conversation.assignee
                conversation.assignee = None
                out.append(self._updated(conversation, at, "assignee_id", before_assignee, None))
                before_team = conversation.team
                conversation.team = int(to_team)
                out.append(
                    self._updated(conversation, at, "team_id", before_team, conversation.team)
                )
                return out
            agent = int(data.get("agentId") or data["toAgentId"])
            before = conversation.assignee
            conversation.assignee = agent
            conversation.accepted = True
            return [self._updated(conversation, at, "assignee_id", before, agent)]
        if kind in ("chat.ended", "chat.abandoned", "chat.switched_to_message"):
            before_status = conversation.status
            conversation.status = "resolved"
            return [self._status_changed(conversation, at, before_status)]
        if kind == "chat.rated":
            return [self._rating(conversation, int(data["score"]), at)]
        return []

    def _contact(self, visitor_id: str) -> int:
        contact = self._contacts.get(visitor_id)
        if contact is None:
            contact = self._contacts[visitor_id] = len(self._contacts) + 1
        return contact

    def _contact_data(self, contact: int) -> dict[str, Any]:
        return {
            "additional_attributes": {},
            "custom_attributes": {},
            "email": None,
            "id": contact,
            "identifier": None,
            "name": f"visitor-{contact}",
            "phone_number": None,
            "thumbnail": "",
            "type": "contact",
        }

    def _widget(self, contact: int, at: int) -> dict[str, Any]:
        return {
            "contact": self._contact_data(contact),
            "inbox": INBOX,
            "account": ACCOUNT,
            "current_conversation": None,
            "source_id": f"source-{contact}",
            "event_info": {
                "initiated_at": {"timestamp": _text(at)},
                "referer": "https://shop.example.com/",
                "widget_language": "en",
                "browser_language": "en",
                "browser": {"browser_name": "Chrome", "platform_name": "Linux"},
            },
        }

    def _user(self, user: int | None) -> dict[str, Any] | None:
        if user is None:
            return None
        u = self.users[user]
        return {
            "id": user,
            "name": u["name"],
            "available_name": u["available_name"],
            "avatar_url": "",
            "type": "user",
            "availability_status": u["availability_status"],
            "thumbnail": "",
        }

    def _conversation_data(self, c: _Conversation, at: int) -> dict[str, Any]:
        seconds = at // 1_000_000
        team = None if c.team is None else {"id": c.team, "name": self.teams[c.team]}
        return {
            "additional_attributes": {},
            "can_reply": True,
            "channel": "Channel::WebWidget",
            "contact_inbox": {
                "id": c.contact_id,
                "contact_id": c.contact_id,
                "inbox_id": INBOX["id"],
                "source_id": f"source-{c.contact_id}",
                "created_at": _text(c.created_at * 1_000_000),
                "updated_at": _text(c.created_at * 1_000_000),
                "hmac_verified": False,
                "pubsub_token": f"pubsub-{c.contact_id}",
            },
            "id": c.display_id,
            "inbox_id": INBOX["id"],
            "messages": [],
            "labels": [],
            "meta": {
                "sender": self._contact_data(c.contact_id),
                "assignee": self._user(c.assignee),
                "assignee_type": None if c.assignee is None else "User",
                "team": team,
                "hmac_verified": False,
            },
            "status": c.status,
            "custom_attributes": {},
            "snoozed_until": None,
            "unread_count": 0,
            "first_reply_created_at": None,
            "priority": None,
            "waiting_since": 0 if c.accepted else c.created_at,
            "agent_last_seen_at": 0,
            "contact_last_seen_at": 0,
            "last_activity_at": seconds,
            "timestamp": seconds,
            "created_at": c.created_at,
            "updated_at": at / 1_000_000,
        }

    def _conversation(self, event: str, c: _Conversation, at: int) -> dict[str, Any]:
        return {"event": event, **self._conversation_data(c, at)}

    def _status_changed(self, c: _Conversation, at: int, before: str) -> dict[str, Any]:
        return {
            "event": "conversation_status_changed",
            **self._conversation_data(c, at),
            "changed_attributes": [
                {"status": {"previous_value": before, "current_value": c.status}}
            ],
        }

    def _updated(
        self, c: _Conversation, at: int, attribute: str, before: int | None, after: int | None
    ) -> dict[str, Any]:
        return {
            "event": "conversation_updated",
            **self._conversation_data(c, at),
            "changed_attributes": [{attribute: {"previous_value": before, "current_value": after}}],
        }

    def _message(self, c: _Conversation, sender: str, at: int) -> dict[str, Any]:
        message_id = next(self._next)
        who: dict[str, Any] | None
        if sender == "visitor":
            kind, who = "incoming", self._contact_data(c.contact_id)
        elif sender == "agent" and c.assignee is not None:
            kind, who = "outgoing", self._user(c.assignee)
        else:
            kind, who = "outgoing", {"id": 1, "name": "Demo bot", "type": "agent_bot"}
        return {
            "event": "message_created",
            "account": ACCOUNT,
            "additional_attributes": {},
            "content_attributes": {},
            "content_type": "text",
            "content": "…",
            "conversation": self._conversation_data(c, at),
            "created_at": _text(at),
            "id": message_id,
            "inbox": INBOX,
            "message_type": kind,
            "private": False,
            "sender": who,
            "source_id": None,
        }

    def _rating(self, c: _Conversation, score: int, at: int) -> dict[str, Any]:
        message_id = next(self._next)
        return {
            "event": "message_updated",
            "account": ACCOUNT,
            "additional_attributes": {},
            "content_attributes": {
                "submitted_values": {
                    "csat_survey_response": {"rating": score, "feedback_message": ""}
                }
            },
            "content_type": "input_csat",
            "content": "Please rate this conversation",
            "conversation": self._conversation_data(c, at),
            "created_at": _text(at),
            "id": message_id,
            "inbox": INBOX,
            "message_type": "template",
            "private": False,
            "sender": None,
            "source_id": None,
        }

    # ------------------------------------------------------------------ the API

    def api_agents(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {
                    "id": n,
                    "account_id": ACCOUNT["id"],
                    "availability_status": u["availability_status"],
                    "auto_offline": True,
                    "confirmed": True,
                    "email": u["email"],
                    "available_name": u["available_name"],
                    "name": u["name"],
                    "role": "agent",
                    "thumbnail": "",
                    "custom_role_id": None,
                }
                for n, u in self.users.items()
            ]

    def api_teams(self) -> list[dict[str, Any]]:
        return [
            {
                "id": n,
                "name": name,
                "description": "",
                "allow_auto_assign": True,
                "account_id": ACCOUNT["id"],
                "is_member": False,
            }
            for n, name in self.teams.items()
        ]

    def api_team_members(self, team: int) -> list[dict[str, Any]] | None:
        if team not in self.members:
            return None
        agents = {a["id"]: a for a in self.api_agents()}
        return [agents[n] for n in self.members[team]]


def _text(micros: int) -> str:
    """Rails' JSON time: 2026-11-29T09:30:00.123Z."""
    moment = from_micros(micros).astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


_PATHS = re.compile(r"^/api/v1/accounts/(\d+)/(agents|teams)(?:/(\d+)/team_members)?/?$")


@contextmanager
def api_server(account: Account, token: str, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve the account's Application API (agents, teams, team members) on a free port of
    `host` while the block runs; yields its base URL. Requests need `api_access_token`."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.headers.get("api_access_token") != token:
                self._send(401, {"error": "Invalid Access Token"})
                return
            match = _PATHS.match(self.path.split("?", 1)[0])
            if match is None or int(match.group(1)) != ACCOUNT["id"]:
                self._send(404, {"error": "Resource could not be found"})
                return
            if match.group(2) == "agents":
                self._send(200, account.api_agents())
            elif match.group(3) is None:
                self._send(200, account.api_teams())
            else:
                members = account.api_team_members(int(match.group(3)))
                if members is None:
                    self._send(404, {"error": "Resource could not be found"})
                else:
                    self._send(200, members)

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    # A short poll interval: the block ends (server.shutdown) within 50 ms.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
