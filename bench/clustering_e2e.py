"""The automatic-playlist task end to end: snapshot, batches on real workers, solve, store.

    python bench/clustering_e2e.py --tracks 10000 [--workers 2] [--preset quick] [--algorithms kmeans]
                                   [--vectors CACHE.npz]

Fills a scratch database (on the local PostgreSQL) with --tracks analysed
tracks, starts one orchestration worker and --workers clustering workers,
runs the "clustering" task with a fixed seed, and reports the wall time from
submission to the end (snapshot, search, solve and storing included), the
runs made, and the peak RSS of each worker process tree (worker plus its work
horse) sampled every 0.2 s.

Tracks are synthetic unless --vectors names an .npz with arrays `vectors`,
`msd`, `mtt` (real analysed tracks, e.g. bench/clustering.py's corpus cache):
then each synthetic track is a random real track plus Gaussian noise of 0.3
of each dimension's spread, and carries that track's tags.  Synthetic ones
come from 60 Gaussian groups in 400 dimensions, each with its own top tags.
"""
from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

_GROUPS = 60
_DIM = 400


def library_arrays(tracks: int, vectors_file: Path | None, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    if vectors_file is not None:
        real = np.load(vectors_file)
        picks = rng.integers(0, len(real["vectors"]), tracks)
        spread = real["vectors"].std(axis=0)
        vectors = real["vectors"][picks] + rng.normal(0, 1, (tracks, real["vectors"].shape[1])) * 0.3 * spread
        return {"vectors": vectors.astype(np.float32), "msd": real["msd"][picks], "mtt": real["mtt"][picks],
                "group": picks % _GROUPS}
    group = rng.integers(0, _GROUPS, tracks)
    centres = rng.normal(0, 1, (_GROUPS, _DIM))
    msd = rng.uniform(0, 0.2, (tracks, 50)).astype(np.float32)
    mtt = rng.uniform(0, 0.2, (tracks, 50)).astype(np.float32)
    msd[np.arange(tracks), (group * 7) % 50] += 0.6
    mtt[np.arange(tracks), (group * 3) % 50] += 0.5
    return {"vectors": (centres[group] + rng.normal(0, 0.8, (tracks, _DIM))).astype(np.float32),
            "msd": msd, "mtt": mtt, "group": group}


def fill(url: str, arrays: dict[str, np.ndarray], seed: int = 0) -> None:
    """COPY the tracks, their embeddings and tags into the scratch database."""
    import psycopg2
    from analysis.vectors import VECTOR_MODEL
    rng = np.random.default_rng(seed + 1)
    count, dim = arrays["vectors"].shape
    tracks, embeddings, tags = io.StringIO(), io.StringIO(), io.StringIO()
    for i in range(count):
        moods = "\t".join(f"{value:.3f}" for value in rng.uniform(0, 1, 6))
        tracks.write(f"{i + 1}\tlocal\tt{i}\tTrack {i}\tArtist {i % 997}\tAlbum {i // 12}\t"
                     f"{rng.uniform(60, 180):.1f}\t{rng.uniform(0, 1):.3f}\t{moods}\tbench\t2026-01-01\t2026-01-01\n")
        embeddings.write(f"{i + 1}\t{VECTOR_MODEL}\t{dim}\t\\\\x{arrays['vectors'][i].astype('<f4').tobytes().hex()}\n")
        for vocabulary in ("msd", "mtt"):
            scores = ",".join(f"{v:.3f}" for v in arrays[vocabulary][i])
            tags.write(f"{i + 1}\t{vocabulary}\t{{{scores}}}\n")
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        for name, data, columns in (
                ("track", tracks, "id, provider, item_id, title, artist, album, tempo_bpm, energy, danceable, "
                                  "aggressive, happy, party, relaxed, sad, analysis_version, analyzed_at, seen_at"),
                ("embedding", embeddings, "track_id, model, dim, vector"),
                ("track_tags", tags, "track_id, vocabulary, scores")):
            data.seek(0)
            cursor.copy_expert(f"COPY {name} ({columns}) FROM STDIN", data)


class PeakRss:
    """Peak resident memory of each process tree, sampled in a thread."""

    def __init__(self, processes: list[subprocess.Popen]):
        import psutil
        self._psutil = psutil
        self.processes = processes
        self.peaks = [0] * len(processes)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            for number, process in enumerate(self.processes):
                try:
                    root = self._psutil.Process(process.pid)
                    tree = [root, *root.children(recursive=True)]
                    rss = max(member.memory_info().rss for member in tree)
                except self._psutil.Error:
                    continue
                self.peaks[number] = max(self.peaks[number], rss)

    def stop(self) -> list[int]:
        self._stop.set()
        self._thread.join()
        return self.peaks


def run(url: str, options: argparse.Namespace) -> None:
    os.environ.update(DATABASE_URL=url, REDIS_URL="redis://127.0.0.1:6379/13", MEDIASERVER_TYPE="local",
                      MUSIC_DIR="/tmp", SONARIUM_DATA_DIR=f"/tmp/{url.rsplit('/', 1)[1]}", LOG_LEVEL="WARNING",
                      PYTHONPATH=str(REPO))
    import runtime
    from tasks import queues, store, submit
    runtime.init()
    started = time.monotonic()
    fill(url, library_arrays(options.tracks, options.vectors))
    print(f"{options.tracks} tracks stored in {time.monotonic() - started:.0f} s")
    queues.redis_connection().flushdb()
    processes = [subprocess.Popen([sys.executable, "-m", "tasks.worker", "high"], cwd=REPO)]
    processes += [subprocess.Popen([sys.executable, "-m", "tasks.worker", "clustering"], cwd=REPO)
                  for _ in range(options.workers)]
    try:
        time.sleep(10)   # workers import their modules before the clock starts
        memory = PeakRss(processes[1:])
        args = {"preset": options.preset, "seed": 1, "ai_names": False}
        if options.algorithms:
            args["algorithms"] = options.algorithms.split(",")
        started = time.monotonic()
        task_id = submit.submit_main("clustering", args)
        while store.get(task_id).status in ("PENDING", "STARTED", "PROGRESS"):
            time.sleep(0.5)
        wall = time.monotonic() - started
        peaks = memory.stop()
        task = store.get(task_id)
        details = task.details
        print(f"{task.status}: {task.message}")
        print(f"wall {wall:.0f} s ({wall / 60:.1f} min) for {details.get('runs_done')} runs in "
              f"{details.get('generation')} generations; best {details.get('best', {}).get('config')} "
              f"score {details.get('best', {}).get('score', float('nan')):.3f}")
        print("peak RSS per clustering worker (worker or its work horse): "
              + ", ".join(f"{peak / 2**20:.0f} MiB" for peak in peaks))
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        queues.redis_connection().flushdb()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--algorithms", help="comma-separated; default: the task's own choice")
    parser.add_argument("--vectors", type=Path, help=".npz of real vectors and tags to resample")
    options = parser.parse_args()
    from bench.scratch import scratch_database
    with scratch_database("sonarium_clustering") as url:
        run(url, options)


if __name__ == "__main__":
    main()
