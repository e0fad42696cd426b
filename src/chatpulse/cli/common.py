"""What the commands share: their error, the database they work on, the progress interval."""

from __future__ import annotations

import argparse
import os
from typing import NoReturn

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from chatpulse.store import migrate
from chatpulse.store.db import DEFAULT_DATABASE_URL, DatabaseUrlError, is_sqlite, make_engine


class CliError(Exception):
    """Ends the command with a one-line message and exit status 1."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"chatpulse: {message} (see chatpulse --help)\n")


def database_default() -> str:
    return os.environ.get("CHATPULSE_DATABASE_URL") or DEFAULT_DATABASE_URL


def open_engine(url: str | None, pool_size: int = 5, pool_overflow: int | None = None) -> Engine:
    try:
        return make_engine(url or database_default(), pool_size, pool_overflow)
    except DatabaseUrlError as err:
        raise CliError(str(err)) from None
    except (ImportError, SQLAlchemyError) as err:
        raise CliError(f"cannot use the database: {short(err)}") from None


def short(err: BaseException) -> str:
    text = str(getattr(err, "orig", None) or err).strip().splitlines()
    return text[0] if text else type(err).__name__


def ensure_ready(engine: Engine) -> None:
    """SQLite: apply pending migrations; PostgreSQL: insist that `migrate` was run."""
    if is_sqlite(engine):
        migrate.upgrade(engine)
    elif not migrate.is_current(engine):
        raise CliError("the database schema is not current: run `chatpulse migrate` first")


def progress_interval() -> float:
    """Seconds between plain progress lines on stderr ($CHATPULSE_PROGRESS_INTERVAL)."""
    from chatpulse.progress import interval_from

    try:
        return interval_from()
    except ValueError as err:
        raise CliError(str(err)) from None
