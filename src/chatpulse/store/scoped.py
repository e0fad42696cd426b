"""Site-scoped statements: every query of a site's rows starts here, so none can forget `site_id`.

`site` is a site id or a bound parameter (`bindparam("site")`) for statements built once and
executed with parameters. The active-agent filter and the chunking of long IN lists are written
here too, once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Delete, Select, Table, Update, delete, select, update
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from chatpulse.store import tables as t

T = TypeVar("T")
Site = int | BindParameter[Any]

IN_LIST = 500  # ids per IN list: well within every backend's limit on bound parameters


def of_site(table: Table, site: Site) -> ColumnElement[bool]:
    """`table.site_id = :site`: for statements that join or select from several tables."""
    return table.c.site_id == site


def scoped(table: Table, site: Site, *columns: Any) -> Select[Any]:
    """SELECT `columns` (every column of `table` when none) FROM the site's rows of `table`."""
    return select(*columns or (table,)).where(of_site(table, site))


def scoped_update(table: Table, site: Site) -> Update:
    return update(table).where(of_site(table, site))


def scoped_delete(table: Table, site: Site) -> Delete:
    return delete(table).where(of_site(table, site))


def in_chunks(items: Sequence[T], size: int = IN_LIST) -> Iterator[Sequence[T]]:
    """`items` in slices of at most `size`, for IN lists."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


def rows_in(
    conn: Connection,
    table: Table,
    site: int,
    column: str,
    keys: Iterable[Any],
    size: int = IN_LIST,
) -> Iterator[Any]:
    """The site's rows of `table` whose `column` is in `keys`, one query per chunk."""
    for chunk in in_chunks(list(keys), size):
        yield from conn.execute(scoped(table, site).where(table.c[column].in_(chunk)))


def delete_in(conn: Connection, table: Table, site: int, column: str, keys: Sequence[Any]) -> int:
    """Delete the site's rows of `table` whose `column` is in `keys`; how many went."""
    count = 0
    for chunk in in_chunks(keys):
        count += conn.execute(scoped_delete(table, site).where(table.c[column].in_(chunk))).rowcount
    return count


# ---------------------------------------------------------------- active agents

_a = t.agents


def is_active() -> list[ColumnElement[bool]]:
    """An agent the views count: neither deleted nor deactivated (no site condition)."""
    return [_a.c.is_deleted.is_(False), _a.c.is_active.is_(True)]


def is_inactive() -> ColumnElement[bool]:
    """The negation of `is_active`, spelled as an OR of the two flags (the SQL the views ran)."""
    return _a.c.is_deleted.is_(True) | _a.c.is_active.is_(False)


def active_agents(site: Site, department_id: str | None = None) -> list[ColumnElement[bool]]:
    """The site's active agents (members of `department_id`, when given), as conditions on
    `agents`."""
    conditions = [of_site(_a, site), *is_active()]
    if department_id is not None:
        m = t.agent_departments
        members = scoped(m, site, m.c.agent_id).where(m.c.department_id == department_id)
        conditions.append(_a.c.id.in_(members))
    return conditions


def inactive_agents(site: Site) -> Select[Any]:
    """The ids of the site's agents deleted or deactivated."""
    return scoped(_a, site, _a.c.id).where(is_inactive())
