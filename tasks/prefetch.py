"""Fetching the next item while the current one is worked on.

An album job downloads each track before analysing it.  From a media server
that is network time: a 10 MB file over a 100 Mb/s home network takes about
as long as the analysis of the track itself, and the worker's core would sit
idle through it.  `Prefetcher` keeps one fetch running ahead on a thread, so
the download of track n+1 overlaps the analysis of track n.
"""
from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Generic, Hashable, TypeVar

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")


class Prefetcher(Generic[Key, Value]):
    """`fetch(key)` run ahead on one thread: `ahead(key)` starts it, `take(key)` waits for it.

    A fetch that fails hands its exception to `take`.  `close()` (or leaving the
    `with` block) abandons fetches not yet started and hands every fetched value
    nobody took, as well as the one still running, to `discard` once it is done,
    so nothing fetched is left behind, even when the job stops half-way.
    """

    def __init__(self, fetch: Callable[[Key], Value], discard: Callable[[Value], None]):
        self._fetch = fetch
        self._discard = discard
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch")
        self._pending: dict[Key, Future] = {}

    def ahead(self, key: Key) -> None:
        """Start fetching `key` (once) behind the fetches already asked for."""
        if key not in self._pending:
            self._pending[key] = self._pool.submit(self._fetch, key)

    def take(self, key: Key) -> Value:
        """The value for `key`: fetched ahead if it was asked for, else fetched now on this thread."""
        future = self._pending.pop(key, None)
        return self._fetch(key) if future is None else future.result()

    def close(self) -> None:
        for future in self._pending.values():
            if not future.cancel():
                future.add_done_callback(self._discard_result)
        self._pending.clear()
        self._pool.shutdown(wait=False)

    def _discard_result(self, future: Future) -> None:
        if future.exception() is None:
            self._discard(future.result())

    def __enter__(self) -> "Prefetcher[Key, Value]":
        return self

    def __exit__(self, *_) -> None:
        self.close()
