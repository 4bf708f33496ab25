"""Automatic playlists: how well they follow a labelled corpus, and how fast the search runs.

    python bench/clustering.py quality CORPUS [--cache DIR] [--seeds 3] [--preset quick] [--measures N]
    python bench/clustering.py speed [--corpus CORPUS] [--tracks 10000 100000] [--workers 2]

quality: CORPUS holds manifest.csv (`group`, `path`), as
shared/corpus/build_dev_corpus.sh writes; its groups (sources) are the ground
truth.  Each file is analysed once by the real pipeline (analysis.features,
default depth) and what clustering needs (vector, tags, moods, tempo, energy)
cached in --cache under bench/feature_quality.py's cache key; titles and
artists come from the tags as the local provider reads them.  The vectors are
standardized and L2-normalised as a clustering snapshot is.  Then, for each
seed 0..--seeds-1:

- the search: the preset's generations of runs (`next_configs`, `run`,
  `best_runs`, in this process, as tasks/clustering.py runs them in batch
  jobs), then `solve`, `build` and `plain_names` with the library's default
  sizes and no artist cap (two sources here are one artist each: a cap would
  measure the corpus, not the clustering);
- one KMeans (k-means++, 10 starts) with k = the search's playlist count, its
  clusters taken as they are, and passed through the same `build`;
- a random partition into as many groups, through the same `build`.

Figures: weighted majority-source share (each playlist's largest source, summed,
over the tracks placed), coverage (share of the corpus placed), adjusted mutual
information between sources and playlists over the placed tracks; means over
the seeds.  --measures N also runs N random configs, each through solve and
build, and prints how each normalised measure of the score ranks them against
those figures (Spearman), and what the five best configs by each weighting
give: the evidence behind config.CLUSTER_SCORE_WEIGHTS.

speed: synthetic libraries of --tracks tracks made by resampling the corpus
analysis (vectors, tags, moods) with noise, or plain Gaussian blobs without
--corpus; runs/s per algorithm (one process, one thread), then the quick
preset's whole search with --workers processes running the batches (each
started fresh and loading the library from its snapshot bytes once, as a batch
job loads the blob; a job would load it per batch), solve and build in the
parent; wall times and peak RSS of the parent and each worker.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analysis.standardize import Standardization  # noqa: E402
from db.features import TrackFeatures  # noqa: E402
from config import CLUSTER_SCORE_WEIGHTS  # noqa: E402
from db.models import MOOD_COLUMNS  # noqa: E402
from similarity import cluster_playlists, cluster_scoring, clustering  # noqa: E402


# ---------------------------------------------------------------------------
# the corpus

def track_analysis(path: Path, cache: Path) -> dict[str, np.ndarray]:
    """What the benches need of one analysed file (raw vector, its first and last seconds' vectors and
    energy, tags, moods, tempo, key, scale, energy), cached."""
    from analysis import features
    from bench.feature_quality import cache_key
    cached = cache / f"clustering-{cache_key(path, 'clustering-3')}.npz"
    if cached.exists():
        with np.load(cached) as stored:
            return dict(stored)
    result = features.analyze_file(path)
    data = {"vector": result.vector, "msd": result.msd_tags, "mtt": result.mtt_tags,
            "moods": np.array([result.moods[m] for m in MOOD_COLUMNS], np.float32),
            "tempo": np.float32(np.nan if result.tempo_bpm is None else result.tempo_bpm),
            "energy": np.float32(result.energy), "start": result.start_vector, "end": result.end_vector,
            "key": np.array(result.key or ""), "scale": np.array(result.scale or ""),
            "start_energy": np.float32(result.start_energy), "end_energy": np.float32(result.end_energy)}
    np.savez(cached, **data)
    return data


def corpus_features(corpus: Path, cache: Path) -> tuple[TrackFeatures, np.ndarray]:
    """The corpus as a clustering snapshot (vectors standardized, unit length) and each track's source."""
    from bench.quality import read_manifest
    from mediaserver.local import read_tags
    cache.mkdir(parents=True, exist_ok=True)
    entries = read_manifest(corpus / "manifest.csv")
    analyses, titles, artists = [], [], []
    for number, (_, file) in enumerate(entries, 1):
        analyses.append(track_analysis(file, cache))
        tags = read_tags(file)
        titles.append(tags.get("title") or file.stem)
        artists.append(tags.get("artist") or "")
        print(f"\ranalysed {number}/{len(entries)}", end="", file=sys.stderr)
    print(file=sys.stderr)
    raw = np.stack([a["vector"] for a in analyses])
    features = TrackFeatures(
        ids=np.arange(1, len(entries) + 1, dtype=np.int64),
        vectors=Standardization.fit(raw).apply(raw, normalize=True),
        msd=np.stack([a["msd"] for a in analyses]).astype(np.float32),
        mtt=np.stack([a["mtt"] for a in analyses]).astype(np.float32),
        moods=np.stack([a["moods"] for a in analyses]).astype(np.float32),
        tempo=np.array([a["tempo"] for a in analyses], np.float32),
        energy=np.array([a["energy"] for a in analyses], np.float32),
        artists=np.array(artists, dtype=str), titles=np.array(titles, dtype=str))
    return features, np.array([group for group, _ in entries])


