"""Settings page and settings API (admin only).

Routes and their errors:
- GET  /settings                  the page: media server, folders, AI provider; test and save them
- GET  /api/mediaserver           every editable setting (settings_store.describe): the media server's
                                  type and fields, "folders", "ai", and "problem" (what the saved
                                  settings lack, else null); secrets only as "set"/"unreadable"
- POST /api/mediaserver           {"values": {"NAVIDROME_URL": ..., ...}, "clear": ["NAVIDROME_PASSWORD"]}
                                  saves any editable setting; an empty secret keeps the saved one, an
                                  empty other value or a name in "clear" removes the saved value (the
                                  environment's applies again); answers like GET; 400 with the variable
                                  named when a value is bad or missing, or a name cannot be set here
- POST /api/mediaserver/test      same body, nothing saved: tests the media-server connection with the
                                  effective settings overridden by these; 200 {"ok": bool, "message"};
                                  400 when the values are invalid, or when they change the server's URL
                                  or user without carrying its password or token (a saved secret is
                                  only ever sent where it was saved)
Credentials travel only in POST bodies, are never sent back, never logged.
"""
from __future__ import annotations

from typing import Annotated

from flask import Blueprint, jsonify, render_template, request
from pydantic import Field

import settings_store
from api_contract import Anything, Strict, answers, spec
from api_errors import api_error
from auth.policy import admin_only
from config import PROVIDER_VARIABLES, ConfigError
from mediaserver.base import ProviderError
from mediaserver.registry import provider_for

bp = Blueprint("settings", __name__)


class SettingsChange(Strict):
    values: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=10000)] | None] = Field(
        default_factory=dict, examples=[{"MEDIASERVER_TYPE": "local"}])
    clear: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=100)] = Field(
        default_factory=list, examples=[["NAVIDROME_PASSWORD"]])


def _submitted() -> tuple[dict[str, str], set[str]]:
    body = request.context.json
    return settings_store.parse_change(body.values, body.clear)


def _secret_word(name: str) -> str:
    return "password" if name.endswith("PASSWORD") else "API key"


@bp.get("/settings")
@admin_only
def page():
    return render_template("settings.html")


@bp.get("/api/mediaserver")
@admin_only
@spec.validate(resp=answers(Anything))
def current():
    return jsonify(settings_store.describe())


@bp.post("/api/mediaserver")
@admin_only
@spec.validate(json=SettingsChange, resp=answers(Anything))
def save():
    try:
        values, cleared = _submitted()
        misdirected = settings_store.misdirected_secrets(values, cleared)
        if misdirected:   # the saved secret must not follow a changed URL or user to a server it was not for
            name = misdirected[0]
            raise ValueError(f"the server or user of {name} changed: enter the {_secret_word(name)} for the "
                             f"new one too, or clear it")
        settings_store.save(values, cleared)
    except (ValueError, ConfigError) as error:
        return api_error(400, str(error))
    return jsonify(settings_store.describe())


@bp.post("/api/mediaserver/test")
@admin_only
@spec.validate(json=SettingsChange, resp=answers(Anything))
def test():
    try:
        values, cleared = _submitted()
        settings = settings_store.effective(values, cleared)
        misdirected = settings_store.misdirected_secrets(values, cleared,
                                                         used=PROVIDER_VARIABLES[settings.mediaserver_type])
    except (ValueError, ConfigError) as error:
        return api_error(400, str(error))
    if misdirected:   # a media server has one secret, so there is at most one to ask for
        name = misdirected[0]
        return api_error(400, f"the server or user differs from the saved one: enter the "
                              f"{_secret_word(name)} ({name}) again to test a different server")
    try:
        message = provider_for(settings).test_connection()
    except ProviderError as error:
        return jsonify({"ok": False, "message": str(error)})
    return jsonify({"ok": True, "message": message})
