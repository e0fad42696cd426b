"""Bring a database's schema up to date with Alembic, and tell whether it is current.

Alembic is imported only when a migration has to run: the command line starts often (the
scenario runner calls it for every site and token), and a current schema needs one query.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

_LOCATION = Path(__file__).parent / "migrations"
# The newest revision in migrations/versions (a test checks it against Alembic's own head).
HEAD = "0006"


def alembic_config(url: str | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_LOCATION))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    head: str | None = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for a database never migrated."""
    with engine.connect() as conn:
        try:
            row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
        except DBAPIError:
            return None
    return str(row[0]) if row else None


def is_current(engine: Engine) -> bool:
    """The schema serves this code: at HEAD, or at a later revision. Migrations only add
    (expand/contract, docs/operations.md), so the workers of one release keep serving, and keep
    reporting ready, while the next release's `migrate` has run and its workers roll out."""
    return at_or_after(current_revision(engine), HEAD)


def at_or_after(revision: str | None, head: str) -> bool:
    """Revisions are numbered 0001, 0002, …: a later number comes after `head`."""
    if revision is None:
        return False
    return revision == head or (revision.isdigit() and head.isdigit() and int(revision) > int(head))


def upgrade(engine: Engine) -> None:
    """Apply pending migrations (a no-op when the schema is current)."""
    if is_current(engine):
        return
    from alembic import command
    from sqlalchemy import text as sql

    cfg = alembic_config()
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Several workers may start at once: one migrates, the others wait, then find
            # nothing to do.
            conn.execute(sql("SELECT pg_advisory_xact_lock(727274)"))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
