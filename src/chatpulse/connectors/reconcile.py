"""Repairs: a platform's facts fed into the log only as valid transitions (pure).

Webhooks arrive late, twice or out of order, and a platform's idea of a conversation is looser
than METRICS.md §1's state machine. Each fact is checked against the state the projector holds
(the stored state plus the facts before it in the batch) and, where its meaning is clear,
turned into the transition that says the same thing:

- a chat named before its start is requested first (waiting, in the team the fact names);
- an acceptance of a chat with the bot is queued first; of a chat ongoing with another agent it
  is a transfer to that agent; a transfer of a waiting chat is an acceptance (to an agent) or a
  re-route (to a department); a re-route of an ongoing chat is a transfer to the department;
- an end of a chat still waiting, never assigned, is an abandonment;
- a time earlier than the entity's last event is moved up to it (order kept, a second late);
- an agent status equal to the current one, a visitor arriving while on site, the same chat
  accepted again by its agent: nothing new, skipped.

Everything else that the state machine refuses is dropped with its reason (docs/connectors.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from chatpulse.connectors.ids import Ids
from chatpulse.connectors.model import Fact
from chatpulse.domain.chat import BOT, FINAL_STATES, ONGOING, WAITING, ChatRecord
from chatpulse.domain.events import Event
from chatpulse.domain.projector import Projector


@dataclass(frozen=True, slots=True)
class Drop:
    """A fact that could not go into the log, and why."""

    fact_key: str
    type: str
    occurred_at: int | None
    reason: str


@dataclass(slots=True)
class Reconciler:
    """Feeds facts, in time order, into one ingest transaction's projector."""

    projector: Projector
    ids: Ids
    events: list[Event] = field(default_factory=list)
    drops: list[Drop] = field(default_factory=list)
    repairs: int = 0
    skipped: int = 0  # facts that said nothing new (see the module docstring)

    def take(self, fact: Fact, event: Event) -> None:
        """Apply `event` (the fact as an event), repaired if it needs it, or drop it."""
        family = event.type.split(".", 1)[0]
        if family == "chat":
            self._chat(fact, event)
        elif event.type == "agent.status_changed":
            self._status(fact, event)
        elif family == "visitor":
            self._visitor(fact, event)
        else:
            self._apply(fact, event)

    # ---------------------------------------------------------------- chats

    def _chat(self, fact: Fact, event: Event) -> None:
        chat = self.projector.chats.get(event.data["chatId"])
        if chat is None:
            self._new_chat(fact, event)
        else:
            self._not_before(fact, event, chat.last_event_at, self._known_chat)

    def _known_chat(self, fact: Fact, event: Event) -> None:
        chat = self.projector.chats[event.data["chatId"]]
        kind, data, state = event.type, event.data, chat.state
        if state in FINAL_STATES and kind != "chat.rated":
            self._drop(fact, event, f"chat already {state.lower()}")
        elif kind == "chat.requested":
            self._drop(fact, event, "chat already exists")
        elif kind == "chat.accepted":
            self._accepted(fact, event, chat)
        elif kind == "chat.transferred":
            self._transferred(fact, event, chat)
        elif kind == "chat.queued" and state == ONGOING:
            if data.get("departmentId") is None:
                self._drop(fact, event, "a re-route of an ongoing chat names no department")
            else:
                self._repaired(fact, event, "chat.transferred", toDepartmentId=data["departmentId"])
        elif kind == "chat.ended" and state == WAITING:
            self._repaired(fact, event, "chat.abandoned")
        elif kind in ("chat.abandoned", "chat.switched_to_message") and state == ONGOING:
            self._repaired(fact, event, "chat.ended")
        else:
            self._apply(fact, event)

    def _new_chat(self, fact: Fact, event: Event) -> None:
        kind, data = event.type, event.data
        if kind == "chat.requested":
            self._apply(fact, event)
            return
        if kind in ("chat.ended", "chat.abandoned", "chat.switched_to_message", "chat.rated"):
            self._drop(fact, event, "unknown chat: its start was never received")
            return
        department = data.get("departmentId") or data.get("toDepartmentId")
        if department is None and fact.department is not None:
            department = self.ids.of("department", fact.department)
        visitor = self.ids.of("visitor", fact.visitor or f"of-chat-{data['chatId']}")
        start = {"chatId": data["chatId"], "visitorId": visitor}
        if department is not None:
            start["departmentId"] = department
        if not self._repair(fact, event, "chat.requested", "start", start):
            return
        if kind == "chat.queued":
            self.repairs += 1
            return  # the start says where it waits
        chat = self.projector.chats[data["chatId"]]
        if kind == "chat.accepted":
            self._apply(fact, event)
        elif kind == "chat.transferred":
            self._transferred(fact, event, chat)
        else:
            self._apply(fact, event)

    def _accepted(self, fact: Fact, event: Event, chat: ChatRecord) -> None:
        agent = event.data["agentId"]
        if chat.state == ONGOING:
            if chat.agent_id == agent:
                self.skipped += 1
            else:
                self._repaired(fact, event, "chat.transferred", toAgentId=agent)
        elif chat.state == BOT:
            if self._repair(fact, event, "chat.queued", "queued", {"chatId": chat.chat_id}):
                self._apply(fact, event)
        else:
            self._apply(fact, event)

    def _transferred(self, fact: Fact, event: Event, chat: ChatRecord) -> None:
        to_agent, to_department = event.data.get("toAgentId"), event.data.get("toDepartmentId")
        if chat.state == ONGOING:
            if to_agent is not None and to_agent == chat.agent_id:
                self.skipped += 1
            else:
                self._apply(fact, event)
            return
        queued = {"chatId": chat.chat_id}
        if (
            chat.state == BOT
            and to_agent is not None
            and not self._repair(fact, event, "chat.queued", "queued", queued)
        ):
            return
        if to_agent is not None:
            self._repaired(fact, event, "chat.accepted", agentId=to_agent)
        else:
            self._repaired(fact, event, "chat.queued", departmentId=to_department)

    # ---------------------------------------------------------------- agents and visitors

    def _status(self, fact: Fact, event: Event) -> None:
        agent = self.projector.agents.get(event.data["agentId"])
        if agent is not None and agent.status_since is not None:
            if agent.status_id == event.data["statusId"]:
                self.skipped += 1
                return
            self._not_before(fact, event, agent.status_since, self._apply)
            return
        self._apply(fact, event)

    def _visitor(self, fact: Fact, event: Event) -> None:
        visitor = self.projector.visitors.get(event.data["visitorId"])
        arriving = event.type == "visitor.arrived"
        if visitor is None:
            if not arriving:
                self.skipped += 1  # never seen arriving: nothing to undo
                return
        else:
            if visitor.on_site == arriving:
                self.skipped += 1
                return
            self._not_before(fact, event, visitor.last_event_at, self._apply)
            return
        self._apply(fact, event)

    # ---------------------------------------------------------------- the steps

    def _not_before(
        self, fact: Fact, event: Event, last: int, take: Callable[[Fact, Event], None]
    ) -> None:
        """`take` the event, moved up to `last` when it is earlier (the entity's order kept).
        The move is a repair only if the fact is stored; a fact dropped all the same was not
        repaired, and its drop keeps the fact's own time."""
        if event.occurred_at >= last:
            take(fact, event)
            return
        stored, dropped = len(self.events), len(self.drops)
        take(fact, replace(event, occurred_at=last))
        if len(self.drops) > dropped:
            self.drops[dropped:] = [
                replace(d, occurred_at=event.occurred_at) for d in self.drops[dropped:]
            ]
        elif len(self.events) > stored:
            self.repairs += 1

    def _repaired(self, fact: Fact, event: Event, kind: str, **extra: str | None) -> None:
        """The event as another transition that says the same (same id: a redelivery of the
        fact is a duplicate of what was stored)."""
        data = {"chatId": event.data["chatId"]}
        data.update({k: v for k, v in extra.items() if v is not None})
        self.repairs += 1
        self._apply(fact, Event(event.id, kind, event.occurred_at, data))

    def _repair(
        self, fact: Fact, event: Event, kind: str, suffix: str, data: dict[str, str]
    ) -> bool:
        """An event the fact implies, first, at its time; False (the fact dropped) if refused."""
        made = Event(self.ids.event_id(f"{fact.key}#{suffix}"), kind, event.occurred_at, data)
        error = self.projector.apply(made, 0)
        if error is not None:
            self._drop(fact, event, f"{kind} (a repair) refused: {error.field}: {error.message}")
            return False
        self.repairs += 1
        self.events.append(made)
        return True

    def _apply(self, fact: Fact, event: Event) -> None:
        error = self.projector.apply(event, 0)
        if error is None:
            self.events.append(event)
        else:
            self._drop(fact, event, f"{error.field}: {error.message}")

    def _drop(self, fact: Fact, event: Event | None, reason: str) -> None:
        at = event.occurred_at if event is not None else None
        self.drops.append(Drop(fact.key, fact.type, at, reason))
