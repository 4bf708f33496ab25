"""GET /api/find_path on a real database and index: steady paths, honest short ones, errors."""
import numpy as np
import pytest

from analysis.features import VECTOR_MODEL
from db import tracks as track_store
from db.models import Embedding, Track
from db.session import session_scope
from similarity import catalog, path
from similarity import index as track_index
from tests.library import DIM, make_library
from tests.support import signed_in

GROUPS = {"jazz": 12, "metal": 12, "ambient": 12}


def start_app():
    """The web app, created after the test library so it loads that library's index."""
    from app import create_app
    return signed_in(create_app({"TESTING": True}).test_client())


def find_path(client, status=200, **params):
    answer = client.get("/api/find_path", query_string=params)
    assert answer.status_code == status, answer.get_json()
    return answer.get_json()


def test_backbone_and_progress():
    rng = np.random.default_rng(3)
    a, b = (v / np.linalg.norm(v) for v in rng.normal(size=(2, DIM)))
    points = path.slerp(a, b, np.linspace(0, 1, 5))
    assert np.allclose(points[0], a, atol=1e-6) and np.allclose(points[-1], b, atol=1e-6)
    assert np.allclose(np.linalg.norm(points, axis=1), 1, atol=1e-6)
    angles = np.arccos(np.clip(np.sum(points[1:] * points[:-1], axis=1), -1, 1))
    assert np.allclose(angles, angles[0], atol=1e-5)                     # evenly spaced on the sphere
    along = path.progress(points, a, b)
    assert along[0] == pytest.approx(0, abs=1e-6) and along[-1] == pytest.approx(1, abs=1e-6)
    assert np.all(np.diff(along) > 0)
    assert np.allclose(path.slerp(a, a, np.linspace(0, 1, 3)), a, atol=1e-6)   # coinciding ends
    assert np.all(path.progress(points, a, a) == 0)


