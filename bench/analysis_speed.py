"""Analysis speed and memory on a folder of audio files.

    python bench/analysis_speed.py DIR [--depth fast|balanced|full] [--workers 2] [--limit N] [--save FILE]
                                       [--precision auto|float32]

Runs `analyze_file` on every audio file under DIR in --workers separate
processes (one inference thread each, like the RQ workers), and reports
tracks/s for the machine, wall seconds per minute of audio, the time per
track of each stage (decode, mel, msd, mtt, tempo, key, energy), and each
worker's peak RSS.  --precision is ANALYSIS_PRECISION for the workers (the
inference runtime that ran is printed).  Model loading happens once per worker, before timing.
--save writes each track's features (the CLI's JSON) as JSON lines, for
bench/moods_by_group.py.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _work(args):
    files, depth, warm_up, precision = args
    os.environ["ANALYSIS_THREADS"] = "1"
    os.environ["ANALYSIS_PRECISION"] = precision
    # As the launcher sets it for the workers (before librosa is imported).
    os.environ.setdefault("LIBROSA_CACHE_DIR", os.path.join(tempfile.gettempdir(), "sonarium-bench-librosa"))
    from analysis import musicnn
    from analysis.decode import DecodeError
    from analysis.features import analyze_file
    musicnn.session("msd"), musicnn.session("mtt")
    analyze_file(warm_up, depth)  # first-call costs (numba, allocations) are not per-track costs
    started, cpu_started = time.time(), time.process_time()
    rows, failures = [], []
    for file in files:
        try:
            result = analyze_file(file, depth)
            rows.append((result.duration, result.timings, result.to_json()))
        except DecodeError as error:
            failures.append(f"{file}: {error}")
    return (rows, failures, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, started, time.time(),
            time.process_time() - cpu_started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--depth", choices=("fast", "balanced", "full"), default="fast")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0, help="at most N files (0: all)")
    parser.add_argument("--precision", choices=("auto", "float32"), default="auto")
    parser.add_argument("--save", type=Path, help="write each track's features here (JSON lines)")
    options = parser.parse_args()
    from analysis.decode import AUDIO_EXTENSIONS
    files = sorted(str(p) for p in options.folder.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS)
    if options.limit:
        files = files[:options.limit]
    if not files:
        sys.exit(f"no audio files under {options.folder}")
    shares = [(files[i::options.workers], options.depth, files[0], options.precision) for i in range(options.workers)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(options.workers) as pool:
        results = pool.map(_work, shares, chunksize=1)
    # Wall clock from the first worker ready (models loaded, warmed up) to the last one done.
    wall_tracks = max(part[4] for part in results) - min(part[3] for part in results)
    rows = [row for part in results for row in part[0]]
    failures = [f for part in results for f in part[1]]
    stages: dict[str, float] = defaultdict(float)
    for _, timings, _ in rows:
        for stage, seconds in timings.items():
            stages[stage] += seconds
    busy = sum(stages.values())
    per_track = busy / len(rows)
    audio_minutes = sum(row[0] for row in rows) / 60
    print(f"{len(rows)} tracks ({audio_minutes:.0f} min of audio, mean {audio_minutes / len(rows) * 60:.0f} s), "
          f"depth {options.depth}, {options.workers} worker(s), {len(failures)} failed, inference "
          + "/".join(sorted({row[2]["inference"] for row in rows})))
    print(f"throughput: {len(rows) / wall_tracks:.2f} tracks/s; {wall_tracks / audio_minutes:.3f} wall s per "
          f"audio minute; {per_track:.3f} s of one worker per track")
    print("per track: " + ", ".join(f"{stage} {seconds / len(rows) * 1000:.0f} ms"
                                     for stage, seconds in stages.items()))
    # CPU time does not count waiting for a core: on a shared machine it still shows the work per track.
    cpu = sum(part[5] for part in results) / len(rows)
    print(f"CPU time per track: {cpu:.3f} s (all of a worker's threads)")
    print("peak RSS per worker: " + ", ".join(f"{part[2]:.0f} MiB" for part in results))
    for failure in failures:
        print("failed:", failure)
    if options.save:
        with options.save.open("w") as out:
            for row in rows:
                out.write(json.dumps(row[2]) + "\n")


if __name__ == "__main__":
    main()
