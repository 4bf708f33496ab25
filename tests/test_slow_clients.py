"""Slow clients and oversized requests against the real gunicorn, started as deployed.

Sixteen connections that announce a 100 kB body and then send a byte a second,
or nothing, must not stop /api/health/live from answering within a second, and
the server must drop each of them once WEB_BODY_TIMEOUT_SECONDS (lowered to 4 s
here) has passed.  gunicorn's own answers to an oversized request line or
header block must be JSON like the app's errors.
"""
from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO

BODY_TIMEOUT = 4
SLOW_CONNECTIONS = 16
WATCH_SECONDS = 16


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(env, monkeypatch, tmp_path):
    """gunicorn with deployment/gunicorn.conf.py on a free port; yields (port, API token)."""
    from tests.support import token_for
    token = token_for("admin")
    port = _free_port()
    monkeypatch.setenv("WEB_HOST", "127.0.0.1")
    monkeypatch.setenv("WEB_PORT", str(port))
    monkeypatch.setenv("WEB_BODY_TIMEOUT_SECONDS", str(BODY_TIMEOUT))
    log = open(tmp_path / "gunicorn.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", "deployment/gunicorn.conf.py",
                                "app:create_app()"], cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while _live_seconds(port) is None:
            assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()
            assert time.monotonic() < deadline, "gunicorn did not answer within 60 s"
            time.sleep(0.2)
        yield port, token
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _live_seconds(port: int) -> float | None:
    """Seconds /api/health/live took to answer 200 on a new connection; None if it did not within 5 s."""
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/api/health/live")
        if connection.getresponse().status != 200:
            return None
    except OSError:
        return None
    finally:
        connection.close()
    return time.monotonic() - started


def _slow_request(port: int, token: str | None) -> socket.socket:
    """A JSON POST whose headers announce 100 kB and whose body has not started."""
    connection = socket.create_connection(("127.0.0.1", port))
    authorization = f"Authorization: Bearer {token}\r\n" if token else ""
    connection.sendall(f"POST /api/alchemy HTTP/1.1\r\nHost: 127.0.0.1\r\n{authorization}"
                       f"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{{".encode())
    connection.setblocking(False)
    return connection


def _closed(connection: socket.socket, received: bytearray) -> bool:
    """Read what the server sent; True once it has closed the connection."""
    try:
        while chunk := connection.recv(65536):
            received += chunk
        return True
    except BlockingIOError:
        return False
    except ConnectionError:
        return True


def test_slow_bodies_neither_starve_the_server_nor_stay_open(server):
    port, token = server
    # Half of them trickle a byte a second, half stall; half of each are signed in,
    # so the app itself would read their bodies.
    slow = [_slow_request(port, token if n % 2 else None) for n in range(SLOW_CONNECTIONS)]
    opened = time.monotonic()
    received = [bytearray() for _ in slow]
    closed_after: dict[int, float] = {}
    latencies = []
    next_trickle = opened + 1
    while time.monotonic() - opened < WATCH_SECONDS:
        latency = _live_seconds(port)
        latencies.append(latency if latency is not None else float("inf"))
        now = time.monotonic()
        for n, connection in enumerate(slow):
            if n in closed_after:
                continue
            if _closed(connection, received[n]):
                closed_after[n] = now - opened
            elif n < SLOW_CONNECTIONS // 2 and now >= next_trickle:
                try:
                    connection.send(b" ")
                except ConnectionError:
                    closed_after[n] = now - opened
        if now >= next_trickle:
            next_trickle += 1
        time.sleep(0.2)
    for connection in slow:
        connection.close()
    print(f"\n/api/health/live with {SLOW_CONNECTIONS} slow bodies open: {len(latencies)} requests, "
          f"{sum(t >= 1 for t in latencies)} took 1 s or more (5 s: no answer), max {max(latencies) * 1000:.0f} ms; "
          f"slow connections closed after "
          f"{sorted(round(t, 1) for t in closed_after.values())} s")
    assert max(latencies) < 1.0
    assert len(closed_after) == SLOW_CONNECTIONS, "some slow bodies were still held"
    assert max(closed_after.values()) < BODY_TIMEOUT + 3
    for answer in received:
        if answer:   # a timed-out body is answered 408 with the API's JSON error
            head, _, body = bytes(answer).partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 408")
            assert json.loads(body)["status"] == 408


# gunicorn's own answers to requests it cannot parse; one server for all of them.
OVERSIZED = {
    "long URL": (b"GET /api/health?q=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", {414}),
    "long header": (b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
                    {431, 400}),
    "120 headers": (b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    + b"".join(b"X-%d: 1\r\n" % n for n in range(120)) + b"\r\n", {431, 400}),
    "malformed header": (b"GET /api/health HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n", {400}),
}


def test_gunicorns_own_errors_are_json(server):
    port, _ = server
    for case, (request_head, statuses) in OVERSIZED.items():
        with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
            connection.sendall(request_head)
            answer = b""
            while chunk := connection.recv(65536):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        status = int(head.split()[1])
        assert status in statuses, case
        assert b"content-type: application/json" in head.lower(), case
        assert json.loads(body) == {"error": json.loads(body)["error"], "status": status}, case
