"""Finding and stopping processes a killed earlier run left behind.

supervisord puts each program in its own process group, so when supervisord
itself is killed its programs keep running (and would hold the database's
lock and the web port).  They all carry INSTANCE_MARKER=<data dir> in their
environment, which identifies them without pid files.
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from launcher import INSTANCE_MARKER


def _ancestors() -> set[int]:
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            pid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


def find(instance: str) -> list[int]:
    """Pids of live processes (other than this one and its ancestors) marked with `instance`."""
    marker = f"{INSTANCE_MARKER}={instance}".encode()
    skip = _ancestors()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in skip:
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def stop(instance: str, timeout: float = 20.0) -> list[int]:
    """SIGTERM every leftover, SIGKILL what is still there after `timeout`; returns the pids."""
    pids = find(instance)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and find(instance):
        time.sleep(0.2)
    for pid in find(instance):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return pids