def make_gradient(count: int = 40, noise: float = 0.25, seed: int = 1) -> dict[str, int]:
    """Tracks "Step 0".."Step <count-1>" spread evenly along a line from one sound to another, plus noise;
    an unrelated cluster "Other n" beside them.  Returns title -> track id."""
    rng = np.random.default_rng(seed)
    here, there, elsewhere = (rng.normal(0, 1, DIM) for _ in range(3))
    vectors = {f"Step {n}": here + (there - here) * n / (count - 1) + rng.normal(0, noise, DIM)
               for n in range(count)}
    vectors.update({f"Other {n}": elsewhere + rng.normal(0, 0.35, DIM) for n in range(count // 2)})
    ids = {}
    now = track_store.database_now()
    with session_scope() as session:
        for n, (title, vector) in enumerate(vectors.items()):
            track = Track(provider="local", item_id=f"g-{n}", title=title, artist=f"Artist {n % 7}",
                          album="Gradient", duration_s=180.0, analysis_version="test", analyzed_at=now, seen_at=now)
            session.add(track)
            session.flush()
            session.add(Embedding(track_id=track.id, model=VECTOR_MODEL, dim=DIM,
                                  vector=(vector + 3.0).astype("<f4").tobytes()))
            ids[title] = track.id
    track_index.update()
    return ids


def distances_to(track_ids: list[int], target: int) -> list[float]:
    current = track_index.load()
    points = current.unit_vectors(track_ids)
    return (1 - points @ current.unit_vectors([target])[0]).tolist()


def rank_correlation(values: list[float]) -> float:
    """Spearman correlation of the values with their positions (-1: always decreasing)."""
    ranks = np.argsort(np.argsort(values))
    return float(np.corrcoef(ranks, np.arange(len(values)))[0, 1])


def test_a_path_across_a_gradient_moves_steadily(env):
    ids = make_gradient()
    client = start_app()
    found = find_path(client, start_item_id="g-0", end_item_id="g-39", length=12)
    titles = [track["title"] for track in found["tracks"]]
    print(titles, [t["step_distance"] for t in found["tracks"]], found["reason"])
    assert found["complete"] and found["length"] == 12 and found["requested_length"] == 12
    assert found["reason"] is None
    assert titles[0] == "Step 0" and titles[-1] == "Step 39"
    assert all(title.startswith("Step") for title in titles)
    positions = [int(title.split()[1]) for title in titles]
    assert sum(b > a for a, b in zip(positions, positions[1:])) >= 10, positions   # forward, at most one back
    to_end = distances_to([t["id"] for t in found["tracks"]], ids["Step 39"])
    assert sum(b < a for a, b in zip(to_end, to_end[1:])) >= 10, to_end
    steps = [t["step_distance"] for t in found["tracks"]]
    assert steps[0] == 0 and all(s > 0 for s in steps[1:])
    assert max(steps[1:]) < 2.5 * float(np.median(steps[1:])), steps   # no single big jump


def test_a_path_from_jazz_to_ambient(env):
    library = make_library(GROUPS)
    client = start_app()
    found = find_path(client, start_item_id=library.item("jazz-0"), end_item_id=library.item("ambient-0"),
                      length=16)
    titles = [track["title"] for track in found["tracks"]]
    print(titles, [t["step_distance"] for t in found["tracks"]], found["reason"])
    assert found["complete"] and titles[0] == "Jazz 0" and titles[-1] == "Ambient 0" and len(titles) == 16
    assert not any(title.startswith("Metal") for title in titles)
    first_ambient = next(n for n, title in enumerate(titles) if title.startswith("Ambient"))
    assert all(title.startswith("Ambient") for title in titles[first_ambient:])   # one crossing, no going back
    # Within one cluster every track is about as far from the other cluster, so "moving steadily" means:
    # on the jazz side the path leaves the start, on the ambient side it closes in on the end.
    path_ids = [t["id"] for t in found["tracks"]]
    from_start = distances_to(path_ids[:first_ambient], library.ids["jazz-0"])
    to_end = distances_to(path_ids[first_ambient:], library.ids["ambient-0"])
    print(from_start, to_end)
    assert sum(b > a for a, b in zip(from_start, from_start[1:])) >= 0.75 * (len(from_start) - 1), from_start
    assert sum(b < a for a, b in zip(to_end, to_end[1:])) >= 0.75 * (len(to_end) - 1), to_end
    everything_to_end = distances_to(path_ids, library.ids["ambient-0"])
    assert rank_correlation(everything_to_end) < -0.8
    assert len({t["id"] for t in found["tracks"]}) == 16
    crossing = f"the library has little between “{titles[first_ambient - 1]}” and “{titles[first_ambient]}”"
    assert found["reason"].startswith(crossing)                          # the one big step, named
    assert found["start"]["title"] == "Jazz 0" and found["end"]["title"] == "Ambient 0"
    assert found["index_version"] == library.version


def test_by_titles_and_the_shortest_path(env):
    make_library(GROUPS)
    client = start_app()
    found = find_path(client, start_title="jazz 2", end_title="Metal 3", end_artist="metal artist 0", length=2)
    assert [t["title"] for t in found["tracks"]] == ["Jazz 2", "Metal 3"]
    assert found["complete"] and found["tracks"][0]["step_distance"] == 0
    assert found["tracks"][1]["step_distance"] > 0.5


def test_a_short_path_between_far_songs_says_it_jumps(env):
    library = make_library(GROUPS)
    client = start_app()
    found = find_path(client, start_item_id=library.item("jazz-0"), end_item_id=library.item("ambient-0"), length=3)
    print(found["reason"], found["backbone_step"], found["typical_step"])
    assert found["complete"] and "start and end are far apart for 3 songs" in found["reason"]
    assert found["backbone_step"] > found["typical_step"]
    calm = find_path(client, start_item_id=library.item("jazz-0"), end_item_id=library.item("jazz-1"), length=5)
    assert calm["complete"] and calm["reason"] is None


def test_no_song_twice(env):
    extra = [{"item_id": "jazz-3-live", "title": "Jazz 3 (Live)", "artist": "Jazz artist 0", "like": "jazz-3",
              "noise": 0.3},
             {"item_id": "best-of-4", "title": "Track 9", "artist": "Various", "like": "jazz-4"},
             {"item_id": "ambient-0-copy", "title": "Untitled", "artist": "Unknown", "like": "ambient-0"}]
    library = make_library(GROUPS, extra=extra)
    client = start_app()
    found = find_path(client, start_item_id=library.item("jazz-0"), end_item_id=library.item("ambient-0"),
                      length=30)
    titles = [t["title"] for t in found["tracks"]]
    assert found["complete"] and len(titles) == 30
    assert not ({"Jazz 3", "Jazz 3 (Live)"} <= set(titles))
    assert not ({"Jazz 4", "Track 9"} <= set(titles))
    assert "Untitled" not in titles                                       # a copy of the end
    assert len({catalog.song_key(t["title"], t["artist"]) for t in found["tracks"]}) == 30


def test_a_library_of_three_tracks_gives_an_honest_short_path(env):
    library = make_library({"jazz": 3})
    client = start_app()
    found = find_path(client, start_item_id=library.item("jazz-0"), end_item_id=library.item("jazz-2"))
    assert [t["title"] for t in found["tracks"]] == ["Jazz 0", "Jazz 1", "Jazz 2"]
    assert found["requested_length"] == 25 and found["length"] == 3 and found["complete"] is False
    assert found["reason"] == "the library has only 3 analysed tracks"


def test_copies_cannot_fill_a_path(env):
    # Tiny noise: in a 7-track library standardization magnifies the differences between copies.
    extra = [{"item_id": f"copy-{n}", "title": f"Copy {n}", "artist": "Various", "like": "jazz-1", "noise": 0.001}
             for n in range(4)]
    library = make_library({"jazz": 3}, extra=extra)
    client = start_app()
    found = find_path(client, start_item_id=library.item("jazz-0"), end_item_id=library.item("jazz-2"), length=6)
    assert found["length"] == 3 and not found["complete"]
    assert found["reason"].startswith("only 3 different songs fit between start and end")


def test_start_and_end_must_differ(env):
    extra = [{"item_id": "jazz-1-live", "title": "Jazz 1 (Live)", "artist": "Jazz artist 1", "like": "jazz-1",
              "noise": 0.3}]
    library = make_library({"jazz": 3}, extra=extra)
    client = start_app()
    same = find_path(client, 400, start_item_id=library.item("jazz-1"), end_item_id=library.item("jazz-1"))
    assert same["error"] == "start and end are the same track: choose two different songs"
    recordings = find_path(client, 400, start_item_id=library.item("jazz-1"),
                           end_item_id=library.item("jazz-1-live"))
    assert "same song" in recordings["error"]


@pytest.mark.parametrize("length", ["1", "201", "many", "-3"])
def test_length_out_of_range_is_400(env, length):
    library = make_library({"jazz": 3})
    client = start_app()
    error = find_path(client, 400, start_item_id=library.item("jazz-0"), end_item_id=library.item("jazz-2"),
                      length=length)
    assert "length: Input should be" in error["error"]


def test_missing_and_unknown_ends(env):
    library = make_library({"jazz": 3})
    client = start_app()
    assert "choose the end song: give end_item_id, or end_title" in \
        find_path(client, 400, start_item_id=library.item("jazz-0"))["error"]
    assert "choose the start song" in find_path(client, 400, end_item_id=library.item("jazz-0"))["error"]
    assert "no analysed track with item_id 'nope'" in \
        find_path(client, 404, start_item_id="nope", end_item_id=library.item("jazz-0"))["error"]
    assert "no analysed track titled 'Nothing'" in \
        find_path(client, 404, start_item_id=library.item("jazz-0"), end_title="Nothing")["error"]


def test_without_an_index_the_answer_is_503(env):
    client = start_app()
    error = find_path(client, 503, start_item_id="a", end_item_id="b")
    assert error["error"] == "no similarity index yet: run the library analysis"
