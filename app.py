"""The Flask application factory.

`create_app(test_config=None)` loads settings (test_config entries, named like
the environment variables, override the environment), connects the database
and Redis, applies migrations and registers the blueprints.  Every /api route
answers errors as JSON: 4xx for the caller's mistakes, 503 when PostgreSQL or
Redis is unreachable, 502 when the media server is (409 when it is not configured
or lacks the feature asked for), and a bare 500 message (details only in the server log)
for anything else.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping

from flask import Flask, jsonify, request
from redis.exceptions import RedisError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

import runtime
from config import ConfigError, load_settings
from mediaserver.base import AuthFailed, NotFound, NotSupported, ProviderError, Unreachable
from similarity.live import NoIndex

log = logging.getLogger(__name__)

# A media server's failures as HTTP answers: its absence or refusal is a bad
# gateway (502), never the caller's fault; a missing item is 404; a feature the
# server lacks is a conflict with the current configuration (409).
_PROVIDER_STATUS = ((Unreachable, 502), (AuthFailed, 502), (NotFound, 404), (NotSupported, 409))


def api_error(status: int, message: str, **extra: Any):
    """The JSON error body every API route uses."""
    return jsonify({"error": message, "status": status, **extra}), status


def _register_error_handlers(app: Flask) -> None:
    def wants_json() -> bool:
        return request.path.startswith("/api/")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if wants_json():
            return api_error(error.code or 500, error.description or error.name)
        return error

    @app.errorhandler(ProviderError)
    def media_server_error(error: ProviderError):
        return api_error(next((code for kind, code in _PROVIDER_STATUS if isinstance(error, kind)), 502), str(error))

    @app.errorhandler(NoIndex)
    def no_index(error: NoIndex):
        return api_error(503, str(error))

    @app.errorhandler(ConfigError)
    def media_server_not_configured(error: ConfigError):
        return api_error(409, f"the media server is not configured correctly: {error}")

    @app.errorhandler(OperationalError)
    def database_down(error: OperationalError):
        log.warning("database unavailable: %s", error.orig)
        return api_error(503, "the database is unavailable; try again shortly")

    @app.errorhandler(RedisError)
    def redis_down(error: RedisError):
        log.warning("Redis unavailable: %s", error)
        return api_error(503, "Redis is unavailable; try again shortly")

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return api_error(500, "internal error; the server log has the details")


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    test_config = dict(test_config or {})
    settings = load_settings(overrides=test_config)
    runtime.init(settings, wait=float(test_config.get("DATABASE_WAIT_SECONDS", 60)))

    app = Flask(__name__)
    app.config.update(SECRET_KEY=settings.secret_key, MAX_CONTENT_LENGTH=1024 * 1024)
    app.json.sort_keys = False  # keep results in the order tasks build them
    app.config.update({k: v for k, v in test_config.items() if k in ("TESTING",)})
    app.extensions["sonarium.settings"] = settings
    from similarity.live import LiveIndex
    live_index = LiveIndex()
    live_index.refresh()  # loaded before the first request
    live_index.start(settings.index_reload_seconds)
    app.extensions["sonarium.index"] = live_index

    import app_alchemy
    import app_playlists
    import app_settings
    import app_similarity
    import app_system
    import app_tasks
    app.register_blueprint(app_tasks.bp)
    app.register_blueprint(app_system.bp)
    app.register_blueprint(app_settings.bp)
    app.register_blueprint(app_similarity.bp)
    app.register_blueprint(app_playlists.bp)
    app.register_blueprint(app_alchemy.bp)
    _register_error_handlers(app)
    return app
