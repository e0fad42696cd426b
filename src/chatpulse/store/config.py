"""Configuration: departments, agents and agent statuses, stored as their Comm100 documents.

Each function works in the caller's transaction (services/config.py opens it): `writing` for a
change (it moves the site's configuration version), a plain connection for a read."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, func, insert, or_, select, update

from chatpulse.domain.errors import Conflict, FieldError, InvalidBody
from chatpulse.domain.service_level import SiteThresholds, Thresholds
from chatpulse.store import live_totals, rollups
from chatpulse.store import tables as t
from chatpulse.store.db import WRITE, write_lock
from chatpulse.store.scoped import scoped, scoped_delete, scoped_update

Doc = dict[str, Any]
# A department's own service-level thresholds (None: the site's), in its document.
THRESHOLD_FIELDS = ("serviceLevelSeconds", "shortAbandonSeconds")


def _load(text: str) -> Doc:
    doc: Doc = orjson.loads(text)
    return doc


def _dump(doc: Doc) -> str:
    return orjson.dumps(doc).decode()


# ---------------------------------------------------------------- departments


@contextmanager
def writing(engine: Engine, site_id: int) -> Iterator[Connection]:
    """A write transaction that, when it succeeds, moves the site's configuration version:
    views cached by (last sequence, configuration version) must not outlive a change.

    The version moves first: that takes the site's row lock, which ingest takes too
    (eventlog.IngestTransaction), so a change to an agent and an ingest that moves the same
    agent's running totals (store/live_totals.py) run one after the other on PostgreSQL, each
    reading what the other committed. (SQLite has one writer anyway.)"""
    with (
        write_lock(engine),
        engine.connect().execution_options(**WRITE) as conn,
        conn.begin(),
    ):
        conn.execute(
            update(t.sites)
            .where(t.sites.c.id == site_id)
            .values(config_version=t.sites.c.config_version + 1)
        )
        yield conn


def list_departments(conn: Connection, site_id: int, include_deleted: bool) -> list[Doc]:
    query = scoped(t.departments, site_id, t.departments.c.doc)
    if not include_deleted:
        query = query.where(t.departments.c.is_deleted.is_(False))
    docs = [_load(d) for d in conn.execute(query).scalars()]
    return sorted(docs, key=lambda d: (d["name"].casefold(), d["id"]))


def get_department(conn: Connection, site_id: int, department_id: str) -> Doc | None:
    text = conn.execute(
        scoped(t.departments, site_id, t.departments.c.doc).where(
            t.departments.c.id == department_id
        )
    ).scalar()
    return _load(text) if text else None


def _taken(conn: Connection, site_id: int, column: Any, doc_id: str, value: str) -> bool:
    """Whether another live row of the table has `value` in `column`, case-insensitively.
    Compared in Python: SQL lower() folds only ASCII on SQLite and under PostgreSQL's C locale."""
    table = column.table
    others = conn.execute(
        scoped(table, site_id, column).where(table.c.is_deleted.is_(False), table.c.id != doc_id)
    ).scalars()
    wanted = value.casefold()
    return any(other.casefold() == wanted for other in others)


def _check_department_name(conn: Connection, site_id: int, doc: Doc) -> None:
    if _taken(conn, site_id, t.departments.c.name, doc["id"], doc["name"]):
        raise Conflict("name", f"a department named {doc['name']!r} already exists")


def _department_row(doc: Doc) -> dict[str, Any]:
    return {
        "name": doc["name"],
        "is_available_in_live_chat": doc["isAvailableInLiveChat"],
        "is_deleted": doc["isDeleted"],
        "doc": _dump(doc),
        "service_level_seconds": doc.get("serviceLevelSeconds"),
        "short_abandon_seconds": doc.get("shortAbandonSeconds"),
    }


def _new_id(conn: Connection, site_id: int, table: Any, doc: Doc, what: str) -> None:
    """409 when the site already has a row of `table` with the document's id (deleted or not)."""
    if conn.execute(scoped(table, site_id, table.c.id).where(table.c.id == doc["id"])).first():
        raise Conflict("id", f"{what} {doc['id']} already exists")


def insert_department(conn: Connection, site_id: int, doc: Doc) -> Doc:
    _new_id(conn, site_id, t.departments, doc, "department")
    _check_department_name(conn, site_id, doc)
    conn.execute(
        insert(t.departments).values(site_id=site_id, id=doc["id"], **_department_row(doc))
    )
    return doc


