"""Per-process start-up shared by the web app, workers and the reconciler."""
from __future__ import annotations

from config import Settings, configure_logging, load_settings
from db import session as db_session
from tasks import queues

_current: dict = {"settings": None}


def init(settings: Settings | None = None, *, migrate: bool = True, wait: float = 60.0) -> Settings:
    """Load settings, point the database and Redis clients at them, wait for
    the database (start order must not matter) and apply pending migrations."""
    settings = settings or load_settings()
    _current["settings"] = settings
    configure_logging(settings)
    db_session.configure(settings.database_url)
    queues.configure(settings.redis_url)
    if wait:
        db_session.wait_for_database(timeout=wait)
    if migrate:
        from db import migrate as db_migrate
        db_migrate.upgrade()
    return settings


def settings() -> Settings:
    if _current["settings"] is None:
        raise RuntimeError("runtime.init() was not called in this process")
    return _current["settings"]
