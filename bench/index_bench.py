"""Recall and memory of the similarity index at the shipped settings.

    python bench/index_bench.py recall [--cache .cache/quality] [--queries 1000]
    python bench/index_bench.py size --tracks 100000 [--dim 400]

recall: real MusiCNN vectors (the per-patch MSD dense + MTT penultimate outputs
that bench/quality.py cached, each patch standing in for a track), standardized
as the index does; recall@10 of Voyager against exact cosine search, for
several query ef values.
size: synthetic clustered vectors of the track dimension; build time, the
index's serialized size and the process's peak RSS.
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import voyager  # noqa: E402

from analysis.standardize import Standardization  # noqa: E402
from similarity.index import EF_CONSTRUCTION, EF_SEARCH, M  # noqa: E402


def _build(vectors: np.ndarray) -> voyager.Index:
    index = voyager.Index(voyager.Space.Cosine, num_dimensions=vectors.shape[1], M=M, ef_construction=EF_CONSTRUCTION)
    for start in range(0, len(vectors), 5000):
        index.add_items(vectors[start:start + 5000], np.arange(start, min(start + 5000, len(vectors))))
    return index


def recall(cache: Path, queries: int) -> None:
    parts = []
    for file in sorted(cache.glob("*.npz")):
        data = np.load(file)
        parts.append(np.concatenate([data["msd.dense"], data["mtt.penultimate"]], axis=1).astype(np.float32))
    vectors = np.concatenate(parts)
    vectors = Standardization.fit(vectors).apply(vectors)
    started = time.perf_counter()
    index = _build(vectors)
    print(f"{len(vectors)} real vectors ({vectors.shape[1]}-d), M={M}, ef_construction={EF_CONSTRUCTION}: "
          f"built in {time.perf_counter() - started:.1f} s")
    picks = np.random.default_rng(0).choice(len(vectors), size=min(queries, len(vectors)), replace=False)
    exact = np.argsort(-(vectors[picks] @ vectors.T), axis=1)[:, :10]
    for ef in (10, 20, 50, EF_SEARCH, 200):
        hits, started = 0, time.perf_counter()
        for row, pick in enumerate(picks):
            found, _ = index.query(vectors[pick], k=10, query_ef=max(ef, 10))
            hits += len(set(found.tolist()) & set(exact[row].tolist()))
        per_query = (time.perf_counter() - started) / len(picks) * 1000
        print(f"  query ef={ef}: recall@10 {hits / (10 * len(picks)):.4f}, {per_query:.2f} ms per query")


def size(tracks: int, dim: int) -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 1, (500, dim)).astype(np.float32)
    vectors = centres[rng.integers(0, 500, tracks)] + rng.normal(0, 0.5, (tracks, dim)).astype(np.float32)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    index = _build(vectors)
    built = time.perf_counter() - started
    blob = len(index.as_bytes())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{tracks} x {dim}-d, M={M}: build {built:.0f} s, serialized {blob / 2**20:.0f} MiB, "
          f"peak RSS {peak:.0f} MiB ({before:.0f} MiB before the build, vectors included)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    r = commands.add_parser("recall")
    r.add_argument("--cache", type=Path, default=Path(".cache/quality"))
    r.add_argument("--queries", type=int, default=1000)
    s = commands.add_parser("size")
    s.add_argument("--tracks", type=int, default=100_000)
    s.add_argument("--dim", type=int, default=400)
    options = parser.parse_args()
    if options.command == "recall":
        recall(options.cache, options.queries)
    else:
        size(options.tracks, options.dim)


if __name__ == "__main__":
    main()
