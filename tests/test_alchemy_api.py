"""POST /api/alchemy on a real database and index: the recipe's results, the filter, the draw, the errors."""
import pytest

from db import tracks as track_store
from db.models import Track
from db.session import session_scope
from similarity import alchemy
from tests.library import make_library
from tests.support import signed_in


def _client(groups=None, **library):
    """A test client on an app created after the library was built (the app loads the index at start)."""
    made = make_library(groups, **library)
    from app import create_app
    return made, signed_in(create_app({"TESTING": True}).test_client())


def _mix(client, **body):
    return client.post("/api/alchemy", json=body)


def _groups(made, tracks):
    return [made.group_of(t["item_id"]) for t in tracks]


def test_subtracting_a_metal_song_removes_metal(env):
    made, client = _client()
    answer = _mix(client, add=["jazz-0", "metal-0"], subtract=["metal-1"], n=10)
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert len(body["results"]) == 10
    assert "metal" not in _groups(made, body["results"])
    assert set(_groups(made, body["filtered"])) == {"metal"}
    assert len(body["filtered"]) == 10 and body["filtered_total"] == 10   # 12 metal songs, two in the recipe
    # left out only what sounds more like the subtracted song than the added ones (by the margin)
    assert all(t["distance_to_subtract"] < t["distance"] - alchemy.SUBTRACT_MARGIN for t in body["filtered"])
    assert all(t["distance_to_subtract"] < alchemy.SUBTRACT_MAX_DISTANCE for t in body["filtered"])
    assert body["subtract_distance"] is None       # the default, relative rule
    given = {"jazz-0", "metal-0", "metal-1"}
    assert not given & {t["item_id"] for t in body["results"] + body["filtered"]}
    assert {"id", "item_id", "title", "artist", "album", "duration_s"} <= set(body["results"][0])

    # without the subtraction the same recipe brings metal back
    plain = _mix(client, add=["jazz-0", "metal-0"], n=10).json
    assert "metal" in _groups(made, plain["results"])
    assert plain["filtered"] == [] and plain["subtract_distance"] is None
    assert plain["plot"]["centroids"]["subtract"] is None


def test_subtracting_ambient_from_jazz_keeps_jazz_first(env):
    made, client = _client()
    body = _mix(client, add=["jazz-0", "ambient-0"], subtract=["ambient-5"], n=20).json
    groups = _groups(made, body["results"])
    assert "ambient" not in groups
    assert groups[:11] == ["jazz"] * 11     # every other jazz song before anything else


def test_plot_has_every_shown_song_and_both_centroids(env):
    made, client = _client()
    body = _mix(client, add=["jazz-0", "metal-0"], subtract=["metal-1"], n=5).json
    points = body["plot"]["points"]
    roles = [p["role"] for p in points]
    assert roles == ["add", "add", "subtract"] + ["result"] * 5 + ["filtered"] * len(body["filtered"])
    assert sorted(p["item_id"] for p in points[3:8]) == sorted(t["item_id"] for t in body["results"])
    assert all(isinstance(p["x"], float) and isinstance(p["y"], float) for p in points)
    assert {"title", "artist"} <= set(points[0])
    centroids = body["plot"]["centroids"]
    assert set(centroids["add"]) == {"x", "y"} and set(centroids["subtract"]) == {"x", "y"}
    # the plot separates the kinds: metal points sit on one side of the first axis, jazz on the other
    x = {p["item_id"]: p["x"] for p in points}
    metal = [x[i] for i in x if i.startswith("metal")]
    jazz = [x[i] for i in x if i.startswith("jazz")]
    assert max(metal) < min(jazz) or max(jazz) < min(metal)
    assert _mix(client, add=["jazz-0", "metal-0"], subtract=["metal-1"], n=5).json["plot"] == body["plot"]


def test_temperature_draws_repeatably_from_the_kept_candidates(env):
    """In the ranked order (closest first) the draw's own order shows."""
    made, client = _client({"jazz": 40, "metal": 12})
    top = _mix(client, add=["jazz-0"], n=10, order="ranked").json["results"]
    first = _mix(client, add=["jazz-0"], n=10, temperature=0.5, seed=7, order="ranked").json["results"]
    again = _mix(client, add=["jazz-0"], n=10, temperature=0.5, seed=7, order="ranked").json["results"]
    other = _mix(client, add=["jazz-0"], n=10, temperature=0.5, seed=8, order="ranked").json["results"]
    assert first == again
    assert [t["item_id"] for t in first] != [t["item_id"] for t in top]    # 10 of 39 jazz: a draw, not the top
    assert [t["item_id"] for t in first] != [t["item_id"] for t in other]
    assert [t["distance"] for t in first] == sorted(t["distance"] for t in first)
    # a low temperature stays with the closest songs: p falls by e per 0.01 of distance
    cold = _mix(client, add=["jazz-0"], n=10, temperature=0.0001, seed=1, order="ranked").json["results"]
    assert [t["item_id"] for t in cold] == [t["item_id"] for t in top]
    # subtracted kinds stay out of the draw too
    drawn = _mix(client, add=["jazz-0", "metal-0"], subtract=["metal-1"], n=30, temperature=5, seed=3).json
    assert "metal" not in _groups(made, drawn["results"]) and len(drawn["results"]) == 30