# ---------------------------------------------------------------------------
# the search, as the task runs it

def peak_rss_kib() -> int:
    """This process's peak resident memory (KiB) since its program started.

    VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over exec, so a freshly started
    worker would report its parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _run_batch(batch: list[tuple[dict, int]], seed: int, space: clustering.SearchSpace) -> tuple[list[dict], int]:
    """One batch job: its runs' outcomes, and this process's peak RSS (KiB)."""
    outcomes = [clustering.run(_WORKER_FEATURES, config, number, seed, space=space) for config, number in batch]
    return outcomes, peak_rss_kib()


_WORKER_FEATURES: TrackFeatures | None = None   # the library a worker process clusters


def _load_snapshot(snapshot: bytes) -> None:
    """A worker process's start: the library from its snapshot bytes, as a batch job loads it."""
    global _WORKER_FEATURES
    _WORKER_FEATURES = TrackFeatures.from_bytes(snapshot)


def search(features: TrackFeatures, space: clustering.SearchSpace, preset: dict[str, Any], seed: int,
           pool=None) -> tuple[list[dict], list[int]]:
    """Every run's outcome of one search, and the workers' peak RSS (KiB) seen.

    Generations of `batches_per_generation` batches of `batch_size` runs; elites = `best_runs`
    of everything so far; explore first, then exploit; stop at the run budget or after
    `patience` generations without a better best score.
    """
    global _WORKER_FEATURES
    if pool is None:
        _WORKER_FEATURES = features
    rng = np.random.default_rng(seed)
    outcomes: list[dict] = []
    elites: list[dict] = []
    best, stale, rss = clustering.FAILED_SCORE, 0, []
    while len(outcomes) < preset["runs"] and stale < preset["patience"]:
        count = min(preset["batch_size"] * preset["batches_per_generation"], preset["runs"] - len(outcomes))
        exploit = len(outcomes) >= preset["explore_share"] * preset["runs"]
        configs = clustering.next_configs(space, elites, count, rng, exploit)
        numbered = list(zip(configs, range(len(outcomes), len(outcomes) + count)))
        batches = [numbered[i:i + preset["batch_size"]] for i in range(0, count, preset["batch_size"])]
        if pool is None:
            results = [_run_batch(batch, seed, space) for batch in batches]
        else:
            results = pool.starmap(_run_batch, [(batch, seed, space) for batch in batches], chunksize=1)
        for batch_outcomes, peak in results:
            outcomes.extend(batch_outcomes)
            rss.append(peak)
        elites = clustering.best_runs(elites + [o for r in results for o in r[0]], preset["elites"])
        if elites and elites[0]["score"] > best + 1e-9:
            best, stale = elites[0]["score"], 0
        else:
            stale += 1
    return outcomes, rss


def playlists(features: TrackFeatures, labels: np.ndarray, space: clustering.SearchSpace, seed: int,
              max_per_artist: int | None) -> list[cluster_playlists.Draft]:
    return cluster_playlists.build(features, labels, min_size=space.min_size, max_size=space.max_size,
                                   playlists=space.playlists, max_per_artist=max_per_artist, seed=seed)


# ---------------------------------------------------------------------------
# quality

