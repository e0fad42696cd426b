"""Alert rules as a use case (docs/alerts.md): create, read, replace, delete; the firing alerts
and their history. The evaluator is services/alert_eval.py."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import IntegrityError

from chatpulse.domain.alerts import RuleBody, parse_rule
from chatpulse.domain.errors import Conflict, FieldError, InvalidBody, NotFound
from chatpulse.domain.events import normalize_uuid
from chatpulse.domain.timeutil import format_instant_exact
from chatpulse.services.runtime import Runtime
from chatpulse.store import alerts as store
from chatpulse.store.db import read_connection

# Told (in this process) whenever a rule changes: the evaluator reloads at once.
rule_listeners: list[Callable[[], None]] = []


def _changed() -> None:
    for listener in rule_listeners:
        listener()


def _checked(runtime: Runtime, site_id: int, body: Any, creating: bool) -> RuleBody:
    rule = parse_rule(body, creating)
    if rule.department_id is not None and not store.department_exists(
        runtime.engine, site_id, rule.department_id
    ):
        raise InvalidBody([FieldError("departmentId", "is not a department of this site")])
    return rule


def create(runtime: Runtime, site_id: int, body: Any) -> dict[str, Any]:
    rule = _checked(runtime, site_id, body, creating=True)
    rule_id = rule.id or str(uuid.uuid4())
    try:  # a taken id (of any site: ids are global) is the insert's integrity error
        created = store.create_rule(runtime.engine, site_id, rule_id, rule, runtime.clock.now())
    except IntegrityError as err:
        raise Conflict("id", "is taken") from err
    _changed()
    return created.as_json()


def list_rules(runtime: Runtime, site_id: int) -> list[dict[str, Any]]:
    return [rule.as_json() for rule in store.site_rules(runtime.engine, site_id)]


def _id(rule_id: str) -> str:
    found = normalize_uuid(rule_id)
    if found is None:
        raise NotFound("alert rule", "ruleId")
    return found


def get(runtime: Runtime, site_id: int, rule_id: str) -> dict[str, Any]:
    rule = store.get_rule(runtime.engine, site_id, _id(rule_id))
    if rule is None:
        raise NotFound("alert rule", "ruleId")
    return rule.as_json()


def replace(runtime: Runtime, site_id: int, rule_id: str, body: Any) -> dict[str, Any]:
    key = _id(rule_id)
    rule = _checked(runtime, site_id, body, creating=False)
    given = body.get("id") if isinstance(body, dict) else None
    if given is not None and normalize_uuid(given) != key:
        raise InvalidBody([FieldError("id", "must be the id of the path, or absent")])
    replaced = store.replace_rule(runtime.engine, site_id, key, rule, runtime.clock.now())
    if replaced is None:
        raise NotFound("alert rule", "ruleId")
    _changed()
    return replaced.as_json()


def delete(runtime: Runtime, site_id: int, rule_id: str) -> None:
    if not store.delete_rule(runtime.engine, site_id, _id(rule_id), runtime.clock.now()):
        raise NotFound("alert rule", "ruleId")
    runtime.outbox_filled()  # its firing alerts ended: their deliveries go now
    _changed()


def firing_json(runtime: Runtime, site_id: int) -> dict[str, Any]:
    """The site's firing alerts now, and when the rules were last evaluated."""
    with read_connection(runtime.engine) as conn:
        alerts = [alert.as_json() for alert in store.firing(conn, site_id)]
    evaluated = store.evaluated_at(runtime.engine)
    return {
        "alerts": alerts,
        "evaluatedAt": None if evaluated is None else format_instant_exact(evaluated),
    }


def history(runtime: Runtime, site_id: int, after: int, limit: int) -> dict[str, Any]:
    transitions, last = store.history(runtime.engine, site_id, after, limit)
    return {
        "transitions": transitions,
        "lastTransitionId": last,
        "nextAfter": transitions[-1]["transitionId"] if transitions else after,
    }


def firing_counts(runtime: Runtime) -> dict[str, int]:
    """Firing alerts of every site by severity (for /metrics)."""
    return store.firing_counts(runtime.engine)
