"""Song alchemy and sonic fingerprint: pages and JSON API.

Routes and their errors:
- GET  /alchemy                the page: songs to add and to subtract, results, filtered-out songs, plot
- POST /api/alchemy            {"add": [item_id, ...] (1..50), "subtract": [item_id, ...] (0..50),
                                "n": 1..200 (25), "temperature": 0..5 (0), "seed": int (optional),
                                "subtract_distance": 0..2 (optional, cosine distance),
                                "order": "smooth" | "ranked" (smooth), "shape": "steady" | "rising" | "arc"}
                               200 {"results": [track + "distance" (to the add-centroid) + "why"] (in
                               playing order, similarity/craft.py; ranked: nearest the mix's aim
                               first), "order": {"order", "shape", "mean", "worst", "artist_repeats"},
                               "filtered": [track + "distance" + "distance_to_subtract" + "why"]
                               (the n nearest the aim), "filtered_total" (all dropped),
                               "subtract_distance" (the one given; null: the default rule,
                               similarity/alchemy.py), "plot": {"points": [{"item_id",
                               "title", "artist", "role": add|subtract|result|filtered, "x", "y"}],
                               "centroids": {"add": {x, y}, "subtract": {x, y} | null}, "space":
                               "map" (positions on the music map, centres the mean of each side)
                               | "pca" (no map yet, or a song not on it: a projection of these
                               songs alone)}}
                               400 malformed body or every add song also subtracted;
                               404 an id that is unknown, not analysed or not indexed yet (named);
                               503 no similarity index yet
- GET  /sonic_fingerprint      the page: your most played songs and what sounds like them
- POST /api/sonic_fingerprint  {"n": 40..200 (100), "credentials": {...} (optional: Navidrome
                                {"user", "password"}, Jellyfin/Emby {"user_id", "token"})}
                               200 {"seeds": [track + "play_count", "weight", "last_played"],
                               "tracks": [track + "distance" (null for seeds) + "seed" + "why"] (in
                               playing order; "order" and "shape" in the body choose, as for
                               alchemy), "order": {"order", "shape", "mean", "worst", "artist_repeats"},
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

from typing import Annotated, Any

from flask import Blueprint, current_app, jsonify, render_template, request
from pydantic import Field

import settings_store
from api_contract import Anything, ItemId, Strict, answers, spec
from api_errors import api_error
from config import ConfigError
from mediaserver.base import AuthFailed
from mediaserver.registry import provider_for
from similarity import alchemy, craft, fingerprint, map_view, ordering
from similarity.index import TrackIndex

bp = Blueprint("alchemy", __name__)



SongList = Annotated[list[ItemId], Field(max_length=alchemy.MAX_SONGS_PER_SIDE)]


class AlchemyBody(Strict):
    add: Annotated[SongList, Field(min_length=1)]
    subtract: SongList = []
    n: Annotated[int, Field(strict=True, ge=1, le=alchemy.MAX_N)] = alchemy.DEFAULT_N
    temperature: Annotated[float, Field(ge=0, le=alchemy.MAX_TEMPERATURE)] = 0.0
    seed: Annotated[int, Field(strict=True, ge=0)] | None = None
    subtract_distance: Annotated[float, Field(ge=0, le=2)] | None = None
    order: craft.Order = "smooth"
    shape: ordering.Shape = "steady"


class FingerprintBody(Strict):
    n: Annotated[int, Field(strict=True, ge=fingerprint.MIN_N, le=fingerprint.MAX_N)] = fingerprint.DEFAULT_N
    order: craft.Order = "smooth"
    shape: ordering.Shape = "steady"
    credentials: dict[str, Any] | None = Field(None, description="per-user credentials of the configured "
                                                                 "server, e.g. {\"user\", \"password\"}")


def _index() -> TrackIndex:
    return current_app.extensions["sonarium.index"].require()


@bp.get("/alchemy")
def alchemy_page():
    return render_template("alchemy.html", default_n=alchemy.DEFAULT_N, max_n=alchemy.MAX_N,
                           max_temperature=alchemy.MAX_TEMPERATURE)


@bp.post("/api/alchemy")
@spec.validate(json=AlchemyBody, resp=answers(Anything, 404, 409))
def alchemy_api():
    body = request.context.json
    index = _index()
    try:
        add_tracks, subtract_tracks = alchemy.resolve(index, body.add, body.subtract)
        mixture = alchemy.mix(index, add_tracks, subtract_tracks, n=body.n, temperature=body.temperature,
                              seed=body.seed, subtract_distance=body.subtract_distance)
    except alchemy.AlchemyError as error:
        return api_error(error.status, str(error))
    answer = mixture.as_json()
    crafted = craft.craft(index, [t for t, _ in mixture.results], [d for _, d in mixture.results],
                          reference=mixture.add, order=body.order, shape=body.shape)
    answer["results"], answer["order"] = crafted.as_json(), crafted.seams
    for left_out in answer["filtered"]:
        to_subtracted, to_added = (craft.closeness(left_out[key])[1] for key in ("distance_to_subtract", "distance"))
        left_out["why"] = {"text": f"{to_subtracted} to what you subtracted, {to_added} to what you added"}
    shown = [*mixture.add, *mixture.subtract, *(t for t, _ in mixture.results), *(t for t, _, _ in mixture.filtered)]
    answer["plot"] = map_view.alchemy_plot_on_map(answer["plot"], {t.item_id: t.id for t in shown},
                                                  current_app.extensions["sonarium.map"].current)
    return jsonify(answer)


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
@spec.validate(json=FingerprintBody, resp=answers(Anything, 404, 409, 502))
def fingerprint_api():
    body = request.context.json
    n = body.n
    saved = settings_store.effective()   # invalid saved settings: 409, as app.py answers ConfigError
    try:
        overrides = fingerprint.credential_overrides(saved.mediaserver_type, body.credentials)
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
    answer = result.as_json()
    answer["tracks"], answer["order"] = _fingerprint_in_order(index, result, body)
    return jsonify(answer)


def _fingerprint_in_order(index: TrackIndex, result: fingerprint.Fingerprint,
                          body: FingerprintBody) -> tuple[list[dict], dict]:
    """The fingerprint playlist (your most played, then their neighbours) in playing order, each song
    saying why it is there; a most-played song ranks as the closest."""
    picks = [seed.track for seed in result.seeds]
    tracks = picks + [track for track, _ in result.neighbours]
    distances = [None] * len(picks) + [distance for _, distance in result.neighbours]
    crafted = craft.craft(index, tracks, distances, reference=picks, order=body.order, shape=body.shape,
                          relevance=[0.0] * len(picks) + distances[len(picks):])
    mine = {track.id for track in picks}
    shown = []
    for track, distance, why in zip(crafted.tracks, crafted.distances, crafted.why):
        if track.id in mine:
            why = {**why, "text": " · ".join(part for part in ("one of your most played", why["text"]) if part)}
        shown.append(track.as_json(distance=None if distance is None else round(distance, 4),
                                   seed=track.id in mine, why=why))
    return shown, crafted.seams
