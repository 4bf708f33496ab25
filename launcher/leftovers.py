"""Finding and stopping processes a killed earlier run left behind.

supervisord puts each program in its own process group, so when supervisord
itself is killed its programs keep running (and would hold the database's
lock and the web port).  They all carry INSTANCE_MARKER=<data dir> in their
environment, which identifies them without pid files, except Valkey: it
rewrites its process title over its environment, so the marker is gone from
/proc/<pid>/environ.  The private servers are therefore also found by the unix
sockets they hold under the instance's socket folder.
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from config import embedded_socket_dir
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


def _socket_inodes(folder: Path) -> set[str]:
    """The fd link targets (`socket:[inode]`) of unix sockets bound to a path under `folder`.

    /proc/net/unix keeps a socket's bound path even after the file was
    unlinked (a newer server of the same name replaced it), so an old server
    is still found then.
    """
    prefix = f"{folder}/"
    try:
        lines = Path("/proc/net/unix").read_text().splitlines()[1:]
    except OSError:
        return set()
    inodes = set()
    for line in lines:
        fields = line.split(None, 7)  # the path, the 8th field, may contain spaces
        if len(fields) == 8 and fields[7].startswith(prefix):
            inodes.add(f"socket:[{fields[6]}]")
    return inodes


def _holds(entry: Path, inodes: set[str]) -> bool:
    try:
        descriptors = list((entry / "fd").iterdir())
    except OSError:
        return False
    for descriptor in descriptors:
        try:
            if os.readlink(descriptor) in inodes:
                return True
        except OSError:
            continue
    return False


def find(instance: str) -> list[int]:
    """Pids of live processes (other than this one and its ancestors) marked with `instance`
    or holding a unix socket in its private servers' socket folder."""
    marker = f"{INSTANCE_MARKER}={instance}".encode()
    inodes = _socket_inodes(embedded_socket_dir(Path(instance)))
    skip = _ancestors()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in skip:
            continue
        try:
            if (marker in (entry / "environ").read_bytes().split(b"\0") or (inodes and _holds(entry, inodes))) \
                    and (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
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
