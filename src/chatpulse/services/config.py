"""Configuration (SPEC.md §5): departments, agents and agent statuses, written once for the three
kinds. Each kind names its stored documents' functions and builds its document from a request
body (a dict of the body's fields). Each request is one transaction opened here: a read on one
connection, a write in `store.config.writing` (it moves the site's configuration version), after
which this process's open streams of the site recompute."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from chatpulse.domain.errors import FieldError, InvalidBody, NotFound
from chatpulse.domain.events import normalize_uuid
from chatpulse.domain.timeutil import OUT_OF_RANGE, format_instant, instant_in_range, parse_iso
from chatpulse.services.runtime import Runtime
from chatpulse.store import config

Doc = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of configuration object: what it is called in errors, how its document is
    built from a body, and the store's functions for it."""

    what: str
    document: Callable[[int, str, Doc, int], Doc]  # (site, id, body, now) → document
    listed: Callable[[Connection, int, bool], list[Doc]]
    found: Callable[[Connection, int, str], Doc | None]
    inserted: Callable[[Connection, int, Doc], Doc]
    replaced: Callable[[Connection, int, Doc], Doc | None]
    deleted: Callable[[Connection, int, str], bool]
    shown: Callable[[Doc], Doc] = lambda doc: doc  # the answer of a create or replace


def _body_site(site_id: int, given: int | None) -> None:
    if given is not None and given != site_id:
        raise InvalidBody([FieldError("siteId", "must be the id of this token's site")])


def _department(site_id: int, department_id: str, body: Doc, _now: int) -> Doc:
    _body_site(site_id, body.get("siteId"))
    return {
        "id": department_id,
        "siteId": site_id,
        "name": body["name"],
        "description": body["description"],
        "isAvailableInLiveChat": body["isAvailableInLiveChat"],
        "isAvailableInTicketingAndMessaging": body["isAvailableInTicketingAndMessaging"],
        "isDeleted": False,
        "serviceLevelSeconds": body["serviceLevelSeconds"],
        "shortAbandonSeconds": body["shortAbandonSeconds"],
    }


def _locked_time(text: str | None) -> str | None:
    if text is None:
        return None
    moment = parse_iso(text)
    if moment is None or moment.tzinfo is None:
        raise InvalidBody([FieldError("lockedTime", "must be an ISO 8601 date-time with offset")])
    micros = instant_in_range(moment)
    if micros is None:
        raise InvalidBody([FieldError("lockedTime", OUT_OF_RANGE)])
    return format_instant(micros)


def _agent(site_id: int, agent_id: str, body: Doc, now: int) -> Doc:
    _body_site(site_id, body.get("siteId"))
    return {
        "id": agent_id,
        "siteId": site_id,
        "displayName": body["displayName"],
        "email": body["email"],
        "firstName": body["firstName"],
        "lastName": body["lastName"],
        "isAdmin": body["isAdmin"],
        "isActive": body["isActive"],
        "phone": body["phone"],
        "title": body["title"],
        "bio": body["bio"],
        "apiKey": None,
        "createdTime": format_instant(now),
        "isLocked": body["isLocked"],
        "lockedTime": _locked_time(body.get("lockedTime")),
        "isDeleted": False,
        "systemAvatarId": body.get("systemAvatarId"),
        "ifCustomizeAvatar": body["ifCustomizeAvatar"],
        "customizeAvatar": body["customizeAvatar"],
        "avatar": body["avatar"],
        "departmentIds": list(dict.fromkeys(body["departmentIds"])),
        "maxConcurrentChats": body["maxConcurrentChats"],
    }


def _status(_site_id: int, status_id: str, body: Doc, _now: int) -> Doc:
    return {"id": status_id, "name": body["name"], "type": body["type"], "order": body["order"]}


def _status_found(conn: Connection, site_id: int, status_id: str) -> Doc | None:
    found = config.get_status(conn, site_id, status_id)
    return found[0] if found is not None else None


def _status_shown(doc: Doc) -> Doc:
    return {k: doc[k] for k in ("id", "name", "type", "isSystem", "order")}


DEPARTMENTS = Kind(
    "department",
    _department,
    config.list_departments,
    config.get_department,
    config.insert_department,
    config.replace_department,
    config.delete_department,
)
AGENTS = Kind(
    "agent",
    _agent,
    config.list_agents,
    config.get_agent,
    config.insert_agent,
    config.replace_agent,
    config.delete_agent,
)
STATUSES = Kind(
    "agent status",
    _status,
    config.list_statuses,
    _status_found,
    config.insert_status,
    config.replace_status,
    config.delete_status,
    _status_shown,
)


def _key(kind: Kind, text: str) -> str:
    """The canonical id of a path's id; one that is no UUID names nothing: 404."""
    key = normalize_uuid(text)
    if key is None:
        raise NotFound(kind.what)
    return key


def list_all(runtime: Runtime, kind: Kind, site_id: int, include_deleted: bool) -> list[Doc]:
    with runtime.engine.connect() as conn:
        return kind.listed(conn, site_id, include_deleted)


def get(runtime: Runtime, kind: Kind, site_id: int, item_id: str) -> Doc:
    key = _key(kind, item_id)
    with runtime.engine.connect() as conn:
        doc = kind.found(conn, site_id, key)
    if doc is None:
        raise NotFound(kind.what)
    return doc


def create(runtime: Runtime, kind: Kind, site_id: int, body: Doc) -> Doc:
    item_id = body.get("id") or str(uuid.uuid4())
    doc = kind.document(site_id, item_id, body, runtime.clock.now())
    with config.writing(runtime.engine, site_id) as conn:
        created = kind.inserted(conn, site_id, doc)
    runtime.config_changed(site_id)
    return kind.shown(created)


def replace(runtime: Runtime, kind: Kind, site_id: int, item_id: str, body: Doc) -> Doc:
    key = _key(kind, item_id)
    if body.get("id") is not None and body["id"] != key:
        raise InvalidBody([FieldError("id", "must match the id in the path")])
    doc = kind.document(site_id, key, body, runtime.clock.now())
    with config.writing(runtime.engine, site_id) as conn:
        replaced = kind.replaced(conn, site_id, doc)
        if replaced is None:
            raise NotFound(kind.what)  # rolled back: the version does not move
    runtime.config_changed(site_id)
    return kind.shown(replaced)


def delete(runtime: Runtime, kind: Kind, site_id: int, item_id: str) -> None:
    key = _key(kind, item_id)
    with config.writing(runtime.engine, site_id) as conn:
        if not kind.deleted(conn, site_id, key):
            raise NotFound(kind.what)  # rolled back: the version does not move
    runtime.config_changed(site_id)
