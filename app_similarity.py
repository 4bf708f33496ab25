"""Similar songs and song paths: the pages and their JSON API.

Routes and their errors:
- GET /similarity          the page: pick a song, list the most similar ones, save them as a playlist
- GET /path                the page: pick two songs, list a path between them, save it as a playlist
- GET /api/similar_tracks  item_id=ID, or title=T (&artist=A); n=1..500 (default 25);
                           max_per_artist=1.. (optional); order=smooth|ranked (default smooth: the
                           list ordered to flow from the seed, similarity/craft.py; ranked: closest
                           first); shape=steady|rising|arc (the energy along a smooth order);
                           variety=0..1 (0: the closest songs; higher picks each next song less like
                           those already picked, from VARIETY_POOL times as many candidates)
                           200 {"seed": track, "tracks": [track + "distance" + "why"], "index_version",
                                "excluded": {"duplicates": n, "artist_cap": n},
                                "order": {"order", "shape", "mean", "worst", "artist_repeats"}}
                           400 no seed given, n or max_per_artist not an integer in range (the query
                           is declared in SimilarQuery and checked by api_contract);
                           404 unknown seed, or a seed not in the index yet; 503 no index loaded
- GET /api/find_path       start_item_id=ID or start_title=T (&start_artist=A), the same for end_;
                           length=2..200 counting both ends (default 25)
                           200 {"start", "end", "tracks": [track + "step_distance" + "why"],
                                "longest_step": {"percent", "words"} (its closeness), "requested_length",
                                "length", "complete", "reason", "backbone_step", "typical_step",
                                "index_version"}
                           400 a missing end, length out of range, start and end the same song;
                           404 unknown start or end, or one not in the index yet; 503 no index loaded
Distances are cosine distances in the index space (0 = the same sound, 2 = opposite), rounded to
4 decimals.  The algorithms and their constants are in similarity/neighbours.py and similarity/path.py.
"""
from __future__ import annotations

from typing import Annotated

from flask import Blueprint, current_app, jsonify, render_template, request
from pydantic import BaseModel, Field

from api_contract import Anything, answers, spec
from api_errors import api_error
from similarity import catalog, craft, neighbours, ordering, path
from similarity.catalog import TrackInfo
from similarity.index import TrackIndex

bp = Blueprint("similarity", __name__)

VARIETY_POOL = 3      # with variety, candidates read per song wanted

Name = Annotated[str, Field(max_length=500)] | None


class SimilarQuery(BaseModel):
    item_id: Name = None
    title: Name = None
    artist: Name = None
    n: Annotated[int, Field(ge=neighbours.MIN_N, le=neighbours.MAX_N)] = neighbours.DEFAULT_N
    max_per_artist: Annotated[int, Field(ge=1, le=1000)] | None = None
    order: craft.Order = "smooth"
    shape: ordering.Shape = "steady"
    variety: Annotated[float, Field(ge=0, le=1)] = 0.0


class PathQuery(BaseModel):
    start_item_id: Name = None
    start_title: Name = None
    start_artist: Name = None
    end_item_id: Name = None
    end_title: Name = None
    end_artist: Name = None
    length: Annotated[int, Field(ge=path.MIN_LENGTH, le=path.MAX_LENGTH)] = path.DEFAULT_LENGTH


class _Refused(Exception):
    """A request the API answers with an error: (HTTP status, message)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _index() -> TrackIndex:
    return current_app.extensions["sonarium.index"].require()


def _seed(index: TrackIndex, query: BaseModel, prefix: str, role: str) -> TrackInfo:
    """The track named by `<prefix>item_id`, or `<prefix>title` (+ `<prefix>artist`); it must be indexed."""
    item_id, title, artist = ((getattr(query, prefix + name) or "").strip() for name in ("item_id", "title", "artist"))
    artist = artist or None
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
@spec.validate(query=SimilarQuery, resp=answers(Anything, 404))
def similar_tracks():
    query = request.context.query
    index = _index()
    seed = _seed(index, query, "", "seed song")
    wanted = query.n * VARIETY_POOL if query.variety > 0 else query.n
    result = neighbours.similar_tracks(index, seed, wanted, query.max_per_artist)
    chosen, _ = craft.choose(index, result.tracks, query.n, diversity=query.variety)
    crafted = craft.craft(index, [t for t, _ in chosen], [d for _, d in chosen], reference=[seed],
                          lead=seed, order=query.order, shape=query.shape)
    return jsonify({
        "seed": seed.as_json(),
        "tracks": crafted.as_json(),
        "index_version": index.version,
        "excluded": {"duplicates": result.duplicates, "artist_cap": result.artist_cap},
        "order": crafted.seams,
    })


@bp.get("/api/find_path")
@spec.validate(query=PathQuery, resp=answers(Anything, 404))
def find_path():
    query = request.context.query
    length = query.length
    index = _index()
    start = _seed(index, query, "start_", "start song")
    end = _seed(index, query, "end_", "end song")
    if start.id == end.id:
        raise _Refused(400, "start and end are the same track: choose two different songs")
    try:
        result = path.find_path(index, start, end, length)
    except ValueError as error:  # two recordings of one song
        raise _Refused(400, str(error)) from None
    tracks, steps = [t for t, _ in result.tracks], [s for _, s in result.tracks]
    crafted = craft.craft(index, tracks, [None] + steps[1:], reference=[start, end], order="ranked", steps=True)
    longest = max(steps[1:], default=0.0)
    shown = crafted.as_json("step_distance")
    if shown:   # the start takes no step
        shown[0]["step_distance"] = 0.0
        shown[0]["why"]["text"] = " · ".join(part for part in ("the start", shown[0]["why"]["text"]) if part)
    return jsonify({
        "start": start.as_json(),
        "end": end.as_json(),
        "tracks": shown,
        "longest_step": dict(zip(("percent", "words"), craft.closeness(longest))),
        "requested_length": result.requested_length,
        "length": len(result.tracks),
        "complete": result.complete,
        "reason": result.reason,
        "backbone_step": round(result.backbone_step, 4),
        "typical_step": round(result.typical_step, 4),
        "index_version": index.version,
    })
