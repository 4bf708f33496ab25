"""Helpers for the settings tests: an HTTP server that records what reaches it,
PostgreSQL's own log, and the raw `app_setting` rows."""
from __future__ import annotations

import contextlib
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import psycopg2

# Enough for every provider's connection test to get past its first call: a
# Subsonic "ok", Jellyfin's server version and user name.
_ANSWER = json.dumps({"subsonic-response": {"status": "ok", "version": "1.16.1", "musicFolders": {}},
                      "Version": "10.9.0", "Name": "me"}).encode()


class Recorder:
    """Every request that reached the server: method, path, headers (lower-case names), body."""

    def __init__(self, url: str):
        self.url = url
        self.requests: list[dict] = []

    def everything(self) -> str:
        """All that arrived, as one text to search for a secret."""
        return json.dumps(self.requests)


@contextlib.contextmanager
def recording_server() -> Iterator[Recorder]:
    """A tiny HTTP server on 127.0.0.1 that records every request and answers 200 JSON."""
    recorder: Recorder

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
            recorder.requests.append({"method": self.command, "path": self.path, "body": body,
                                      "headers": {k.lower(): v for k, v in self.headers.items()}})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(_ANSWER)))
            self.end_headers()
            self.wfile.write(_ANSWER)

        do_GET = do_POST = _record

        def log_message(self, *args) -> None:   # keep the test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorder = Recorder(f"http://127.0.0.1:{server.server_port}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()


def postgres_log(database_url: str) -> Path | None:
    """The file PostgreSQL writes its log to, when this process can read it.

    The logging collector's current file if it runs, else the server's stderr
    (inherited by every backend, so the backend serving us shows it in /proc
    when the server runs on this machine).  None when neither can be read.
    """
    with contextlib.closing(psycopg2.connect(database_url)) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_logfile(), current_setting('data_directory'), pg_backend_pid()")
        logfile, data_directory, pid = cursor.fetchone()
        candidates = [Path(data_directory) / logfile] if logfile else []
        candidates.append(Path(f"/proc/{pid}/fd/2"))
        for candidate in candidates:
            try:
                path = candidate.resolve(strict=True)
                if path.is_file() and os.access(path, os.R_OK):
                    return path
            except OSError:
                continue
    return None


def setting_rows(database_url: str) -> dict[str, tuple[str, bool]]:
    """name -> (value as stored, encrypted), read straight from the table."""
    with contextlib.closing(psycopg2.connect(database_url)) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT name, value, encrypted FROM app_setting")
        return {name: (value, encrypted) for name, value, encrypted in cursor.fetchall()}


def execute(database_url: str, statement: str, *params) -> None:
    with contextlib.closing(psycopg2.connect(database_url)) as connection:
        with connection, connection.cursor() as cursor:
            cursor.execute(statement, params)