def agreement(groups: list[np.ndarray], sources: np.ndarray) -> dict[str, float]:
    """Weighted majority-source share, coverage and AMI of `groups` (row arrays) against `sources`."""
    from sklearn.metrics import adjusted_mutual_info_score
    placed = np.concatenate(groups) if groups else np.zeros(0, np.int64)
    majority = sum(Counter(sources[rows]).most_common(1)[0][1] for rows in groups)
    which = np.concatenate([np.full(rows.size, i) for i, rows in enumerate(groups)]) if groups else placed
    return {"majority": majority / max(placed.size, 1), "coverage": placed.size / sources.size,
            "ami": float(adjusted_mutual_info_score(sources[placed], which)) if placed.size else 0.0,
            "playlists": len(groups)}


def _rows(features: TrackFeatures, drafts: list[cluster_playlists.Draft]) -> list[np.ndarray]:
    row_of = {int(track_id): row for row, track_id in enumerate(features.ids)}
    return [np.array([row_of[t] for t in d.track_ids]) for d in drafts]


def quality(options) -> None:
    from sklearn.cluster import KMeans
    started = time.perf_counter()
    features, sources = corpus_features(options.corpus.resolve(), options.cache)
    space = clustering.search_space(len(features))
    preset = clustering.PRESETS[options.preset]
    print(f"{len(features)} tracks, {len(set(sources))} sources; space: k {space.k_range}, sizes "
          f"{space.min_size}-{space.max_size}, {space.playlists} playlists; preset {options.preset} {preset}")
    rows: dict[str, list[dict[str, float]]] = {}
    for seed in range(options.seeds):
        began = time.perf_counter()
        outcomes, _ = search(features, space, preset, seed)
        best = clustering.best_runs(outcomes, 1)[0]
        labels = clustering.solve(features, best["config"], seed)
        drafts = playlists(features, labels, space, seed, None)
        seconds = time.perf_counter() - began
        found = agreement(_rows(features, drafts), sources)
        rows.setdefault(f"search ({options.preset} preset) + build", []).append(found)
        k = max(found["playlists"], 2)
        kmeans = KMeans(k, n_init=10, random_state=seed).fit(features.vectors).labels_
        rows.setdefault("one KMeans, k = playlists, clusters as they are", []).append(
            agreement([np.flatnonzero(kmeans == c) for c in range(k)], sources))
        rows.setdefault("one KMeans, k = playlists, + build", []).append(
            agreement(_rows(features, playlists(features, kmeans, space, seed, None)), sources))
        shuffled = np.random.default_rng(seed).permutation(len(features)) % k
        rows.setdefault("random partition into as many, + build", []).append(
            agreement(_rows(features, playlists(features, shuffled, space, seed, None)), sources))
        print(f"seed {seed}: {len(outcomes)} runs, {seconds:.1f} s; best run {best['run']} score {best['score']:.3f} "
              f"{best['config']} ({best['clusters']} clusters); playlists {found['playlists']}, majority "
              f"{found['majority']:.3f}, coverage {found['coverage']:.3f}, AMI {found['ami']:.3f}")
        if seed == 0:
            for name, draft, group in zip(cluster_playlists.plain_names([d.profile for d in drafts]), drafts,
                                          _rows(features, drafts)):
                mix = ", ".join(f"{source} {count}" for source, count in Counter(sources[group]).most_common())
                print(f"    {name} ({len(group)}): {mix}")
    print(f"\n| method ({options.seeds} seeds, means) | playlists | weighted majority-source share | coverage | AMI |\n"
          "|---|---|---|---|---|")
    for method, results in rows.items():
        mean = {key: np.mean([r[key] for r in results]) for key in results[0]}
        print(f"| {method} | {mean['playlists']:.1f} | {mean['majority']:.3f} | {mean['coverage']:.3f} | "
              f"{mean['ami']:.3f} |")
    if options.measures:
        measures(features, sources, space, options.measures)
    print(f"\nrun time {time.perf_counter() - started:.0f} s")


_WEIGHTINGS = {
    "config.CLUSTER_SCORE_WEIGHTS": CLUSTER_SCORE_WEIGHTS,
    "silhouette only": {"silhouette": 1.0},
    "purity + diversity only": {"purity": 1.0, "diversity": 1.0},
    "no Davies-Bouldin": {**CLUSTER_SCORE_WEIGHTS, "davies_bouldin": 0.0},
    "Calinski-Harabasz 0.5": {**CLUSTER_SCORE_WEIGHTS, "calinski_harabasz": 0.5},
}


