"""Queues separated by workload, and this process's Redis connection."""
from __future__ import annotations

import os

from redis import Redis
from rq import Queue

HIGH = "high"              # orchestration: parent tasks that spawn and watch children
DEFAULT = "default"        # per-album analysis and other per-item work
CLUSTERING = "clustering"  # CPU-heavy clustering batches
ALL_QUEUES = (HIGH, DEFAULT, CLUSTERING)

_state: dict = {"url": None, "pid": None, "redis": None}


def configure(url: str) -> None:
    _state.update(url=url, pid=None, redis=None)


def redis_connection() -> Redis:
    """One connection pool per process (a forked child gets its own)."""
    if _state["url"] is None:
        raise RuntimeError("tasks.queues.configure(url) was not called")
    if _state["redis"] is None or _state["pid"] != os.getpid():
        _state["redis"] = Redis.from_url(_state["url"], socket_connect_timeout=5, socket_timeout=30,
                                         health_check_interval=30)
        _state["pid"] = os.getpid()
    return _state["redis"]


def queue(name: str) -> Queue:
    if name not in ALL_QUEUES:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(name, connection=redis_connection())
