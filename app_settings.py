"""Settings page and media-server settings API.

Routes and their errors:
- GET  /settings                  the page: choose the media server, enter its settings, test them
- GET  /api/mediaserver           current choice and fields (secrets only as "set": true/false)
- POST /api/mediaserver           {"values": {"MEDIASERVER_TYPE": ..., "NAVIDROME_URL": ..., ...}}
                                  saves; 400 with the variable named when a value is bad or missing
- POST /api/mediaserver/test      same body, not saved: tests the connection with saved values
                                  overridden by these; 200 {"ok": bool, "message": ...};
                                  400 when the values themselves are invalid
Credentials travel only in POST bodies, are never sent back, never logged.
"""
from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request

from api_errors import api_error
from config import ConfigError
from mediaserver import settings_store
from mediaserver.base import ProviderError
from mediaserver.registry import provider_for

bp = Blueprint("settings", __name__)


def _submitted() -> dict[str, str]:
    body = request.get_json(silent=True)
    values = body.get("values") if isinstance(body, dict) else None
    if not isinstance(values, dict):
        raise ValueError('expected a JSON object like {"values": {"MEDIASERVER_TYPE": "local"}}')
    return settings_store.clean(values)


@bp.get("/settings")
def page():
    return render_template("settings.html")


@bp.get("/api/mediaserver")
def current():
    return jsonify(settings_store.describe(settings_store.effective()))


@bp.post("/api/mediaserver")
def save():
    try:
        settings = settings_store.save(_submitted())
    except (ValueError, ConfigError) as error:
        return api_error(400, str(error))
    return jsonify(settings_store.describe(settings))


@bp.post("/api/mediaserver/test")
def test():
    try:
        settings = settings_store.effective(_submitted())
    except (ValueError, ConfigError) as error:
        return api_error(400, str(error))
    try:
        message = provider_for(settings).test_connection()
    except ProviderError as error:
        return jsonify({"ok": False, "message": str(error)})
    return jsonify({"ok": True, "message": message})
