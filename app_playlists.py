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
- POST /api/order_tracks {"item_ids": [...] (1..1000), "shape": "steady" | "rising" | "arc",
                          "keep_first": bool (false)}
                                            the songs in playing order (similarity/craft.py: a set,
                                            so no song's rank counts; keep_first holds the first
                                            song first): 200 {"tracks": [track + "why"], "order":
                                            {"order", "shape", "mean", "worst", "artist_repeats"}};
                                            400 a bad body or ids not analysed and indexed (named);
                                            503 no similarity index yet.
"""
from __future__ import annotations

import re
from collections import Counter

from typing import Annotated, Any, Literal

from flask import Blueprint, current_app, jsonify, request
from pydantic import AfterValidator, BaseModel, Field
from sqlalchemy import select

import settings_store
from api_contract import Anything, ItemId, Strict, answers, spec
from api_errors import api_error
from db.models import PLAYLIST_KINDS, Track
from db.session import session_scope
from mediaserver import playlists
from mediaserver.base import ProviderError
from similarity import catalog, craft, ordering

bp = Blueprint("playlists", __name__)

MAX_NAME_CHARS = 120
MAX_PLAYLIST_TRACKS = 1000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class SearchQuery(BaseModel):
    q: Annotated[str, Field(max_length=200, description="words of a title or artist, 3 characters at least")] = ""
    limit: Annotated[int, Field(ge=1, le=catalog.SEARCH_LIMIT_MAX)] = 20


def _name(raw: str) -> str:
    name = " ".join(raw.split())
    if not name or _CONTROL.search(name):
        raise ValueError("give the playlist a name of printable characters")
    return name


class NewPlaylist(Strict):
    name: Annotated[str, Field(max_length=MAX_NAME_CHARS, examples=["Evening mix"]), AfterValidator(_name)]
    item_ids: Annotated[list[ItemId], Field(min_length=1, max_length=MAX_PLAYLIST_TRACKS)]
    kind: Literal[PLAYLIST_KINDS] = "manual"
    params: dict[str, Any] = Field(default_factory=dict)


class OrderBody(Strict):
    item_ids: Annotated[list[ItemId], Field(min_length=1, max_length=MAX_PLAYLIST_TRACKS)]
    shape: ordering.Shape = "steady"
    keep_first: bool = False


@bp.get("/api/search_tracks")
@spec.validate(query=SearchQuery, resp=answers(Anything))
def search_tracks():
    query = request.context.query
    try:
        found = catalog.search(query.q, query.limit)
    except ValueError as error:
        return api_error(400, str(error))
    return jsonify({"tracks": [track.as_json() for track in found]})


@bp.post("/api/create_playlist")
@spec.validate(json=NewPlaylist, resp=answers(Anything, 404, 409, 502, status=201))
def create_playlist():
    body = request.context.json
    name, kind, item_ids, params = body.name, body.kind, body.item_ids, body.params
    repeated = sorted(item for item, count in Counter(item_ids).items() if count > 1)
    if repeated:
        return api_error(400, f"item_ids: listed more than once: {', '.join(repeated[:5])}")
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


@bp.post("/api/order_tracks")
@spec.validate(json=OrderBody, resp=answers(Anything))
def order_tracks():
    body = request.context.json
    index = current_app.extensions["sonarium.index"].require()   # 503 without one
    item_ids = list(dict.fromkeys(body.item_ids))
    found = catalog.by_item_ids(item_ids, names=index.names)
    unknown = [i for i in item_ids if i not in found or found[i].id not in index]
    if unknown:
        return api_error(400, "item_ids: not analysed and indexed yet: " + ", ".join(unknown[:5])
                         + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""))
    tracks = [found[i] for i in item_ids]
    lead = tracks[0] if body.keep_first and len(tracks) > 1 else None
    crafted = craft.craft(index, tracks[1:] if lead else tracks, [None] * (len(tracks) - (1 if lead else 0)),
                          lead=lead, ranked=False, shape=body.shape)
    shown = ([lead.as_json(why={"closeness": None, "percent": None, "shared_tags": [], "follows": [],
                                "text": "the first song"})] if lead else []) + crafted.as_json()
    for track in shown:
        track.pop("distance", None)
    return jsonify({"tracks": shown, "order": crafted.seams})
