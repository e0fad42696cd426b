"""Alert webhooks and their outbox (docs/alert_webhooks.md): the configuration rows, the
delivery log, and the dispatcher's statements — which endpoints have a due head, the lease on
an endpoint, an attempt's outcome. Every query of the API takes the site first; the
dispatcher's work list spans all sites.

The outbox rows are written by the evaluator (store/alerts.py `_record`) in the transaction of
their transition. Per endpoint only the *head* — its pending delivery with the lowest
transition id — is ever sent, so deliveries arrive in transition order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from chatpulse.domain.alert_webhooks import DELIVERED, FAILED, PENDING, short_error
from chatpulse.store import tables as t
from chatpulse.store.db import WRITE, read_connection, write_lock
from chatpulse.store.scoped import scoped, scoped_update

W, D = t.alert_webhooks, t.alert_deliveries


@dataclass(frozen=True, slots=True)
class Webhook:
    id: str
    site_id: int
    name: str
    url: str
    secret: str
    severities: tuple[str, ...]
    created_at: int
    deleted_at: int | None


@dataclass(frozen=True, slots=True)
class Delivery:
    id: str
    webhook_id: str
    transition_id: int
    body: str
    created_at: int
    status: str
    attempts: int
    next_attempt_at: int
    last_attempt_at: int | None
    last_status: int | None
    last_error: str | None
    delivered_at: int | None


def _webhook(row: Any) -> Webhook:
    r = row._mapping
    return Webhook(
        r["id"],
        r["site_id"],
        r["name"],
        r["url"],
        r["secret"],
        tuple(s for s in r["severities"].split(",") if s),
        r["created_at"],
        r["deleted_at"],
    )


def _delivery(row: Any) -> Delivery:
    r = row._mapping
    return Delivery(
        r["id"],
        r["webhook_id"],
        r["transition_id"],
        r["body"],
        r["created_at"],
        r["status"],
        r["attempts"],
        r["next_attempt_at"],
        r["last_attempt_at"],
        r["last_status"],
        r["last_error"],
        r["delivered_at"],
    )


# ---- configuration -------------------------------------------------------------------------


def create(engine: Engine, webhook: Webhook) -> bool:
    """Store a new webhook; False when its id is taken (by any site)."""
    values = {
        "id": webhook.id,
        "site_id": webhook.site_id,
        "name": webhook.name,
        "url": webhook.url,
        "secret": webhook.secret,
        "severities": ",".join(webhook.severities),
        "created_at": webhook.created_at,
        "lease_until": 0,
    }
    try:
        with write_lock(engine), engine.connect().execution_options(**WRITE) as conn, conn.begin():
            conn.execute(insert(W).values(**values))
    except IntegrityError:
        return False
    return True


def site_webhooks(engine: Engine, site_id: int) -> list[Webhook]:
    """The site's live webhooks, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            scoped(W, site_id).where(W.c.deleted_at.is_(None)).order_by(W.c.created_at, W.c.id)
        )
        return [_webhook(row) for row in rows]


def get(engine: Engine, site_id: int, webhook_id: str) -> Webhook | None:
    with engine.connect() as conn:
        row = conn.execute(
            scoped(W, site_id).where(W.c.id == webhook_id, W.c.deleted_at.is_(None))
        ).first()
    return None if row is None else _webhook(row)


@dataclass(frozen=True, slots=True)
class Backlog:
    pending: int
    last_finished: Delivery | None  # the latest delivered or given-up delivery


def backlog(engine: Engine, site_id: int, webhook_id: str) -> Backlog:
    """How many deliveries wait, and the last one finished (by transition order)."""
    with read_connection(engine) as conn:
        pending = conn.execute(
            scoped(D, site_id, func.count()).where(
                D.c.webhook_id == webhook_id, D.c.status == PENDING
            )
        ).scalar_one()
        row = conn.execute(
            scoped(D, site_id)
            .where(D.c.webhook_id == webhook_id, D.c.status != PENDING)
            .order_by(D.c.transition_id.desc())
            .limit(1)
        ).first()
    return Backlog(int(pending), None if row is None else _delivery(row))


def delete(engine: Engine, site_id: int, webhook_id: str, now: int) -> bool:
    """Retire the webhook (kept for its delivery log); its pending deliveries fail at once."""
    with write_lock(engine), engine.connect().execution_options(**WRITE) as conn, conn.begin():
        done = conn.execute(
            scoped_update(W, site_id)
            .where(W.c.id == webhook_id, W.c.deleted_at.is_(None))
            .values(deleted_at=now)
        ).rowcount
        if not done:
            return False
        conn.execute(
            scoped_update(D, site_id)
            .where(D.c.webhook_id == webhook_id, D.c.status == PENDING)
            .values(status=FAILED, last_error="webhook deleted")
        )
    return True


