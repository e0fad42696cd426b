"""The alert evaluator (docs/alerts.md): one process at a time judges every rule of every site.

Which process: the holder of the `alerts` lease (store/alerts.py; wall clock, renewed every
second, taken over `LEASE_S` after its holder stops renewing it). The holder keeps the rules and
their subjects' states in memory and writes each change by compare-and-set, so that a change of
state is stored once whatever the number of processes, and a restart (or another process taking
over) starts from the stored states: no transition repeated, none forgotten.

When: the evaluator subscribes to the stream hub (services/stream.py) for every site with rules,
like a stream does, so every ingest — this process's, or another's heard through LISTEN or the
hub's poll — wakes it at once, and it reads the views through the hub's shared snapshots: the
computation a wallboard of the same query makes is the one it judges. Every second it also
judges every rule again, for what changes with the clock alone (waits, silence, hold times).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass

import anyio.to_thread
import orjson

from chatpulse.domain.alerts import (
    CLOCK,
    CRITICAL,
    EXTENDED,
    SILENCE,
    WARNING,
    Rule,
    SubjectState,
    Transition,
    judge,
    observe,
)
from chatpulse.domain.errors import ChatPulseError
from chatpulse.services import alerts as rule_service
from chatpulse.services.runtime import Runtime, is_unavailable
from chatpulse.services.stream import StreamHub, Subscriber
from chatpulse.store import alerts as store
from chatpulse.views.query import ViewQuery

log = logging.getLogger("chatpulse.alerts")

LEASE_S = 5.0  # another process takes over this long after the holder stops renewing
RULES_CHECK_S = 2.0  # other processes' rule changes are noticed within this
TODAY_ON_CHANGE_S = 1.0  # Today is read again on a change at most this often

StateKey = tuple[int, str, str]  # (site, rule, subject)


def _wall() -> int:
    return time.time_ns() // 1000


class Evaluator:
    """Runs on the app's event loop (`start`/`stop` from its lifespan)."""

    def __init__(self, runtime: Runtime, hub: StreamHub) -> None:
        self.runtime = runtime
        self.hub = hub
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # Told after transitions of a site are committed (this process's streams, webhooks).
        self.listeners: list[Callable[[int], None]] = []
        self.leader = False
        self.rounds = 0  # finished rounds
        self.ticks = 0  # finished rounds that judged every rule (tests wait on it)
        self.tick_s = max(0.01, runtime.settings.alert_interval_ms / 1000)
        self._task: asyncio.Task[None] | None = None
        self._kick = asyncio.Event()
        self._lease_until = 0
        self._rules: dict[int, list[Rule]] | None = None
        self._groups: dict[int, dict[GroupKey, _Group]] = {}
        # The last read of each group: (its JSON, when read: monotonic seconds).
        self._docs: dict[tuple[int, GroupKey], tuple[object, float]] = {}
        self._rules_mark: tuple[int, int] | None = None
        self._rules_checked = 0.0
        self._rules_dirty = False
        self._states: dict[StateKey, SubjectState] = {}
        self._subscribers: dict[int, Subscriber] = {}
        self._seen: dict[int, int] = {}
        self._quiet_since: dict[int, tuple[int, int | None]] = {}  # site → (changes, time)
        self._any_rules: tuple[float, bool] | None = None  # (checked at, found)

    # ---- life ----------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())
        rule_service.rule_listeners.append(self.rules_changed)

    async def stop(self) -> None:
        with suppress(ValueError):
            rule_service.rule_listeners.remove(self.rules_changed)
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        self._drop_subscriptions()
        if self.leader:
            with suppress(Exception):
                await anyio.to_thread.run_sync(
                    store.release_lease, self.runtime.engine, store.EVALUATOR_LEASE, self.holder
                )
            self.leader = False

    def rules_changed(self) -> None:
        """A rule was written in this process (any thread): reload before the next round."""
        self._rules_dirty = True
        self._any_rules = None
        loop = self._task.get_loop() if self._task is not None else None
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._kick.set)

    async def _run(self) -> None:
        next_tick = time.monotonic()
        while True:
            failed = False
            try:
                now_mono = time.monotonic()
                tick = now_mono >= next_tick
                if tick:
                    next_tick = now_mono + self.tick_s
                if self.leader or await self._worth_leading():
                    await self._hold_lease(tick)
                if self.leader:
                    await self._prepare()
                    await self._round(tick)
            except asyncio.CancelledError:
                raise
            except Exception as err:
                failed = True  # no retry before the next tick: a database outage is not a loop
                self._forget()  # read everything again from the database next time
                if is_unavailable(err):
                    log.warning("alert evaluation skipped: database unavailable")
                else:
                    log.exception("alert evaluation failed")
            self._kick.clear()
            if self.leader and not failed and any(self._dirty()):
                continue  # events arrived while judging: judge again at once
            wait = max(0.0, next_tick - time.monotonic())
            with suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._kick.wait()

    async def _worth_leading(self) -> bool:
        """Whether any site has a rule (read at most every RULES_CHECK_S): a server without rules
        never writes the lease."""
        moment = time.monotonic()
        known = self._any_rules
        if known is None or moment - known[0] >= RULES_CHECK_S:
            found = await anyio.to_thread.run_sync(store.any_rules, self.runtime.engine)
            known = self._any_rules = (moment, found)
        return known[1]

    async def _hold_lease(self, tick: bool) -> None:
        wall = _wall()
        if self.leader and not tick and wall < self._lease_until - 2 * 1_000_000:
            return
        until = wall + int(LEASE_S * 1_000_000)
        held = await anyio.to_thread.run_sync(
            store.claim_lease, self.runtime.engine, store.EVALUATOR_LEASE, self.holder, wall, until
        )
        if held and not self.leader:
            log.info("alert evaluator: this process evaluates the rules (%s)", self.holder)
            self._forget()
        if not held and self.leader:
            log.info("alert evaluator: another process took over")
            self._forget()
            self._drop_subscriptions()
        self.leader = held
        self._lease_until = until if held else 0

    def _forget(self) -> None:
        self._rules = None
        self._docs = {}
        self._rules_mark = None
        self._states = {}
        self._quiet_since = {}

    # ---- what to judge -------------------------------------------------------------------

    async def _prepare(self) -> None:
        """Rules and states loaded (again when rules changed); a hub subscription per site."""
        engine = self.runtime.engine
        moment = time.monotonic()
        if self._rules is not None and not self._rules_dirty:
            if moment - self._rules_checked < RULES_CHECK_S:
                return
            self._rules_checked = moment
            mark = await anyio.to_thread.run_sync(store.rules_mark, engine)
            if mark == self._rules_mark:
                return
        self._rules_dirty = False
        self._rules_checked = moment
        mark = await anyio.to_thread.run_sync(store.rules_mark, engine)
        rules = await anyio.to_thread.run_sync(store.all_rules, engine)
        by_site: dict[int, list[Rule]] = defaultdict(list)
        for rule in rules:
            by_site[rule.site_id].append(rule)
        self._states = await anyio.to_thread.run_sync(store.load_states, engine, list(by_site))
        self._rules = dict(by_site)
        self._groups = {site_id: _groups(rules) for site_id, rules in self._rules.items()}
        self._docs = {}
        self._rules_mark = mark
        for site_id in list(self._subscribers):
            if site_id not in self._rules:
                self.hub.unsubscribe(self._subscribers.pop(site_id))
                self._seen.pop(site_id, None)
        for site_id in self._rules:
            if site_id not in self._subscribers:
                subscriber = self.hub.subscribe(site_id, wake=self._kick)
                self._subscribers[site_id] = subscriber
                self._seen[site_id] = -1  # judge at once

    def _drop_subscriptions(self) -> None:
        for subscriber in self._subscribers.values():
            self.hub.unsubscribe(subscriber)
        self._subscribers = {}
        self._seen = {}

    def _dirty(self) -> list[int]:
        return [
            site_id
            for site_id, subscriber in self._subscribers.items()
            if subscriber.changes != self._seen.get(site_id)
        ]

    async def _round(self, tick: bool) -> None:
        rules = self._rules or {}
        sites = list(rules) if tick else self._dirty()
        now = self.runtime.clock.now()
        if sites:
            await asyncio.gather(
                *(self._judge_site(site_id, rules[site_id], now, tick) for site_id in sites)
            )
        if tick:
            await anyio.to_thread.run_sync(
                store.mark_evaluated, self.runtime.engine, store.EVALUATOR_LEASE, self.holder, now
            )
            self.ticks += 1
        self.rounds += 1

    # ---- one site ------------------------------------------------------------------------

    async def _judge_site(self, site_id: int, rules: list[Rule], now: int, tick: bool) -> None:
        subscriber = self._subscribers.get(site_id)
        if subscriber is not None:
            self._seen[site_id] = subscriber.changes
        docs = await self._views(site_id, tick)
        quiet = await self._last_event(site_id, rules)
        changes: list[store.Change] = []
        # The subjects with a state, per rule, in one pass (not one pass per rule).
        known: dict[str, list[str]] = defaultdict(list)
        for state_site, rule_id, subject in self._states:
            if state_site == site_id:
                known[rule_id].append(subject)
        for rule in rules:
            doc = docs.get(_group_of(rule))
            observed = observe(rule, doc, now, _later(quiet, rule.created_at))
            for subject, value in observed:
                self._judge(site_id, rule, subject, value, now, changes)
            subjects = known.get(rule.id)
            if subjects:
                seen = {subject for subject, _ in observed}
                for subject in subjects:
                    if subject not in seen:  # a Queue row that is gone: no value
                        self._judge(site_id, rule, subject, None, now, changes)
        if not changes:
            return
        try:
            stored = await anyio.to_thread.run_sync(
                store.apply, self.runtime.engine, site_id, changes
            )
        except store.StaleState:
            log.warning("alert evaluator: a state changed under this process; reloading")
            self._forget()
            return
        for change, state in zip(changes, stored, strict=True):
            self._states[(site_id, change.rule.id, change.subject)] = state
        if any(change.transition is not None for change in changes):
            self.runtime.outbox_filled()  # this process's dispatcher sends them now
            for listener in self.listeners:
                listener(site_id)

    def _judge(
        self,
        site_id: int,
        rule: Rule,
        subject: str,
        value: float | None,
        now: int,
        changes: list[store.Change],
    ) -> None:
        key = (site_id, rule.id, subject)
        current = self._states.get(key, _QUIET)
        if current.quiet and not (rule.holds(WARNING, value) or rule.holds(CRITICAL, value)):
            return  # ok, no hold running, no condition: judge() would change nothing
        new, transition = judge(rule, subject, current, value, now)
        if _same(current, new):
            return
        changes.append(store.Change(rule, subject, current, new, transition))

    async def _views(self, site_id: int, tick: bool) -> dict[GroupKey, object]:
        """Each view the site's rules read, as JSON (None when it cannot be computed: a deleted
        department), from the hub's shared snapshots. A view whose rules read only fields that
        move with events takes any cached answer of the same stored state and window, however
        old; the others (waits, open intervals) one at most `view_max_age_ms` old. Today, whose
        figures are the day's, is read at most once a second on a change (every tick anyway):
        a change of the site's Today at each event would cost a computation per event."""
        groups = self._groups.get(site_id, {})
        moment = time.monotonic()
        docs: dict[GroupKey, object] = {}
        wanted: list[tuple[GroupKey, _Group]] = []
        for key, group in groups.items():
            last = self._docs.get((site_id, key))
            fresh_enough = last is not None and moment - last[1] < TODAY_ON_CHANGE_S
            if last is not None and not tick and group.view == "Today" and fresh_enough:
                docs[key] = last[0]
                continue
            wanted.append((key, group))
        answers = await asyncio.gather(
            *(self.hub.snapshot(site_id, g.view, g.query, any_age=not g.clock) for _, g in wanted),
            return_exceptions=True,
        )
        for (key, _), answer in zip(wanted, answers, strict=True):
            if isinstance(answer, ChatPulseError):
                doc: object = None
            elif isinstance(answer, BaseException):
                raise answer
            else:
                doc = orjson.loads(answer.body)
            docs[key] = doc
            self._docs[(site_id, key)] = (doc, moment)
        return docs

    async def _last_event(self, site_id: int, rules: list[Rule]) -> int | None:
        """When the site's last event was received (silence rules only; read again only after an
        ingest notification)."""
        if not any(rule.kind == SILENCE for rule in rules):
            return None
        changes = self._seen.get(site_id, -1)
        known = self._quiet_since.get(site_id)
        if known is not None and known[0] == changes:
            return known[1]
        found = await anyio.to_thread.run_sync(
            store.last_event_times, self.runtime.engine, [site_id]
        )
        self._quiet_since[site_id] = (changes, found[site_id])
        return found[site_id]


