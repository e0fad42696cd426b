"""Alert rules, their subjects' states, transitions and the webhook outbox rows they queue
(docs/alerts.md). Every query takes the site first, except the evaluator's work lists (all
sites) and the lease.

A state is written by compare-and-set on its `revision`: a process whose memory is stale (it
lost the evaluator's lease meanwhile) writes nothing and learns so, so a change of state is
stored once whatever the number of processes. A transition, its state and its outbox rows are
one transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import orjson
from sqlalchemy import Connection, Engine, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from chatpulse.domain.alerts import (
    OK,
    Rule,
    RuleBody,
    SubjectState,
    Transition,
    number_json,
    subject_json,
)
from chatpulse.domain.timeutil import format_instant_exact
from chatpulse.store import tables as t
from chatpulse.store.db import WRITE, read_connection, write_lock
from chatpulse.store.notify import ALERTS_CHANNEL
from chatpulse.store.scoped import scoped, scoped_delete, scoped_update

EVALUATOR_LEASE = "alerts"


class StaleState(Exception):
    """A state changed under this process (another evaluator wrote it): reload."""


def _rule(row: object) -> Rule:
    r = row._mapping  # type: ignore[attr-defined]
    return Rule(
        r["id"],
        r["site_id"],
        r["name"],
        r["kind"],
        r["view"],
        r["field"],
        r["department_id"],
        r["comparison"] or ">=",
        r["warning"],
        r["critical"],
        r["hold_seconds"],
        r["clear_margin"],
        r["created_at"],
        r["updated_at"],
    )


def _values(body: RuleBody) -> dict[str, object]:
    return {
        "name": body.name,
        "kind": body.kind,
        "view": body.view,
        "field": body.field,
        "department_id": body.department_id,
        "comparison": body.comparison,
        "warning": body.warning,
        "critical": body.critical,
        "hold_seconds": body.hold_seconds,
        "clear_margin": body.clear_margin,
    }


def department_exists(engine: Engine, site_id: int, department_id: str) -> bool:
    with engine.connect() as conn:
        found = conn.execute(
            scoped(t.departments, site_id, t.departments.c.id).where(
                t.departments.c.id == department_id, t.departments.c.is_deleted.is_(False)
            )
        ).first()
    return found is not None


def create_rule(engine: Engine, site_id: int, rule_id: str, body: RuleBody, now: int) -> Rule:
    """Raises IntegrityError when the id is taken."""
    with write_lock(engine), engine.connect().execution_options(**WRITE) as conn, conn.begin():
        conn.execute(
            insert(t.alert_rules).values(
                id=rule_id, site_id=site_id, created_at=now, updated_at=now, **_values(body)
            )
        )
    rule = get_rule(engine, site_id, rule_id)
    assert rule is not None
    return rule


def get_rule(engine: Engine, site_id: int, rule_id: str) -> Rule | None:
    with engine.connect() as conn:
        row = conn.execute(
            scoped(t.alert_rules, site_id).where(
                t.alert_rules.c.id == rule_id, t.alert_rules.c.deleted_at.is_(None)
            )
        ).first()
    return None if row is None else _rule(row)


def site_rules(engine: Engine, site_id: int) -> list[Rule]:
    with engine.connect() as conn:
        rows = conn.execute(
            scoped(t.alert_rules, site_id)
            .where(t.alert_rules.c.deleted_at.is_(None))
            .order_by(t.alert_rules.c.created_at, t.alert_rules.c.id)
        )
        return [_rule(row) for row in rows]


def all_rules(engine: Engine) -> list[Rule]:
    """Every live rule of every site (the evaluator's work list)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.alert_rules)
            .where(t.alert_rules.c.deleted_at.is_(None))
            .order_by(t.alert_rules.c.site_id, t.alert_rules.c.created_at, t.alert_rules.c.id)
        )
        return [_rule(row) for row in rows]


def any_rules(engine: Engine) -> bool:
    with engine.connect() as conn:
        found = conn.execute(
            select(t.alert_rules.c.id).where(t.alert_rules.c.deleted_at.is_(None)).limit(1)
        ).first()
    return found is not None


def rules_mark(engine: Engine) -> tuple[int, int]:
    """(how many rules, the latest change): moves whenever any rule is created, replaced or
    deleted, so an evaluator notices other processes' writes with one small read."""
    with engine.connect() as conn:
        row = conn.execute(
            select(
                func.count(),
                func.coalesce(
                    func.max(func.coalesce(t.alert_rules.c.deleted_at, t.alert_rules.c.updated_at)),
                    0,
                ),
            ).select_from(t.alert_rules)
        ).one()
    return int(row[0]), int(row[1])


