"""Who a credential belongs to, remembered by each web process until accounts or tokens change.

Every change to an account or a token bumps a generation counter in Redis.
A process answers from memory while the counter is unchanged, so a signed-in
request costs one Redis GET instead of a PostgreSQL query (measured in
docs/PERFORMANCE.md), and a revoked token or a changed password is refused
on the very next request, in every process.  Without Redis the database is
asked every time; an entry is also forgotten after `MAX_AGE_SECONDS`, so a
change whose bump was lost (Redis down at that moment) holds within a minute.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Hashable, TypeVar

from redis.exceptions import RedisError

from tasks.queues import redis_connection

log = logging.getLogger(__name__)
GENERATION_KEY = "sonarium:auth:generation"
MAX_AGE_SECONDS = 60
MAX_ENTRIES = 4096
Value = TypeVar("Value")


def bump() -> None:
    """Tell every process that accounts or tokens changed (call after the change is committed)."""
    try:
        redis_connection().incr(GENERATION_KEY)
    except RedisError as error:
        log.warning("could not announce an account change through Redis (%s); other web processes "
                    "notice it within %s s", type(error).__name__, MAX_AGE_SECONDS)


class IdentityCache:
    """Answers of `lookup(key)` kept while the generation holds (one per app, in app.extensions)."""

    def __init__(self):
        self._entries: dict[Hashable, tuple[bytes, float, object]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, lookup: Callable[[], Value]) -> Value:
        try:
            generation = redis_connection().get(GENERATION_KEY) or b"0"
        except RedisError:
            return lookup()
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and entry[0] == generation and now - entry[1] < MAX_AGE_SECONDS:
            return entry[2]
        value = lookup()
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (generation, now, value)
        return value
