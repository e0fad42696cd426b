"""Tokens from memory (services/sites.TokenCache) on a real database: trusted for `ttl` seconds of
its clock, forgotten at once on revocation here, never kept when unknown or revoked."""

from __future__ import annotations

from sqlalchemy import Engine

from chatpulse.services.sites import TokenCache
from chatpulse.store import sites


class Ticks:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_token_is_trusted_for_the_ttl_then_looked_up_again(engine: Engine) -> None:
    site = sites.create_site(engine, "cache", "UTC", 0)
    info, secret = sites.create_token(engine, site.id, "board", ("realtime.read",), 0)
    ticks = Ticks()
    cache = TokenCache(engine, 1.0, ticks)
    assert cache.find(secret) == info
    # Revoked by another process: this one still trusts its memory until the ttl is over.
    assert sites.revoke_token(engine, site.id, info.id, 5)
    ticks.now += 0.999
    assert cache.find(secret) == info
    ticks.now += 0.001
    assert cache.find(secret) is None
    assert cache.find(secret) is None  # and is never kept


def test_forget_refuses_the_next_request_and_unknown_secrets_are_not_kept(engine: Engine) -> None:
    site = sites.create_site(engine, "cache", "UTC", 0)
    info, secret = sites.create_token(engine, site.id, "board", ("realtime.read",), 0)
    other, other_secret = sites.create_token(engine, site.id, "other", ("admin",), 0)
    cache = TokenCache(engine, 60.0, Ticks())
    assert (cache.find(secret), cache.find(other_secret)) == (info, other)
    assert sites.revoke_token(engine, site.id, info.id, 5)
    cache.forget(info.id)
    assert (cache.find(secret), cache.find(other_secret)) == (None, other)
    assert cache.find("cp_unknown") is None


def test_a_ttl_of_zero_looks_up_every_time(engine: Engine) -> None:
    site = sites.create_site(engine, "cache", "UTC", 0)
    info, secret = sites.create_token(engine, site.id, "board", ("realtime.read",), 0)
    cache = TokenCache(engine, 0.0, Ticks())
    assert cache.find(secret) == info
    assert sites.revoke_token(engine, site.id, info.id, 5)
    assert cache.find(secret) is None
