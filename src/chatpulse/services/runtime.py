"""What the services of one process share: settings, clock, database, caches, notifications."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from chatpulse.clock import Clock, SystemClock
from chatpulse.services.sites import TokenCache
from chatpulse.settings import Settings
from chatpulse.store import db, migrate
from chatpulse.store.versions import SiteVersions, VersionProbe

# A database to serve (SQLite or PostgreSQL), for callers that bring their own.
Database = Engine
# Every error the storage layer raises: the HTTP layer maps them (503 or 500) by this class.
StorageError = SQLAlchemyError
is_unavailable = db.is_database_unavailable
pool_sizes = db.pool_sizes


class Observer(Protocol):
    """What the process's stream hub hears from the services (api/ and services/stream.py)."""

    def notify(self, site_id: int, sequence: int, departments: frozenset[str] | None) -> None:
        """An ingest stored events up to `sequence`, changing `departments` (None: any)."""

    def config_changed(self, site_id: int) -> None:
        """The site's configuration changed."""

    def revoke(self, token_id: str) -> None:
        """The token was revoked."""


@dataclass(eq=False)
class Runtime:
    """One per app (and per worker process): built by `start`, closed by `close`."""

    settings: Settings
    engine: Engine
    clock: Clock
    tokens: TokenCache
    versions: SiteVersions
    probe: VersionProbe | None
    observers: list[Observer] = field(default_factory=list)
    # Told when alert transitions have queued webhook deliveries (the dispatcher's wake).
    outbox_listeners: list[Callable[[], None]] = field(default_factory=list)

    @classmethod
    def start(
        cls, settings: Settings, engine: Engine | None = None, clock: Clock | None = None
    ) -> Runtime:
        engine = engine or db.make_engine(
            settings.database_url, settings.pool_size, settings.pool_overflow
        )
        return cls(
            settings,
            engine,
            clock or SystemClock(),
            TokenCache(engine, settings.token_cache_s),
            SiteVersions(engine),
            VersionProbe(engine) if engine.dialect.name == "postgresql" else None,
        )

    @property
    def postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def notify(self, site_id: int, sequence: int, departments: frozenset[str] | None) -> None:
        """An ingest stored events up to `sequence`, changing `departments` (None: any)."""
        for observer in self.observers:
            observer.notify(site_id, sequence, departments)

    def config_changed(self, site_id: int) -> None:
        for observer in self.observers:
            observer.config_changed(site_id)

    def revoked(self, token_id: str) -> None:
        for observer in self.observers:
            observer.revoke(token_id)

    def outbox_filled(self) -> None:
        """Deliveries were committed to the alert webhooks' outbox: send them now."""
        for listener in self.outbox_listeners:
            listener()

    def instrument(self, observe_query: Callable[[float], None]) -> None:
        """Time every statement of this process's engine (the metrics' query histogram)."""
        db.instrument(self.engine, observe_query)

    def readiness(self) -> str:
        """Blocking: "ready", "unreachable" (the database does not answer) or "behind" (its
        schema is not the code's: run `chatpulse migrate`)."""
        try:
            return "ready" if migrate.is_current(self.engine) else "behind"
        except SQLAlchemyError:
            return "unreachable"

    async def close(self) -> None:
        if self.probe is not None:
            await self.probe.close()
