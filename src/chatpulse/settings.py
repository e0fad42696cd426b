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
    # Server-Sent Events (SPEC.md §3.5): per-view minimum gap between events, refresh of
    # time-dependent views, keep-alive comment; threads computing stream snapshots at once.
    stream_min_interval_ms: int = 250
    stream_refresh_interval_ms: int = 5000
    stream_ping_interval_ms: int = 15000
    stream_threads: int = 4
    stream_poll_interval_ms: int = 500  # notices other workers' ingests; 0: off
