"""Connectors and what they dropped (docs/connectors.md): the rows, site-scoped.

A webhook names its connector by id and proves itself with the URL secret (compared by its
SHA-256): that one lookup is by the connector's id alone, the site comes from its row. Every
other query here takes the site first.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, func, insert, select

from chatpulse.connectors.model import ConnectorSettings
from chatpulse.connectors.reconcile import Drop
from chatpulse.store import tables as t
from chatpulse.store.db import WRITE, write_lock
from chatpulse.store.scoped import scoped, scoped_delete, scoped_update
from chatpulse.store.sites import hash_token

KEEP_DROPS = 1000  # the newest drops kept per connector


@dataclass(frozen=True, slots=True)
class Connector:
    id: str
    site_id: int
    kind: str
    name: str
    settings: ConnectorSettings
    poll_seconds: int
    reorder_ms: int
    created_at: int
    last_poll_at: int | None = None
    last_poll_error: str | None = None


@dataclass(frozen=True, slots=True)
class DropRow:
    id: int
    recorded_at: int
    occurred_at: int | None
    delivery_id: str | None
    fact_key: str | None
    type: str | None
    reason: str


def _connector(row: object) -> Connector:
    r = row._mapping  # type: ignore[attr-defined]
    return Connector(
        r["id"],
        r["site_id"],
        r["kind"],
        r["name"],
        ConnectorSettings(
            r["kind"], r["signing_secret"], r["api_url"], r["api_token"], r["account_id"]
        ),
        r["poll_seconds"],
        r["reorder_ms"],
        r["created_at"],
        r["last_poll_at"],
        r["last_poll_error"],
    )


def create(engine: Engine, connector: Connector, url_secret: str) -> Connector:
    s = connector.settings
    with write_lock(engine), engine.connect().execution_options(**WRITE) as conn, conn.begin():
        conn.execute(
            insert(t.connectors).values(
                id=connector.id,
                site_id=connector.site_id,
                kind=connector.kind,
                name=connector.name,
                url_secret_hash=hash_token(url_secret),
                signing_secret=s.signing_secret,
                api_url=s.api_url,
                api_token=s.api_token,
                account_id=s.account_id,
                poll_seconds=connector.poll_seconds,
                reorder_ms=connector.reorder_ms,
                created_at=connector.created_at,
            )
        )
    return connector


def by_webhook(engine: Engine, connector_id: str, url_secret: str) -> Connector | None:
    """The live connector this id and URL secret open, else None (either wrong: the same)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(t.connectors).where(
                t.connectors.c.id == connector_id, t.connectors.c.deleted_at.is_(None)
            )
        ).first()
    if row is None or not hmac.compare_digest(row.url_secret_hash, hash_token(url_secret)):
        return None
    return _connector(row)


def get(engine: Engine, site_id: int, connector_id: str) -> Connector | None:
    with engine.connect() as conn:
        row = conn.execute(
            scoped(t.connectors, site_id).where(
                t.connectors.c.id == connector_id, t.connectors.c.deleted_at.is_(None)
            )
        ).first()
    return None if row is None else _connector(row)


def list_site(engine: Engine, site_id: int) -> list[Connector]:
    with engine.connect() as conn:
        rows = conn.execute(
            scoped(t.connectors, site_id)
            .where(t.connectors.c.deleted_at.is_(None))
            .order_by(t.connectors.c.created_at, t.connectors.c.id)
        )
        return [_connector(row) for row in rows]


def remove(engine: Engine, site_id: int, connector_id: str, now: int) -> bool:
    """Retire the connector (its URL stops working at once; its drops go)."""
    with write_lock(engine), engine.connect().execution_options(**WRITE) as conn, conn.begin():
        done = conn.execute(
            scoped_update(t.connectors, site_id)
            .where(t.connectors.c.id == connector_id, t.connectors.c.deleted_at.is_(None))
            .values(deleted_at=now)
        ).rowcount
        conn.execute(
            scoped_delete(t.connector_drops, site_id).where(
                t.connector_drops.c.connector_id == connector_id
            )
        )
    return bool(done)


def pollable(engine: Engine) -> list[Connector]:
    """Every live connector with an availability poll (the pollers' work list, all sites)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.connectors).where(
                t.connectors.c.deleted_at.is_(None), t.connectors.c.poll_seconds > 0
            )
        )
        return [_connector(row) for row in rows]


def claim_poll(engine: Engine, connector: Connector, now: int, until: int) -> bool:
    """True when this process holds the connector's next poll (one process polls at a time)."""
    with write_lock(engine), engine.connect().execution_options(**WRITE) as conn, conn.begin():
        taken = conn.execute(
            scoped_update(t.connectors, connector.site_id)
            .where(t.connectors.c.id == connector.id, t.connectors.c.poll_lease_until <= now)
            .values(poll_lease_until=until)
        ).rowcount
    return bool(taken)


def poll_done(engine: Engine, connector: Connector, now: int, error: str | None) -> None:
    with write_lock(engine), engine.connect().execution_options(**WRITE) as conn, conn.begin():
        conn.execute(
            scoped_update(t.connectors, connector.site_id)
            .where(t.connectors.c.id == connector.id)
            .values(last_poll_at=now, last_poll_error=None if error is None else error[:400])
        )


def record_drops(
    conn: Connection,
    connector: Connector,
    drops: Sequence[tuple[Drop, str | None]],
    now: int,
) -> None:
    """Write `drops` (each with its delivery id) in the caller's transaction; keep the newest."""
    if not drops:
        return
    d = t.connector_drops
    conn.execute(
        insert(d),
        [
            {
                "site_id": connector.site_id,
                "connector_id": connector.id,
                "recorded_at": now,
                "occurred_at": drop.occurred_at,
                "delivery_id": None if delivery is None else delivery[:200],
                "fact_key": drop.fact_key[:400],
                "type": drop.type[:40],
                "reason": drop.reason[:400],
            }
            for drop, delivery in drops
        ],
    )
    mine = scoped(d, connector.site_id, d.c.id).where(d.c.connector_id == connector.id)
    cut = conn.execute(mine.order_by(d.c.id.desc()).offset(KEEP_DROPS).limit(1)).scalar()
    if cut is not None:
        conn.execute(
            scoped_delete(d, connector.site_id).where(
                d.c.connector_id == connector.id, d.c.id <= cut
            )
        )


def drops(engine: Engine, site_id: int, connector_id: str, limit: int) -> tuple[int, list[DropRow]]:
    """(how many drops are kept, the newest `limit` of them, newest first)."""
    d = t.connector_drops
    with engine.connect() as conn:
        total = conn.execute(
            scoped(d, site_id, func.count()).where(d.c.connector_id == connector_id)
        ).scalar_one()
        rows = conn.execute(
            scoped(d, site_id)
            .where(d.c.connector_id == connector_id)
            .order_by(d.c.id.desc())
            .limit(limit)
        )
        return int(total), [
            DropRow(r.id, r.recorded_at, r.occurred_at, r.delivery_id, r.fact_key, r.type, r.reason)
            for r in rows
        ]