def deliveries(
    engine: Engine, site_id: int, webhook_id: str, after: int, limit: int
) -> list[Delivery]:
    """The webhook's deliveries after transition id `after`, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            scoped(D, site_id)
            .where(D.c.webhook_id == webhook_id, D.c.transition_id > after)
            .order_by(D.c.transition_id)
            .limit(limit)
        )
        return [_delivery(row) for row in rows]


# ---- the dispatcher ------------------------------------------------------------------------


def due_endpoints(engine: Engine, now: int, wall: int) -> list[str]:
    """Webhooks whose head is due at `now` and whose lease is free at `wall` (wall clock, µs).

    One statement: the webhooks (a small table) each with its head's next attempt, found by
    one seek of the (webhook_id, status, transition_id) index — so deliveries queued behind a
    head waiting for its retry cost nothing here. Deleted webhooks are included: a delivery
    queued while its webhook was being deleted is failed by the dispatcher."""
    head_due = (
        select(D.c.next_attempt_at)
        .where(D.c.webhook_id == W.c.id, D.c.status == PENDING)
        .order_by(D.c.transition_id)
        .limit(1)
        .correlate(W)
        .scalar_subquery()
    )
    with engine.connect() as conn:
        rows = conn.execute(
            select(W.c.id, head_due.label("due")).where(W.c.lease_until <= wall)
        ).all()
    return [row.id for row in rows if row.due is not None and row.due <= now]


def claim(engine: Engine, webhook_id: str, wall: int, until: int) -> bool:
    """Take the endpoint's lease until `until` if it is free at `wall`."""
    with write_lock(engine), engine.connect().execution_options(**WRITE) as conn, conn.begin():
        done = conn.execute(
            update(W).where(W.c.id == webhook_id, W.c.lease_until <= wall).values(lease_until=until)
        ).rowcount
    return bool(done)


def renew(engine: Engine, webhook_id: str, held: int, until: int) -> bool:
    """Move this process's lease (the value `held` it wrote) to `until`; False: lost."""
    with write_lock(engine), engine.connect().execution_options(**WRITE) as conn, conn.begin():
        done = conn.execute(
            update(W).where(W.c.id == webhook_id, W.c.lease_until == held).values(lease_until=until)
        ).rowcount
    return bool(done)


def release(engine: Engine, webhook_id: str, held: int) -> None:
    with write_lock(engine), engine.connect().execution_options(**WRITE) as conn, conn.begin():
        conn.execute(
            update(W).where(W.c.id == webhook_id, W.c.lease_until == held).values(lease_until=0)
        )


def head(engine: Engine, webhook_id: str) -> tuple[Webhook, Delivery] | None:
    """The webhook and its head: the pending delivery with the lowest transition id."""
    with read_connection(engine) as conn:
        hook = conn.execute(select(W).where(W.c.id == webhook_id)).first()
        row = conn.execute(
            select(D)
            .where(D.c.webhook_id == webhook_id, D.c.status == PENDING)
            .order_by(D.c.transition_id)
            .limit(1)
        ).first()
    if hook is None or row is None:
        return None
    return _webhook(hook), _delivery(row)


def fail_pending(engine: Engine, webhook_id: str, reason: str) -> None:
    with write_lock(engine), engine.connect().execution_options(**WRITE) as conn, conn.begin():
        conn.execute(
            update(D)
            .where(D.c.webhook_id == webhook_id, D.c.status == PENDING)
            .values(status=FAILED, last_error=reason)
        )


def record_attempt(
    engine: Engine,
    delivery: Delivery,
    at: int,
    status: int | None,
    error: str | None,
    next_attempt_at: int | None,
) -> bool:
    """An attempt's outcome: delivered (`error` None), to try again at `next_attempt_at`, or
    given up (`next_attempt_at` None). Written only if nobody recorded an attempt of the
    delivery meanwhile (another process that took the lease over); False then."""
    values: dict[str, object] = {
        "attempts": delivery.attempts + 1,
        "last_attempt_at": at,
        "last_status": status,
        "last_error": None if error is None else short_error(error),
    }
    if error is None:
        values.update(status=DELIVERED, delivered_at=at)
    elif next_attempt_at is None:
        values.update(status=FAILED)
    else:
        values.update(next_attempt_at=next_attempt_at)
    with write_lock(engine), engine.connect().execution_options(**WRITE) as conn, conn.begin():
        done = conn.execute(
            update(D)
            .where(
                and_(
                    D.c.id == delivery.id,
                    D.c.status == PENDING,
                    D.c.attempts == delivery.attempts,
                )
            )
            .values(**values)
        ).rowcount
    return bool(done)
