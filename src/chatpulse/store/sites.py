"""Sites and their API tokens (stored only as SHA-256 hashes)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from chatpulse.domain.service_level import (
    DEFAULT_SERVICE_LEVEL_SECONDS,
    DEFAULT_SHORT_ABANDON_SECONDS,
    Thresholds,
)
from chatpulse.domain.statuses import BUILT_IN_STATUSES
from chatpulse.store import config, rollups
from chatpulse.store import tables as t
from chatpulse.store.config import writing
from chatpulse.store.scoped import scoped, scoped_update

ALL_SCOPES = ("realtime.read", "events.write", "config.read", "config.write", "admin")
DEFAULT_SCOPES = tuple(s for s in ALL_SCOPES if s != "admin")
FIRST_SITE_ID = 10000
TOKEN_PREFIX = "cp_"


@dataclass(frozen=True, slots=True)
class Site:
    id: int
    name: str
    time_zone: str
    service_level_seconds: int = DEFAULT_SERVICE_LEVEL_SECONDS
    short_abandon_seconds: int = DEFAULT_SHORT_ABANDON_SECONDS


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: str
    site_id: int
    name: str
    scopes: tuple[str, ...]
    created_at: int


class SiteExists(Exception):
    pass


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_site(
    engine: Engine,
    name: str,
    time_zone: str,
    now: int,
    site_id: int | None = None,
    thresholds: Thresholds | None = None,
) -> Site:
    """A new site with the three built-in agent statuses."""
    with engine.connect().execution_options(chatpulse_write=True) as conn, conn.begin():
        if site_id is None:
            highest = conn.execute(select(func.max(t.sites.c.id))).scalar()
            site_id = max(FIRST_SITE_ID, (highest or 0) + 1)
        elif conn.execute(select(t.sites.c.id).where(t.sites.c.id == site_id)).first():
            raise SiteExists(f"site {site_id} already exists")
        own = thresholds or Thresholds()
        conn.execute(
            insert(t.sites).values(
                id=site_id,
                name=name,
                time_zone=time_zone,
                last_sequence=0,
                created_at=now,
                service_level_seconds=own.service_level_seconds,
                short_abandon_seconds=own.short_abandon_seconds,
            )
        )
        conn.execute(
            insert(t.agent_statuses),
            [
                {
                    "site_id": site_id,
                    "id": s.id,
                    "name": s.name,
                    "type": s.type,
                    "is_system": True,
                    "order": s.order,
                    "is_deleted": False,
                }
                for s in BUILT_IN_STATUSES
            ],
        )
    return Site(site_id, name, time_zone, own.service_level_seconds, own.short_abandon_seconds)


def _site(row: Any) -> Site:
    return Site(
        row.id, row.name, row.time_zone, row.service_level_seconds, row.short_abandon_seconds
    )


def get_site(engine: Engine, site_id: int) -> Site | None:
    with engine.connect() as conn:
        row = conn.execute(select(t.sites).where(t.sites.c.id == site_id)).first()
    return _site(row) if row else None


def update_site(
    engine: Engine,
    site_id: int,
    name: str | None,
    time_zone: str | None,
    thresholds: Thresholds | None,
) -> Site | None:
    """Change what is given (None: keep it), under the site's write lock: a change of the
    thresholds judges every ended wait again in the same transaction (METRICS.md §7), as ingest
    would judge it. None when the site does not exist."""
    s = t.sites
    with writing(engine, site_id) as conn:  # moves the configuration version: no stale answers
        row = conn.execute(select(s).where(s.c.id == site_id)).first()
        if row is None:
            return None
        values: dict[str, Any] = {}
        if name is not None:
            values["name"] = name
        if time_zone is not None:
            values["time_zone"] = time_zone
        before = Thresholds(row.service_level_seconds, row.short_abandon_seconds)
        if thresholds is not None and thresholds != before:
            values["service_level_seconds"] = thresholds.service_level_seconds
            values["short_abandon_seconds"] = thresholds.short_abandon_seconds
        if values:
            conn.execute(update(s).where(s.c.id == site_id).values(**values))
        if "service_level_seconds" in values:
            rollups.rejudge(conn, site_id, config.thresholds(conn, site_id, thresholds))
        return _site(conn.execute(select(s).where(s.c.id == site_id)).one())


def last_sequence(conn: Connection, site_id: int) -> int:
    value = conn.execute(select(t.sites.c.last_sequence).where(t.sites.c.id == site_id)).scalar()
    return int(value or 0)


def last_sequences(engine: Engine, site_ids: Sequence[int]) -> dict[int, int]:
    """The last stored sequence of each of `site_ids`."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.sites.c.id, t.sites.c.last_sequence).where(t.sites.c.id.in_(site_ids))
        ).all()
    return {int(row.id): int(row.last_sequence or 0) for row in rows}


def create_token(
    engine: Engine, site_id: int, name: str, scopes: tuple[str, ...], now: int
) -> tuple[TokenInfo, str]:
    """A new random token (32 bytes of entropy); the secret is returned once, never stored."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    info = TokenInfo(str(uuid.uuid4()), site_id, name, scopes, now)
    with engine.begin() as conn:
        conn.execute(
            insert(t.tokens).values(
                id=info.id,
                site_id=site_id,
                name=name,
                scopes=" ".join(scopes),
                token_hash=hash_token(secret),
                created_at=now,
                revoked_at=None,
            )
        )
    return info, secret


def find_token(engine: Engine, secret: str) -> TokenInfo | None:
    """The live token with this secret, or None (unknown or revoked).

    Timing-safe: the database compares SHA-256 digests of the secret, never the secret, and
    an attacker who learns how long a prefix of a guessed digest matched learns nothing about
    the secrets (finding an input for a chosen digest prefix is preimage work). The final check
    is constant-time anyway."""
    return token_of_digest(engine, hash_token(secret))


def token_of_digest(engine: Engine, digest: str) -> TokenInfo | None:
    """The live token whose secret has this SHA-256 digest."""
    with engine.connect() as conn:
        row = conn.execute(
            select(t.tokens).where(t.tokens.c.token_hash == digest, t.tokens.c.revoked_at.is_(None))
        ).first()
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    return TokenInfo(row.id, row.site_id, row.name, tuple(row.scopes.split()), row.created_at)


def token_is_live(engine: Engine, token_id: str) -> bool:
    """Whether the token with this id exists and is not revoked (open streams re-check)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(t.tokens.c.id).where(t.tokens.c.id == token_id, t.tokens.c.revoked_at.is_(None))
        ).first()
    return row is not None


def list_tokens(engine: Engine, site_id: int) -> list[TokenInfo]:
    with engine.connect() as conn:
        rows = conn.execute(
            scoped(t.tokens, site_id)
            .where(t.tokens.c.revoked_at.is_(None))
            .order_by(t.tokens.c.created_at, t.tokens.c.id)
        ).all()
    return [TokenInfo(r.id, r.site_id, r.name, tuple(r.scopes.split()), r.created_at) for r in rows]


def revoke_token(engine: Engine, site_id: int, token_id: str, now: int) -> bool:
    with engine.begin() as conn:
        result = conn.execute(
            scoped_update(t.tokens, site_id)
            .where(
                t.tokens.c.id == token_id,
                t.tokens.c.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
    return bool(result.rowcount)
