"""Alert webhooks (docs/alert_webhooks.md): what a webhook's configuration may be, how a
delivery is signed and verified, and when a failed one is tried again. Pure: the clock and the
random draws come in as arguments.
"""

from __future__ import annotations

import hashlib
import hmac
import random
from dataclasses import dataclass
from urllib.parse import urlsplit

from chatpulse.domain.alerts import SEVERITIES
from chatpulse.domain.errors import FieldError

MAX_NAME = 200
MAX_URL = 2000
SECRET_RANGE = (16, 200)
SIGNATURE_HEADER = "ChatPulse-Signature"
DELIVERY_HEADER = "ChatPulse-Delivery"
USER_AGENT = "ChatPulse-Alerts/1"
MAX_ERROR = 400  # alert_deliveries.last_error

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


@dataclass(frozen=True, slots=True)
class WebhookBody:
    """A checked configuration (the secret None: one is generated)."""

    id: str | None
    name: str
    url: str
    secret: str | None
    severities: tuple[str, ...]


def check(
    name: str, url: str, secret: str | None, severities: list[str] | None
) -> list[FieldError]:
    """What is wrong with a webhook's configuration, field by field (empty: nothing). The URL's
    addresses are checked by the caller, which resolves its host."""
    errors: list[FieldError] = []
    if not name.strip():
        errors.append(FieldError("name", "must not be empty"))
    elif len(name) > MAX_NAME:
        errors.append(FieldError("name", f"must be at most {MAX_NAME} characters"))
    url_error = check_url(url)
    if url_error is not None:
        errors.append(FieldError("url", url_error))
    low, high = SECRET_RANGE
    if secret is not None and not low <= len(secret) <= high:
        errors.append(FieldError("secret", f"must be {low} to {high} characters"))
    if severities is not None:
        if not severities:
            errors.append(FieldError("severities", "must name warning, critical or both"))
        for level in severities:
            if level not in SEVERITIES:
                message = f"{level[:40]!r} is not warning or critical"
                errors.append(FieldError("severities", message))
                break
    return errors


def check_url(url: str) -> str | None:
    """Why `url` cannot be a webhook's address, or None."""
    if len(url) > MAX_URL:
        return f"must be at most {MAX_URL} characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises ValueError on a port out of range
    except ValueError:
        return "must be an http:// or https:// URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL with a host"
    if any(ch.isspace() for ch in url):
        return "must not contain spaces"
    return None


def host_and_port(url: str) -> tuple[str, int]:
    """The host to resolve and the port to reach for a checked URL."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def ordered_severities(severities: list[str] | None) -> tuple[str, ...]:
    """The chosen levels in their fixed order, each once (None: both)."""
    chosen = set(SEVERITIES if severities is None else severities)
    return tuple(level for level in SEVERITIES if level in chosen)


# ---- signing ------------------------------------------------------------------------------


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `ChatPulse-Signature` header of a delivery sent at `timestamp` (Unix seconds):
    `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>." + body, keyed with the secret>`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(secret: str, header: str, body: bytes, now: int, tolerance: int = 300) -> bool:
    """Whether `header` signs `body` with `secret`, at most `tolerance` seconds from `now`
    (Unix seconds): what a receiver runs (the snippet in the docs does the same)."""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields.get("t", [""])[0])
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body).rsplit("v1=", 1)[1]
    return any(hmac.compare_digest(expected, given) for given in fields.get("v1", []))


# ---- retries ------------------------------------------------------------------------------


def backoff_micros(attempts: int, base_ms: int, cap_ms: int, rng: random.Random) -> int:
    """How long to wait after the `attempts`-th failed attempt (1, 2, …): base·2^(attempts−1),
    at most the cap, scaled by a random factor in [0.5, 1] so that endpoints failing together
    do not retry together."""
    exponent = min(max(attempts - 1, 0), 62)
    ceiling = min(cap_ms, base_ms * 2**exponent)
    return int(ceiling * 1000 * rng.uniform(0.5, 1.0))


def short_error(text: str) -> str:
    """An error as stored: one line, at most MAX_ERROR characters."""
    line = " ".join(text.split())
    return line if len(line) <= MAX_ERROR else line[: MAX_ERROR - 1] + "…"
