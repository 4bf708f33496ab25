"""GET /api/similar_tracks on a real database and index: results, duplicates, artist cap, errors."""
import pytest

from db.models import Track
from db.session import session_scope
from similarity import catalog
from similarity import neighbours
from similarity.neighbours import DUPLICATE_DISTANCE
from tests.library import make_library
from tests.support import signed_in

GROUPS = {"jazz": 12, "metal": 12, "ambient": 12}


def start_app():
    """The web app, created after the test library so it loads that library's index."""
    from app import create_app
    return signed_in(create_app({"TESTING": True}).test_client())


def similar(client, status=200, **params):
    answer = client.get("/api/similar_tracks", query_string=params)
    assert answer.status_code == status, answer.get_json()
    return answer.get_json()


def test_similar_to_a_jazz_track_is_jazz_first_closest_first(env):
    library = make_library(GROUPS)
    client = start_app()
    found = similar(client, item_id=library.item("jazz-0"), n=20, order="ranked")
    assert found["seed"]["item_id"] == library.item("jazz-0") and found["seed"]["title"] == "Jazz 0"
    names = [track["title"] for track in found["tracks"]]
    assert len(names) == 20 and "Jazz 0" not in names
    assert all(name.startswith("Jazz") for name in names[:11]), names   # the 11 other jazz tracks first
    distances = [track["distance"] for track in found["tracks"]]
    # Ranked by neighbourhood (similarity.smoothing); the distances shown are the direct ones.
    assert 0 < min(distances) and max(distances[:11]) < min(distances[11:]) and max(distances) < 2
    assert set(found["tracks"][0]) >= {"id", "item_id", "title", "artist", "album", "duration_s", "distance", "why"}
    assert found["order"]["order"] == "ranked"
    smooth = similar(client, item_id=library.item("jazz-0"), n=20)       # the default: ordered to flow
    assert smooth["order"]["order"] == "smooth" and smooth["order"]["mean"] <= found["order"]["mean"]
    assert smooth["order"]["artist_repeats"] <= found["order"]["artist_repeats"]
    assert sorted(t["title"] for t in smooth["tracks"]) == sorted(names)
    assert all(t["title"].startswith("Jazz") for t in smooth["tracks"][:11])   # far songs stay behind
    assert smooth["tracks"][0]["why"]["closeness"] == "very close"
    assert smooth["tracks"][0]["why"]["text"].startswith("Very close (")
    assert found["index_version"] == library.version
    assert found["excluded"] == {"duplicates": 0, "artist_cap": 0}
    assert len(similar(client, item_id=library.item("jazz-0"))["tracks"]) == 25  # default n


def test_seed_by_title_and_artist(env):
    library = make_library(GROUPS)
    client = start_app()
    assert similar(client, title="jazz 1", n=3)["seed"]["id"] == library.ids["jazz-1"]
    by_both = similar(client, title="JAZZ 4", artist="jazz artist 1", n=3)
    assert by_both["seed"]["id"] == library.ids["jazz-4"]
    assert all(track["title"].startswith("Jazz") for track in by_both["tracks"])
    # item_id wins when both are given
    assert similar(client, item_id=library.item("metal-2"), title="Jazz 1", n=1)["seed"]["title"] == "Metal 2"


@pytest.mark.parametrize("block", [neighbours.BLOCK, 2])   # 2: copies compared across blocks too
def test_other_recordings_of_a_song_are_left_out(env, monkeypatch, block):
    monkeypatch.setattr(neighbours, "BLOCK", block)
    extra = [
        # the seed's own live version: same song key
        {"item_id": "jazz-0-live", "title": "Jazz 0 (Live at Montreux)", "artist": "Jazz artist 0",
         "like": "jazz-0", "noise": 0.3},
        # jazz-3's master on a compilation, under another title and artist: caught by distance alone
        {"item_id": "best-of-3", "title": "Track 7", "artist": "Various", "album": "Best of", "like": "jazz-3"},
        # a remaster of jazz-5, same song key and near
        {"item_id": "jazz-5-remaster", "title": "Jazz 5 - 2011 Remaster", "artist": "Jazz artist 2",
         "like": "jazz-5"},
    ]
    library = make_library(GROUPS, extra=extra)
    client = start_app()
    found = similar(client, item_id=library.item("jazz-0"), n=35)
    titles = [track["title"] for track in found["tracks"]]
    assert "Jazz 0 (Live at Montreux)" not in titles
    assert ("Jazz 3" in titles) != ("Track 7" in titles)            # one of the two copies, not both
    assert ("Jazz 5" in titles) != ("Jazz 5 - 2011 Remaster" in titles)
    assert found["excluded"]["duplicates"] == 3
    assert len(titles) == 35 and len({catalog.song_key(t["title"], t["artist"]) for t in found["tracks"]}) == 35
    # Seeding from the copy leaves the original out the same way.
    from_copy = similar(client, item_id=library.item("best-of-3"), n=5)
    assert "Jazz 3" not in [track["title"] for track in from_copy["tracks"]]


