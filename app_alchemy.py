"""Song alchemy and sonic fingerprint: pages and JSON API.

Routes and their errors:
- GET  /alchemy                the page: songs to add and to subtract, results, filtered-out songs, plot
- POST /api/alchemy            {"add": [item_id, ...] (1..50), "subtract": [item_id, ...] (0..50),
                                "n": 1..200 (25), "temperature": 0..5 (0), "seed": int (optional),
                                "subtract_distance": 0..2 (optional, cosine distance)}
                               200 {"results": [track + "distance"] (to the add-centroid, closest
                               first), "filtered": [track + "distance" + "distance_to_subtract"]
                               (the n closest to the add-centroid), "filtered_total" (all dropped),
                               "subtract_distance" (the one given; null: the default rule,
                               similarity/alchemy.py), "plot": {"points": [{"item_id",
                               "title", "artist", "role": add|subtract|result|filtered, "x", "y"}],
                               "centroids": {"add": {x, y}, "subtract": {x, y} | null}}}
                               400 malformed body or every add song also subtracted;
                               404 an id that is unknown, not analysed or not indexed yet (named);
                               503 no similarity index yet
- GET  /sonic_fingerprint      the page: your most played songs and what sounds like them
- POST /api/sonic_fingerprint  {"n": 40..200 (100), "credentials": {...} (optional: Navidrome
                                {"user", "password"}, Jellyfin/Emby {"user_id", "token"})}
                               200 {"seeds": [track + "play_count", "weight", "last_played"],
                               "tracks": [track + "distance" (null for seeds) + "seed"],
                               "history": {"records", "matched"}, "half_life_days"}
                               400 malformed body, credentials this server does not take,
                               or settings they make invalid; 401 the media server refused
                               the credentials sent (502 when it refuses the saved ones);
                               404 it does not know the user; 409 it keeps no history
                               (NotSupported), the history is empty, none of the played songs
                               is analysed yet, or the saved settings are invalid; 502 it is
                               unreachable or failed; 503 no similarity index yet.
                               GET answers 405.
Credentials travel only in the POST body: they are never saved, logged, or sent back.
"""
from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, current_app, jsonify, render_template, request

import settings_store
from api_errors import api_error
from config import ConfigError
from mediaserver.base import AuthFailed
from mediaserver.registry import provider_for
from similarity import alchemy, fingerprint
from similarity.index import TrackIndex

bp = Blueprint("alchemy", __name__)



class BadRequest(ValueError):
    """The body is malformed; the message says how."""


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("expected a JSON object body")
    return body


def _integer(body: dict, name: str, default: int, low: int, high: int) -> int:
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f'"{name}" must be a whole number from {low} to {high}')
    if not low <= value <= high:
        raise BadRequest(f'"{name}" must be from {low} to {high}, not {value}')
    return value


def _number(body: dict, name: str, default: float | None, low: float, high: float) -> float | None:
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadRequest(f'"{name}" must be a number from {low:g} to {high:g}')
    if not low <= value <= high:
        raise BadRequest(f'"{name}" must be from {low:g} to {high:g}, not {value:g}')
    return float(value)


def _item_ids(body: dict, name: str, required: bool) -> list[str]:
    value = body.get(name, [] if not required else None)
    if value is None and not required:
        return []
    if not isinstance(value, list) or (required and not value):
        need = "a non-empty list" if required else "a list"
        raise BadRequest(f'"{name}" must be {need} of track item ids')
    if len(value) > alchemy.MAX_SONGS_PER_SIDE:
        raise BadRequest(f'"{name}" takes at most {alchemy.MAX_SONGS_PER_SIDE} songs')
    if not all(isinstance(item, str) and item for item in value):
        raise BadRequest(f'"{name}" must hold item ids as non-empty strings')
    return value


def _index() -> TrackIndex:
    return current_app.extensions["sonarium.index"].require()


@bp.get("/alchemy")
def alchemy_page():
    return render_template("alchemy.html", default_n=alchemy.DEFAULT_N, max_n=alchemy.MAX_N,
                           max_temperature=alchemy.MAX_TEMPERATURE)


@bp.post("/api/alchemy")
def alchemy_api():
    try:
        body = _body()
        add = _item_ids(body, "add", required=True)
        subtract = _item_ids(body, "subtract", required=False)
        n = _integer(body, "n", alchemy.DEFAULT_N, 1, alchemy.MAX_N)
        temperature = _number(body, "temperature", 0.0, 0.0, alchemy.MAX_TEMPERATURE)
        seed = body.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise BadRequest('"seed" must be a whole number >= 0')
        subtract_distance = _number(body, "subtract_distance", None, 0.0, 2.0)
    except BadRequest as error:
        return api_error(400, str(error))
    index = _index()
    try:
        add_tracks, subtract_tracks = alchemy.resolve(index, add, subtract)
        mixture = alchemy.mix(index, add_tracks, subtract_tracks, n=n, temperature=temperature, seed=seed,
                              subtract_distance=subtract_distance)
    except alchemy.AlchemyError as error:
        return api_error(error.status, str(error))
    return jsonify(mixture.as_json())


@bp.get("/sonic_fingerprint")
def fingerprint_page():
    try:   # which server's credential fields to offer (the settings API is for admins only)
        server_type = settings_store.effective().mediaserver_type
    except ConfigError:
        server_type = ""   # the run itself will say what is wrong
    return render_template("sonic_fingerprint.html", default_n=fingerprint.DEFAULT_N, min_n=fingerprint.MIN_N,
                           max_n=fingerprint.MAX_N, credential_fields=fingerprint.CREDENTIAL_SETTINGS,
                           server_type=server_type)


@bp.post("/api/sonic_fingerprint")
def fingerprint_api():
    try:
        body = _body()
        n = _integer(body, "n", fingerprint.DEFAULT_N, fingerprint.MIN_N, fingerprint.MAX_N)
    except BadRequest as error:
        return api_error(400, str(error))
    saved = settings_store.effective()   # invalid saved settings: 409, as app.py answers ConfigError
    try:
        overrides = fingerprint.credential_overrides(saved.mediaserver_type, body.get("credentials"))
        settings = settings_store.effective(overrides) if overrides else saved
    except ValueError as error:   # ConfigError included; its messages never show a secret
        return api_error(400, str(error))
    if overrides and settings_store.misdirected_secrets(overrides):
        # Another user with the saved password or key: that secret belongs to the saved user only.
        return api_error(400, "credentials: with another user, give that user's password or key too")
    index = _index()
    try:
        result = fingerprint.build(index, provider_for(settings), n)
    except fingerprint.FingerprintError as error:
        return api_error(error.status, str(error))
    except AuthFailed as error:   # provider messages are written for users and never hold credentials
        if overrides:             # the credentials this request carried were refused: the caller's to fix
            return api_error(401, str(error))
        raise                     # the saved ones: 502, as app.py answers every media-server failure
    return jsonify(result.as_json())
