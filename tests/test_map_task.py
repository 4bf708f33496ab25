"""The music map task through a real worker (a forked work horse runs UMAP), and the live map it feeds."""
import numpy as np
import pytest
from scipy.spatial import cKDTree
from sqlalchemy import delete

from db.models import LIVE_STATUSES, Track
from db.session import session_scope
from similarity import index as track_index
from similarity import map_layout, projection
from tasks import map as map_task
from tasks import runner, store
from tasks.submit import submit_main
from tests.conftest import wait_for
from tests.library import add_like, make_library

GROUPS = {"jazz": 80, "metal": 80, "ambient": 80, "techno": 80}


def run_map(refit=False, timeout=180):
    task_id = submit_main("map", {"refit": refit})
    wait_for(lambda: store.get(task_id).status not in LIVE_STATUSES, timeout=timeout, every=0.2,
             message="the map task to end")
    task = store.get(task_id)
    assert task.status == "SUCCESS", (task.message, task.log[-10:])
    return task


def same_group_share(library, mapped: projection.Projection) -> float:
    """Share of tracks whose nearest other point on the map is of their own group."""
    group = {track_id: library.group_of(name) for name, track_id in library.ids.items() if track_id in mapped.ids}
    _, nearest = cKDTree(mapped.xy).query(mapped.xy, k=2)
    return float(np.mean([group[int(mapped.ids[row])] == group[int(mapped.ids[near])]
                          for row, near in enumerate(nearest[:, 1])]))


@pytest.fixture
def map_worker(workers):
    workers.start("clustering")
    return workers


def test_fit_refit_place_remove_and_the_web_process_follows(app, map_worker):
    live = app.extensions["sonarium.map"]
    assert live.current is None and live.status()["reason"] == projection.NO_MAP
    library = make_library(GROUPS, spread=0.6)

    first = run_map()
    assert "fitted (no map yet)" in first.message
    assert live.refresh() and live.current.version == first.details["result"]["version"]
    fitted = live.current
    assert fitted.meta["method"] == "umap" and fitted.meta["seed"] == map_layout.SEED
    assert (fitted.meta["fitted_tracks"], fitted.meta["placed_tracks"]) == (320, 0)
    assert list(fitted.ids) == sorted(library.ids.values())
    assert 0 < fitted.meta["neighbours_kept"] <= 1
    assert same_group_share(library, fitted) > 0.97

    # Same library, same seed, another work horse: the same map, point for point.
    assert "fitted (asked for)" in run_map(refit=True).message
    assert live.refresh() and live.current.version == fitted.version + 1
    assert np.array_equal(live.current.ids, fitted.ids) and np.array_equal(live.current.xy, fitted.xy)
    assert live.current.meta == fitted.meta

    assert "up to date" in run_map().message    # nothing changed: no new version
    assert not live.refresh()

    new = add_like(library, ["jazz-3", "metal-5", "ambient-7", "techno-9"])
    gone = [library.ids["jazz-0"], library.ids["techno-1"]]
    with session_scope() as session:
        session.execute(delete(Track).where(Track.id.in_(gone)))
    track_index.update()
    assert "4 tracks placed, 2 removed" in run_map().message
    assert live.refresh()
    updated = live.current
    assert (updated.meta["fitted_tracks"], updated.meta["placed_tracks"]) == (320, 4)
    assert set(updated.ids) == set(library.ids.values()) - set(gone)
    assert list(updated.ids) == sorted(updated.ids)
    # The tracks that stayed did not move; each new one lands among its group, beside the track it is like.
    assert np.array_equal(updated.xy[np.isin(updated.ids, fitted.ids)], fitted.xy[np.isin(fitted.ids, updated.ids)])
    name_of = {track_id: name for name, track_id in library.ids.items()}
    tree = cKDTree(updated.xy)
    for name, track_id in new.items():
        _, near = tree.query(updated.xy[updated.ids == track_id][0], k=6)
        assert {library.group_of(name_of[int(updated.ids[row])]) for row in near} == {library.group_of(name)}


def test_no_map_without_an_index_then_a_tiny_library_is_laid_out_by_pca(app, map_worker):
    assert run_map().message == "no similarity index yet: nothing to map"
    assert projection.load() is None
    library = make_library({"jazz": 6, "metal": 6, "ambient": 6})
    run_map()
    small = projection.load()
    assert small.meta["method"] == "pca" and small.size == 18 and small.meta["fitted_tracks"] == 18
    assert same_group_share(library, small) == 1.0


def test_a_worker_killed_mid_fit_leaves_no_stuck_task(env, workers):
    from tasks import reconciler
    make_library({"jazz": 150, "metal": 150, "ambient": 150})
    victim = workers.start("clustering")
    task_id = submit_main("map", {})
    wait_for(lambda: (store.get(task_id).message or "").startswith("laying out"), timeout=120, every=0.02,
             message="the fit to start")
    workers.kill(victim)
    assert projection.load() is None
    workers.start("clustering")
    wait_for(lambda: reconciler.reconcile_once() or store.get(task_id).status not in LIVE_STATUSES,
             timeout=120, every=0.5, message="the dead attempt to be re-queued")
    wait_for(lambda: store.get(task_id).status not in LIVE_STATUSES, timeout=120, every=0.2,
             message="the map task to finish after the re-queue")
    task = store.get(task_id)
    assert task.status == "SUCCESS" and task.attempts >= 2
    assert projection.load().size == 450