def measures(features: TrackFeatures, sources: np.ndarray, space: clustering.SearchSpace, count: int) -> None:
    """Each measure's Spearman correlation with the playlists' agreement over `count` random configs."""
    from scipy.stats import spearmanr
    rng = np.random.default_rng(0)
    found = []
    for number, config in enumerate(clustering.next_configs(space, [], count, rng, False)):
        outcome = clustering.run(features, config, number, 0, space=space)
        if "failed" in outcome:
            continue
        labels = clustering.solve(features, config, 0)
        values = {m: outcome["breakdown"][m]["normalised"] for m in cluster_scoring.MEASURES}
        values["placeable_share"] = outcome["breakdown"]["placeable_share"]
        found.append((values, agreement(_rows(features, playlists(features, labels, space, 0, None)), sources)))
    print(f"\n{len(found)} random configs that clustered, each solved and built; Spearman correlation with:\n\n"
          "| measure (normalised) | majority share | coverage | AMI |\n|---|---|---|---|")
    for measure in (*cluster_scoring.MEASURES, "placeable_share"):
        mine = [values[measure] for values, _ in found]
        print(f"| {measure} | " + " | ".join(f"{spearmanr(mine, [a[key] for _, a in found])[0]:.2f}"
                                             for key in ("majority", "coverage", "ami")) + " |")
    print("\n| weighting (x placeable share) | the 5 best configs: majority share | coverage | AMI |\n|---|---|---|---|")
    for name, weights in _WEIGHTINGS.items():
        def total(values: dict) -> float:
            return values["placeable_share"] * sum(w * values[m] for m, w in weights.items())
        best = sorted(found, key=lambda pair: total(pair[0]), reverse=True)[:5]
        print(f"| {name} | " + " | ".join(f"{np.mean([a[key] for _, a in best]):.3f}"
                                          for key in ("majority", "coverage", "ami")) + " |")


# ---------------------------------------------------------------------------
# speed