def replace_department(conn: Connection, site_id: int, doc: Doc) -> Doc | None:
    old = conn.execute(
        scoped(t.departments, site_id, t.departments.c.doc).where(t.departments.c.id == doc["id"])
    ).scalar()
    if old is None:
        return None
    before = _load(old)
    doc["isDeleted"] = before["isDeleted"]
    if not doc["isDeleted"]:
        _check_department_name(conn, site_id, doc)
    conn.execute(
        scoped_update(t.departments, site_id)
        .where(t.departments.c.id == doc["id"])
        .values(**_department_row(doc))
    )
    if any(before.get(name) != doc.get(name) for name in THRESHOLD_FIELDS):
        rollups.rejudge(conn, site_id, thresholds(conn, site_id))
    return doc


def delete_department(conn: Connection, site_id: int, department_id: str) -> bool:
    old = conn.execute(
        scoped(t.departments, site_id, t.departments.c.doc).where(
            t.departments.c.id == department_id
        )
    ).scalar()
    if old is None:
        return False
    doc = _load(old)
    doc["isDeleted"] = True
    conn.execute(
        scoped_update(t.departments, site_id)
        .where(t.departments.c.id == department_id)
        .values(**_department_row(doc))
    )
    return True


# ---------------------------------------------------------------- agents


def list_agents(conn: Connection, site_id: int, include_deleted: bool) -> list[Doc]:
    query = scoped(t.agents, site_id, t.agents.c.doc)
    if not include_deleted:
        query = query.where(t.agents.c.is_deleted.is_(False))
    docs = [_load(d) for d in conn.execute(query).scalars()]
    return sorted(docs, key=lambda d: (d["displayName"].casefold(), d["id"]))


def get_agent(conn: Connection, site_id: int, agent_id: str) -> Doc | None:
    text = conn.execute(
        scoped(t.agents, site_id, t.agents.c.doc).where(t.agents.c.id == agent_id)
    ).scalar()
    return _load(text) if text else None


def _check_agent(conn: Connection, site_id: int, doc: Doc) -> None:
    wanted = list(dict.fromkeys(doc["departmentIds"]))
    if wanted:
        known = set(
            conn.execute(
                scoped(t.departments, site_id, t.departments.c.id).where(
                    t.departments.c.id.in_(wanted),
                    t.departments.c.is_deleted.is_(False),
                )
            ).scalars()
        )
        missing = [d for d in wanted if d not in known]
        if missing:
            raise InvalidBody(
                [FieldError("departmentIds", f"unknown department {d}") for d in missing]
            )
    if _taken(conn, site_id, t.agents.c.email, doc["id"], doc["email"]):
        raise Conflict("email", f"an agent with email {doc['email']!r} already exists")


def _agent_row(doc: Doc) -> dict[str, Any]:
    return {
        "display_name": doc["displayName"],
        "sort_name": doc["displayName"].casefold()[:200],
        "email": doc["email"],
        "is_active": doc["isActive"],
        "is_deleted": doc["isDeleted"],
        "max_concurrent_chats": doc["maxConcurrentChats"],
        "doc": _dump(doc),
    }


def _set_agent_departments(conn: Connection, site_id: int, doc: Doc) -> None:
    conn.execute(
        scoped_delete(t.agent_departments, site_id).where(
            t.agent_departments.c.agent_id == doc["id"]
        )
    )
    ids = list(dict.fromkeys(doc["departmentIds"]))
    if ids:
        conn.execute(
            insert(t.agent_departments),
            [{"site_id": site_id, "agent_id": doc["id"], "department_id": d} for d in ids],
        )


def insert_agent(conn: Connection, site_id: int, doc: Doc) -> Doc:
    _new_id(conn, site_id, t.agents, doc, "agent")
    _check_agent(conn, site_id, doc)
    with live_totals.tracking(conn, site_id, [doc["id"]]):
        conn.execute(insert(t.agents).values(site_id=site_id, id=doc["id"], **_agent_row(doc)))
        _set_agent_departments(conn, site_id, doc)
    return doc


def replace_agent(conn: Connection, site_id: int, doc: Doc) -> Doc | None:
    old_text = conn.execute(
        scoped(t.agents, site_id, t.agents.c.doc).where(t.agents.c.id == doc["id"])
    ).scalar()
    if old_text is None:
        return None
    old = _load(old_text)
    doc["isDeleted"] = old["isDeleted"]
    doc["createdTime"] = old["createdTime"]
    _check_agent(conn, site_id, doc)
    with live_totals.tracking(conn, site_id, [doc["id"]]):
        conn.execute(
            scoped_update(t.agents, site_id)
            .where(t.agents.c.id == doc["id"])
            .values(**_agent_row(doc))
        )
        _set_agent_departments(conn, site_id, doc)
    return doc