def run_here(args=None):
    """The map task in this process (no worker): for PCA-sized libraries, so no numba runs in the tests' process."""
    task_id = submit_main("map", args or {})
    runner.execute(task_id, 1)
    return store.get(task_id)


def test_a_growing_library_is_placed_until_it_grew_by_map_refit_growth(env):
    library = make_library({"jazz": 5, "metal": 5})
    assert "fitted (no map yet)" in run_here().message
    add_like(library, ["jazz-1", "metal-1"])          # 12 tracks: 20% more than the 10 fitted
    assert "2 tracks placed" in run_here().message
    add_like(library, ["jazz-2"], seed=2)             # 13: more than 20%
    assert "grew from 10 to 13 tracks" in run_here().message
    assert projection.load().meta["fitted_tracks"] == 13


def test_the_map_is_refitted_when_the_index_switches_vector_model(env):
    from sqlalchemy import update
    from analysis.vectors import VECTOR_MODEL
    from db.models import Embedding
    make_library({"jazz": 5, "metal": 5})
    with session_scope() as session:      # the library as analysed and indexed with an older vector model
        session.execute(update(Embedding).values(model="older/mean"))
    track_index.build("older/mean")
    assert "fitted (no map yet)" in run_here().message
    with session_scope() as session:      # re-analysed with the code's model: the index switches
        session.execute(update(Embedding).values(model=VECTOR_MODEL))
    track_index.update()
    assert "switched to the vector model" in run_here().message
    assert projection.load().meta["index_model"] == VECTOR_MODEL


def test_a_failed_fit_leaves_the_old_map_serving(app, monkeypatch):
    make_library({"jazz": 5, "metal": 5})
    live = app.extensions["sonarium.map"]
    run_here()
    assert live.refresh()

    def failing(points, seed):
        raise MemoryError("no room for the map")
    monkeypatch.setattr(map_layout, "fit", failing)
    failed = run_here({"refit": True})
    assert failed.status == "FAILURE" and "no room for the map" in failed.message
    assert not live.refresh() and live.current.version == projection.load().version == 1


def test_map_refit_growth_is_checked_at_start_up():
    from config import ConfigError, load_settings
    base = {"SONARIUM_DATA_DIR": "/tmp/sonarium-config-test", "SECRET_KEY": "k"}
    assert load_settings(base).map_refit_growth == 0.2
    for bad in ("lots", "-0.1"):
        with pytest.raises(ConfigError, match="MAP_REFIT_GROWTH"):
            load_settings({**base, "MAP_REFIT_GROWTH": bad})


def test_refit_reasons():
    def stored(method, fitted):
        return projection.Projection(np.arange(fitted), np.zeros((fitted, 2)), {"method": method,
                                                                              "fitted_tracks": fitted})
    ids = np.arange(100)
    assert map_task._refit_reason(None, ids, 0.2) == "no map yet"
    assert map_task._refit_reason(stored("umap", 90), ids, 0.2) is None      # 11% more: placed
    assert "grew from 80 to 100" in map_task._refit_reason(stored("umap", 80), ids, 0.2)
    assert map_task._refit_reason(stored("umap", 99), ids, 0.0) is not None  # 0: any growth refits
    assert "enough for UMAP" in map_task._refit_reason(stored("pca", 90), ids, 0.2)


def test_pca_layout_is_deterministic_and_handles_one_and_two_tracks():
    points = np.random.default_rng(0).normal(size=(20, 8)).astype(np.float32)
    first, second = map_layout.fit(points), map_layout.fit(points.copy())
    assert first.method == "pca" and np.array_equal(first.xy, second.xy)
    assert map_layout.fit(points[:1]).xy.tolist() == [[0.0, 0.0]]
    assert map_layout.fit(points[:2]).xy.shape == (2, 2)


def test_placing_weighs_the_closest_mapped_neighbours_most():
    mapped_ids = np.array([10, 20, 30], np.int64)
    mapped_xy = np.array([[0, 0], [10, 0], [0, 10]], np.float32)
    # Track 99 (new, not on the map) is skipped; 10 is much closer than 20 and 30.
    xy, placed = map_layout.place(np.array([[99, 10, 20, 30], [99, 98, 97, 96]]),
                                  np.array([[0.0, 0.1, 0.9, 0.9], [0.1, 0.2, 0.3, 0.4]]), mapped_ids, mapped_xy)
    assert placed.tolist() == [True, False]
    assert np.linalg.norm(xy[0]) < 3 and np.isnan(xy[1]).all()


def test_neighbours_kept_counts_shared_neighbours():
    # Two far-apart lines of 11 points: each point's 10 map neighbours are the rest of its own line.
    xy = np.array([[x, 0] for x in range(11)] + [[x, 100] for x in range(11)], np.float32)
    rows = np.arange(22)
    own_line = [np.array([r for r in range(11 * (row // 11), 11 * (row // 11) + 11) if r != row]) for row in rows]
    other_line = [np.array([(row + 11) % 22]) for row in rows]
    assert map_layout.neighbours_kept(xy, rows, own_line) == 1
    assert map_layout.neighbours_kept(xy, rows, other_line) == 0
    assert map_layout.neighbours_kept(xy[:1], rows[:1], [np.array([], int)]) is None