def test_make_library_copies_are_under_the_duplicate_distance_and_songs_are_not(env):
    """The test library's copies and clusters sit on the right sides of DUPLICATE_DISTANCE."""
    extra = [{"item_id": "copy", "title": "Copy", "artist": "Other", "like": "jazz-3"}]
    library = make_library(GROUPS, extra=extra)
    client = start_app()
    found = {t["title"]: t["distance"] for t in similar(client, item_id=library.item("jazz-3"), n=40)["tracks"]}
    assert "Copy" not in found
    assert min(found.values()) > 2 * DUPLICATE_DISTANCE
    copy_seeded = similar(client, item_id=library.item("copy"), n=40)
    assert copy_seeded["excluded"]["duplicates"] == 1


def test_max_per_artist_caps_each_artist(env):
    library = make_library(GROUPS)
    client = start_app()
    found = similar(client, item_id=library.item("jazz-0"), n=12, max_per_artist=2)
    artists = [track["artist"] for track in found["tracks"]]
    assert len(artists) == 12 and max(artists.count(a) for a in set(artists)) <= 2
    assert sum(a.startswith("Jazz") for a in artists) == 6               # 3 jazz artists x 2
    assert found["excluded"]["artist_cap"] >= 5                          # the other jazz tracks were capped
    assert all(a.startswith("Jazz") for a in artists[:6])


def test_n_up_to_the_whole_library(env):
    library = make_library({"jazz": 4, "metal": 3})
    client = start_app()
    found = similar(client, item_id=library.item("jazz-0"), n=500)
    assert len(found["tracks"]) == 6                                     # everything but the seed
    assert {t["title"] for t in found["tracks"][:3]} == {"Jazz 1", "Jazz 2", "Jazz 3"}


@pytest.mark.parametrize("params, message", [
    ({"n": "0"}, "n: Input should be greater than or equal to 1"),
    ({"n": "501"}, "n: Input should be less than or equal to 500"),
    ({"n": "ten"}, "n: Input should be a valid integer"),
    ({"n": "2.5"}, "n: Input should be a valid integer"),
    ({"max_per_artist": "0"}, "max_per_artist: Input should be greater than or equal to 1"),
    ({"max_per_artist": "two"}, "max_per_artist: Input should be a valid integer"),
])
def test_bad_numbers_are_400(env, params, message):
    library = make_library({"jazz": 3})
    client = start_app()
    error = similar(client, 400, item_id=library.item("jazz-0"), **params)
    assert message in error["error"] and error["status"] == 400


def test_missing_and_unknown_seeds(env):
    make_library({"jazz": 3})
    client = start_app()
    assert "give item_id, or title" in similar(client, 400)["error"]
    assert "no analysed track with item_id 'nope'" in similar(client, 404, item_id="nope")["error"]
    assert "no analysed track titled 'Jazz 9'" in similar(client, 404, title="Jazz 9")["error"]
    assert "by 'Someone'" in similar(client, 404, title="Jazz 1", artist="Someone")["error"]


def test_a_seed_analysed_after_the_index_was_built_is_404(env):
    make_library({"jazz": 3})
    with session_scope() as session:
        track = Track(provider="local", item_id="late", title="Late", artist="A", analysis_version="test",
                      analyzed_at=session.scalar(catalog.func.now()))
        session.add(track)
    client = start_app()
    error = similar(client, 404, item_id="late")
    assert "not in the similarity index yet" in error["error"]


def test_without_an_index_the_answer_is_503(env):
    client = start_app()
    error = similar(client, 503, item_id="anything")
    assert error["error"] == "no similarity index yet: run the library analysis"
    assert similar(client, 400, item_id="x", n="0")["status"] == 400   # the caller's mistake still comes first


def test_variety_spreads_the_list_and_an_artist_share_relaxes_when_it_must(env):
    import numpy as np
    from similarity import craft, index as track_index
    library = make_library({"jazz": 30, "metal": 12}, spread=0.5)
    client = start_app()
    index = track_index.load()

    def spread(found):
        points = index.unit_vectors([t["id"] for t in found["tracks"]])
        likeness = points @ points.T
        return float(likeness[np.triu_indices(len(points), 1)].mean())

    close = similar(client, item_id=library.item("jazz-0"), n=10, order="ranked")
    varied = similar(client, item_id=library.item("jazz-0"), n=10, order="ranked", variety=0.6)
    assert len(varied["tracks"]) == 10 and spread(varied) < spread(close)
    assert similar(client, status=400, item_id=library.item("jazz-0"), variety=1.5)

    seed = catalog.by_item_ids([library.item("jazz-0")])[library.item("jazz-0")]
    ranked = [(t, d) for t, d in neighbours.similar_tracks(index, seed, 20).tracks]
    chosen, relaxed = craft.choose(index, ranked, 8, max_share=0.125)      # one song per artist: 3 jazz artists
    assert len(chosen) == 8 and relaxed == ["an artist may have more than 1 of the songs"]
    chosen, relaxed = craft.choose(index, ranked, 3, max_share=0.34)
    assert relaxed == [] and len({t.artist for t, _ in chosen}) == 3
