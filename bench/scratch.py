"""A scratch PostgreSQL database for a benchmark run, dropped afterwards."""
from __future__ import annotations

import contextlib
import os
import uuid
from typing import Iterator

import psycopg2

ADMIN_URL = os.environ.get("BENCH_ADMIN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextlib.contextmanager
def scratch_database(prefix: str = "sonarium_bench") -> Iterator[str]:
    """Create an empty database on the benchmark server; yields its URL; drops it on exit.

    The server is BENCH_ADMIN_DATABASE_URL (default: the local PostgreSQL as postgres).
    """
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(ADMIN_URL)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        from db.session import engine
        try:
            engine().dispose()
        except RuntimeError:  # this process never configured the database
            pass
        admin.cursor().execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()