_QUIET = SubjectState()


GroupKey = tuple[str, str | None]  # (view, department): one read serves every rule of a group


def _group_of(rule: Rule) -> GroupKey:
    view = rule.view or "RightNow"
    return view, None if view == "Queue" else rule.department_id


@dataclass(frozen=True, slots=True)
class _Group:
    """The rules of a site that read one view of one department: how it is read."""

    view: str
    query: ViewQuery  # extended=true only when a rule reads an extension field
    clock: bool  # a rule reads a field that moves with the clock alone


def _groups(rules: list[Rule]) -> dict[GroupKey, _Group]:
    members: dict[GroupKey, list[Rule]] = defaultdict(list)
    for rule in rules:
        if rule.kind != SILENCE:
            members[_group_of(rule)].append(rule)
    groups = {}
    for (view, department), found in members.items():
        extended = any(rule.field in EXTENDED[view] for rule in found)
        query = ViewQuery(department_id=department, extended=extended).for_view(view)
        groups[(view, department)] = _Group(
            view, query, any(rule.field in CLOCK[view] for rule in found)
        )
    return groups


def _later(moment: int | None, created: int) -> int:
    return created if moment is None else max(moment, created)


def _same(a: SubjectState, b: SubjectState) -> bool:
    """Nothing to store: the same level and the same holds (a new value alone is not written)."""
    return (a.state, a.warning_since, a.critical_since) == (
        b.state,
        b.warning_since,
        b.critical_since,
    )


__all__ = ["Evaluator", "Transition"]