def test_threshold_can_be_set(env):
    made, client = _client()
    keep_all = _mix(client, add=["jazz-0", "metal-0"], subtract=["metal-1"], n=50, subtract_distance=0).json
    assert keep_all["filtered"] == [] and len(keep_all["results"]) == 33
    drop_all = _mix(client, add=["jazz-0"], subtract=["metal-1"], n=50, subtract_distance=2).json
    assert drop_all["results"] == [] and len(drop_all["filtered"]) == 34 == drop_all["filtered_total"]
    capped = _mix(client, add=["jazz-0"], subtract=["metal-1"], n=5, subtract_distance=2).json
    assert len(capped["filtered"]) == 5 and capped["filtered_total"] == 34
    assert drop_all["subtract_distance"] == 2


def test_other_recordings_of_the_recipe_songs_are_left_out(env):
    made, client = _client(extra=[
        {"item_id": "jazz-0-live", "title": "Jazz 0 (Live)", "artist": "Jazz artist 0", "like": "jazz-0"},
        {"item_id": "jazz-1-best", "title": "Jazz 1 - Remastered", "artist": "Jazz artist 1", "like": "jazz-1"}])
    body = _mix(client, add=["jazz-0"], n=15).json
    found = [t["item_id"] for t in body["results"]]
    assert "jazz-0-live" not in found                                  # the added song, live
    assert ("jazz-1" in found) != ("jazz-1-best" in found)             # one recording of a song


def test_a_library_of_three_tracks(env):
    made, client = _client({"jazz": 3})
    body = _mix(client, add=["jazz-0"], n=25).json
    assert sorted(t["item_id"] for t in body["results"]) == ["jazz-1", "jazz-2"]
    body = _mix(client, add=["jazz-0"], subtract=["jazz-1"], n=25).json
    assert len(body["results"]) + len(body["filtered"]) == 1
    assert len(body["plot"]["points"]) == 3
    body = _mix(client, add=["jazz-0", "jazz-1", "jazz-2"], n=25).json
    assert body["results"] == [] and len(body["plot"]["points"]) == 3


def test_every_add_also_subtracted_is_refused(env):
    made, client = _client()
    answer = _mix(client, add=["jazz-0", "metal-0"], subtract=["metal-0", "jazz-0", "ambient-0"])
    assert answer.status_code == 400
    assert "every song to add is also subtracted" in answer.json["error"]
    # one shared song is allowed: the other add song still leads
    assert _mix(client, add=["jazz-0", "metal-0"], subtract=["metal-0"]).status_code == 200


def test_unknown_and_unindexed_ids_are_named(env):
    made, client = _client({"jazz": 4})
    answer = _mix(client, add=["jazz-0"], subtract=["no-such-song"])
    assert answer.status_code == 404 and "'no-such-song'" in answer.json["error"]
    with session_scope() as session:   # analysed after the index was built: not in it yet
        session.add(Track(provider="local", item_id="late", title="Late", analysis_version="test",
                          analyzed_at=track_store.database_now()))
    answer = _mix(client, add=["late"])
    assert answer.status_code == 404 and "'late' is not in the similarity index yet" in answer.json["error"]


@pytest.mark.parametrize("body, message", [
    ({"add": []}, "add: List should have at least 1 item"),
    ({"add": "jazz-0"}, "add: Input should be a valid list"),
    ({"subtract": ["jazz-0"]}, "add: Field required"),
    ({"add": ["jazz-0", 3]}, "add.1: Input should be a valid string"),
    ({"add": ["jazz-0", ""]}, "add.1: String should have at least 1 character"),
    ({"add": ["jazz-0"], "subtract": "jazz-1"}, "subtract: Input should be a valid list"),
    ({"add": ["jazz-0"], "n": 0}, "n: Input should be greater than or equal to 1"),
    ({"add": ["jazz-0"], "n": 201}, "n: Input should be less than or equal to 200"),
    ({"add": ["jazz-0"], "n": "10"}, "n: Input should be a valid integer"),
    ({"add": ["jazz-0"], "n": True}, "n: Input should be a valid integer"),
    ({"add": ["jazz-0"], "temperature": -0.1}, "temperature: Input should be greater than or equal to 0"),
    ({"add": ["jazz-0"], "temperature": 6}, "temperature: Input should be less than or equal to 5"),
    ({"add": ["jazz-0"], "seed": "x"}, "seed: Input should be a valid integer"),
    ({"add": ["jazz-0"], "subtract_distance": 2.5}, "subtract_distance: Input should be less than or equal to 2"),
    ({"add": ["x"] * 51}, "add: List should have at most 50 items"),
    ({"add": ["jazz-0"], "surprise": 1}, "surprise: Extra inputs are not permitted"),
    ([], "expected a JSON object"),
])
def test_malformed_bodies_are_400(env, body, message):
    made, client = _client({"jazz": 3})
    answer = client.post("/api/alchemy", json=body)
    assert answer.status_code == 400 and message in answer.json["error"], answer.json


def test_not_json_and_wrong_method(env):
    made, client = _client({"jazz": 3})
    answer = client.post("/api/alchemy", data="add=jazz-0", content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 400 and answer.is_json
    answer = client.get("/api/alchemy")
    assert answer.status_code == 405 and answer.is_json


def test_no_index_yet_is_503(env):
    from app import create_app
    client = signed_in(create_app({"TESTING": True}).test_client())
    answer = _mix(client, add=["jazz-0"])
    assert answer.status_code == 503 and "no similarity index yet" in answer.json["error"]
