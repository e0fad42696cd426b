"""One settings object, from CHATPULSE_* environment variables (pydantic-settings)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from chatpulse.store.db import DEFAULT_DATABASE_URL


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHATPULSE_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_body_bytes: int = 1024 * 1024
    max_events: int = 1000
    log_requests: bool = True
    pool_size: int = 8
    # Extra connections a process may open beyond pool_size under load (closed when returned).
    pool_overflow: int = 8
    # Server-Sent Events (SPEC.md §3.5): per-view minimum gap between events, refresh of
    # time-dependent views, keep-alive comment; threads computing stream snapshots at once.
    stream_min_interval_ms: int = 250
    stream_refresh_interval_ms: int = 5000
    stream_ping_interval_ms: int = 15000
    stream_threads: int = 4
    stream_poll_interval_ms: int = 500  # notices other workers' ingests; 0: off
    # PostgreSQL: one LISTEN connection per process hears every ingest at once (store/notify.py);
    # polling then waits while it is connected.
    stream_listen: bool = True
    # Answers of the time-dependent views (Queue, Today, Agents) are shared by every request and
    # stream of a process asking the same query of the same stored state within this many
    # milliseconds of the clock (aligned buckets): their waits and durations may be up to this
    # old. Any stored change (event, configuration) is seen at once. 0: computed every time.
    view_max_age_ms: int = 1000
    # GET /metrics is open (scraped on an internal network); set a token to require
    # `Authorization: Bearer <metrics_token>` there.
    metrics_token: str | None = None
    # Limits and security (docs/operations.md, "Limits and security"); 0 turns a limit off.
    # Requests per API token (one bucket for every endpoint), per process.
    rate_limit_per_second: float = 50
    rate_limit_burst: int = 100
    # Requests with an unknown or revoked token, per client address.
    auth_failures_per_second: float = 5
    auth_failures_burst: int = 20
    max_streams_per_token: int = 10
    max_config_body_bytes: int = 64 * 1024  # every body but ingest's (max_body_bytes)
    body_timeout_s: float = 30  # the whole body must arrive within this, from the first read
    max_header_bytes: int = 16 * 1024  # request line and headers (uvicorn/h11)
    shutdown_timeout_s: int = 10  # graceful shutdown: in-flight requests get this long
    cors_origins: str = ""  # a comma list of origins allowed to call the API; empty: no CORS
    # A token looked up is trusted this long in each process; revocation through this process
    # takes effect at once, through another within this bound. 0: look up on every request.
    token_cache_s: float = 1.0
    # The server's address as chat platforms reach it, for the webhook URLs of connectors
    # (docs/connectors.md); unset: the address the request to create the connector came to.
    public_url: str | None = None
    # Each process looks every second for connectors whose agent availability poll is due.
    connector_poll: bool = True
    # Each process runs the alert evaluator; one at a time evaluates (docs/alerts.md).
    alert_evaluation: bool = True
    # Every rule is judged again this often (waits, silence and hold times move with the clock).
    alert_interval_ms: int = 1000
    # Alert webhooks (docs/alert_webhooks.md). Each process runs one dispatcher sending the
    # outbox; a URL whose host resolves to a loopback, private, link-local, CGNAT, multicast or
    # reserved address is refused (at creation and at every attempt) unless this is true.
    alert_webhooks_dispatch: bool = True
    alert_webhooks_allow_private: bool = False
    alert_webhook_timeout_ms: int = 10_000  # a delivery attempt: a 2xx within this
    alert_webhook_retry_base_ms: int = 1000  # retries wait base·2^(n−1), at most the cap,
    alert_webhook_retry_cap_ms: int = 3_600_000  # times a random factor in [0.5, 1]
    alert_webhook_retry_for_s: float = 86_400  # then given up (failed), the next one goes
    # How long a process holds an endpoint while sending it (renewed while it does; at least
    # the timeout + 5 s); a killed process's endpoints are taken over after this.
    alert_webhook_lease_ms: int = 30_000
