"""Engine and sessions, one engine per process.

RQ forks a work horse per job; a connection pool inherited across fork()
would share sockets with the parent, so `engine()` builds a fresh engine
whenever the process id changes.
"""
from __future__ import annotations

import contextlib
import os
import time
from typing import Iterator

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

_state: dict = {"pid": None, "url": None, "engine": None, "sessions": None}


def sqlalchemy_url(url: str) -> str:
    """The driver-qualified URL SQLAlchemy needs (plain postgresql:// is accepted)."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg2://" + url[len("postgresql://"):]
    return url


def configure(url: str) -> None:
    """Point this process at a database; the engine is built on first use."""
    if _state["url"] != url and _state["engine"] is not None and _state["pid"] == os.getpid():
        _state["engine"].dispose()
    _state.update(url=url, engine=None, sessions=None, pid=None)


def engine() -> Engine:
    if _state["url"] is None:
        raise RuntimeError("db.session.configure(url) was not called")
    if _state["engine"] is None or _state["pid"] != os.getpid():
        if _state["engine"] is not None:
            # Inherited from the parent: forget its pool without closing the parent's sockets.
            _state["engine"].dispose(close=False)
        # hide_parameters: statement errors and echo would otherwise print the
        # bound values, and some of them (saved settings) are secrets.
        _state["engine"] = create_engine(sqlalchemy_url(_state["url"]), pool_pre_ping=True,
                                         pool_size=5, max_overflow=5, hide_parameters=True)
        _state["sessions"] = sessionmaker(_state["engine"], expire_on_commit=False)
        _state["pid"] = os.getpid()
    return _state["engine"]


@contextlib.contextmanager
def session_scope() -> Iterator[Session]:
    """A session committed on success and rolled back on any error."""
    engine()
    session: Session = _state["sessions"]()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def read(statement) -> list:
    """Rows of one read-only statement on a plain autocommit connection.

    For the hot paths (every request's sign-in check, the feature APIs): no ORM
    session and no BEGIN/ROLLBACK round trips.
    """
    with engine().connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        return connection.execute(statement).all()


def wait_for_database(timeout: float = 60.0) -> None:
    """Block until the database answers, so start order does not matter.

    Raises the last OperationalError after `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            with engine().connect() as connection:
                connection.execute(text("SELECT 1"))
            return
        except OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
