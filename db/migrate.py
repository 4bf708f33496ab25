"""Apply Alembic migrations at start-up, safely from several processes.

Web and worker processes all call `upgrade()` when they start; a PostgreSQL
advisory lock makes the first one migrate while the others wait, then find
nothing to do.
"""
from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from db import session as db_session

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_LOCK_KEY = 0x50_4E_41_52  # arbitrary, constant: "the migration lock"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision() -> str | None:
    with db_session.engine().connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(target: str = "head") -> None:
    with db_session.engine().connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _LOCK_KEY})
        try:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, target)
            connection.commit()
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _LOCK_KEY})
            connection.commit()
    log.info("database schema at %s", target)


def downgrade(target: str) -> None:
    with db_session.engine().connect() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, target)
        connection.commit()