def replace_rule(
    engine: Engine, site_id: int, rule_id: str, body: RuleBody, now: int
) -> Rule | None:
    with write_lock(engine), engine.connect().execution_options(**WRITE) as conn, conn.begin():
        done = conn.execute(
            scoped_update(t.alert_rules, site_id)
            .where(t.alert_rules.c.id == rule_id, t.alert_rules.c.deleted_at.is_(None))
            .values(updated_at=now, **_values(body))
        ).rowcount
    return get_rule(engine, site_id, rule_id) if done else None


def delete_rule(engine: Engine, site_id: int, rule_id: str, now: int) -> bool:
    """Retire the rule: each of its firing subjects gets its transition to ok (value null), so
    that receivers see the alert end; its states go."""
    with write_lock(engine), engine.connect().execution_options(**WRITE) as conn, conn.begin():
        row = conn.execute(
            scoped(t.alert_rules, site_id).where(
                t.alert_rules.c.id == rule_id, t.alert_rules.c.deleted_at.is_(None)
            )
        ).first()
        if row is None:
            return False
        rule = _rule(row)
        conn.execute(
            scoped_update(t.alert_rules, site_id)
            .where(t.alert_rules.c.id == rule_id)
            .values(deleted_at=max(now, rule.updated_at + 1))
        )
        states = conn.execute(
            scoped(t.alert_states, site_id).where(t.alert_states.c.rule_id == rule_id)
        ).all()
        transitions = [
            Transition(rule_id, s.subject, s.state, OK, None, rule.threshold(s.state), now)
            for s in states
            if s.state != OK
        ]
        conn.execute(
            scoped_delete(t.alert_states, site_id).where(t.alert_states.c.rule_id == rule_id)
        )
        _record(conn, site_id, {rule_id: rule}, transitions)
    return True


# ---- states --------------------------------------------------------------------------------


def load_states(
    engine: Engine, site_ids: Iterable[int]
) -> dict[tuple[int, str, str], SubjectState]:
    """The stored states of these sites, by (site, rule, subject)."""
    found: dict[tuple[int, str, str], SubjectState] = {}
    wanted = sorted(set(site_ids))
    with engine.connect() as conn:
        for start in range(0, len(wanted), 500):
            rows = conn.execute(
                select(t.alert_states).where(
                    t.alert_states.c.site_id.in_(wanted[start : start + 500])
                )
            )
            for r in rows:
                found[(r.site_id, r.rule_id, r.subject)] = SubjectState(
                    r.state, r.since, r.value, r.warning_since, r.critical_since, r.revision
                )
    return found


@dataclass(frozen=True, slots=True)
class Change:
    """One subject's state moving from `old` (as this process last read or wrote it) to `new`."""

    rule: Rule
    subject: str
    old: SubjectState
    new: SubjectState
    transition: Transition | None


def apply(engine: Engine, site_id: int, changes: Sequence[Change]) -> list[SubjectState]:
    """Write the changes of one evaluation of a site in one transaction: each state by
    compare-and-set, each transition with its outbox rows. The states as stored (revisions
    moved on). Raises StaleState (nothing written) when any state moved under this process."""
    stored: list[SubjectState] = []
    try:
        with write_lock(engine), engine.connect().execution_options(**WRITE) as conn, conn.begin():
            for change in changes:
                new = SubjectState(
                    change.new.state,
                    change.new.since,
                    change.new.value,
                    change.new.warning_since,
                    change.new.critical_since,
                    change.old.revision + 1,
                )
                values = {
                    "state": new.state,
                    "since": new.since,
                    "value": new.value,
                    "warning_since": new.warning_since,
                    "critical_since": new.critical_since,
                    "revision": new.revision,
                }
                if change.old.revision == 0:
                    conn.execute(
                        insert(t.alert_states).values(
                            site_id=site_id,
                            rule_id=change.rule.id,
                            subject=change.subject,
                            **values,
                        )
                    )
                else:
                    done = conn.execute(
                        scoped_update(t.alert_states, site_id)
                        .where(
                            t.alert_states.c.rule_id == change.rule.id,
                            t.alert_states.c.subject == change.subject,
                            t.alert_states.c.revision == change.old.revision,
                        )
                        .values(**values)
                    ).rowcount
                    if done != 1:
                        raise StaleState(change.rule.id)
                stored.append(new)
            transitions = [c.transition for c in changes if c.transition is not None]
            if transitions:
                _record(conn, site_id, {c.rule.id: c.rule for c in changes}, transitions)
    except IntegrityError as err:  # another process inserted the state first
        raise StaleState(str(err)) from err
    return stored


