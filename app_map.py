"""The music map: the page and its JSON API (the projection itself is drawn by tasks/map.py).

Routes and their errors:
- GET  /map                          the page: every song a point, close points sound alike
- GET  /api/map?sample=25|50|75|100  (default 25) the map's points, a deterministic sample (the 25% one
                                     inside the 50% one, ...), gzipped when the client accepts gzip:
                                     200 {"version", "method": "umap"|"pca", "neighbours_kept": share
                                     or null, "sample", "total" (mapped tracks), "count" (in this
                                     answer), "legends": {key: [names]}, "artists": [names], "points":
                                     {"id", "x", "y", "title", "artist" (position in "artists"),
                                     "msd_tag", "mtt_tag", "mood", "energy", "tempo", "playlist"
                                     (colour keys: positions in legends[key], -1 none)}: one list per
                                     field, the same length}; 400 another sample; 503 no map or no
                                     similarity index yet
- POST /api/map/tracks               {"ids": [track id, ...] (1..1000)} the tracks named and where they
                                     lie: 200 {"tracks": [track + "x", "y" (null: not on the map)]} in
                                     the order asked, unknown ids left out; 400 malformed body
- GET  /api/map/neighbours/<id>      ?n=1..50 (10) the track's nearest neighbours in the similarity
                                     index, the real ones a 2-D picture can only approximate:
                                     200 {"track": track + x, y, "neighbours": [track + "distance", x,
                                     y], "index_version", "map_version" (null without a map)};
                                     404 a track not in the index; 503 no similarity index yet
- POST /api/map/refit                (admin) draws the map anew (a full fit, not only placing new
                                     tracks): 202 {task_id, status_url}; 403 a listener; 409 a map
                                     task is already running (its task_id given); 503 the map task
                                     is not available on this server
Positions are unitless: only closeness means something (close points sound alike).
"""
from __future__ import annotations

import gzip
from typing import Annotated

from flask import Blueprint, Response, current_app, jsonify, render_template, request
from pydantic import AfterValidator, BaseModel, Field

from api_contract import Anything, Strict, answers, spec
from api_errors import api_error
from app_playlists import MAX_PLAYLIST_TRACKS
from auth.policy import admin_only
from db import clustering as automatic
from similarity import catalog, map_view
from similarity.projection import NO_MAP, Projection
from tasks import store, submit

TASK_TYPE = "map"
MAX_TRACKS_ASKED = MAX_PLAYLIST_TRACKS   # a selection becomes a playlist
MAX_NEIGHBOURS = 50
_POSITION_DECIMALS = 4
PAYLOADS = "sonarium.map_payloads"   # app.extensions key: the app's gzipped answers of the current map

bp = Blueprint("map", __name__)
@bp.record_once
def _hold_answers(setup) -> None:
    """The app's map answers, and the default sample of each new map built as soon as it loads (a 300k
    map's first answer takes seconds: no request should wait for it)."""
    payloads = setup.app.extensions.setdefault(PAYLOADS, map_view.MapPayloads())
    live_map = setup.app.extensions.get("sonarium.map")
    if live_map is not None:
        live_map.on_load(lambda projection: _answer(payloads, projection, map_view.DEFAULT_SAMPLE))


def _answer(payloads: map_view.MapPayloads, projection: Projection, sample: int) -> bytes:
    """The gzipped answer for `sample` of this map and the last clustering run's playlists."""
    run = automatic.current_task_id()
    # Not the index version: it changes every minute while an analysis runs, and what a point shows is
    # read when its track is analysed, before the map places it.
    state = (projection.version, run)

    def build_table() -> map_view.MapTable:
        playlists = [(p.name, p.track_ids) for p in automatic.playlists_of(run)]
        return map_view.MapTable.build(projection, playlists)

    return payloads.get(state, sample, build_table)


def _offered_sample(percent: int) -> int:
    if percent not in map_view.SAMPLES:
        raise ValueError(f"choose one of {', '.join(map(str, map_view.SAMPLES))}")
    return percent


