"""Finding songs and saving playlists, shared by every feature page.

Routes and their errors:
- GET  /api/search_tracks?q=TEXT&limit=20   analysed tracks whose artist or title contain every word
                                            typed (case and accents ignored); 400 under 3 characters
                                            or for a bad limit
- POST /api/create_playlist {"name", "item_ids", "kind", "params"}
                                            stores the playlist, pushes it in order to the configured
                                            media server and answers 201 with its id and URL there,
                                            and a "note" (else null) when it was saved beside a
                                            playlist of that name that Sonarium will not replace;
                                            400 for a bad name, kind or id list (unknown ids named);
                                            media-server failures as app.py maps them (502, 404, 409).
                                            A failed push keeps the stored playlist and says so.
"""
from __future__ import annotations

import re
from collections import Counter

from flask import Blueprint, jsonify, request
from sqlalchemy import select

import settings_store
from api_errors import api_error
from db.models import PLAYLIST_KINDS, Track
from db.session import session_scope
from mediaserver import playlists
from mediaserver.base import ProviderError
from similarity import catalog

bp = Blueprint("playlists", __name__)

MAX_NAME_CHARS = 120
MAX_PLAYLIST_TRACKS = 1000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class BadRequest(ValueError):
    """The caller's mistake, answered 400 with this message."""


def _limit(raw: str | None, default: int, highest: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"limit must be a whole number, not {raw!r}") from None
    if not 1 <= value <= highest:
        raise BadRequest(f"limit must be between 1 and {highest}")
    return value


@bp.get("/api/search_tracks")
def search_tracks():
    try:
        limit = _limit(request.args.get("limit"), 20, catalog.SEARCH_LIMIT_MAX)
        found = catalog.search(request.args.get("q", ""), limit)
    except ValueError as error:
        return api_error(400, str(error))
    return jsonify({"tracks": [track.as_json() for track in found]})


def _playlist_request(body) -> tuple[str, str, list[str], dict]:
    if not isinstance(body, dict):
        raise BadRequest('expected a JSON object like {"name": "My mix", "item_ids": ["id1", "id2"]}')
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise BadRequest("name: give the playlist a name")
    name = " ".join(name.split())
    if len(name) > MAX_NAME_CHARS or _CONTROL.search(name):
        raise BadRequest(f"name: at most {MAX_NAME_CHARS} printable characters")
    kind = body.get("kind", "manual")
    if kind not in PLAYLIST_KINDS:
        raise BadRequest(f"kind: one of {', '.join(PLAYLIST_KINDS)}")
    item_ids = body.get("item_ids")
    if not isinstance(item_ids, list) or not item_ids or not all(isinstance(i, str) and i for i in item_ids):
        raise BadRequest("item_ids: a non-empty list of track ids (strings)")
    if len(item_ids) > MAX_PLAYLIST_TRACKS:
        raise BadRequest(f"item_ids: at most {MAX_PLAYLIST_TRACKS} tracks")
    repeated = sorted(item for item, count in Counter(item_ids).items() if count > 1)
    if repeated:
        raise BadRequest(f"item_ids: listed more than once: {', '.join(repeated[:5])}")
    params = body.get("params", {})
    if not isinstance(params, dict):
        raise BadRequest("params: a JSON object")
    return name, kind, item_ids, params


@bp.post("/api/create_playlist")
def create_playlist():
    try:
        name, kind, item_ids, params = _playlist_request(request.get_json(silent=True))
    except BadRequest as error:
        return api_error(400, str(error))
    provider = settings_store.current_provider()
    with session_scope() as session:
        known = dict(session.execute(select(Track.item_id, Track.id).where(
            Track.provider == provider.type, Track.item_id.in_(item_ids))).all())
    unknown = [i for i in item_ids if i not in known]
    if unknown:
        return api_error(400, f"item_ids: not in the {provider.label} library: {', '.join(unknown[:5])}"
                              + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""))
    playlist_id = playlists.record(name, kind, [known[i] for i in item_ids], params)
    try:
        pushed = playlists.push(provider, playlist_id)
    except ProviderError as error:
        error.args = (f"{provider.label}: {error} (the playlist is kept in Sonarium as number {playlist_id})",)
        raise
    return jsonify({"playlist_id": playlist_id, "provider": provider.type, "provider_label": provider.label,
                    "remote_id": pushed.remote_id, "url": provider.playlist_url(pushed.remote_id), "name": name,
                    "tracks": len(item_ids), "note": pushed.note}), 201
