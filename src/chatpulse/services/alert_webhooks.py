"""Alert webhooks' configuration and delivery log (docs/alert_webhooks.md): create (with the
address check against SSRF), list, read, delete, and the deliveries of one. Sending is
services/alert_dispatch.py."""

from __future__ import annotations

import secrets
import socket
import uuid
from typing import Any

import orjson

from chatpulse.domain import addresses
from chatpulse.domain.alert_webhooks import check, check_url, host_and_port, ordered_severities
from chatpulse.domain.errors import Conflict, FieldError, InvalidBody, NotFound
from chatpulse.domain.events import normalize_uuid
from chatpulse.domain.timeutil import format_instant_exact
from chatpulse.services.runtime import Runtime
from chatpulse.store import alert_webhooks as store
from chatpulse.store.alert_webhooks import Delivery, Webhook

ALLOW_PRIVATE_ENV = "CHATPULSE_ALERT_WEBHOOKS_ALLOW_PRIVATE"
MAX_PAGE = 1000


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (blocking); [] when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def address_problem(found: list[str], host: str) -> str | None:
    """Why a host with these addresses may not receive webhooks (None: it may)."""
    if not found:
        return f"host {host[:100]} does not resolve"
    refused = addresses.first_refusal(found)
    if refused is None:
        return None
    address, reason = refused
    return (
        f"resolves to a private or loopback address ({address}: {reason}); "
        f"allowed only when {ALLOW_PRIVATE_ENV} is true"
    )


def create(
    runtime: Runtime,
    site_id: int,
    name: str,
    url: str,
    secret: str | None,
    severities: list[str] | None,
    webhook_id: str | None,
) -> Webhook:
    """A new webhook of the site: the body checked field by field (422), its URL's host
    resolved and refused if any address is not public (unless allowed), a secret generated
    when none is given; 409 when the id is taken."""
    errors = check(name, url, secret, severities)
    key: str | None = None
    if webhook_id is not None:
        key = normalize_uuid(webhook_id)
        if key is None:
            errors.append(FieldError("id", "must be a UUID"))
    if check_url(url) is None and not runtime.settings.alert_webhooks_allow_private:
        host, port = host_and_port(url)
        problem = address_problem(resolve(host, port), host)
        if problem is not None:
            errors.append(FieldError("url", problem))
    if errors:
        raise InvalidBody(errors)
    webhook = Webhook(
        key or str(uuid.uuid4()),
        site_id,
        name.strip(),
        url,
        secret if secret is not None else secrets.token_urlsafe(32),
        ordered_severities(severities),
        runtime.clock.now(),
        None,
    )
    if not store.create(runtime.engine, webhook):
        raise Conflict("id", "is already taken")
    return webhook


def _key(text: str) -> str:
    key = normalize_uuid(text)
    if key is None:
        raise NotFound("webhook")
    return key


def get(runtime: Runtime, site_id: int, webhook_id: str) -> Webhook:
    found = store.get(runtime.engine, site_id, _key(webhook_id))
    if found is None:
        raise NotFound("webhook")
    return found


def list_all(runtime: Runtime, site_id: int) -> list[dict[str, Any]]:
    return [describe(hook) for hook in store.site_webhooks(runtime.engine, site_id)]


def read(runtime: Runtime, site_id: int, webhook_id: str) -> dict[str, Any]:
    """The webhook with its backlog: pending deliveries, and the last one finished."""
    hook = get(runtime, site_id, webhook_id)
    backlog = store.backlog(runtime.engine, site_id, hook.id)
    last = backlog.last_finished
    return {
        **describe(hook),
        "pending": backlog.pending,
        "lastDelivery": None
        if last is None
        else {
            "deliveryId": last.id,
            "transitionId": last.transition_id,
            "status": last.status,
            "attempts": last.attempts,
            "lastAttemptTime": _time(last.last_attempt_at),
            "lastStatus": last.last_status,
            "lastError": last.last_error,
        },
    }


def delete(runtime: Runtime, site_id: int, webhook_id: str) -> None:
    if not store.delete(runtime.engine, site_id, _key(webhook_id), runtime.clock.now()):
        raise NotFound("webhook")


def deliveries(
    runtime: Runtime, site_id: int, webhook_id: str, after: int, limit: int
) -> dict[str, Any]:
    """One page of the webhook's delivery log, oldest first by transition id; `nextAfter` is
    the `after` of the next page (the same when this one is the end, for now)."""
    hook = get(runtime, site_id, webhook_id)
    rows = store.deliveries(runtime.engine, site_id, hook.id, after, limit)
    return {
        "list": [delivery_json(row) for row in rows],
        "nextAfter": rows[-1].transition_id if rows else after,
    }


def describe(hook: Webhook) -> dict[str, Any]:
    """The webhook as the API shows it (never its secret)."""
    return {
        "id": hook.id,
        "name": hook.name,
        "url": hook.url,
        "severities": list(hook.severities),
        "createdTime": format_instant_exact(hook.created_at),
    }


def delivery_json(row: Delivery) -> dict[str, Any]:
    alert: Any = orjson.loads(row.body).get("alert")
    return {
        "deliveryId": row.id,
        "transitionId": row.transition_id,
        "status": row.status,
        "attempts": row.attempts,
        "createdTime": format_instant_exact(row.created_at),
        "lastAttemptTime": _time(row.last_attempt_at),
        "nextAttemptTime": format_instant_exact(row.next_attempt_at)
        if row.status == "pending"
        else None,
        "lastStatus": row.last_status,
        "lastError": row.last_error,
        "deliveredTime": _time(row.delivered_at),
        "alert": alert,
    }


def _time(micros: int | None) -> str | None:
    return None if micros is None else format_instant_exact(micros)
