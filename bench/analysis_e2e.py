"""The library analysis end to end: local provider, RQ, PostgreSQL, index updates.

    python bench/analysis_e2e.py MUSIC_DIR [--workers 2] [--album-size N]

Starts one orchestrator and --workers analysis workers (one inference thread
each, as deployed) against a scratch database on the local PostgreSQL and a
scratch Redis database, runs the "analysis" task over MUSIC_DIR and reports
tracks/s from the first album job starting to the task's end (index update
included).  Compare with `bench/analysis_speed.py MUSIC_DIR --workers N` run
the same day: the difference is the queue and database overhead.

It also reports how busy the workers were.  One album is one job, so on a
small corpus of uneven albums one worker finishes the last big album alone
while the others idle; --album-size N regroups the files (symlinks in a temp
folder) into folders of at most N, as in a library of many ordinary albums,
to tell that tail apart from per-job overhead.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("music_dir", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--album-size", type=int, default=0, help="regroup into folders of at most N files")
    options = parser.parse_args()
    from bench.scratch import scratch_database
    with scratch_database("sonarium_e2e") as url, tempfile.TemporaryDirectory() as farm:
        music_dir = options.music_dir
        if options.album_size:
            music_dir = regroup(music_dir, Path(farm), options.album_size)
        run(music_dir, options.workers, url)


def regroup(music_dir: Path, farm: Path, size: int) -> Path:
    """Symlinks to every audio file of music_dir, in folders of at most `size`."""
    from analysis.decode import AUDIO_EXTENSIONS
    files = sorted(p for p in music_dir.resolve().rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS)
    for number, file in enumerate(files):
        folder = farm / f"part-{number // size:04d}"
        folder.mkdir(exist_ok=True)
        (folder / f"{number:05d}{file.suffix}").symlink_to(file)
    return farm


def run(music_dir: Path, workers: int, url: str) -> None:
    os.environ.update(DATABASE_URL=url, REDIS_URL="redis://127.0.0.1:6379/12", MUSIC_DIR=str(music_dir.resolve()),
                      MEDIASERVER_TYPE="local", SONARIUM_DATA_DIR=f"/tmp/{url.rsplit('/', 1)[1]}",
                      LOG_LEVEL="WARNING", ANALYSIS_THREADS="1", PYTHONPATH=str(REPO))
    # The caches the launcher gives the workers (launcher.supervisor_environment).
    os.environ.setdefault("LIBROSA_CACHE_DIR", os.path.join(tempfile.gettempdir(), "sonarium-bench-librosa"))
    os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(tempfile.gettempdir(), "sonarium-bench-numba"))
    import runtime
    from tasks import queues, store, submit
    runtime.init()
    queues.redis_connection().flushdb()
    processes = [subprocess.Popen([sys.executable, "-m", "tasks.worker", "high"], cwd=REPO)]
    processes += [subprocess.Popen([sys.executable, "-m", "tasks.worker", "default"], cwd=REPO)
                  for _ in range(workers)]
    try:
        time.sleep(8)  # workers import and warm up before the clock starts
        task_id = submit.submit_main("analysis", {})
        while store.get(task_id).status in ("PENDING", "STARTED", "PROGRESS"):
            time.sleep(1)
        task = store.get(task_id)
        albums = [c for c in store.children(task_id, None, 100000) if c.started_at and c.finished_at]
        first_child = min(c.started_at for c in albums)
        last_child = max(c.finished_at for c in albums)
        wall = (task.finished_at - first_child).total_seconds()
        busy = sum((c.finished_at - c.started_at).total_seconds() for c in albums)
        result = task.details.get("result", {})
        analysed = result.get("tracks_analyzed", 0)
        print(f"{task.status}: {task.message}")
        print(f"{analysed} tracks in {wall:.0f} s: {analysed / wall:.2f} tracks/s end to end "
              f"({workers} analysis workers; listing albums before the first job not counted: "
              f"{(first_child - task.started_at).total_seconds():.1f} s)")
        # Where the wall time went: album jobs busy on the workers, workers idle while
        # the last albums finish (few, uneven albums leave one worker alone at the end),
        # and the parent's final work after the last album (index update, bookkeeping).
        print(f"album jobs busy {busy:.0f} s of {workers} x {wall:.0f} s "
              f"({100 * busy / (workers * wall):.0f}% worker utilisation); "
              f"while busy: {analysed / (busy / workers):.2f} tracks/s; "
              f"after the last album: {(task.finished_at - last_child).total_seconds():.1f} s")
        slowest = max(albums, key=lambda c: c.finished_at)
        print(f"last album to finish: {slowest.args.get('album_name')!r}, "
              f"{(slowest.finished_at - slowest.started_at).total_seconds():.0f} s")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        queues.redis_connection().flushdb()


if __name__ == "__main__":
    main()
