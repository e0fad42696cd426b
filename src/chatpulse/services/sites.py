"""Sites and API tokens: who a request speaks for, the site's settings, the tokens' lifecycle."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from chatpulse.domain.errors import FieldError, InvalidBody, NotFound
from chatpulse.domain.service_level import Thresholds
from chatpulse.domain.window import load_zone
from chatpulse.store import migrate, sites
from chatpulse.store.db import make_engine
from chatpulse.store.sites import ALL_SCOPES, DEFAULT_SCOPES, Site, SiteExists, TokenInfo
from chatpulse.store.versions import query_versions, versions_now

if TYPE_CHECKING:
    from chatpulse.services.runtime import Database, Runtime

__all__ = [
    "ALL_SCOPES",
    "DEFAULT_SCOPES",
    "Site",
    "SiteExists",
    "TokenCache",
    "TokenInfo",
    "authenticate",
    "create_demo_site",
    "create_site",
    "create_token",
    "current_site",
    "find_site",
    "issue_token",
    "list_tokens",
    "revoke_token",
    "scopes_of",
    "token_is_live",
    "update_site",
]


class TokenCache:
    """Live tokens found by their digest, each trusted for `ttl` seconds in this process.

    A revocation through this process calls `forget` and takes effect on the token's next
    request; another process's revocation is seen once the entry is older than `ttl`. Unknown
    and revoked secrets are never kept: each costs a lookup (and the failed-lookup limit)."""

    MAX_ENTRIES = 10_000

    def __init__(
        self, engine: Engine, ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.engine = engine
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[str, tuple[TokenInfo, float]] = {}

    def remembered(self, secret: str) -> TokenInfo | None:
        """The token, if this process looked it up less than `ttl` ago; no database read."""
        entry = self._entries.get(sites.hash_token(secret))
        return entry[0] if entry is not None and entry[1] > self._clock() else None

    def find(self, secret: str) -> TokenInfo | None:
        """The live token with this secret: from memory, else from the database."""
        digest = sites.hash_token(secret)
        now = self._clock()
        entry = self._entries.get(digest)
        if entry is not None and entry[1] > now:
            return entry[0]
        token = sites.token_of_digest(self.engine, digest)
        if token is None or self.ttl <= 0:
            self._entries.pop(digest, None)
            return token
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()
        self._entries[digest] = (token, now + self.ttl)
        return token

    def forget(self, token_id: str) -> None:
        """The token was revoked here: never answer from memory for it again."""
        for digest, (token, _) in list(self._entries.items()):
            if token.id == token_id:
                self._entries.pop(digest, None)


async def authenticate(runtime: Runtime, secret: str) -> TokenInfo | None:
    """The live token with this secret: from memory for at most CHATPULSE_TOKEN_CACHE_S (on the
    event loop, no thread), else looked up in a worker thread."""
    tokens = runtime.tokens
    return tokens.remembered(secret) or await run_in_threadpool(tokens.find, secret)


def token_is_live(runtime: Runtime, token_id: str) -> bool:
    """Blocking: whether the token exists and is not revoked (open streams re-check)."""
    return sites.token_is_live(runtime.engine, token_id)


async def current_site(runtime: Runtime, site_id: int) -> Site:
    """The site as committed now: from the version row in memory (store/versions.py) when it
    can, else one statement in a worker thread."""
    versions = await versions_now(runtime.versions, runtime.probe, site_id, ())
    row = versions.read(site_id) if versions is not None else None
    if row is None:
        queried = await run_in_threadpool(query_versions, runtime.engine, site_id, ())
        row = queried.read(site_id)
    if row is None:
        raise NotFound("site")
    return Site(
        site_id,
        row.name,
        row.time_zone or "UTC",
        row.service_level_seconds,
        row.short_abandon_seconds,
    )


def update_site(
    runtime: Runtime,
    site_id: int,
    name: str,
    time_zone: str,
    service_level_seconds: int,
    short_abandon_seconds: int,
) -> Site:
    """Replace the site's settings; new thresholds judge the past again (METRICS.md §7)."""
    if load_zone(time_zone) is None:
        raise InvalidBody([FieldError("timeZone", "must be an IANA time zone name")])
    thresholds = Thresholds(service_level_seconds, short_abandon_seconds)
    site = sites.update_site(runtime.engine, site_id, name, time_zone, thresholds)
    if site is None:
        raise NotFound("site")
    runtime.config_changed(site_id)
    return site


def list_tokens(runtime: Runtime, site_id: int) -> list[TokenInfo]:
    return sites.list_tokens(runtime.engine, site_id)


def scopes_of(asked: Sequence[str] | None) -> tuple[str, ...]:
    """The scopes a new token gets: those asked (each once, in order), else the defaults."""
    scopes = tuple(dict.fromkeys(asked)) if asked is not None else DEFAULT_SCOPES
    if not scopes or any(s not in ALL_SCOPES for s in scopes):
        raise InvalidBody([FieldError("scopes", f"must be some of {', '.join(ALL_SCOPES)}")])
    return scopes


def create_token(
    runtime: Runtime, site_id: int, name: str, scopes: list[str] | None
) -> tuple[TokenInfo, str]:
    """A new token of the site and its secret (shown once, stored only hashed)."""
    return issue_token(runtime.engine, site_id, name, scopes, runtime.clock.now())


def issue_token(
    database: Database, site_id: int, name: str, scopes: Sequence[str] | None, now: int
) -> tuple[TokenInfo, str]:
    """A new token of the site (the API's and the command line's `token create`)."""
    return sites.create_token(database, site_id, name, scopes_of(scopes), now)


def revoke_token(runtime: Runtime, site_id: int, token_id: str) -> bool:
    """Revoke the site's token; this process stops trusting it at once."""
    if not sites.revoke_token(runtime.engine, site_id, token_id, runtime.clock.now()):
        return False
    runtime.tokens.forget(token_id)  # its next request here is refused
    runtime.revoked(token_id)  # this process's streams of the token end now
    return True


def create_site(
    database: Database,
    name: str,
    time_zone: str,
    now: int,
    site_id: int | None = None,
    thresholds: Thresholds | None = None,
) -> Site:
    """A new site with the built-in agent statuses (the command line's `site create`)."""
    return sites.create_site(database, name, time_zone, now, site_id, thresholds)


def change_site(
    database: Database,
    site_id: int,
    time_zone: str | None = None,
    thresholds: Thresholds | None = None,
) -> Site | None:
    """The command line's `site update`: what is given changes (None: unknown site)."""
    return sites.update_site(database, site_id, None, time_zone, thresholds)


def find_site(database: Database, site_id: int) -> Site | None:
    return sites.get_site(database, site_id)


def create_demo_site(database_url: str, name: str, time_zone: str, now: int) -> tuple[Site, str]:
    """A migrated database at `database_url` with a new site and a token of every scope."""
    engine = make_engine(database_url)
    try:
        migrate.upgrade(engine)
        site = create_site(engine, name, time_zone, now)
        _, secret = issue_token(engine, site.id, "demo", ALL_SCOPES, now)
    finally:
        engine.dispose()
    return site, secret
