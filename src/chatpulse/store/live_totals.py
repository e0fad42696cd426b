"""Running totals of the agents' live state, per site ("") and per department: logged-in agents,
agents in chat, and the online agents' ongoing chats and capacity (RightNow; Queue's capacity).

They depend on stored state (each agent's status and ongoing chats) and on configuration (an
agent's activity, capacity and departments; a status's type). Every writer keeps them:
ingest and agent writes move them by the difference of the agents they touch, before and after
(`tracking`); a change of a status's type recomputes the site (`recompute`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, and_, case, delete, func, insert, select

from chatpulse.domain.statuses import AWAY, OFFLINE, ONLINE
from chatpulse.store import tables as t
from chatpulse.store.db import add_to_rows

FIELDS = ("logged_in", "in_chat", "online_chats", "online_capacity")
Totals = tuple[int, int, int, int]
ZERO: Totals = (0, 0, 0, 0)
_CHUNK = 500

a_, s_, st_, m_ = t.agents, t.agent_states, t.agent_statuses, t.agent_departments


def _agents_now() -> Any:
    return a_.outerjoin(s_, and_(s_.c.site_id == a_.c.site_id, s_.c.agent_id == a_.c.id)).outerjoin(
        st_, and_(st_.c.site_id == a_.c.site_id, st_.c.id == s_.c.status_id)
    )


def _sums() -> list[Any]:
    kind = func.coalesce(st_.c.type, OFFLINE)
    online = kind == ONLINE
    ongoing = func.coalesce(s_.c.ongoing_chats, 0)
    return [
        func.coalesce(func.sum(case((kind.in_((ONLINE, AWAY)), 1), else_=0)), 0),
        func.coalesce(func.sum(case((ongoing > 0, 1), else_=0)), 0),
        func.coalesce(func.sum(case((online, ongoing), else_=0)), 0),
        func.coalesce(func.sum(case((online, a_.c.max_concurrent_chats), else_=0)), 0),
    ]


def compute(
    conn: Connection, site_id: int, agent_ids: Sequence[str] | None = None
) -> dict[str, Totals]:
    """The totals of the site's active agents (only of `agent_ids`, when given), per key."""
    out: dict[str, Totals] = {}
    chunks: list[Sequence[str] | None] = (
        [None]
        if agent_ids is None
        else [agent_ids[i : i + _CHUNK] for i in range(0, len(agent_ids), _CHUNK)]
    )
    for chunk in chunks:
        active = [a_.c.site_id == site_id, a_.c.is_deleted.is_(False), a_.c.is_active.is_(True)]
        if chunk is not None:
            active.append(a_.c.id.in_(chunk))
        site_row = conn.execute(select(*_sums()).select_from(_agents_now()).where(*active)).one()
        _add(out, "", tuple(int(v) for v in site_row))
        by_department = (
            select(m_.c.department_id, *_sums())
            .select_from(
                _agents_now().join(m_, and_(m_.c.site_id == a_.c.site_id, m_.c.agent_id == a_.c.id))
            )
            .where(*active)
            .group_by(m_.c.department_id)
        )
        for department, *values in conn.execute(by_department):
            _add(out, department, tuple(int(v) for v in values))
    return out


def _add(out: dict[str, Totals], key: str, values: tuple[int, ...]) -> None:
    old = out.get(key, ZERO)
    out[key] = (old[0] + values[0], old[1] + values[1], old[2] + values[2], old[3] + values[3])


@contextmanager
def tracking(conn: Connection, site_id: int, agent_ids: Sequence[str]) -> Iterator[None]:
    """Move the totals by what the block changes about these agents."""
    if not agent_ids:
        yield
        return
    before = compute(conn, site_id, agent_ids)
    yield
    after = compute(conn, site_id, agent_ids)
    rows = []
    for key in before.keys() | after.keys():
        old, new = before.get(key, ZERO), after.get(key, ZERO)
        delta = tuple(n - o for n, o in zip(new, old, strict=True))
        if any(delta):
            rows.append(
                {"site_id": site_id, "department_key": key} | dict(zip(FIELDS, delta, strict=True))
            )
    add_to_rows(conn, t.live_totals, ("site_id", "department_key"), rows)


def recompute(conn: Connection, site_id: int) -> None:
    """The site's totals from scratch."""
    conn.execute(delete(t.live_totals).where(t.live_totals.c.site_id == site_id))
    rows = [
        {"site_id": site_id, "department_key": key} | dict(zip(FIELDS, values, strict=True))
        for key, values in compute(conn, site_id).items()
        if any(values)
    ]
    if rows:
        conn.execute(insert(t.live_totals), rows)


def read(conn: Connection, site_id: int, department_id: str | None) -> dict[str, int]:
    r = t.live_totals
    row = conn.execute(
        select(*[r.c[name] for name in FIELDS]).where(
            r.c.site_id == site_id, r.c.department_key == (department_id or "")
        )
    ).first()
    return dict(zip(FIELDS, (int(v) for v in row) if row else ZERO, strict=True))


def online_capacity_by_department(conn: Connection, site_id: int) -> dict[str, int]:
    r = t.live_totals
    rows = conn.execute(
        select(r.c.department_key, r.c.online_capacity).where(
            r.c.site_id == site_id, r.c.department_key != ""
        )
    )
    return {row[0]: int(row[1]) for row in rows}