def transition_json(
    transition_id: int, rule: dict[str, object], tr: Transition
) -> dict[str, object]:
    """A transition as the API, the stream and the webhooks show it."""
    return {
        "transitionId": transition_id,
        "ruleId": tr.rule_id,
        "ruleName": rule.get("name"),
        "kind": rule.get("kind"),
        "view": rule.get("view"),
        "field": rule.get("field"),
        "departmentId": rule.get("departmentId"),
        **subject_json(tr.subject),
        "from": tr.from_state,
        "to": tr.to_state,
        "severity": tr.to_state if tr.to_state != OK else tr.from_state,
        "value": number_json(tr.value),
        "threshold": number_json(tr.threshold),
        "time": format_instant_exact(tr.at),
    }


def _rule_brief(rule: Rule) -> dict[str, object]:
    return {
        "name": rule.name,
        "kind": rule.kind,
        "view": rule.view,
        "field": rule.field,
        "departmentId": rule.department_id,
        "comparison": rule.comparison,
    }


def _record(
    conn: Connection, site_id: int, rules: dict[str, Rule], transitions: Sequence[Transition]
) -> None:
    """Store the transitions, and queue each for every live webhook of the site that wants it
    (its severities name the level entered or left)."""
    if not transitions:
        return
    hooks = conn.execute(
        scoped(t.alert_webhooks, site_id, t.alert_webhooks.c.id, t.alert_webhooks.c.severities)
        .where(t.alert_webhooks.c.deleted_at.is_(None))
        .order_by(t.alert_webhooks.c.created_at, t.alert_webhooks.c.id)
    ).all()
    outbox: list[dict[str, object]] = []
    for tr in transitions:
        brief = _rule_brief(rules[tr.rule_id])
        transition_id = conn.execute(
            insert(t.alert_transitions)
            .values(
                site_id=site_id,
                rule_id=tr.rule_id,
                subject=tr.subject,
                from_state=tr.from_state,
                to_state=tr.to_state,
                value=tr.value,
                threshold=tr.threshold,
                at=tr.at,
                rule=orjson.dumps(brief).decode(),
            )
            .returning(t.alert_transitions.c.id)
        ).scalar_one()
        alert = transition_json(transition_id, brief, tr)
        for hook in hooks:
            wanted = set(hook.severities.split(","))
            if tr.to_state not in wanted and tr.from_state not in wanted:
                continue
            delivery_id = str(uuid.uuid4())
            body = {
                "type": "alert.transition",
                "deliveryId": delivery_id,
                "siteId": site_id,
                "webhookId": hook.id,
                "alert": alert,
            }
            outbox.append(
                {
                    "id": delivery_id,
                    "site_id": site_id,
                    "webhook_id": hook.id,
                    "transition_id": transition_id,
                    "body": orjson.dumps(body).decode(),
                    "created_at": tr.at,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": tr.at,
                }
            )
    if outbox:
        conn.execute(insert(t.alert_deliveries), outbox)
    if conn.dialect.name == "postgresql":  # other processes' streams: delivered on commit
        conn.execute(
            text("SELECT pg_notify(:channel, :site)"),
            {
                "channel": ALERTS_CHANNEL,
                "site": str(site_id),
            },
        )


# ---- reads ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Firing:
    rule: Rule
    subject: str
    state: str
    since: int
    value: float | None

    def as_json(self) -> dict[str, object]:
        return {
            "ruleId": self.rule.id,
            "ruleName": self.rule.name,
            "kind": self.rule.kind,
            "view": self.rule.view,
            "field": self.rule.field,
            "departmentId": self.rule.department_id,
            **subject_json(self.subject),
            "severity": self.state,
            "value": number_json(self.value),
            "threshold": number_json(self.rule.threshold(self.state)),
            "since": format_instant_exact(self.since),
        }


def firing(conn: Connection, site_id: int) -> list[Firing]:
    """The site's firing alerts: critical first, then the longest firing, then by rule."""
    rows = conn.execute(
        select(t.alert_states, t.alert_rules)
        .join(
            t.alert_rules,
            (t.alert_rules.c.id == t.alert_states.c.rule_id)
            & (t.alert_rules.c.site_id == t.alert_states.c.site_id),
        )
        .where(
            t.alert_states.c.site_id == site_id,
            t.alert_states.c.state != OK,
            t.alert_rules.c.deleted_at.is_(None),
        )
    ).all()
    out = [Firing(_rule(row), row.subject, row.state, row.since, row.value) for row in rows]
    out.sort(key=lambda f: (f.state != "critical", f.since, f.rule.name, f.rule.id, f.subject))
    return out


def alerts_version(conn: Connection, site_ids: Sequence[int]) -> dict[int, int]:
    """The last transition id of each site (0: none): moves with every transition."""
    if not site_ids:
        return {}
    rows = conn.execute(
        select(t.alert_transitions.c.site_id, func.max(t.alert_transitions.c.id))
        .where(t.alert_transitions.c.site_id.in_(list(site_ids)))
        .group_by(t.alert_transitions.c.site_id)
    ).all()
    found = {site: 0 for site in site_ids}
    found.update({row[0]: int(row[1]) for row in rows})
    return found


