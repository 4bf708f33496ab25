"""What keeping old vectors serving costs the similarity index (similarity.index, issue 16).

    python bench/index_serving.py [--tracks 100000] [--replaced 100] [--repeats 3]

Fills a scratch database with --tracks 400-d embeddings (bench.feature_api.fill)
and times, each the median of --repeats:

- build (once): a full build (what taking replaced vectors in, or a model switch, costs);
- update, nothing new: a periodic update with no new, removed or replaced vector,
  split into its index load and the rest (the track ids and the written-since read);
- update, N replaced: the same after --replaced tracks got a new vector (one
  analysis interval's worth), which are read and compared with the index (no
  new version is stored for them), and again with 95% of REBUILD_REPLACED_SHARE
  of the tracks replaced, the most a periodic update reads;
- update, all rows new: the one-off first update after migration 0009 (every row
  counts as just written, so every vector is compared);
- during a model move (half the tracks with a vector of the next model): the
  anti-join that counts the tracks the switch waits for, served_model() (one
  per feature request), and deleting the old model's rows at the switch.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def timed(action, repeats: int) -> float:
    """Median seconds of `repeats` calls of `action` (the same state each time where it matters)."""
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def replace_vectors(count: int) -> None:
    """New values, written now, for `count` tracks: what save_analysis leaves after a re-analysis."""
    from sqlalchemy import text
    from db.session import engine
    with engine().begin() as connection:
        connection.execute(text("UPDATE embedding SET vector = overlay(vector placing '\\x00000000'::bytea from 1), "
                                "created_at = now() WHERE track_id IN (SELECT track_id FROM embedding "
                                "ORDER BY random() LIMIT :n)"), {"n": count})


def run(options) -> None:
    import runtime
    from bench.feature_api import fill
    from db import embeddings
    from db.session import engine
    from similarity import index as track_index
    from sqlalchemy import text
    runtime.init()
    fill(options.tracks, options.tracks)
    with engine().begin() as connection:   # written long ago: the updates below read only what they change
        connection.execute(text("UPDATE embedding SET created_at = now() - interval '1 hour'"))
    model = track_index.VECTOR_MODEL
    print(f"{options.tracks} tracks, 400-d, median of {options.repeats}")

    print(f"build: {timed(lambda: track_index.update(rebuild=True), 1):.1f} s")
    print(f"index load alone: {timed(track_index.load, options.repeats):.2f} s")
    print(f"update, nothing new: {timed(track_index.update, options.repeats):.2f} s")

    replace_vectors(options.replaced)
    print(f"update, {options.replaced} replaced vectors pending: {timed(track_index.update, options.repeats):.2f} s")
    pending = int(options.tracks * track_index.REBUILD_REPLACED_SHARE * 0.95)
    replace_vectors(pending - options.replaced)
    print(f"update, about {pending} replaced vectors pending (just under the rebuild share): "
          f"{timed(track_index.update, options.repeats):.2f} s")

    def everything_new():
        with engine().begin() as connection:
            connection.execute(text("UPDATE embedding SET created_at = now()"))
        index = track_index.load()
        started = time.perf_counter()
        track_index._count_replaced(index, set(index.live_ids().tolist()))
        return time.perf_counter() - started
    print(f"first update after the migration, comparing every vector: {everything_new():.1f} s "
          "(the comparison alone)")

    with engine().begin() as connection:
        connection.execute(text("INSERT INTO embedding (track_id, model, dim, vector) SELECT track_id, 'next', dim, "
                                "vector FROM embedding WHERE track_id % 2 = 0"))
        connection.execute(text("ANALYZE embedding"))
    print(f"tracks awaiting the switch (anti-join): "
          f"{timed(lambda: embeddings.count_lacking(model, 'next'), options.repeats) * 1000:.0f} ms")
    print(f"served_model(): {timed(track_index.served_model, 100) * 1000:.2f} ms")
    print(f"deleting the old model's rows at the switch ({options.tracks // 2}): "
          f"{timed(lambda: embeddings.delete_other_models(model), 1):.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--replaced", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    from bench.scratch import scratch_database
    with scratch_database("sonarium_index_serving") as url, tempfile.TemporaryDirectory() as data_dir:
        os.environ.update(DATABASE_URL=url, REDIS_URL="redis://127.0.0.1:6379/12", MEDIASERVER_TYPE="local",
                          MUSIC_DIR=data_dir, SONARIUM_DATA_DIR=data_dir, LOG_LEVEL="WARNING")
        run(options)


if __name__ == "__main__":
    main()
