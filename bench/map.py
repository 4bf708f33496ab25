"""The music map's projection: time, memory and quality at library scale.

    python bench/map.py --tracks 100000 [--dim 400] [--new 1000] [--compare-transform]
    python bench/map.py --corpus CORPUS --cache DIR --new 17 [--compare-transform]
    python bench/map.py --end-to-end --tracks 100000

A synthetic library of --tracks tracks (Gaussian groups: 500 centres, each
track a centre plus noise, standardized and L2-normalised as the index stores
them) is indexed in memory with the shipped Voyager settings (its build is
timed apart: the index task builds it, not the map task).  Then, as the map
task (tasks/map.py) does it, minus the database:

- fit: the whole map (seeded UMAP) and neighbours_kept over its sample; wall
  time, peak RSS during the fit (a 0.1 s sampler), and the longest pause of
  that sampler thread, i.e. the longest the task's heartbeat thread could have
  been starved of the GIL (a pause over TASK_DEAD_AFTER_SECONDS would make the
  reconciler think the task dead);
- the projection blob's size;
- placing --new new tracks (same distribution) by their index neighbours.

With --corpus, the tracks are a dev corpus's (analysed once and cached as
bench/clustering.py does), --new of them, drawn at random, held out as the new
tracks.

--end-to-end runs the map task itself instead, through the task framework on
one worker, over a scratch database (bench/clustering_e2e.py's synthetic
tracks, indexed first): the wall time from submission to the stored map
(reading the index, the fit, neighbours_kept, storing) and the peak RSS of the
worker or its work horse.

Quality: besides neighbours_kept, "same group" is the share of a track's 10
nearest map points that come from its own group (the synthetic blob, or the
corpus track's source), for the fitted tracks and for the placed ones.

--compare-transform also keeps the fitted UMAP as umap-learn's `transform`
needs it: its pickle's size and time, loading it back, and placing the new
tracks by `transform` (the first call in a process compiles), with the same
quality figures.  The UMAP is fitted once for both (this process's peak RSS
then includes the pickle).
"""
from __future__ import annotations

import argparse
import os
import pickle
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import voyager
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")   # as tasks/worker.py sets it

from analysis.standardize import Standardization  # noqa: E402
from bench.clustering import corpus_features  # noqa: E402
from similarity import map_layout  # noqa: E402
from similarity.index import EF_CONSTRUCTION, M, TrackIndex  # noqa: E402
from tasks import map as map_task  # noqa: E402

BLOBS = 500


class _Watch:
    """Samples this process's RSS every 0.1 s on a thread and records the thread's longest pause."""

    def __init__(self):
        self.peak = 0
        self.longest_pause = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        process, last = psutil.Process(), time.monotonic()
        while not self._stop.wait(0.1):
            now = time.monotonic()
            self.longest_pause = max(self.longest_pause, now - last)
            last = now
            self.peak = max(self.peak, process.memory_info().rss)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


class _NoTask:
    """What tasks.map's steps report to, here nowhere."""

    def progress(self, *args):
        pass

    def log(self, line):
        pass

    def check_cancelled(self):
        pass


def synthetic(tracks: int, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(unit vectors float32 (tracks, dim), blob of each int)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (BLOBS, dim)).astype(np.float32)
    blobs = rng.integers(0, BLOBS, tracks)
    raw = np.empty((tracks, dim), np.float32)
    for start in range(0, tracks, 10_000):
        part = groups[start:start + 10_000]
        raw[start:start + part.size] = centres[part] + rng.normal(0, 0.5, (part.size, dim)).astype(np.float32)
    return Standardization.fit(raw).apply(raw), blobs


def same_group(xy: np.ndarray, groups: np.ndarray, rows: np.ndarray) -> float:
    """Share of the 10 nearest other map points of each row that come from the row's own group."""
    _, nearest = cKDTree(xy).query(xy[rows], k=11)
    return float((groups[nearest[:, 1:]] == groups[rows][:, None]).mean())


