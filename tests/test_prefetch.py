"""Fetching ahead (tasks.prefetch): overlap, errors handed over, nothing fetched left behind."""
import threading
import time

import pytest

from tasks.prefetch import Prefetcher


class Fetches:
    def __init__(self, seconds=0.0, failing=()):
        self.seconds, self.failing = seconds, set(failing)
        self.started, self.discarded = [], []
        self.release = threading.Event()
        self.release.set()

    def fetch(self, key):
        self.started.append(key)
        self.release.wait(5)
        time.sleep(self.seconds)
        if key in self.failing:
            raise ConnectionError(f"{key} broke off")
        return f"file of {key}"

    def discard(self, value):
        self.discarded.append(value)


def test_a_fetch_asked_ahead_runs_while_the_caller_works():
    fetches = Fetches(seconds=0.3)
    with Prefetcher(fetches.fetch, fetches.discard) as files:
        files.ahead("a")
        time.sleep(0.4)  # the caller analyses the previous track meanwhile
        started = time.monotonic()
        assert files.take("a") == "file of a"
        assert time.monotonic() - started < 0.15
        assert files.take("b") == "file of b"  # never asked ahead: fetched on the spot
    assert fetches.started == ["a", "b"] and fetches.discarded == []


def test_a_failed_fetch_raises_where_the_value_is_taken():
    fetches = Fetches(failing={"a"})
    with Prefetcher(fetches.fetch, fetches.discard) as files:
        files.ahead("a")
        with pytest.raises(ConnectionError, match="a broke off"):
            files.take("a")


def test_closing_leaves_nothing_fetched_behind():
    fetches = Fetches(seconds=0.1)
    fetches.release.clear()
    files = Prefetcher(fetches.fetch, fetches.discard)
    files.ahead("running")
    files.ahead("queued")
    time.sleep(0.1)
    files.close()  # the job stopped: "running" is under way, "queued" never starts
    fetches.release.set()
    deadline = time.monotonic() + 5
    while not fetches.discarded and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fetches.started == ["running"] and fetches.discarded == ["file of running"]
