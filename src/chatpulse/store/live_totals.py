"""Running totals of the live state, per site ("") and per department: logged-in agents, agents
in chat, the online agents' ongoing chats and capacity; chats with the bot, waiting (by route
department) and ongoing (by department); visitors on site (site only). RightNow reads one row;
Queue reads the capacity and ongoing chats per department.

The agents' figures depend on stored state (each agent's status and ongoing chats) and on
configuration (an agent's activity, capacity and departments; a status's type). Every writer
keeps them: ingest and agent writes move them by the difference of the agents they touch,
before and after (`tracking`); a change of a status's type recomputes the site (`recompute`).
Ingest moves the chat and visitor counts by each changed chat's and visitor's state before and
after the batch (`add_moves`). Counting rows instead would read index entries of every version
of those often-updated rows that PostgreSQL has not vacuumed yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import Connection, and_, func, select

from chatpulse.domain.chat import BOT, ONGOING, WAITING
from chatpulse.domain.statuses import AWAY, ONLINE
from chatpulse.store import tables as t
from chatpulse.store.db import add_to_rows
from chatpulse.store.scoped import active_agents, in_chunks, scoped, scoped_delete
from chatpulse.store.tables import agents_now

FIELDS = t.AGENT_FIGURES
COLUMNS = t.LIVE_COLUMNS
ChatState = tuple[str, str | None, str | None]  # (state, department, route department)
Totals = tuple[int, int, int, int]
ZERO: Totals = (0, 0, 0, 0)

a_, s_, st_, m_ = t.agents, t.agent_states, t.agent_statuses, t.agent_departments


def compute(
    conn: Connection, site_id: int, agent_ids: Sequence[str] | None = None
) -> dict[str, Totals]:
    """The totals of the site's active agents (only of `agent_ids`, when given), per key."""
    if agent_ids is None:
        return _aggregate(conn, site_id, None)
    out: dict[str, Totals] = {}
    for chunk in in_chunks(agent_ids):
        for key, values in _aggregate(conn, site_id, chunk).items():
            _add(out, key, values)
    return out


def _aggregate(
    conn: Connection, site_id: int, agent_ids: Sequence[str] | None
) -> dict[str, Totals]:
    """One row per active agent and department it is in (or none), summed here: the sums of
    every key in one query."""
    conditions = active_agents(site_id)
    if agent_ids is not None:
        conditions.append(a_.c.id.in_(agent_ids))
    rows = conn.execute(
        select(
            a_.c.id,
            m_.c.department_id,
            st_.c.type,
            s_.c.ongoing_chats,
            a_.c.max_concurrent_chats,
        )
        .select_from(
            agents_now().outerjoin(m_, and_(m_.c.site_id == a_.c.site_id, m_.c.agent_id == a_.c.id))
        )
        .where(*conditions)
    )
    out: dict[str, Totals] = {}
    counted: set[str] = set()
    for agent_id, department_id, kind, ongoing, capacity in rows:
        ongoing = ongoing or 0
        online = kind == ONLINE
        share = (
            int(kind in (ONLINE, AWAY)),
            int(ongoing > 0),
            ongoing if online else 0,
            capacity if online else 0,
        )
        if not any(share):
            continue
        if agent_id not in counted:  # the site's key once per agent
            counted.add(agent_id)
            _add(out, "", share)
        if department_id is not None:
            _add(out, department_id, share)
    return out


def _add(out: dict[str, Totals], key: str, values: tuple[int, ...]) -> None:
    old = out.get(key, ZERO)
    out[key] = (old[0] + values[0], old[1] + values[1], old[2] + values[2], old[3] + values[3])


def _add_rows(conn: Connection, site_id: int, deltas: dict[str, dict[str, int]]) -> None:
    rows = [
        {"site_id": site_id, "department_key": key} | {c: values.get(c, 0) for c in COLUMNS}
        for key, values in deltas.items()
        if any(values.values())
    ]
    add_to_rows(conn, t.live_totals, ("site_id", "department_key"), rows)


@contextmanager
def tracking(conn: Connection, site_id: int, agent_ids: Sequence[str]) -> Iterator[None]:
    """Move the agents' totals by what the block changes about these agents."""
    if not agent_ids:
        yield
        return
    before = compute(conn, site_id, agent_ids)
    yield
    after = compute(conn, site_id, agent_ids)
    deltas: dict[str, dict[str, int]] = {}
    for key in before.keys() | after.keys():
        old, new = before.get(key, ZERO), after.get(key, ZERO)
        deltas[key] = {f: n - o for f, n, o in zip(FIELDS, new, old, strict=True)}
    _add_rows(conn, site_id, deltas)


def _chat_shares(chat: ChatState) -> list[tuple[str, str]]:
    """(key, field) a chat in this state counts in: waiting ones by route department."""
    state, department, route = chat
    if state == BOT:
        field, key = "bot_chats", department
    elif state == WAITING:
        field, key = "waiting_chats", route
    elif state == ONGOING:
        field, key = "ongoing_chats", department
    else:
        return []
    return [("", field), (key, field)] if key else [("", field)]


def add_moves(
    conn: Connection,
    site_id: int,
    chats: Iterable[tuple[ChatState | None, ChatState]],
    visitors: Iterable[tuple[bool, bool]],
) -> None:
    """Move the chat and visitor counts: (before, after) of each changed chat (before None for
    a new one) and (on site before, on site after) of each changed visitor."""
    deltas: dict[str, dict[str, int]] = {}
    for before, after in chats:
        if before == after:
            continue
        for sign, state in ((-1, before), (1, after)):
            if state is not None:
                for key, field in _chat_shares(state):
                    row = deltas.setdefault(key, {})
                    row[field] = row.get(field, 0) + sign
    on_site = sum(int(after) - int(before) for before, after in visitors)
    if on_site:
        deltas.setdefault("", {})["visitors_on_site"] = on_site
    _add_rows(conn, site_id, deltas)


def recompute(conn: Connection, site_id: int) -> None:
    """The site's totals from scratch."""
    conn.execute(scoped_delete(t.live_totals, site_id))
    deltas: dict[str, dict[str, int]] = {}
    for key, values in compute(conn, site_id).items():
        deltas[key] = dict(zip(FIELDS, values, strict=True))
    c = t.chats
    rows = conn.execute(
        scoped(c, site_id, c.c.state, c.c.department_id, c.c.route_department_id, func.count())
        .where(c.c.state.in_((BOT, WAITING, ONGOING)))
        .group_by(c.c.state, c.c.department_id, c.c.route_department_id)
    )
    for state, department, route, count in rows:
        for key, field in _chat_shares((state, department, route)):
            row = deltas.setdefault(key, {})
            row[field] = row.get(field, 0) + int(count)
    v = t.visitors
    on_site = conn.execute(
        scoped(v, site_id, func.count()).where(v.c.on_site.is_(True))
    ).scalar_one()
    deltas.setdefault("", {})["visitors_on_site"] = int(on_site)
    _add_rows(conn, site_id, deltas)


def read(
    conn: Connection, site_id: int, keys: Sequence[str] | None = None
) -> dict[str, dict[str, int]]:
    """The rows of these keys ("" the site's; every key when None), in one query; a key never
    counted reads as zeros."""
    r = t.live_totals
    query = scoped(r, site_id, r.c.department_key, *[r.c[name] for name in COLUMNS])
    if keys is not None:
        query = query.where(r.c.department_key.in_(keys))
    out = {key: dict.fromkeys(COLUMNS, 0) for key in keys or ()}
    for key, *values in conn.execute(query):
        out[key] = dict(zip(COLUMNS, (int(v) for v in values), strict=True))
    return out
