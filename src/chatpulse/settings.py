"""One settings object, from CHATPULSE_* environment variables (pydantic-settings)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./chatpulse.db"


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
