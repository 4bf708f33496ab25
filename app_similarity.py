"""Similar songs and song paths: the pages and their JSON API.

Routes and their errors:
- GET /similarity          the page: pick a song, list the most similar ones, save them as a playlist
- GET /path                the page: pick two songs, list a path between them, save it as a playlist
- GET /api/similar_tracks  item_id=ID, or title=T (&artist=A); n=1..500 (default 25);
                           max_per_artist=1.. (optional)
                           200 {"seed": track, "tracks": [track + "distance"], "index_version",
                                "excluded": {"duplicates": n, "artist_cap": n}}
                           400 no seed given, n or max_per_artist not an integer in range;
                           404 unknown seed, or a seed not in the index yet; 503 no index loaded
- GET /api/find_path       start_item_id=ID or start_title=T (&start_artist=A), the same for end_;
                           length=2..200 counting both ends (default 25)
                           200 {"start", "end", "tracks": [track + "step_distance"], "requested_length",
                                "length", "complete", "reason", "backbone_step", "typical_step",
                                "index_version"}
                           400 a missing end, length out of range, start and end the same song;
                           404 unknown start or end, or one not in the index yet; 503 no index loaded
Distances are cosine distances in the index space (0 = the same sound, 2 = opposite), rounded to
4 decimals.  The algorithms and their constants are in similarity/neighbours.py and similarity/path.py.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template, request

from api_errors import api_error
from similarity import catalog, neighbours, path
from similarity.catalog import TrackInfo
from similarity.index import TrackIndex

bp = Blueprint("similarity", __name__)


class _Refused(Exception):
    """A request the API answers with an error: (HTTP status, message)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _integer(name: str, low: int, high: int | None, default: int | None) -> int | None:
    """The query parameter `name` as an integer in low..high (high None: no upper bound); blank = default."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
    try:
        value = int(raw)
    except ValueError:
        raise _Refused(400, f"{name} must be a whole number {bounds}, not {raw[:40]!r}") from None
    if value < low or (high is not None and value > high):
        raise _Refused(400, f"{name} must be a whole number {bounds}, not {value}")
    return value


def _index() -> TrackIndex:
    return current_app.extensions["sonarium.index"].require()


def _seed(index: TrackIndex, prefix: str, role: str) -> TrackInfo:
    """The track named by `<prefix>item_id`, or `<prefix>title` (+ `<prefix>artist`); it must be indexed."""
    item_id = request.args.get(prefix + "item_id", "").strip()
    title = request.args.get(prefix + "title", "").strip()
    artist = request.args.get(prefix + "artist", "").strip() or None
    if item_id:
        track = catalog.by_item_id(item_id, index.names)
        if track is None:
            raise _Refused(404, f"no analysed track with item_id {item_id[:80]!r}")
    elif title:
        track = catalog.by_title_artist(title, artist)
        if track is None:
            by = f" by {artist[:80]!r}" if artist else ""
            raise _Refused(404, f"no analysed track titled {title[:80]!r}{by}")
    else:
        raise _Refused(400, f"choose the {role}: give {prefix}item_id, or {prefix}title "
                            f"(and optionally {prefix}artist)")
    if track.id not in index:
        raise _Refused(404, f"{track.title!r} is analysed but not in the similarity index yet; "
                            f"try again in a minute")
    return track


@bp.errorhandler(_Refused)
def _refused(error: _Refused):
    return api_error(error.status, str(error))


@bp.get("/similarity")
def similarity_page():
    return render_template("similarity.html", max_n=neighbours.MAX_N, default_n=neighbours.DEFAULT_N)


@bp.get("/path")
def path_page():
    return render_template("path.html", min_length=path.MIN_LENGTH, max_length=path.MAX_LENGTH,
                           default_length=path.DEFAULT_LENGTH)


@bp.get("/api/similar_tracks")
def similar_tracks():
    n = _integer("n", neighbours.MIN_N, neighbours.MAX_N, neighbours.DEFAULT_N)
    max_per_artist = _integer("max_per_artist", 1, None, None)
    index = _index()
    seed = _seed(index, "", "seed song")
    result = neighbours.similar_tracks(index, seed, n, max_per_artist)
    return jsonify({
        "seed": seed.as_json(),
        "tracks": [track.as_json(distance=round(distance, 4)) for track, distance in result.tracks],
        "index_version": index.version,
        "excluded": {"duplicates": result.duplicates, "artist_cap": result.artist_cap},
    })


@bp.get("/api/find_path")
def find_path():
    length = _integer("length", path.MIN_LENGTH, path.MAX_LENGTH, path.DEFAULT_LENGTH)
    index = _index()
    start = _seed(index, "start_", "start song")
    end = _seed(index, "end_", "end song")
    if start.id == end.id:
        raise _Refused(400, "start and end are the same track: choose two different songs")
    try:
        result = path.find_path(index, start, end, length)
    except ValueError as error:  # two recordings of one song
        raise _Refused(400, str(error)) from None
    return jsonify({
        "start": start.as_json(),
        "end": end.as_json(),
        "tracks": [track.as_json(step_distance=round(step, 4)) for track, step in result.tracks],
        "requested_length": result.requested_length,
        "length": len(result.tracks),
        "complete": result.complete,
        "reason": result.reason,
        "backbone_step": round(result.backbone_step, 4),
        "typical_step": round(result.typical_step, 4),
        "index_version": index.version,
    })
