"""Radio: the next songs after what was just played (similarity/radio.py), as JSON for players.

Routes and their errors:
- POST /api/radio  {"seeds": [item_id, ...] (1..20, the songs just played, oldest first),
                    "avoid": [item_id, ...] (0..100, played recently: never answered),
                    "n": 1..100 (10), "order": "smooth" | "ranked", "shape": "steady" | "rising" | "arc"}
                   200 {"tracks": [track + "distance" (to the seeds' blend) + "why"] (in playing order,
                   following the last seed), "seeds": [the seeds used], "unknown_seeds": [ids not
                   analysed or indexed yet, skipped], "relaxed": [rules loosened to fill the list],
                   "order": {"order", "shape", "mean", "worst", "artist_repeats"}}
                   400 malformed body; 404 no seed is analysed and indexed yet; 503 no similarity index yet.
                   GET answers 405.
"""
from __future__ import annotations

from typing import Annotated

from flask import Blueprint, current_app, jsonify, request
from pydantic import Field

from api_contract import Anything, ItemId, Strict, answers, spec
from api_errors import api_error
from similarity import craft, ordering, radio

bp = Blueprint("radio", __name__)


class RadioBody(Strict):
    seeds: Annotated[list[ItemId], Field(min_length=1, max_length=radio.MAX_SEEDS)]
    avoid: Annotated[list[ItemId], Field(max_length=radio.MAX_AVOID)] = []
    n: Annotated[int, Field(strict=True, ge=1, le=radio.MAX_N)] = radio.DEFAULT_N
    order: craft.Order = "smooth"
    shape: ordering.Shape = "steady"


@bp.post("/api/radio")
@spec.validate(json=RadioBody, resp=answers(Anything, 404))
def radio_api():
    body = request.context.json
    index = current_app.extensions["sonarium.index"].require()   # 503 without one
    try:
        station = radio.next_songs(index, body.seeds, body.avoid, body.n, order=body.order, shape=body.shape)
    except LookupError as error:
        return api_error(404, str(error))
    return jsonify({"tracks": station.crafted.as_json(), "seeds": [t.as_json() for t in station.seeds],
                    "unknown_seeds": station.unknown_seeds, "relaxed": station.relaxed,
                    "order": station.crafted.seams})
