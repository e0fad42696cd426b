"""Apply events, in order, to the live state: check each against the rules of SPEC.md §4 and
METRICS.md §1 and record what changed, for the store to write in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass, field

from chatpulse.domain.chat import (
    ABANDONED,
    ANSWERED,
    BOT,
    ENDED,
    ONGOING,
    SWITCHED,
    WAIT_ABANDONED,
    WAIT_SWITCHED,
    WAITING,
    AgentLive,
    BusyRecord,
    ChatRecord,
    HandlingRecord,
    InvitationRecord,
    StatusRecord,
    VisitorRecord,
    WaitRecord,
)
from chatpulse.domain.errors import FieldError
from chatpulse.domain.events import Event

_STATE_WORDS = {
    BOT: "with the bot",
    WAITING: "waiting",
    ONGOING: "ongoing",
    ENDED: "ended",
    ABANDONED: "abandoned",
    SWITCHED: "switched to a message",
}


class Rejected(Exception):
    """An event that breaks a rule; carries the field and the reason."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


@dataclass(slots=True)
class Projector:
    """The state a batch is checked against, loaded by the store for the entities it touches.

    `agents` holds every agent of the site that the batch names (None: unknown agent);
    `departments` and `statuses` the known ids. After `apply`, the dirty dictionaries hold
    every record to write.
    """

    chats: dict[str, ChatRecord]
    agents: dict[str, AgentLive]
    known_agents: set[str]
    known_departments: set[str]
    known_statuses: set[str]
    visitors: dict[str, VisitorRecord]
    invitations: dict[str, InvitationRecord]
    dirty_chats: dict[str, ChatRecord] = field(default_factory=dict)
    dirty_agents: dict[str, AgentLive] = field(default_factory=dict)
    dirty_visitors: dict[str, VisitorRecord] = field(default_factory=dict)
    dirty_invitations: dict[str, InvitationRecord] = field(default_factory=dict)
    # chat.missed events: (event id, agent, chat, occurred at), for Agents' missedChats.
    missed: list[tuple[str, str, str, int]] = field(default_factory=list)
    waits: dict[tuple[str, int], WaitRecord] = field(default_factory=dict)
    handlings: dict[tuple[str, int], HandlingRecord] = field(default_factory=dict)
    statuses: dict[tuple[str, int], StatusRecord] = field(default_factory=dict)
    busies: dict[tuple[str, int], BusyRecord] = field(default_factory=dict)
    # Agents whose busy intervals the store must rebuild from their handling intervals,
    # because a handling boundary arrived earlier than one already applied.
    busy_rebuilds: set[str] = field(default_factory=set)

    def apply(self, event: Event, index: int) -> FieldError | None:
        """Check `event` against the current state; apply it if valid, else return the problem."""
        try:
            handler = _HANDLERS[event.type]
            handler(self, event)
        except Rejected as err:
            return FieldError(err.field, err.message, index)
        return None

    # ---------------------------------------------------------------- lookups

    def _known_agent(self, agent_id: str, field_name: str) -> None:
        """Check an agent an event only names (an invitation's, a route target, a missed
        offer's): its state is not touched, so none is made (an empty one made here stayed in
        memory, where the projections never store one)."""
        if agent_id not in self.known_agents:
            raise Rejected(field_name, f"unknown agent {agent_id}")

    def _agent(self, agent_id: str, field_name: str) -> AgentLive:
        self._known_agent(agent_id, field_name)
        live = self.agents.get(agent_id)
        if live is None:
            live = self.agents[agent_id] = AgentLive(agent_id)
        return live

    def _department(self, department_id: str | None, field_name: str) -> None:
        if department_id is not None and department_id not in self.known_departments:
            raise Rejected(field_name, f"unknown department {department_id}")

    def _chat(self, event: Event, allowed: tuple[str, ...]) -> ChatRecord:
        chat_id = event.data["chatId"]
        chat = self.chats.get(chat_id)
        if chat is None:
            raise Rejected("data.chatId", f"unknown chat {chat_id}")
        _in_order(event, chat.last_event_at, "chat", chat_id)
        if chat.state not in allowed:
            wanted = " or ".join(_STATE_WORDS[s] for s in allowed)
            raise Rejected(
                "type",
                f"{event.type} needs a chat {wanted}; chat {chat_id} is {_STATE_WORDS[chat.state]}",
            )
        return chat

    def _touch(self, chat: ChatRecord, event: Event) -> None:
        chat.last_event_at = event.occurred_at
        self.dirty_chats[chat.chat_id] = chat

    # ---------------------------------------------------------------- waits and handling

    def _begin_wait(self, chat: ChatRecord, at: int) -> None:
        chat.wait_no += 1
        chat.wait_started_at = at
        chat.state = WAITING
        self.waits[(chat.chat_id, chat.wait_no)] = WaitRecord(
            chat.chat_id,
            chat.wait_no,
            chat.visitor_id,
            chat.contact_identity_id,
            chat.route_department_id,
            chat.route_agent_id,
            at,
            is_new=True,
        )

    def _current_wait(self, chat: ChatRecord) -> WaitRecord:
        key = (chat.chat_id, chat.wait_no)
        wait = self.waits.get(key)
        if wait is None:
            assert chat.wait_started_at is not None
            wait = self.waits[key] = WaitRecord(
                chat.chat_id,
                chat.wait_no,
                chat.visitor_id,
                chat.contact_identity_id,
                chat.route_department_id,
                chat.route_agent_id,
                chat.wait_started_at,
            )
        return wait

    def _end_wait(self, chat: ChatRecord, at: int, outcome: str) -> None:
        wait = self._current_wait(chat)
        wait.ended_at = at
        wait.outcome = outcome
        if chat.wait_no == 1:
            chat.first_wait_ended_at = at
            chat.first_wait_length = at - wait.started_at
            chat.first_wait_department_id = wait.route_department_id
        chat.wait_started_at = None

    def _start_handling(self, chat: ChatRecord, agent: AgentLive, at: int) -> None:
        chat.handling_no += 1
        chat.agent_id = agent.agent_id
        chat.handler_since = at
        chat.state = ONGOING
        if chat.first_agent_id is None:
            chat.first_agent_id = agent.agent_id
        elif chat.first_agent_id != agent.agent_id:
            chat.multi_agent = True
        self.handlings[(chat.chat_id, chat.handling_no)] = HandlingRecord(
            chat.chat_id, chat.handling_no, agent.agent_id, at, is_new=True
        )
        self._handling_boundary(agent, at)
        if agent.ongoing_chats == 0:
            agent.busy_no += 1
            agent.busy_since = at
            self.busies[(agent.agent_id, agent.busy_no)] = BusyRecord(
                agent.agent_id, agent.busy_no, at, is_new=True
            )
        agent.ongoing_chats += 1
        self.dirty_agents[agent.agent_id] = agent

    def _handling_boundary(self, agent: AgentLive, at: int) -> None:
        """Busy intervals grow in time order; an earlier boundary asks for a rebuild."""
        if at < agent.handled_until:
            self.busy_rebuilds.add(agent.agent_id)
        else:
            agent.handled_until = at

    def _stop_handling(self, chat: ChatRecord, at: int) -> None:
        assert chat.agent_id is not None and chat.handler_since is not None
        key = (chat.chat_id, chat.handling_no)
        record = self.handlings.get(key)
        if record is None:
            record = self.handlings[key] = HandlingRecord(
                chat.chat_id, chat.handling_no, chat.agent_id, chat.handler_since
            )
        record.ended_at = at
        agent = self.agents.get(chat.agent_id)
        if agent is None:  # loaded by the store for every handling agent; be safe all the same
            agent = self.agents[chat.agent_id] = AgentLive(chat.agent_id, is_new=False)
        self._handling_boundary(agent, at)
        agent.ongoing_chats -= 1
        if agent.ongoing_chats == 0 and agent.busy_since is not None:
            busy_key = (agent.agent_id, agent.busy_no)
            busy = self.busies.get(busy_key)
            if busy is None:
                busy = self.busies[busy_key] = BusyRecord(
                    agent.agent_id, agent.busy_no, agent.busy_since
                )
            busy.ended_at = at
            agent.busy_since = None
        self.dirty_agents[agent.agent_id] = agent
        chat.agent_id = None
        chat.handler_since = None

    # ---------------------------------------------------------------- the event types

    def _status_changed(self, event: Event) -> None:
        agent_id, status_id = event.data["agentId"], event.data["statusId"]
        agent = self._agent(agent_id, "data.agentId")
        if status_id not in self.known_statuses:
            raise Rejected("data.statusId", f"unknown agent status {status_id}")
        if agent.status_since is not None:
            _in_order(event, agent.status_since, "agent", agent_id)
        at = event.occurred_at
        if agent.status_id is not None and agent.status_since is not None:
            key = (agent_id, agent.status_no)
            record = self.statuses.get(key)
            if record is None:
                record = self.statuses[key] = StatusRecord(
                    agent_id, agent.status_no, agent.status_id, agent.status_since
                )
            record.ended_at = at
        agent.status_no += 1
        agent.status_id = status_id
        agent.status_since = at
        self.statuses[(agent_id, agent.status_no)] = StatusRecord(
            agent_id, agent.status_no, status_id, at, is_new=True
        )
        self.dirty_agents[agent_id] = agent

    def _visitor_moves(self, event: Event, on_site: bool) -> None:
        """visitor.arrived (`on_site`) or visitor.left: the visitor must be elsewhere before."""
        visitor_id = event.data["visitorId"]
        visitor = self.visitors.get(visitor_id)
        if visitor is not None:
            _in_order(event, visitor.last_event_at, "visitor", visitor_id)
        if (visitor.on_site if visitor is not None else False) == on_site:
            where = "already on site" if on_site else "not on site"
            raise Rejected("data.visitorId", f"visitor {visitor_id} is {where}")
        if visitor is None:
            visitor = self.visitors[visitor_id] = VisitorRecord(
                visitor_id, False, event.occurred_at, is_new=True
            )
        visitor.on_site = on_site
        visitor.last_event_at = event.occurred_at
        if on_site:
            visitor.contact_identity_id = event.data.get("contactIdentityId")
        self.dirty_visitors[visitor_id] = visitor

    def _visitor_arrived(self, event: Event) -> None:
        self._visitor_moves(event, True)

    def _visitor_left(self, event: Event) -> None:
        self._visitor_moves(event, False)

    def _invitation_sent(self, event: Event) -> None:
        invitation_id = event.data["invitationId"]
        if invitation_id in self.invitations:
            raise Rejected("data.invitationId", f"invitation {invitation_id} already exists")
        agent_id = event.data.get("agentId")
        if agent_id is not None:
            self._known_agent(agent_id, "data.agentId")
        self.invitations[invitation_id] = self.dirty_invitations[invitation_id] = InvitationRecord(
            invitation_id,
            event.data["visitorId"],
            agent_id,
            event.occurred_at,
            None,
            event.occurred_at,
            is_new=True,
        )

    def _invitation_accepted(self, event: Event) -> None:
        invitation_id = event.data["invitationId"]
        invitation = self.invitations.get(invitation_id)
        if invitation is None:
            raise Rejected("data.invitationId", f"unknown invitation {invitation_id}")
        _in_order(event, invitation.last_event_at, "invitation", invitation_id)
        if invitation.accepted_at is not None:
            raise Rejected("data.invitationId", f"invitation {invitation_id} was already accepted")
        invitation.accepted_at = invitation.last_event_at = event.occurred_at
        self.dirty_invitations[invitation_id] = invitation

    def _chat_requested(self, event: Event) -> None:
        data = event.data
        chat_id = data["chatId"]
        if chat_id in self.chats:
            raise Rejected("data.chatId", f"chat {chat_id} already exists")
        department_id = data.get("departmentId")
        agent_id = data.get("agentId")
        self._department(department_id, "data.departmentId")
        if agent_id is not None:
            self._known_agent(agent_id, "data.agentId")
        at = event.occurred_at
        chat = ChatRecord(
            chat_id,
            data["visitorId"],
            data.get("contactIdentityId"),
            BOT,
            at,
            at,
            department_id=department_id,
            cohort_department_id=department_id,
            route_department_id=department_id,
            route_agent_id=agent_id,
            is_new=True,
        )
        self.chats[chat_id] = chat
        if data.get("botId") is None:
            self._begin_wait(chat, at)
        self._touch(chat, event)

    def _chat_queued(self, event: Event) -> None:
        chat = self._chat(event, (BOT, WAITING))
        department_id = event.data.get("departmentId")
        agent_id = event.data.get("agentId")
        self._department(department_id, "data.departmentId")
        if agent_id is not None:
            self._known_agent(agent_id, "data.agentId")
        chat.route_department_id = department_id
        chat.route_agent_id = agent_id
        if department_id is not None:
            chat.department_id = department_id
        if chat.state == BOT:
            if chat.wait_no == 0:
                chat.cohort_department_id = chat.department_id
            self._begin_wait(chat, event.occurred_at)
        else:
            wait = self._current_wait(chat)
            wait.route_department_id = department_id
            wait.route_agent_id = agent_id
        self._touch(chat, event)

    def _chat_accepted(self, event: Event) -> None:
        chat = self._chat(event, (WAITING,))
        agent = self._agent(event.data["agentId"], "data.agentId")
        at = event.occurred_at
        self._end_wait(chat, at, ANSWERED)
        if chat.accepted_at is None:
            chat.accepted_at = at
        self._start_handling(chat, agent, at)
        self._touch(chat, event)

    def _chat_missed(self, event: Event) -> None:
        chat = self._chat(event, (WAITING,))
        agent_id = event.data["agentId"]
        self._known_agent(agent_id, "data.agentId")
        self._touch(chat, event)
        self.missed.append((event.id, agent_id, chat.chat_id, event.occurred_at))

    def _chat_transferred(self, event: Event) -> None:
        chat = self._chat(event, (ONGOING,))
        at = event.occurred_at
        to_agent_id = event.data.get("toAgentId")
        if to_agent_id is not None:
            agent = self._agent(to_agent_id, "data.toAgentId")
            if to_agent_id == chat.agent_id:
                raise Rejected("data.toAgentId", f"chat {chat.chat_id} is already with this agent")
            self._stop_handling(chat, at)
            self._start_handling(chat, agent, at)
        else:
            department_id = event.data["toDepartmentId"]
            self._department(department_id, "data.toDepartmentId")
            self._stop_handling(chat, at)
            chat.department_id = chat.route_department_id = department_id
            chat.route_agent_id = None
            chat.department_transferred = True
            self._begin_wait(chat, at)
        chat.transferred = True
        self._touch(chat, event)

    def _chat_message(self, event: Event) -> None:
        # Visitors write while they wait (METRICS.md §1); only messages of an ongoing chat
        # make responses (§3).
        chat = self._chat(event, (BOT, WAITING, ONGOING))
        if chat.state == ONGOING:
            sender = event.data["sender"]
            if sender == "visitor" and chat.pending_visitor_since is None:
                chat.pending_visitor_since = event.occurred_at
            elif sender == "agent" and chat.pending_visitor_since is not None:
                chat.response_total += event.occurred_at - chat.pending_visitor_since
                chat.response_count += 1
                chat.pending_visitor_since = None
        self._touch(chat, event)

    def _chat_ended(self, event: Event) -> None:
        chat = self._chat(event, (BOT, ONGOING))
        if chat.state == ONGOING:
            self._stop_handling(chat, event.occurred_at)
        chat.state = ENDED
        chat.ended_at = event.occurred_at
        self._touch(chat, event)

    def _chat_left_queue(self, event: Event) -> None:
        chat = self._chat(event, (WAITING,))
        abandoned = event.type == "chat.abandoned"
        self._end_wait(chat, event.occurred_at, WAIT_ABANDONED if abandoned else WAIT_SWITCHED)
        chat.state = ABANDONED if abandoned else SWITCHED
        chat.ended_at = event.occurred_at
        self._touch(chat, event)

    def _chat_rated(self, event: Event) -> None:
        chat_id = event.data["chatId"]
        chat = self.chats.get(chat_id)
        if chat is None:
            raise Rejected("data.chatId", f"unknown chat {chat_id}")
        _in_order(event, chat.last_event_at, "chat", chat_id)
        if chat.accepted_at is None:
            raise Rejected(
                "type", f"chat.rated needs a chat accepted by an agent; chat {chat_id} was not"
            )
        chat.score = event.data["score"]
        self._touch(chat, event)


def _in_order(event: Event, last: int, kind: str, entity_id: str) -> None:
    if event.occurred_at < last:
        raise Rejected("occurredAt", f"earlier than the last event of {kind} {entity_id}")


_HANDLERS = {
    "agent.status_changed": Projector._status_changed,
    "visitor.arrived": Projector._visitor_arrived,
    "visitor.left": Projector._visitor_left,
    "invitation.sent": Projector._invitation_sent,
    "invitation.accepted": Projector._invitation_accepted,
    "chat.requested": Projector._chat_requested,
    "chat.queued": Projector._chat_queued,
    "chat.accepted": Projector._chat_accepted,
    "chat.missed": Projector._chat_missed,
    "chat.transferred": Projector._chat_transferred,
    "chat.message": Projector._chat_message,
    "chat.ended": Projector._chat_ended,
    "chat.abandoned": Projector._chat_left_queue,
    "chat.switched_to_message": Projector._chat_left_queue,
    "chat.rated": Projector._chat_rated,
}
