"""Ingest: validate a batch against the current state and append it atomically (SPEC.md §4).

Group commit: concurrent batches of one site (one request each, in worker threads) share one
transaction and one commit — the first to arrive commits at once, those that arrive meanwhile
go together in the next commit. Each batch keeps its own all-or-nothing: a group is only
committed when every batch in it is valid and new; otherwise (a rejected event, an id stored
before or repeated across batches, a database error) each of its batches is ingested alone, in
arrival order, exactly as without grouping. Nobody is answered before its commit.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from chatpulse.domain.errors import ChatPulseError, FieldError, InvalidBody
from chatpulse.domain.events import Event, parse_event
from chatpulse.services.runtime import Runtime
from chatpulse.store.db import PerEngine
from chatpulse.store.eventlog import IngestTransaction

MAX_EVENTS = 1000
# A group takes batches until it holds this many events (one request's batch is never split).
GROUP_EVENTS = 1000


@dataclass(frozen=True, slots=True)
class IngestResult:
    accepted: int
    duplicates: int
    last_sequence: int
    # The departments whose views the batch may change (store/eventlog.py); None: any.
    departments: frozenset[str] | None = None

    def as_json(self) -> dict[str, int]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "lastSequence": self.last_sequence,
        }


class ConflictingEvents(ChatPulseError):
    """Ids already stored (or repeated in the batch) with other content: 409, nothing stored."""

    def __init__(self, errors: list[FieldError]) -> None:
        first = errors[0]
        super().__init__(f"event {first.index}: {first.message}", errors, 409)


@dataclass(slots=True)
class _Batch:
    """A batch after the checks that need no stored state."""

    shape_errors: list[FieldError]
    conflicts: list[FieldError]
    fresh: list[tuple[int, Event]]  # (index in the batch, event): first of their id
    duplicates: int

    @classmethod
    def check(cls, raw_events: Sequence[Any], now: int) -> _Batch:
        shape_errors: list[FieldError] = []
        parsed: list[tuple[int, Event]] = []
        for index, raw in enumerate(raw_events):
            result = parse_event(raw, index, now)
            if isinstance(result, Event):
                parsed.append((index, result))
            else:
                shape_errors.extend(result)
        # An id repeated in the batch: the same content again is a duplicate, other content a
        # conflict.
        batch = cls(shape_errors, [], [], 0)
        first_seen: dict[str, Event] = {}
        for index, event in parsed:
            seen = first_seen.get(event.id)
            if seen is None:
                first_seen[event.id] = event
                batch.fresh.append((index, event))
            elif seen.same_content(event):
                batch.duplicates += 1
            else:
                batch.conflicts.append(_conflict(index, event.id, "earlier in this batch"))
        return batch


def append(runtime: Runtime, site_id: int, raw_events: Sequence[Any]) -> IngestResult:
    """Blocking: ingest the batch (atomic, idempotent; durable when this returns), then tell the
    process's observers which site and departments it changed."""
    result = ingest(runtime.engine, site_id, raw_events, runtime.clock.now())
    if result.accepted:
        runtime.notify(site_id, result.last_sequence, result.departments)
    return result


def ingest(engine: Engine, site_id: int, raw_events: Sequence[Any], now: int) -> IngestResult:
    """Store every event of the batch, or none of them (blocking: a worker thread). Batches of
    the same site arriving while another commits are committed together (module docstring)."""
    return _committer(engine).submit(site_id, raw_events, now)


def ingest_alone(engine: Engine, site_id: int, raw_events: Sequence[Any], now: int) -> IngestResult:
    """Store every event of the batch, or none of them, in a transaction of its own."""
    batch = _Batch.check(raw_events, now)
    duplicates = batch.duplicates
    conflicts = list(batch.conflicts)
    with IngestTransaction(engine, site_id) as tx:
        stored = tx.stored_events([e.id for _, e in batch.fresh])
        new: list[tuple[int, Event]] = []
        for index, event in batch.fresh:
            old = stored.get(event.id)
            if old is None:
                new.append((index, event))
            elif old.same_content(event):
                duplicates += 1
            else:
                conflicts.append(_conflict(index, event.id, "already stored"))
        if conflicts:
            raise ConflictingEvents(sorted(conflicts, key=lambda e: e.index or 0))

        projector = tx.projector_for([e for _, e in new])
        state_errors = [
            error for index, event in new if (error := projector.apply(event, index)) is not None
        ]
        errors = sorted(batch.shape_errors + state_errors, key=lambda e: e.index or 0)
        if errors:
            raise InvalidBody(errors)
        last = tx.commit([e for _, e in new], projector, now)
    return IngestResult(len(new), duplicates, last, tx.changed_departments)


# ------------------------------------------------------------------------- group commit


@dataclass(slots=True, eq=False)
class _Job:
    raw_events: Sequence[Any]
    now: int
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # woken to commit the next group, not with a result
    result: IngestResult | None = None
    error: BaseException | None = None


