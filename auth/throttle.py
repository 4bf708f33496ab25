"""Failed sign-in attempts, counted in Redis per account name and per client address.

A name gets `PER_NAME` failures per window, an address `PER_ADDRESS` (a
household behind one router tries several names); past either, attempts are
refused until the window ends, without checking the password, so guessing
costs the attacker time and the server no argon2 work.
"""
from __future__ import annotations

import hashlib

from tasks.queues import redis_connection

WINDOW_SECONDS = 15 * 60
PER_NAME = 5
PER_ADDRESS = 30


class Throttled(Exception):
    """Too many failures; `retry_after` is in seconds."""

    def __init__(self, retry_after: int):
        super().__init__(f"too many failed attempts; try again in {max(1, retry_after // 60)} minute(s)")
        self.retry_after = retry_after


def _keys(scope: str, name: str, address: str) -> list[tuple[str, int]]:
    hashed = hashlib.sha256(name.strip().lower().encode("utf-8", "replace")).hexdigest()[:32]
    return [(f"sonarium:auth:{scope}:name:{hashed}", PER_NAME),
            (f"sonarium:auth:{scope}:addr:{address}", PER_ADDRESS)]


def check(scope: str, name: str, address: str) -> None:
    """Raise Throttled if this name or address has used up its failures."""
    redis = redis_connection()
    for key, limit in _keys(scope, name, address):
        count = redis.get(key)
        if count is not None and int(count) >= limit:
            raise Throttled(max(1, redis.ttl(key)))


def failed(scope: str, name: str, address: str) -> None:
    pipe = redis_connection().pipeline()
    for key, _ in _keys(scope, name, address):
        pipe.incr(key)
        pipe.expire(key, WINDOW_SECONDS, nx=True)
    pipe.execute()


def succeeded(scope: str, name: str, address: str) -> None:
    """A right password clears the name's count (not the address's)."""
    redis_connection().delete(_keys(scope, name, address)[0][0])