def synthetic_library(n: int, corpus: TrackFeatures | None, seed: int) -> TrackFeatures:
    """`n` tracks: corpus tracks drawn with replacement plus noise, or Gaussian blobs without a corpus."""
    rng = np.random.default_rng(seed)
    if corpus is not None:
        picks = rng.integers(0, len(corpus), n)
        spread = 0.5 * corpus.vectors.std(axis=0)
        raw = np.empty((n, corpus.vectors.shape[1]), np.float32)
        for start in range(0, n, 10_000):   # in blocks, so the noise never doubles the peak memory
            block = picks[start:start + 10_000]
            raw[start:start + block.size] = corpus.vectors[block] + spread * rng.standard_normal(
                (block.size, raw.shape[1]), dtype=np.float32)

        def noisy(values, scale):
            return np.clip(values[picks] + scale * rng.normal(size=values[picks].shape), 0, 1).astype(np.float32)
        msd, mtt, moods = noisy(corpus.msd, 0.05), noisy(corpus.mtt, 0.05), noisy(corpus.moods, 0.05)
        tempo = (corpus.tempo[picks] * rng.uniform(0.9, 1.1, n)).astype(np.float32)
        energy = noisy(corpus.energy, 0.05)
    else:
        centres = rng.normal(size=(200, clustering.VECTOR_DIMENSIONS)).astype(np.float32)
        raw = centres[rng.integers(0, 200, n)] + 1.5 * rng.standard_normal((n, centres.shape[1]), dtype=np.float32)
        msd = rng.beta(0.5, 4, size=(n, 50)).astype(np.float32)
        mtt = rng.beta(0.5, 4, size=(n, 50)).astype(np.float32)
        moods = rng.uniform(0, 1, size=(n, len(MOOD_COLUMNS))).astype(np.float32)
        tempo = rng.uniform(60, 180, n).astype(np.float32)
        energy = rng.uniform(0, 1, n).astype(np.float32)
    return TrackFeatures(ids=np.arange(1, n + 1, dtype=np.int64),
                         vectors=Standardization.fit(raw).apply(raw, normalize=True), msd=msd, mtt=mtt,
                         moods=moods, tempo=tempo, energy=energy,
                         artists=np.array([f"artist {i}" for i in rng.integers(0, max(n // 12, 1), n)]),
                         titles=np.array([f"title {i}" for i in range(n)]))


def _mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def speed(options) -> None:
    corpus = corpus_features(options.corpus.resolve(), options.cache)[0] if options.corpus else None
    source = "corpus vectors resampled with noise" if corpus is not None else "Gaussian blobs"
    print(f"libraries: {source}; load average {os.getloadavg()[0]:.2f} at start")
    for n in options.tracks:
        features = synthetic_library(n, corpus, 0)
        snapshot = features.to_bytes()
        space = clustering.search_space(n)
        print(f"\n## {n} tracks: sample {space.sample_size}, k {space.k_range}, sizes {space.min_size}-"
              f"{space.max_size}, {space.playlists} playlists; snapshot {len(snapshot) / 2**20:.0f} MiB; this "
              f"process's peak so far (making the libraries and snapshots) {_mib(peak_rss_kib())}")
        print("\n| algorithm | runs | seconds per run (mean) | slowest run | runs/s (one process) |\n|---|---|---|---|---|")
        rng = np.random.default_rng(0)
        for algorithm in space.algorithms:
            configs = clustering.next_configs(clustering.search_space(n, algorithms=(algorithm,)), [],
                                              options.runs, rng, False)
            times = [clustering.run(features, c, i, 0, space=space)["seconds"] for i, c in enumerate(configs)]
            print(f"| {algorithm} | {len(times)} | {np.mean(times):.2f} | {max(times):.2f} | {1 / np.mean(times):.2f} |")
        print(f"\n| quick preset, {options.workers} workers | runs | search | solve | build | total | "
              "peak RSS parent | peak RSS per worker |\n|---|---|---|---|---|---|---|---|")
        for algorithms in (("kmeans",), ("gmm",), clustering.ALGORITHMS):
            whole_space = clustering.search_space(n, algorithms=algorithms)
            began = time.perf_counter()
            with multiprocessing.get_context("spawn").Pool(options.workers, initializer=_load_snapshot,
                                                           initargs=(snapshot,)) as pool:
                outcomes, rss = search(features, whole_space, clustering.PRESETS["quick"], 0, pool)
            searched = time.perf_counter()
            best = clustering.best_runs(outcomes, 1)[0]
            labels = clustering.solve(features, best["config"], 0)
            solved = time.perf_counter()
            drafts = playlists(features, labels, whole_space, 0, 3)
            cluster_playlists.plain_names([d.profile for d in drafts])
            built = time.perf_counter()
            print(f"| {'+'.join(algorithms)} | {len(outcomes)} | {searched - began:.0f} s | {solved - searched:.1f} s | "
                  f"{built - solved:.1f} s | {built - began:.0f} s | "
                  f"{_mib(peak_rss_kib())} | {_mib(max(rss))} |")
            print(f"best: {best['config']} score {best['score']:.3f}; {len(drafts)} playlists, sizes "
                  f"{min(len(d.track_ids) for d in drafts)}-{max(len(d.track_ids) for d in drafts)}; load average "
                  f"{os.getloadavg()[0]:.2f}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    measure = commands.add_parser("quality", help="the search against one KMeans and a random partition")
    measure.add_argument("corpus", type=Path)
    measure.add_argument("--seeds", type=int, default=3)
    measure.add_argument("--preset", choices=sorted(clustering.PRESETS), default=clustering.DEFAULT_PRESET)
    measure.add_argument("--measures", type=int, default=0, metavar="N",
                         help="also rank N random configs by each measure against the sources")
    timing = commands.add_parser("speed", help="runs/s per algorithm and the quick preset's wall time")
    timing.add_argument("--corpus", type=Path, help="resample this corpus's analysis (else Gaussian blobs)")
    timing.add_argument("--tracks", type=int, nargs="+", default=[10_000, 100_000])
    timing.add_argument("--runs", type=int, default=6, help="runs timed per algorithm")
    timing.add_argument("--workers", type=int, default=2)
    for command in (measure, timing):
        command.add_argument("--cache", type=Path, default=Path(".cache/quality"))
    options = parser.parse_args()
    quality(options) if options.command == "quality" else speed(options)


if __name__ == "__main__":
    main()
