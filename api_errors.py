"""How the web layer answers errors; blueprints import from here, never from app.py.

Every /api route answers errors as JSON `{"error", "status", ...}`: 4xx for the
caller's mistakes, 503 when PostgreSQL or Redis is unreachable, 502 when the
media server is (409 when it is not configured or lacks the feature asked
for), and a bare 500 message (details only in the server log) for anything
else.  Pages get Flask's HTML errors.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, request
from redis.exceptions import RedisError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from config import ConfigError
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


def wants_json() -> bool:
    return request.path.startswith("/api/")


def register(app: Flask) -> None:
    """Install the error handlers on the app."""

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
        log.warning("database unavailable: %s", type(error.orig).__name__)
        return api_error(503, "the database is unavailable; try again shortly")

    @app.errorhandler(RedisError)
    def redis_down(error: RedisError):
        log.warning("Redis unavailable: %s", error)
        return api_error(503, "Redis is unavailable; try again shortly")

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return api_error(500, "internal error; the server log has the details")