def delete_agent(conn: Connection, site_id: int, agent_id: str) -> bool:
    old_text = conn.execute(
        scoped(t.agents, site_id, t.agents.c.doc).where(t.agents.c.id == agent_id)
    ).scalar()
    if old_text is None:
        return False
    doc = _load(old_text)
    doc["isDeleted"] = True
    with live_totals.tracking(conn, site_id, [agent_id]):
        conn.execute(
            scoped_update(t.agents, site_id)
            .where(t.agents.c.id == agent_id)
            .values(**_agent_row(doc))
        )
    return True


# ---------------------------------------------------------------- agent statuses


def _status_doc(row: Any) -> Doc:
    return {
        "id": row.id,
        "name": row.name,
        "type": row.type,
        "isSystem": row.is_system,
        "order": row.order,
    }


def list_statuses(conn: Connection, site_id: int, include_deleted: bool) -> list[Doc]:
    query = scoped(t.agent_statuses, site_id)
    if not include_deleted:
        query = query.where(t.agent_statuses.c.is_deleted.is_(False))
    rows = conn.execute(query.order_by(t.agent_statuses.c.order, t.agent_statuses.c.id)).all()
    docs = [_status_doc(r) for r in rows]
    if include_deleted:
        for doc, row in zip(docs, rows, strict=True):
            doc["isDeleted"] = row.is_deleted
    return docs


def get_status(conn: Connection, site_id: int, status_id: str) -> tuple[Doc, bool] | None:
    """The status document and whether it is deleted."""
    row = conn.execute(
        scoped(t.agent_statuses, site_id).where(t.agent_statuses.c.id == status_id)
    ).first()
    return (_status_doc(row), bool(row.is_deleted)) if row else None


def insert_status(conn: Connection, site_id: int, doc: Doc) -> Doc:
    _new_id(conn, site_id, t.agent_statuses, doc, "agent status")
    if doc.get("order") is None:
        highest = conn.execute(
            scoped(t.agent_statuses, site_id, func.max(t.agent_statuses.c.order))
        ).scalar()
        doc["order"] = int(highest if highest is not None else -1) + 1
    conn.execute(
        insert(t.agent_statuses).values(
            site_id=site_id,
            id=doc["id"],
            name=doc["name"],
            type=doc["type"],
            is_system=False,
            order=doc["order"],
            is_deleted=False,
        )
    )
    doc["isSystem"] = False
    return doc


def replace_status(conn: Connection, site_id: int, doc: Doc) -> Doc | None:
    row = conn.execute(
        scoped(t.agent_statuses, site_id).where(t.agent_statuses.c.id == doc["id"])
    ).first()
    if row is None:
        return None
    if row.is_system:
        raise Conflict("id", "built-in statuses cannot be changed")
    if doc.get("order") is None:
        doc["order"] = row.order
    conn.execute(
        scoped_update(t.agent_statuses, site_id)
        .where(t.agent_statuses.c.id == doc["id"])
        .values(name=doc["name"], type=doc["type"], order=doc["order"])
    )
    if doc["type"] != row.type:
        live_totals.recompute(conn, site_id)
    doc["isSystem"] = False
    return doc


def delete_status(conn: Connection, site_id: int, status_id: str) -> bool:
    row = conn.execute(
        scoped(t.agent_statuses, site_id).where(t.agent_statuses.c.id == status_id)
    ).first()
    if row is None:
        return False
    if row.is_system:
        raise Conflict("id", "built-in statuses cannot be deleted")
    conn.execute(
        scoped_update(t.agent_statuses, site_id)
        .where(t.agent_statuses.c.id == status_id)
        .values(is_deleted=True)
    )
    live_totals.recompute(conn, site_id)
    return True


# ---------------------------------------------------------------- service-level thresholds


def thresholds(conn: Connection, site_id: int, site: Thresholds | None = None) -> SiteThresholds:
    """The site's T and S (`site`, when the caller has read its row already) and its
    departments' overrides (deleted departments too: their past waits keep their thresholds),
    as the caller's transaction sees them."""
    s, d = t.sites, t.departments
    if site is None:
        row = conn.execute(
            select(s.c.service_level_seconds, s.c.short_abandon_seconds).where(s.c.id == site_id)
        ).first()
        site = Thresholds() if row is None else Thresholds(int(row[0]), int(row[1]))
    overrides = {
        department_id: (t_, s_)
        for department_id, t_, s_ in conn.execute(
            scoped(d, site_id, d.c.id, d.c.service_level_seconds, d.c.short_abandon_seconds).where(
                or_(d.c.service_level_seconds.is_not(None), d.c.short_abandon_seconds.is_not(None))
            )
        )
    }
    return SiteThresholds(site, overrides)
