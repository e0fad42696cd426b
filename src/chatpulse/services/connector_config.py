"""Connectors' configuration (docs/connectors.md): create, read, remove, and open one by its
webhook URL; the platform module of each kind."""

from __future__ import annotations

import importlib
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Engine

from chatpulse.connectors.model import ConnectorSettings, Platform
from chatpulse.domain.errors import FieldError, InvalidBody, NotFound
from chatpulse.domain.timeutil import format_instant
from chatpulse.store import connectors as store
from chatpulse.store.connectors import Connector

KINDS = ("chatwoot", "livechat")
DEFAULT_REORDER_MS = 100
REORDER_RANGE = (0, 5000)
POLL_RANGE = (0, 86_400)
DEFAULT_POLL_S = {"chatwoot": 30, "livechat": 0}


def platform(kind: str) -> Platform:
    """The mapping module of a platform (connectors/<kind>.py)."""
    return cast(Platform, importlib.import_module(f"chatpulse.connectors.{kind}"))


# ------------------------------------------------------------------------ configuration


@dataclass(frozen=True, slots=True)
class NewConnector:
    kind: str
    name: str | None = None
    signing_secret: str | None = None
    api_url: str | None = None
    api_token: str | None = None
    account_id: str | None = None
    poll_seconds: int | None = None
    reorder_ms: int | None = None


def _check(new: NewConnector) -> list[FieldError]:
    errors: list[FieldError] = []
    if new.kind not in KINDS:
        errors.append(FieldError("kind", f"must be one of {', '.join(KINDS)}"))
    for name, number, (low, high) in (
        ("pollSeconds", new.poll_seconds, POLL_RANGE),
        ("reorderMs", new.reorder_ms, REORDER_RANGE),
    ):
        if number is not None and not low <= number <= high:
            errors.append(FieldError(name, f"must be an integer from {low} to {high}"))
    if new.api_url is not None and not new.api_url.startswith(("http://", "https://")):
        errors.append(FieldError("apiUrl", "must be an http:// or https:// URL"))
    if new.kind == "chatwoot" and (new.poll_seconds or 0) > 0:
        for name, value in (
            ("apiUrl", new.api_url),
            ("apiToken", new.api_token),
            ("accountId", new.account_id),
        ):
            if not value:
                errors.append(FieldError(name, "is required for the availability poll"))
    if new.name is not None and not new.name.strip():
        errors.append(FieldError("name", "must not be blank"))
    return errors


def create(engine: Engine, site_id: int, new: NewConnector, now: int) -> tuple[Connector, str]:
    """A new connector and its URL secret (shown once; only its hash is kept)."""
    kind = new.kind
    poll = new.poll_seconds
    if poll is None:
        has_api = bool(new.api_url and new.api_token and new.account_id)
        poll = DEFAULT_POLL_S.get(kind, 0) if has_api else 0
        new = NewConnector(**{**_fields(new), "poll_seconds": poll})
    errors = _check(new)
    if errors:
        raise InvalidBody(errors)
    connector = Connector(
        str(uuid.uuid4()),
        site_id,
        kind,
        (new.name or kind.capitalize()).strip()[:200],
        ConnectorSettings(kind, new.signing_secret, new.api_url, new.api_token, new.account_id),
        poll,
        DEFAULT_REORDER_MS if new.reorder_ms is None else new.reorder_ms,
        now,
    )
    secret = secrets.token_hex(32)
    return store.create(engine, connector, secret), secret


def _fields(new: NewConnector) -> dict[str, Any]:
    return {name: getattr(new, name) for name in NewConnector.__slots__}


def webhook_path(connector: Connector, secret: str) -> str:
    return f"/api/v3/connectors/{connector.id}/webhook/{secret}"


def get(engine: Engine, site_id: int, connector_id: str) -> Connector:
    found = store.get(engine, site_id, _key(connector_id))
    if found is None:
        raise NotFound("connector")
    return found


def _key(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise NotFound("connector") from None


def remove(engine: Engine, site_id: int, connector_id: str, now: int) -> None:
    key = _key(connector_id)
    if not store.remove(engine, site_id, key, now):
        raise NotFound("connector")
    opened.forget(key)


class _Opened:
    """Connectors recently opened by their webhook URL, per process, for OPEN_CACHE_S: a busy
    connector's deliveries read no row. A removal through this process takes effect at once,
    through another within OPEN_CACHE_S."""

    def __init__(self) -> None:
        self._found: dict[tuple[str, str], tuple[Connector, float]] = {}
        self._lock = threading.Lock()

    def cached(self, key: str, secret: str) -> Connector | None:
        """The connector if this process opened it within OPEN_CACHE_S (no I/O)."""
        with self._lock:
            found = self._found.get((key, secret))
        if found is not None and time.monotonic() - found[1] < OPEN_CACHE_S:
            return found[0]
        return None

    def get(self, engine: Engine, key: str, secret: str) -> Connector | None:
        found = self.cached(key, secret)
        if found is not None:
            return found
        connector = store.by_webhook(engine, key, secret)
        if connector is not None:
            with self._lock:
                if len(self._found) > 10_000:
                    self._found.clear()
                self._found[(key, secret)] = (connector, time.monotonic())
        return connector

    def forget(self, key: str) -> None:
        with self._lock:
            for cached in [k for k in self._found if k[0] == key]:
                del self._found[cached]


opened = _Opened()
OPEN_CACHE_S = 1.0


def describe(connector: Connector) -> dict[str, Any]:
    """The connector as the API shows it (never its secrets)."""
    s = connector.settings
    return {
        "id": connector.id,
        "siteId": connector.site_id,
        "kind": connector.kind,
        "name": connector.name,
        "signingSecretSet": s.signing_secret is not None,
        "apiUrl": s.api_url,
        "apiTokenSet": s.api_token is not None,
        "accountId": s.account_id,
        "pollSeconds": connector.poll_seconds,
        "reorderMs": connector.reorder_ms,
        "createdTime": format_instant(connector.created_at),
        "lastPollTime": None
        if connector.last_poll_at is None
        else format_instant(connector.last_poll_at),
        "lastPollError": connector.last_poll_error,
    }