class _Fallback(Exception):
    """The group cannot be committed as one: each of its batches goes alone."""


@dataclass(slots=True)
class _Site:
    lock: threading.Lock = field(default_factory=threading.Lock)
    queue: list[_Job] = field(default_factory=list)
    leading: bool = False
    together: int = 0  # groups of several batches committed as one


class _Committer:
    """The batches waiting to be committed, per site, in one process."""

    def __init__(self, engine: Engine) -> None:
        self._engine = weakref.ref(engine)
        self._sites: dict[int, _Site] = {}
        self._lock = threading.Lock()

    def submit(self, site_id: int, raw_events: Sequence[Any], now: int) -> IngestResult:
        with self._lock:
            site = self._sites.get(site_id)
            if site is None:
                site = self._sites[site_id] = _Site()
        job = _Job(raw_events, now)
        with site.lock:
            site.queue.append(job)
            lead = not site.leading
            site.leading = True
        if not lead:
            job.done.wait()
            lead = job.lead  # the previous leader handed over: this thread commits next
        if lead:
            self._lead(site_id, site)
        if job.error is not None:
            raise job.error
        assert job.result is not None
        return job.result

    def state(self, site_id: int) -> tuple[bool, int, int]:
        """(whether a batch of the site is being committed, how many wait behind it, how many
        groups of several batches were committed together so far)."""
        with self._lock:
            site = self._sites.get(site_id)
        if site is None:
            return False, 0, 0
        with site.lock:
            return site.leading, len(site.queue), site.together

    def _lead(self, site_id: int, site: _Site) -> None:
        """Commit the queue's head group, then hand the lead to whoever waits next."""
        with site.lock:
            group: list[_Job] = []
            size = 0
            while site.queue and (
                not group or size + len(site.queue[0].raw_events) <= GROUP_EVENTS
            ):
                job = site.queue.pop(0)
                group.append(job)
                size += len(job.raw_events)
        engine = self._engine()
        assert engine is not None
        together = 0
        try:
            together = _commit_group(engine, site_id, group)
        finally:
            for job in group:  # only if the commit itself was interrupted: nobody waits forever
                if job.result is None and job.error is None:
                    job.error = RuntimeError("ingest interrupted before its commit")
            with site.lock:
                site.together += together
                heir = site.queue[0] if site.queue else None
                if heir is None:
                    site.leading = False
                else:
                    heir.lead = True
            for job in group:
                job.done.set()
            if heir is not None:
                heir.done.set()


def _commit_group(engine: Engine, site_id: int, group: list[_Job]) -> int:
    """Every job of `group` gets its result or its error; 1 if they were committed as one."""
    if len(group) > 1:
        try:
            results = _together(engine, site_id, group)
        except Exception:  # _Fallback, or e.g. the database was busy: each batch alone
            pass
        else:
            for job, result in zip(group, results, strict=True):
                job.result = result
            return 1
    for job in group:
        try:
            job.result = ingest_alone(engine, site_id, job.raw_events, job.now)
        except Exception as err:
            job.error = err
    return 0


def _together(engine: Engine, site_id: int, group: list[_Job]) -> list[IngestResult]:
    """All batches in one transaction, or _Fallback when any of them would not go as one."""
    batches = [_Batch.check(job.raw_events, job.now) for job in group]
    ids: set[str] = set()
    events: list[Event] = []
    for batch in batches:
        if batch.shape_errors or batch.conflicts:
            raise _Fallback
        for _, event in batch.fresh:
            if event.id in ids:
                raise _Fallback  # repeated across batches: duplicate or conflict, as alone
            ids.add(event.id)
            events.append(event)
    with IngestTransaction(engine, site_id) as tx:
        if tx.stored_events(sorted(ids)):
            raise _Fallback  # duplicates or conflicts: each batch says which, alone
        projector = tx.projector_for(events)
        for batch in batches:
            for index, event in batch.fresh:
                if projector.apply(event, index) is not None:
                    raise _Fallback  # this batch is rejected; the others may be stored
        first = tx.last_sequence
        tx.commit(events, projector, max(job.now for job in group))
    results: list[IngestResult] = []
    sequence = first
    for batch in batches:
        sequence += len(batch.fresh)
        results.append(
            IngestResult(len(batch.fresh), batch.duplicates, sequence, tx.changed_departments)
        )
    return results


_committer = PerEngine(_Committer)


def group_state(engine: Engine, site_id: int) -> tuple[bool, int, int]:
    """For tests and diagnostics: `_Committer.state` of the engine's committer."""
    return _committer(engine).state(site_id)


def _conflict(index: int, event_id: str, where: str) -> FieldError:
    return FieldError("id", f"event {event_id} was {where} with other content", index)


__all__ = ["MAX_EVENTS", "ConflictingEvents", "IngestResult", "ingest", "ingest_alone"]
