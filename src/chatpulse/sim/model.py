"""The pure traffic model: from a seed, a roster and the time, the events of a live-chat operation
in time order, each valid against the state the earlier ones left (SPEC.md §4). No I/O, no clock.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chatpulse.domain.events import Event
from chatpulse.domain.timeutil import MICROS, MINUTE
from chatpulse.sim import curve
from chatpulse.sim.plan import Roster

# Chats an hour per agent at the peak of the day with rate 1; visitors are this over CHAT_SHARE.
CHATS_PER_AGENT_HOUR = 20.0
DIRECT_CHAT = 0.22  # of visitors: ask for a chat by themselves
INVITED = 0.25  # of visitors: get an invitation…
INVITATION_ACCEPTED = 0.30  # …and accept it
CHAT_SHARE = DIRECT_CHAT + INVITED * INVITATION_ACCEPTED
CONTACT = 0.30  # visitors known as a contact identity
BOT = 0.40  # of chats asked for by the visitor: start with the bot…
BOT_RESOLVES = 0.30  # …which ends it without an agent
NO_DEPARTMENT = 0.05  # of chats for an agent: routed to no department
TO_AGENT = 0.03  # …routed to one agent by name
MISS = 0.06  # offers an agent lets ring out
RING_OUT = 30 * MICROS
TRANSFER = 0.05  # per agent reply, at most once a chat
TRANSFER_TO_AGENT = 0.6
SWITCH = 0.30  # of visitors who give up waiting: leave a message instead of just leaving
PATIENCE_MEDIAN_S = 150.0
RATED = 0.35
SCORES = (1, 2, 3, 4, 5)
SCORE_WEIGHTS = (5, 5, 10, 30, 50)
STAFFING_EVERY = 5 * MINUTE
BREAK_EVERY_S = 75 * 60.0  # mean time on shift between breaks

WAITING, BOT_STATE, ONGOING, DONE = "waiting", "bot", "ongoing", "done"

S = MICROS


@dataclass(slots=True, eq=False)
class AgentState:
    id: str
    department_ids: tuple[str, ...]
    capacity: int
    status_type: str = "offline"  # of its current status: online, away or offline
    on_shift: bool = False
    leaving: bool = False  # shift over: takes no chat, goes offline when free
    wants_break: str | None = None  # the break status to take when free
    had_lunch: bool = False
    shift_started: int = 0
    timers: int = 0  # bumped to cancel pending break timers
    chats: dict[str, None] = field(default_factory=dict)  # ongoing, in acceptance order
    offers: dict[str, None] = field(default_factory=dict)  # ringing

    @property
    def load(self) -> int:
        return len(self.chats) + len(self.offers)

    @property
    def available(self) -> bool:
        """Online, on shift, not about to leave or pause, and under its capacity."""
        return (
            self.status_type == "online"
            and self.on_shift
            and not self.leaving
            and self.wants_break is None
            and self.load < self.capacity
        )


@dataclass(slots=True, eq=False)
class ChatState:
    id: str
    visitor_id: str
    contact_id: str | None
    state: str
    department_id: str | None = None
    route_agent_id: str | None = None
    agent_id: str | None = None
    offered_to: str | None = None
    offer_no: int = 0
    generation: int = 0  # bumped on every change of state, to cancel pending timers
    bot_rounds: int = 0
    exchanges_left: int = 0
    transferred: bool = False
    missed_by: list[str] = field(default_factory=list)


Action = Callable[[int, Any], None]


class Model:
    """A live-chat operation: visitors arrive by the daily curve, chat, wait, get served.

    `advance(until)` returns the events that happen up to `until` (microseconds since the
    epoch, UTC), in time order. The same seed, roster, start and options give the same events.
    """

    def __init__(
        self,
        roster: Roster,
        start: int,
        seed: int,
        rate: float = 1.0,
        zone: dt.tzinfo = dt.UTC,
    ) -> None:
        if not (math.isfinite(rate) and rate >= 0):
            raise ValueError("rate must be a finite number ≥ 0")
        self.roster = roster
        self.zone = zone
        self.now = start
        self.rng = random.Random(seed)
        # Ids also depend on the start, so that two runs with one seed never share an id.
        self._ids = random.Random(f"chatpulse-sim:{seed}:{start}")
        self.bot_id = self._uuid()
        self.agents = {
            a.id: AgentState(a.id, a.department_ids, a.max_concurrent_chats) for a in roster.agents
        }
        self.members: dict[str, list[AgentState]] = {d: [] for d in roster.department_ids}
        for agent in self.agents.values():
            for d in agent.department_ids:
                self.members.setdefault(d, []).append(agent)
        self.chats: dict[str, ChatState] = {}
        self.waiting: dict[str, ChatState] = {}  # in order of arrival in the queue
        self.on_site: dict[str, None] = {}
        self.peak_visitors_per_s = (
            rate * len(self.agents) * CHATS_PER_AGENT_HOUR / CHAT_SHARE / 3600
        )
        self._queue: list[tuple[int, int, Action, Any]] = []
        self._seq = 0
        self._out: list[Event] = []
        self._at(start, self._staff, True)
        if self.peak_visitors_per_s > 0:
            self._at(start + self._arrival_gap(), self._arrival, None)

    # ------------------------------------------------------------------ driving

    def advance(self, until: int) -> list[Event]:
        """Run every action due up to `until`; return the events they produced, in time order."""
        while self._queue and self._queue[0][0] <= until:
            t, _, action, arg = heapq.heappop(self._queue)
            action(t, arg)
        self.now = max(self.now, until)
        out, self._out = self._out, []
        return out

    def _at(self, t: int, action: Action, arg: Any) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (t, self._seq, action, arg))

    def _after(self, t: int, low_s: float, high_s: float, action: Action, arg: Any) -> None:
        self._at(t + int(self.rng.uniform(low_s, high_s) * S), action, arg)

    def _emit(self, t: int, kind: str, **data: Any) -> None:
        clean = {k: v for k, v in data.items() if v is not None}
        self._out.append(Event(self._uuid(), kind, t, clean))

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    # ------------------------------------------------------------------ agents

    def _staff(self, t: int, initial: bool) -> None:
        """Bring the number of agents on shift to the staffing curve's target."""
        hour = curve.local_hour(t, self.zone)
        target = round(len(self.agents) * curve.staffing_share(hour))
        on_shift = [a for a in self.agents.values() if a.on_shift]
        if len(on_shift) < target:
            off = [a for a in self.agents.values() if not a.on_shift and not a.leaving]
            for agent in self.rng.sample(off, min(len(off), target - len(on_shift))):
                self._start_shift(t, agent)
        elif len(on_shift) > target:
            for agent in self.rng.sample(on_shift, len(on_shift) - target):
                self._end_shift(t, agent)
        if initial:  # the server may remember these agents from an earlier run: say where they are
            for agent in self.agents.values():
                if not agent.on_shift:
                    offline = self.roster.offline_status_id
                    self._emit(t, "agent.status_changed", agentId=agent.id, statusId=offline)
        self._at(t + STAFFING_EVERY, self._staff, False)
        self._dispatch(t)

    def _start_shift(self, t: int, agent: AgentState) -> None:
        agent.on_shift = True
        agent.had_lunch = False
        agent.shift_started = t
        self._set_status(t, agent, self.roster.online_status_id, "online")
        self._schedule_break(t, agent)

    def _end_shift(self, t: int, agent: AgentState) -> None:
        agent.on_shift = False
        agent.wants_break = None
        agent.timers += 1
        if agent.load == 0 or agent.status_type != "online":
            self._set_status(t, agent, self.roster.offline_status_id, "offline")
        else:
            agent.leaving = True

    def _set_status(self, t: int, agent: AgentState, status_id: str, status_type: str) -> None:
        agent.status_type = status_type
        if status_type == "offline":
            agent.leaving = False
        self._emit(t, "agent.status_changed", agentId=agent.id, statusId=status_id)

    def _schedule_break(self, t: int, agent: AgentState) -> None:
        gap = int((300 + self.rng.expovariate(1 / BREAK_EVERY_S)) * S)
        self._at(t + gap, self._break_due, (agent, agent.timers))

    def _break_due(self, t: int, arg: tuple[AgentState, int]) -> None:
        agent, timers = arg
        if timers != agent.timers or not agent.on_shift:
            return
        r = self.rng.random()
        if not agent.had_lunch and t - agent.shift_started > 2 * 60 * MINUTE and r < 0.5:
            status_id = self.roster.lunch_status_id
            agent.had_lunch = True
        elif r > 0.85:
            status_id = self.roster.meeting_status_id
        else:
            status_id = self.roster.away_status_id
        if agent.load:
            agent.wants_break = status_id  # finishes its chats first
        else:
            self._begin_break(t, agent, status_id)

    def _begin_break(self, t: int, agent: AgentState, status_id: str) -> None:
        agent.wants_break = None
        agent.timers += 1
        self._set_status(t, agent, status_id, "away")
        low, high = {
            self.roster.lunch_status_id: (30 * 60, 45 * 60),
            self.roster.meeting_status_id: (15 * 60, 30 * 60),
        }.get(status_id, (5 * 60, 15 * 60))
        self._after(t, low, high, self._break_end, (agent, agent.timers))

    def _break_end(self, t: int, arg: tuple[AgentState, int]) -> None:
        agent, timers = arg
        if timers != agent.timers or not agent.on_shift:
            return
        self._set_status(t, agent, self.roster.online_status_id, "online")
        self._schedule_break(t, agent)
        self._dispatch(t)

    def _freed(self, t: int, agent: AgentState) -> None:
        """An agent lost a chat or an offer: it may now leave, pause, or take another chat."""
        if agent.load == 0:
            if agent.leaving:
                self._set_status(t, agent, self.roster.offline_status_id, "offline")
            elif agent.wants_break is not None:
                self._begin_break(t, agent, agent.wants_break)
        self._dispatch(t)

    # ------------------------------------------------------------------ visitors

    def _arrival_gap(self) -> int:
        return max(1, int(self.rng.expovariate(self.peak_visitors_per_s) * S))

    def _arrival(self, t: int, _: None) -> None:
        # A Poisson process whose rate follows the daily curve, by thinning the peak rate.
        self._at(t + self._arrival_gap(), self._arrival, None)
        if self.rng.random() >= curve.arrival_share(curve.local_hour(t, self.zone)):
            return
        visitor_id = self._uuid()
        contact_id = self._uuid() if self.rng.random() < CONTACT else None
        self.on_site[visitor_id] = None
        self._emit(t, "visitor.arrived", visitorId=visitor_id, contactIdentityId=contact_id)
        r = self.rng.random()
        if r < DIRECT_CHAT:
            self._after(t, 10, 120, self._request_chat, (visitor_id, contact_id, None))
        elif r < DIRECT_CHAT + INVITED:
            self._after(t, 15, 90, self._invite, (visitor_id, contact_id))
        else:
            gap = int((10 + self.rng.expovariate(1 / 240)) * S)
            self._at(t + gap, self._visitor_leaves, visitor_id)

    def _visitor_leaves(self, t: int, visitor_id: str) -> None:
        if visitor_id in self.on_site:
            del self.on_site[visitor_id]
            self._emit(t, "visitor.left", visitorId=visitor_id)

    def _invite(self, t: int, arg: tuple[str, str | None]) -> None:
        visitor_id, contact_id = arg
        online = [a for a in self.agents.values() if a.status_type == "online" and a.on_shift]
        inviter = self.rng.choice(online).id if online else None
        invitation_id = self._uuid()
        self._emit(
            t, "invitation.sent", invitationId=invitation_id, visitorId=visitor_id, agentId=inviter
        )
        if self.rng.random() < INVITATION_ACCEPTED:
            self._after(
                t, 5, 40, self._invitation_accepted, (visitor_id, contact_id, invitation_id)
            )
        else:
            self._after(t, 10, 180, self._visitor_leaves, visitor_id)

    def _invitation_accepted(self, t: int, arg: tuple[str, str | None, str]) -> None:
        self._emit(t, "invitation.accepted", invitationId=arg[2])
        self._request_chat(t, arg)

    # ------------------------------------------------------------------ chats

    def _later(self, t: int, low_s: float, high_s: float, chat: ChatState, step: Action) -> None:
        """Run `step(t, chat)` later, unless the chat changes state in between."""
        self._after(t, low_s, high_s, self._chat_step, (chat, chat.generation, step))

    def _chat_step(self, t: int, arg: tuple[ChatState, int, Action]) -> None:
        chat, generation, step = arg
        if chat.generation == generation:
            step(t, chat)

    def _change(self, chat: ChatState, state: str) -> None:
        chat.state = state
        chat.generation += 1

    def _request_chat(self, t: int, arg: tuple[str, str | None, str | None]) -> None:
        visitor_id, contact_id, invitation_id = arg
        chat = ChatState(self._uuid(), visitor_id, contact_id, BOT_STATE)
        self.chats[chat.id] = chat
        if invitation_id is None and self.rng.random() < BOT:
            self._emit(
                t,
                "chat.requested",
                chatId=chat.id,
                visitorId=visitor_id,
                contactIdentityId=contact_id,
                botId=self.bot_id,
            )
            chat.bot_rounds = self.rng.randint(1, 3)
            self._later(t, 3, 10, chat, self._visitor_asks_bot)
            return
        r = self.rng.random()
        departments = self.roster.department_ids
        on_shift = [a for a in self.agents.values() if a.on_shift and a.capacity > 0]
        if departments and r >= NO_DEPARTMENT + TO_AGENT:
            chat.department_id = self.rng.choice(departments)
        elif on_shift and r >= NO_DEPARTMENT:
            chat.route_agent_id = self.rng.choice(on_shift).id
        self._emit(
            t,
            "chat.requested",
            chatId=chat.id,
            visitorId=visitor_id,
            contactIdentityId=contact_id,
            departmentId=chat.department_id,
            agentId=chat.route_agent_id,
            invitationId=invitation_id,
        )
        self._begin_wait(t, chat)

    def _visitor_asks_bot(self, t: int, chat: ChatState) -> None:
        self._emit(t, "chat.message", chatId=chat.id, sender="visitor")
        self._later(t, 1, 3, chat, self._bot_answers)

    def _bot_answers(self, t: int, chat: ChatState) -> None:
        self._emit(t, "chat.message", chatId=chat.id, sender="bot")
        chat.bot_rounds -= 1
        if chat.bot_rounds > 0:
            self._later(t, 5, 20, chat, self._visitor_asks_bot)
        else:
            self._later(t, 3, 10, chat, self._bot_done)

    def _bot_done(self, t: int, chat: ChatState) -> None:
        if self.rng.random() < BOT_RESOLVES or not self.roster.department_ids:
            self._emit(t, "chat.ended", chatId=chat.id)
            self._finish(t, chat, 10, 120)
            return
        chat.department_id = self.rng.choice(self.roster.department_ids)
        self._emit(t, "chat.queued", chatId=chat.id, departmentId=chat.department_id)
        self._begin_wait(t, chat)

    def _begin_wait(self, t: int, chat: ChatState) -> None:
        self._change(chat, WAITING)
        chat.missed_by.clear()
        self.waiting[chat.id] = chat
        patience = max(10.0, self.rng.lognormvariate(math.log(PATIENCE_MEDIAN_S), 0.8))
        self._later(t, patience, patience, chat, self._give_up)
        self._dispatch(t)

    def _give_up(self, t: int, chat: ChatState) -> None:
        kind = "chat.switched_to_message" if self.rng.random() < SWITCH else "chat.abandoned"
        self._emit(t, kind, chatId=chat.id)
        del self.waiting[chat.id]
        self._finish(t, chat, 5, 60)
        if chat.offered_to is not None:
            agent = self.agents[chat.offered_to]
            del agent.offers[chat.id]
            chat.offered_to = None
            self._freed(t, agent)

    def _finish(self, t: int, chat: ChatState, leave_low: float, leave_high: float) -> None:
        self._change(chat, DONE)
        del self.chats[chat.id]
        self._after(t, leave_low, leave_high, self._visitor_leaves, chat.visitor_id)

    def _dispatch(self, t: int) -> None:
        """Offer each waiting chat nobody is looking at to the least loaded eligible agent."""
        for chat in list(self.waiting.values()):
            if chat.offered_to is not None:
                continue
            if chat.route_agent_id is not None:
                eligible = [self.agents[chat.route_agent_id]]
            elif chat.department_id is not None:
                eligible = self.members.get(chat.department_id, [])
            else:
                eligible = list(self.agents.values())
            ready = [a for a in eligible if a.available]
            if not ready:
                continue
            fresh = [a for a in ready if a.id not in chat.missed_by]
            pool = fresh or ready
            lightest = min(a.load / a.capacity for a in pool)
            agent = self.rng.choice([a for a in pool if a.load / a.capacity == lightest])
            self._offer(t, chat, agent)

    def _offer(self, t: int, chat: ChatState, agent: AgentState) -> None:
        chat.offered_to = agent.id
        chat.offer_no += 1
        agent.offers[chat.id] = None
        arg = (chat, chat.generation, chat.offer_no)
        if self.rng.random() < MISS:
            self._at(t + RING_OUT, self._ring_out, arg)
        else:
            self._after(t, 2, 12, self._answer, arg)

    def _offer_holds(self, chat: ChatState, generation: int, offer_no: int) -> bool:
        return chat.generation == generation and chat.offer_no == offer_no

    def _ring_out(self, t: int, arg: tuple[ChatState, int, int]) -> None:
        chat = arg[0]
        if not self._offer_holds(*arg) or chat.offered_to is None:
            return
        agent = self.agents[chat.offered_to]
        self._emit(t, "chat.missed", chatId=chat.id, agentId=agent.id)
        del agent.offers[chat.id]
        chat.offered_to = None
        chat.missed_by.append(agent.id)
        self._freed(t, agent)

    def _answer(self, t: int, arg: tuple[ChatState, int, int]) -> None:
        chat = arg[0]
        if not self._offer_holds(*arg) or chat.offered_to is None:
            return
        agent = self.agents[chat.offered_to]
        del agent.offers[chat.id]
        chat.offered_to = None
        del self.waiting[chat.id]
        self._emit(t, "chat.accepted", chatId=chat.id, agentId=agent.id)
        agent.chats[chat.id] = None
        chat.agent_id = agent.id
        self._change(chat, ONGOING)
        chat.exchanges_left = self.rng.randint(1, 3) if chat.transferred else self.rng.randint(2, 7)
        self._later(t, 2, 8, chat, self._agent_says)

    def _agent_says(self, t: int, chat: ChatState) -> None:
        self._emit(t, "chat.message", chatId=chat.id, sender="agent")
        if chat.exchanges_left <= 0:
            self._later(t, 5, 30, chat, self._end)
        elif not chat.transferred and self.rng.random() < TRANSFER:
            self._later(t, 5, 20, chat, self._transfer)
        else:
            pause = 3 + self.rng.expovariate(1 / 35)
            self._later(t, pause, pause, chat, self._visitor_says)

    def _visitor_says(self, t: int, chat: ChatState) -> None:
        self._emit(t, "chat.message", chatId=chat.id, sender="visitor")
        if self.rng.random() < 0.3:
            self._later(t, 3, 15, chat, self._visitor_adds)
        else:
            self._later(t, 5, 45, chat, self._agent_replies)

    def _visitor_adds(self, t: int, chat: ChatState) -> None:
        self._emit(t, "chat.message", chatId=chat.id, sender="visitor")
        self._later(t, 5, 45, chat, self._agent_replies)

    def _agent_replies(self, t: int, chat: ChatState) -> None:
        chat.exchanges_left -= 1
        self._agent_says(t, chat)

    def _transfer(self, t: int, chat: ChatState) -> None:
        assert chat.agent_id is not None
        old = self.agents[chat.agent_id]
        pool = self.members.get(chat.department_id, []) if chat.department_id else []
        peers = [a for a in (pool or self.agents.values()) if a.available and a is not old]
        others = [d for d in self.roster.department_ids if d != chat.department_id]
        chat.transferred = True
        if peers and (not others or self.rng.random() < TRANSFER_TO_AGENT):
            new = self.rng.choice(peers)
            self._emit(t, "chat.transferred", chatId=chat.id, toAgentId=new.id)
            del old.chats[chat.id]
            new.chats[chat.id] = None
            chat.agent_id = new.id
            self._change(chat, ONGOING)
            chat.exchanges_left = self.rng.randint(1, 3)
            self._later(t, 3, 10, chat, self._agent_says)
        elif others:
            chat.department_id = self.rng.choice(others)
            chat.route_agent_id = None
            self._emit(t, "chat.transferred", chatId=chat.id, toDepartmentId=chat.department_id)
            del old.chats[chat.id]
            chat.agent_id = None
            self._begin_wait(t, chat)
        else:
            self._later(t, 3, 30, chat, self._visitor_says)
            return
        self._freed(t, old)

    def _end(self, t: int, chat: ChatState) -> None:
        assert chat.agent_id is not None
        agent = self.agents[chat.agent_id]
        self._emit(t, "chat.ended", chatId=chat.id)
        del agent.chats[chat.id]
        chat.agent_id = None
        if self.rng.random() < RATED:
            self._after(t, 5, 60, self._rate, chat.id)
        self._finish(t, chat, 70, 180)  # after any rating
        self._freed(t, agent)

    def _rate(self, t: int, chat_id: str) -> None:
        score = self.rng.choices(SCORES, SCORE_WEIGHTS)[0]
        self._emit(t, "chat.rated", chatId=chat_id, score=score)