class MapQuery(BaseModel):
    sample: Annotated[int, Field(description="percent of the songs: 25, 50, 75 or 100"),
                      AfterValidator(_offered_sample)] = map_view.DEFAULT_SAMPLE


class TracksBody(Strict):
    ids: Annotated[list[Annotated[int, Field(ge=1, le=2**63 - 1)]], Field(min_length=1, max_length=MAX_TRACKS_ASKED)]


class NeighboursQuery(BaseModel):
    n: Annotated[int, Field(ge=1, le=MAX_NEIGHBOURS)] = 10


def _projection() -> Projection | None:
    return current_app.extensions["sonarium.map"].current


def _where(track_json: dict, position: tuple[float, float] | None) -> dict:
    x, y = (round(value, _POSITION_DECIMALS) for value in position) if position else (None, None)
    return {**track_json, "x": x, "y": y}


@bp.get("/map")
def page():
    return render_template("map.html", samples=map_view.SAMPLES, default_sample=map_view.DEFAULT_SAMPLE,
                           max_selected=MAX_TRACKS_ASKED)


@bp.get("/api/map")
@spec.validate(query=MapQuery, resp=answers(Anything))
def points():
    sample = int(request.context.query.sample)
    current_app.extensions["sonarium.index"].require()   # 503 without one: nothing is analysed yet
    projection = _projection()
    if projection is None:
        return api_error(503, NO_MAP)
    body = _answer(current_app.extensions[PAYLOADS], projection, sample)
    response = Response(body, mimetype="application/json")
    response.headers["Vary"] = "Accept-Encoding"
    if request.accept_encodings["gzip"]:
        response.headers["Content-Encoding"] = "gzip"
    else:
        response.set_data(gzip.decompress(body))
    return response


@bp.post("/api/map/tracks")
@spec.validate(json=TracksBody, resp=answers(Anything))
def tracks():
    wanted = request.context.json.ids
    index = current_app.extensions["sonarium.index"].current
    found = catalog.describe(wanted, index.names if index else None)
    known = [track_id for track_id in dict.fromkeys(wanted) if track_id in found]
    return jsonify({"tracks": [_where(found[t].as_json(), at)
                               for t, at in zip(known, map_view.positions(_projection(), known))]})


@bp.get("/api/map/neighbours/<int:track_id>")
@spec.validate(query=NeighboursQuery, resp=answers(Anything, 404))
def neighbours(track_id: int):
    index = current_app.extensions["sonarium.index"].require()
    if track_id >= 2**63 or track_id not in index:
        return api_error(404, f"track {track_id} is not in the similarity index")
    nearest = index.nearest(index.unit_vectors([track_id])[0], request.context.query.n, exclude={track_id})
    described = catalog.describe([track_id, *(t for t, _ in nearest)], index.names)
    if track_id not in described:
        return api_error(404, f"track {track_id} is no longer in the library")
    nearest = [(t, distance) for t, distance in nearest if t in described]
    projection = _projection()
    where = map_view.positions(projection, [track_id, *(t for t, _ in nearest)])
    return jsonify({
        "track": _where(described[track_id].as_json(), where[0]),
        "neighbours": [_where(described[t].as_json(distance=round(distance, 4)), at)
                       for (t, distance), at in zip(nearest, where[1:])],
        "index_version": index.version, "map_version": projection.version if projection else None,
    })


@bp.post("/api/map/refit")
@admin_only
@spec.validate(resp=answers(Anything, 409, status=202))
def refit():
    try:
        task_id = submit.submit_main(TASK_TYPE, {"refit": True})
    except store.TaskAlreadyRunning as running:
        return api_error(409, "the map is already being drawn", task_id=running.task_id)
    except KeyError:   # a server without tasks/map.py
        return api_error(503, "the map task is not available on this server")
    return jsonify({"task_id": task_id, "status_url": f"/api/status/{task_id}"}), 202