def placed_same_group(fitted_xy: np.ndarray, groups: np.ndarray, placed_xy: np.ndarray) -> float:
    """Share of each placed track's 10 nearest fitted map points from its own group (placed rows follow
    the fitted ones in `groups`)."""
    _, nearest = cKDTree(fitted_xy).query(placed_xy, k=10)
    fitted = len(fitted_xy)
    return float((groups[:fitted][nearest] == groups[fitted:][:, None]).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=400)
    parser.add_argument("--new", type=int, default=1000)
    parser.add_argument("--compare-transform", action="store_true")
    parser.add_argument("--corpus", type=Path, help="a dev corpus (manifest.csv) instead of synthetic vectors")
    parser.add_argument("--cache", type=Path, default=Path(".cache/quality"), help="its analyses (bench/clustering.py)")
    parser.add_argument("--end-to-end", action="store_true",
                        help="the map task itself on a worker, over a scratch database of --tracks tracks")
    options = parser.parse_args()
    if options.end_to_end:
        return end_to_end(options)
    ctx = _NoTask()
    if options.corpus:
        features, sources = corpus_features(options.corpus.resolve(), options.cache)
        held_out_last = np.random.default_rng(0).permutation(len(features))   # the new tracks: a random few
        vectors, groups = features.vectors[held_out_last], sources[held_out_last]
        n, described = len(vectors) - options.new, f"{options.corpus.name} (groups: its sources)"
    else:
        n = options.tracks
        vectors, groups = synthetic(n + options.new, options.dim)
        described = f"synthetic, {BLOBS} blobs (groups: the blobs)"
    ids = np.arange(1, n + 1, dtype=np.int64)
    dim = vectors.shape[1]
    index = voyager.Index(voyager.Space.Cosine, num_dimensions=dim, M=M, ef_construction=EF_CONSTRUCTION)
    began = time.perf_counter()
    for start in range(0, n, 5000):
        index.add_items(vectors[start:min(start + 5000, n)], ids[start:start + 5000])
    track_index = TrackIndex(index, Standardization(np.zeros(dim, np.float32), np.ones(dim, np.float32)), 0, 0)
    print(f"{n} tracks x {dim}-d, {described}; index built in {time.perf_counter() - began:.0f} s "
          f"(not part of the map); RSS before the map {psutil.Process().memory_info().rss / 2**20:.0f} MiB; "
          f"load average {os.getloadavg()[0]:.2f}")
    import umap  # noqa: F401  (its import is timed apart)
    began = time.perf_counter()
    with _Watch() as watch:
        if options.compare_transform:
            reducer = map_layout.umap_reducer()
            from similarity.projection import Projection
            fitted = Projection(ids, reducer.fit_transform(track_index.unit_vectors(ids.tolist())),
                                {"method": "umap", "fitted_tracks": n, "placed_tracks": 0})
        else:
            fitted = map_task._fit(ctx, track_index, ids)
        fit_seconds = time.perf_counter() - began
        fitted.meta["neighbours_kept"] = map_task._neighbours_kept(track_index, fitted)
    total = time.perf_counter() - began
    sample = map_layout.sample_rows(n)
    print(f"fit: {fit_seconds:.0f} s, with neighbours_kept {total:.0f} s; peak RSS {watch.peak / 2**20:.0f} MiB; "
          f"longest GIL pause {watch.longest_pause:.1f} s; blob {len(fitted.to_bytes()) / 2**20:.1f} MiB; "
          f"neighbours_kept {fitted.meta['neighbours_kept']:.3f}; same group {same_group(fitted.xy, groups, sample):.3f}")

    index_neighbours, _ = track_index.nearest_many(vectors[sample], 11)
    print(f"for comparison, same group among the index's own 10 neighbours: "
          f"{float((groups[index_neighbours[:, 1:] - 1] == groups[sample][:, None]).mean()):.3f}")
    if not options.new:
        return
    new_ids = np.arange(n + 1, n + options.new + 1, dtype=np.int64)
    index.add_items(vectors[n:], new_ids)
    everyone = np.concatenate([ids, new_ids])
    began = time.perf_counter()
    placed, _ = map_task._update(ctx, track_index, fitted, everyone)
    placing = time.perf_counter() - began
    print(f"placing {options.new} new tracks by index neighbours: {placing:.2f} s; same group "
          f"{placed_same_group(fitted.xy, groups, placed.xy[n:]):.3f}")
    if options.compare_transform:
        began = time.perf_counter()
        data = pickle.dumps(reducer, protocol=pickle.HIGHEST_PROTOCOL)
        pickled = time.perf_counter() - began
        began = time.perf_counter()
        reducer = pickle.loads(data)
        loaded = time.perf_counter() - began
        began = time.perf_counter()
        by_transform = reducer.transform(vectors[n:])
        first = time.perf_counter() - began
        began = time.perf_counter()
        reducer.transform(vectors[n:])
        print(f"kept UMAP model: pickle {len(data) / 2**20:.0f} MiB in {pickled:.0f} s, loaded in {loaded:.1f} s; "
              f"transform of {options.new} tracks {first:.1f} s (first in this process), "
              f"{time.perf_counter() - began:.1f} s (again); same group "
              f"{placed_same_group(fitted.xy, groups, by_transform):.3f}")


def end_to_end(options: argparse.Namespace) -> None:
    """The map task on a real worker over a scratch database of --tracks synthetic tracks."""
    import subprocess
    from bench.clustering_e2e import REPO, PeakRss, fill, library_arrays
    from bench.scratch import scratch_database
    with scratch_database("sonarium_map") as url:
        os.environ.update(DATABASE_URL=url, REDIS_URL="redis://127.0.0.1:6379/12", MEDIASERVER_TYPE="local",
                          MUSIC_DIR="/tmp", SONARIUM_DATA_DIR=f"/tmp/{url.rsplit('/', 1)[1]}",
                          LOG_LEVEL="WARNING", PYTHONPATH=str(REPO))
        import runtime
        from similarity import index as stored_index
        from tasks import queues, store, submit
        runtime.init()
        began = time.perf_counter()
        fill(url, library_arrays(options.tracks, None))
        stored_index.update(rebuild=True)
        print(f"{options.tracks} tracks stored and indexed in {time.perf_counter() - began:.0f} s "
              f"(not part of the map)")
        queues.redis_connection().flushdb()
        worker = subprocess.Popen([sys.executable, "-m", "tasks.worker", "clustering"], cwd=REPO)
        try:
            time.sleep(15)   # the worker imports and warms up its modules before the clock starts
            memory = PeakRss([worker])
            began = time.perf_counter()
            task_id = submit.submit_main("map", {})
            while store.get(task_id).status in ("PENDING", "STARTED", "PROGRESS"):
                time.sleep(0.5)
            wall = time.perf_counter() - began
            [peak] = memory.stop()
            task = store.get(task_id)
            print(f"{task.status}: {task.message}\nwall {wall:.0f} s from submission to the stored map; peak RSS "
                  f"of the worker or its work horse {peak / 2**20:.0f} MiB; load average {os.getloadavg()[0]:.2f}")
        finally:
            worker.terminate()
            worker.wait(timeout=30)
            queues.redis_connection().flushdb()


if __name__ == "__main__":
    main()
