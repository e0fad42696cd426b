"""The present moment of one site, kept in memory: the live state the views read (agents' status
and load, chats with the bot, waiting and ongoing, the waits ended lately, visitors on site),
folded from the event log by the same projector that writes the stored projections.

A `LiveState` starts from the stored projections at one sequence (store/live.py) and is moved
forward by `fold`, event by event, in sequence order. Only events already accepted by ingest
are folded, so nothing is checked twice: the projector runs against what memory holds, and an
event about an entity memory no longer keeps (a rating of an ended chat) changes nothing live.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from chatpulse.domain.chat import (
    ANSWERED,
    BOT,
    LIVE_STATES,
    ONGOING,
    OPEN,
    WAIT_ABANDONED,
    WAIT_SWITCHED,
    WAITING,
    AgentLive,
    ChatRecord,
    VisitorRecord,
    WaitRecord,
)
from chatpulse.domain.events import Event
from chatpulse.domain.projector import Projector
from chatpulse.domain.queue_metrics import WaitSums, WaitWindows
from chatpulse.domain.rollups import WAIT_FIELDS, WAIT_MINUTE
from chatpulse.domain.site_config import SiteConfig
from chatpulse.domain.statuses import AWAY, ONLINE

# Running totals per key ("" the site, else a department), in this order.
TOTALS = (
    "logged_in",
    "in_chat",
    "online_chats",
    "online_capacity",
    "bot_chats",
    "waiting_chats",
    "ongoing_chats",
    "visitors_on_site",
    # METRICS.md §7, memory only: agents online with a free slot, agents away, free slots.
    "available",
    "away",
    "free_slots",
)
_BOT, _WAITING, _ONGOING, _VISITORS = 4, 5, 6, 7
_AGENT_FIGURES = (0, 1, 2, 3, 8, 9, 10)  # the indexes an agent's share adds to
Target = tuple[str | None, str | None]  # (route department, route agent) of a wait


@dataclass(frozen=True, slots=True)
class EndedWait:
    ended_at: int
    target: Target
    length: int
    outcome: str | None


class _Everything(set[str]):
    """A known-ids set that knows every id: folded events were checked when they were ingested."""

    def __contains__(self, item: object) -> bool:
        return True


@dataclass(slots=True)
class LiveState:
    """One site's live state at `sequence` under configuration `config`."""

    sequence: int
    config: SiteConfig
    agents: dict[str, AgentLive]
    chats: dict[str, ChatRecord]  # with the bot, waiting or ongoing
    visitors: dict[str, VisitorRecord]  # on site
    # Every wait that ended at or after `horizon` (µs), by minute of its end.
    horizon: int
    ended: dict[int, list[EndedWait]] = field(default_factory=dict)
    # The same waits summed per minute and route target: (count, total length, abandoned,
    # switched), so that a Queue reads whole minutes as sums and only its edge minutes wait by
    # wait (as the stored per-minute rollup does, store/reads/queue.ended_wait_totals).
    ended_sums: dict[int, dict[Target, list[int]]] = field(default_factory=dict)
    totals: dict[str, list[int]] = field(default_factory=dict)
    # The Agents view's order of the active agents (of a department), at `sequence`.
    orders: dict[str | None, list[str]] = field(default_factory=dict)
    # The waiting chats, all (None) and by route department, at `sequence` (`open_waits`).
    waiting: dict[str | None, list[ChatRecord]] | None = None

    @classmethod
    def start(
        cls,
        sequence: int,
        config: SiteConfig,
        agents: Iterable[AgentLive],
        chats: Iterable[ChatRecord],
        visitors: Iterable[VisitorRecord],
        horizon: int,
        ended: Iterable[EndedWait],
    ) -> LiveState:
        """The state the stored projections hold at `sequence`."""
        state = cls(
            sequence,
            config,
            {a.agent_id: a for a in agents},
            {c.chat_id: c for c in chats if c.state in LIVE_STATES},
            {v.visitor_id: v for v in visitors if v.on_site},
            horizon,
        )
        for wait in ended:
            state._keep_ended(wait)
        for agent_id in config.agents:
            state._move_agent(agent_id, 1)
        for chat in state.chats.values():
            state._move_chat(chat, 1)
        state._total("")[_VISITORS] = len(state.visitors)
        return state

    # ---------------------------------------------------------------- folding

    def fold(self, events: Sequence[tuple[int, Event]]) -> None:
        """Apply (sequence, event) pairs that follow `sequence`, in order."""
        projector = Projector(
            chats=self.chats,
            agents=self.agents,
            known_agents=_Everything(),
            known_departments=_Everything(),
            known_statuses=_Everything(),
            visitors=self.visitors,
            invitations={},
        )
        for sequence, event in events:
            if sequence <= self.sequence:
                continue
            self.orders.clear()
            self.waiting = None
            assert sequence == self.sequence + 1, "events are folded in sequence order"
            touched = self._touched(event)
            for agent_id in touched[0]:
                self._move_agent(agent_id, -1)
            for chat in touched[1]:
                self._move_chat(chat, -1)
            projector.apply(event, 0)  # a rejection changes nothing live (see the module)
            for wait in projector.waits.values():
                if wait.ended_at != OPEN:
                    self._keep_ended(_ended(wait))
            projector.waits.clear()
            projector.handlings.clear()
            projector.statuses.clear()
            projector.busies.clear()
            projector.invitations.clear()
            chat_id = event.data.get("chatId")
            after = self.chats.get(chat_id) if isinstance(chat_id, str) else None
            if after is not None:
                if after.state in LIVE_STATES:
                    self._move_chat(after, 1)
                else:
                    del self.chats[after.chat_id]
            # The chat's agent after the event is one the event names: counted out above.
            for agent_id in touched[0]:
                self._move_agent(agent_id, 1)
            visitor_id = event.data.get("visitorId")
            if event.type.startswith("visitor.") and isinstance(visitor_id, str):
                visitor = self.visitors.get(visitor_id)
                if visitor is not None and not visitor.on_site:
                    del self.visitors[visitor_id]
                self._total("")[_VISITORS] = len(self.visitors)
            projector.dirty_chats.clear()
            projector.dirty_agents.clear()
            projector.dirty_visitors.clear()
            projector.dirty_invitations.clear()
            projector.busy_rebuilds.clear()
            self.sequence = sequence

    def _touched(self, event: Event) -> tuple[list[str], list[ChatRecord]]:
        """The agents and the chat an event may change, as they are before it."""
        data = event.data
        agent_ids = list(
            dict.fromkeys(data[k] for k in ("agentId", "toAgentId") if isinstance(data.get(k), str))
        )
        chats: list[ChatRecord] = []
        chat = self.chats.get(data["chatId"]) if "chatId" in data else None
        if chat is not None:
            chats.append(chat)
            if chat.agent_id is not None and chat.agent_id not in agent_ids:
                agent_ids.append(chat.agent_id)
        return agent_ids, chats

    # ---------------------------------------------------------------- running totals

    def _total(self, key: str) -> list[int]:
        row = self.totals.get(key)
        if row is None:
            row = self.totals[key] = [0] * len(TOTALS)
        return row

    def _move_agent(self, agent_id: str, sign: int) -> None:
        """Count an active agent's share of the agents' totals in (+1) or out (−1)."""
        config = self.config.agents.get(agent_id)
        if config is None or not config.active:
            return
        live = self.agents.get(agent_id)
        kind = self.config.status_type(live.status_id if live else None)
        ongoing = live.ongoing_chats if live else 0
        online = kind == ONLINE
        capacity = config.max_concurrent_chats
        share = (
            int(kind in (ONLINE, AWAY)),
            int(ongoing > 0),
            ongoing if online else 0,
            capacity if online else 0,
            int(online and ongoing < capacity),
            int(kind == AWAY),
            max(0, capacity - ongoing) if online else 0,
        )
        if not any(share):
            return
        for key in ("", *config.departments):
            row = self._total(key)
            for i, value in zip(_AGENT_FIGURES, share, strict=True):
                row[i] += sign * value

    def _move_chat(self, chat: ChatRecord, sign: int) -> None:
        if chat.state == BOT:
            index, key = _BOT, chat.department_id
        elif chat.state == WAITING:
            index, key = _WAITING, chat.route_department_id
        elif chat.state == ONGOING:
            index, key = _ONGOING, chat.department_id
        else:
            return
        self._total("")[index] += sign
        if key:
            self._total(key)[index] += sign

    def figures(self, key: str) -> dict[str, int]:
        """The running totals of a key ("" the site's); zeros for a key never counted."""
        row = self.totals.get(key)
        return dict(zip(TOTALS, row or [0] * len(TOTALS), strict=True))

    # ---------------------------------------------------------------- the Agents view's order

    def agents_in_order(self, department_id: str | None) -> list[str]:
        """The active agents (of the department): status type (online, away, offline), ongoing
        chats descending, display name case-insensitively (code-point order), id."""
        order = self.orders.get(department_id)
        if order is None:
            rank = {ONLINE: 0, AWAY: 1}
            keyed = []
            config = self.config
            ids = config.active if department_id is None else config.active_members(department_id)
            for agent_id in ids:
                agent = config.agents[agent_id]
                live = self.agents.get(agent_id)
                status_id = live.status_id if live else None
                ongoing = live.ongoing_chats if live else 0
                kind = rank.get(self.config.status_type(status_id), 2)
                keyed.append((kind, -ongoing, agent.sort_name, agent.agent_id))
            keyed.sort()
            order = self.orders[department_id] = [key[3] for key in keyed]
        return order

    # ---------------------------------------------------------------- waits

    def _keep_ended(self, wait: EndedWait) -> None:
        if wait.ended_at < self.horizon:
            return
        minute = wait.ended_at // WAIT_MINUTE
        self.ended.setdefault(minute, []).append(wait)
        sums = self.ended_sums.setdefault(minute, {}).get(wait.target)
        if sums is None:
            sums = self.ended_sums[minute][wait.target] = [0] * len(WAIT_FIELDS)
        for i, value in enumerate(self._share(wait)):
            sums[i] += value

    def _share(self, wait: EndedWait) -> tuple[int, ...]:
        """The wait's share of WAIT_FIELDS, judged with this configuration's thresholds (a
        change of them loads the state anew, store/live.py)."""
        in_time, counted = self.config.thresholds.judge(
            wait.target[0], wait.outcome == ANSWERED, wait.length
        )
        return (
            1,
            wait.length,
            int(wait.outcome == WAIT_ABANDONED),
            int(wait.outcome == WAIT_SWITCHED),
            in_time,
            counted,
        )

    def forget_before(self, horizon: int) -> None:
        """Drop the waits that ended before `horizon` (µs, rounded down to a minute)."""
        horizon -= horizon % WAIT_MINUTE
        if horizon <= self.horizon:
            return
        for minute in [m for m in self.ended if m * WAIT_MINUTE < horizon]:
            del self.ended[minute]
            del self.ended_sums[minute]
        self.horizon = horizon

    def longest_wait_started(self, department_id: str | None) -> int | None:
        """When the longest wait going on now (routed to `department_id`, if given) began."""
        return min((c.wait_started_at or 0 for c in self.open_waits(department_id)), default=None)

    def open_waits(self, department_id: str | None) -> list[ChatRecord]:
        """The chats waiting now (routed to `department_id` only, if given); grouped once per
        sequence for every department's Queue."""
        if self.waiting is None:
            waiting: dict[str | None, list[ChatRecord]] = {None: []}
            for chat in self.chats.values():
                if chat.state == WAITING:
                    waiting[None].append(chat)
                    if chat.route_department_id is not None:
                        waiting.setdefault(chat.route_department_id, []).append(chat)
            self.waiting = waiting
        return self.waiting.get(department_id, [])

    def ended_waits(self, now: int, department_id: str | None) -> dict[Target, WaitSums] | None:
        """Per route target, the waits that ended in (now − 60 min, now] and (now − 30 min, now];
        None when memory does not reach back that far."""
        windows = WaitWindows.at(now)
        lo_60, lo_30 = windows.lo_60, windows.lo_30
        if lo_60 < self.horizon:
            return None
        first, middle, last = lo_60 // WAIT_MINUTE, lo_30 // WAIT_MINUTE, now // WAIT_MINUTE
        out: dict[Target, WaitSums] = {}

        def row(target: Target) -> WaitSums:
            sums = out.get(target)
            if sums is None:
                sums = out[target] = WaitSums()
            return sums

        for minute in range(first, last + 1):
            if minute in (first, middle, last):  # partly inside a window: wait by wait
                for wait in self.ended.get(minute, ()):
                    if not lo_60 <= wait.ended_at <= now:
                        continue
                    if department_id is not None and wait.target[0] != department_id:
                        continue
                    row(wait.target).add_ended(self._share(wait), True, wait.ended_at >= lo_30)
                continue
            recent = minute > middle  # wholly inside both windows, else inside the hour only
            of_minute = self.ended_sums.get(minute)
            if not of_minute:
                continue
            if department_id is not None:
                own = of_minute.get((department_id, None))
                items: Iterable[tuple[Target, list[int]]] = (
                    [((department_id, None), own)] if own else ()
                )
            else:
                items = of_minute.items()
            for target, values in items:
                row(target).add_ended(values, True, recent)
        return out

    # ---------------------------------------------------------------- comparing

    def snapshot(self) -> dict[str, Any]:
        """Everything live, in plain values, for comparing two states (tests, `check`)."""
        return {
            "sequence": self.sequence,
            "agents": {
                a.agent_id: (a.status_id, a.status_since, a.status_no, a.ongoing_chats)
                for a in self.agents.values()
            },
            "chats": {c.chat_id: _chat_values(c) for c in self.chats.values()},
            "visitors": {
                v.visitor_id: (v.last_event_at, v.contact_identity_id)
                for v in self.visitors.values()
            },
            "ended": sorted(
                (w.ended_at, w.target, w.length, w.outcome)
                for waits in self.ended.values()
                for w in waits
            ),
            "totals": {k: list(v) for k, v in self.totals.items() if any(v)},
        }


def ended_wait(
    ended_at: int,
    route_department_id: str | None,
    route_agent_id: str | None,
    started_at: int,
    outcome: str | None,
) -> EndedWait:
    # The route target (METRICS.md §1): the department when the wait was routed to one.
    target = (route_department_id, None) if route_department_id else (None, route_agent_id or None)
    return EndedWait(ended_at, target, ended_at - started_at, outcome)


def _ended(wait: WaitRecord) -> EndedWait:
    return ended_wait(
        wait.ended_at, wait.route_department_id, wait.route_agent_id, wait.started_at, wait.outcome
    )


def _chat_values(chat: ChatRecord) -> tuple[Any, ...]:
    values = [getattr(chat, name) for name in ChatRecord.__slots__ if name != "is_new"]
    return tuple(values)