def firing_body(engine: Engine, site_id: int) -> tuple[bytes, int]:
    """The stream's `alert` data (`{"alerts": [...]}`) and the site's last transition id, read in
    one snapshot."""
    with read_connection(engine) as conn:
        alerts = [alert.as_json() for alert in firing(conn, site_id)]
        mark = alerts_version(conn, [site_id])[site_id]
    return orjson.dumps({"alerts": alerts}), mark


def last_transitions(engine: Engine, site_ids: Sequence[int]) -> dict[int, int]:
    with engine.connect() as conn:
        return alerts_version(conn, site_ids)


def history(
    engine: Engine, site_id: int, after: int, limit: int
) -> tuple[list[dict[str, object]], int]:
    """Up to `limit` transitions after id `after`, oldest first; and the site's last id."""
    with read_connection(engine) as conn:
        rows = conn.execute(
            scoped(t.alert_transitions, site_id)
            .where(t.alert_transitions.c.id > after)
            .order_by(t.alert_transitions.c.id)
            .limit(limit)
        ).all()
        last = alerts_version(conn, [site_id])[site_id]
    out = []
    for row in rows:
        tr = Transition(
            row.rule_id, row.subject, row.from_state, row.to_state, row.value, row.threshold, row.at
        )
        out.append(transition_json(row.id, orjson.loads(row.rule), tr))
    return out, last


def last_event_times(engine: Engine, site_ids: Sequence[int]) -> dict[int, int | None]:
    """When each site's last stored event was received (None: no event yet)."""
    found: dict[int, int | None] = {site: None for site in site_ids}
    if not site_ids:
        return found
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.sites.c.id, t.events.c.recorded_at)
            .select_from(t.sites)
            .join(
                t.events,
                (t.events.c.site_id == t.sites.c.id) & (t.events.c.seq == t.sites.c.last_sequence),
            )
            .where(t.sites.c.id.in_(list(site_ids)))
        ).all()
    found.update({row[0]: row[1] for row in rows})
    return found


# ---- the evaluator's lease -----------------------------------------------------------------


def claim_lease(engine: Engine, name: str, holder: str, now: int, until: int) -> bool:
    """Hold (or keep) the lease `name` until `until` (wall clock, µs): True when this holder has
    it. Taken over only once the previous holder's time has run out."""
    with write_lock(engine), engine.connect().execution_options(**WRITE) as conn, conn.begin():
        taken = conn.execute(
            update(t.leases)
            .where(
                t.leases.c.name == name, (t.leases.c.holder == holder) | (t.leases.c.until <= now)
            )
            .values(holder=holder, until=until)
        ).rowcount
        if taken:
            return True
        exists = conn.execute(select(t.leases.c.name).where(t.leases.c.name == name)).first()
        if exists is not None:
            return False
        try:
            with conn.begin_nested():
                conn.execute(insert(t.leases).values(name=name, holder=holder, until=until))
        except IntegrityError:
            return False
        return True


def release_lease(engine: Engine, name: str, holder: str) -> None:
    with write_lock(engine), engine.connect().execution_options(**WRITE) as conn, conn.begin():
        conn.execute(
            update(t.leases)
            .where(t.leases.c.name == name, t.leases.c.holder == holder)
            .values(until=0)
        )


def mark_evaluated(engine: Engine, name: str, holder: str, at: int) -> None:
    with write_lock(engine), engine.connect().execution_options(**WRITE) as conn, conn.begin():
        conn.execute(
            update(t.leases)
            .where(t.leases.c.name == name, t.leases.c.holder == holder)
            .values(evaluated_at=at)
        )


def evaluated_at(engine: Engine, name: str = EVALUATOR_LEASE) -> int | None:
    with engine.connect() as conn:
        value = conn.execute(
            select(t.leases.c.evaluated_at).where(t.leases.c.name == name)
        ).scalar()
    return None if value is None else int(value)


def firing_counts(engine: Engine) -> dict[str, int]:
    """Firing subjects of live rules, every site, by severity (for /metrics: no site label)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.alert_states.c.state, func.count())
            .join(
                t.alert_rules,
                (t.alert_rules.c.id == t.alert_states.c.rule_id)
                & (t.alert_rules.c.site_id == t.alert_states.c.site_id),
            )
            .where(t.alert_states.c.state != OK, t.alert_rules.c.deleted_at.is_(None))
            .group_by(t.alert_states.c.state)
        ).all()
    counts = {"warning": 0, "critical": 0}
    counts.update({row[0]: int(row[1]) for row in rows})
    return counts
