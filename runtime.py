"""Per-process start-up shared by the web app, workers and the reconciler.

`settings()` answers only for the start-up values that cannot be edited
(database, Redis, data dir, task timing, the secret key): they hold for the
process's whole life.  Settings the Settings page can change are read from
`settings_store.effective()`, the one place that says what they are now;
asking `settings()` for one raises AttributeError saying so.
"""
from __future__ import annotations

from config import Settings, configure_logging, load_settings
from db import session as db_session
from tasks import queues

_current: dict = {"settings": None}


def init(settings: Settings | None = None, *, migrate: bool = True, wait: float = 60.0) -> Settings:
    """Load settings, point the database and Redis clients at them, wait for
    the database (start order must not matter), apply pending migrations and
    encrypt any secret an older version saved in plaintext."""
    settings = settings or load_settings()
    _current["settings"] = settings.fixed()
    configure_logging(settings)
    db_session.configure(settings.database_url)
    queues.configure(settings.redis_url)
    if wait:
        db_session.wait_for_database(timeout=wait)
    if migrate:
        from db import migrate as db_migrate
        import settings_store
        db_migrate.upgrade()
        settings_store.seal_plaintext()
    return settings


def settings() -> Settings:
    """The start-up settings that cannot be edited (see the module docstring)."""
    if _current["settings"] is None:
        raise RuntimeError("runtime.init() was not called in this process")
    return _current["settings"]
