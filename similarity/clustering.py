"""The automatic playlists' search: which clustering of the library makes the best playlists.

A search is many runs.  A run (`run`) takes a config (an algorithm and its
parameters, a JSON-able dict), clusters the run's sample of the library with
it and scores the result (similarity.cluster_scoring).  The task behind it
(tasks/clustering.py) asks `next_configs` for the next generation of configs
(random ones, or mutations of the best so far), hands them to batch jobs,
keeps the best runs as elites, and finally calls `solve` to cluster the whole
library with the winner and cluster_playlists.build to make the playlists.

Configs (every value mutates; all stay inside the `SearchSpace`):

- ``{"algorithm": "kmeans", "k": 14, "pca": 0}``: k-means++ (MiniBatchKMeans
  on samples of MINIBATCH_FROM tracks or more).
- ``{"algorithm": "gmm", "k": 20, "covariance": "diag", "pca": 32}``: a
  Gaussian mixture, diagonal or spherical covariances.
- ``{"algorithm": "dbscan", "eps": 0.8, "min_samples": 6, "pca": 16}``: eps is
  a multiple of the sample's median distance from a track to its
  min_samples-th nearest neighbour, so one value means the same density with
  or without PCA and at any library size; its noise stays unplaced.
- ``{"algorithm": "spectral", "k": 12, "neighbours": 15, "pca": 32}``: on a
  nearest-neighbour graph; only while the sample is at most SPECTRAL_MAX_TRACKS.

"pca" is the number of principal components kept (0: the vectors as they
are).  The vectors are the snapshot's standardized unit vectors, so
Euclidean distance is a monotone function of cosine distance.

Runs are deterministic for (features, config, run_number, seed): the sample
comes from (seed, run_number), the fit's random state from (seed, config), and
each run is held to one thread (the machine runs one worker per core; more
threads would only contend).
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
import warnings
import zlib
from typing import Any, Mapping, Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from analysis.vectors import VECTOR_LAYERS
from config import CLUSTER_SCORE_WEIGHTS
from db.features import TrackFeatures
from similarity import cluster_playlists, cluster_scoring

ALGORITHMS = ("kmeans", "gmm", "dbscan", "spectral")

# The search's budgets; the clustering task reads them.  A generation is
# `batches_per_generation` batch jobs of `batch_size` runs each; the elites
# are updated after each generation; the search stops after `runs` runs, or
# after `patience` generations in a row without a better best run.
# `explore_share` of the runs draw random configs before mutating elites
# starts (next_configs(..., exploit=True)).
PRESETS: dict[str, dict[str, Any]] = {
    "quick": {"runs": 120, "batch_size": 10, "batches_per_generation": 2, "patience": 3, "elites": 8,
              "explore_share": 0.25},
    "thorough": {"runs": 600, "batch_size": 20, "batches_per_generation": 4, "patience": 5, "elites": 10,
                 "explore_share": 0.2},
}
DEFAULT_PRESET = "quick"

SAMPLE_TRACKS = 5000          # a run clusters at most this many tracks (measured in docs/PERFORMANCE.md)
ROTATE_SHARE = 0.2            # share of each run's sample replaced by the next run's
SPECTRAL_MAX_TRACKS = 5000    # spectral's eigenproblem grows fast with the sample: offered up to here
MINIBATCH_FROM = 4000         # k-means on this many sample tracks or more uses MiniBatchKMeans
PCA_CHOICES = (0, 8, 16, 32, 64, 128)
MIN_SAMPLE_CLUSTER = 5        # no run may make clusters smaller than this on average, in sample tracks
SPLIT_FROM = 10               # runs score max_size parts when max_size is this many sample tracks or more
EXPLOIT_PROBABILITY = 0.7     # when exploiting, the share of configs mutated from an elite (the reference's)
MUTATE_EACH = 0.5             # chance of each parameter of a mutated config to change (one always does)
SWITCH_ALGORITHM = 0.1        # chance that a mutation moves to another algorithm, keeping k and pca
FAILED_SCORE = -100.0         # below any real score: normalised measures are clipped to -1..1
_EPS_RANGE = (0.5, 1.3)       # DBSCAN eps, in median min_samples-th neighbour distances
_MIN_SAMPLES_RANGE = (3, 12)
_NEIGHBOURS_RANGE = (6, 30)   # spectral's nearest-neighbour graph
_COVARIANCES = ("diag", "spherical")
_GMM_REG = 1e-3               # added to GMM variances, as a share of the data's mean variance
_ASSIGN_BLOCK = 20_000        # tracks assigned to clusters at once by `solve` (bounds its memory)
VECTOR_DIMENSIONS = 200 * len(VECTOR_LAYERS)   # each MusiCNN layer in a track vector has 200 units


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """What a search may try on a library of `n_tracks`, and the playlists it aims at."""

    n_tracks: int
    algorithms: tuple[str, ...]
    min_size: int                  # songs, smallest playlist kept
    max_size: int                  # songs, larger clusters are split
    playlists: int                 # playlists wanted
    k_range: tuple[int, int]       # clusters, inclusive
    pca_choices: tuple[int, ...]   # principal components kept (0: none)
    sample_size: int               # tracks a run clusters
    min_cluster: int               # tracks of a run's sample: k stays low enough for clusters this big on average
    eps_range: tuple[float, float] = _EPS_RANGE
    min_samples_range: tuple[int, int] = _MIN_SAMPLES_RANGE
    neighbours_range: tuple[int, int] = _NEIGHBOURS_RANGE

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def default_sizes(n_tracks: int) -> tuple[int, int, int]:
    """Playlist sizes and count for a library of `n_tracks`: (min_size, max_size, playlists).

    Both sizes grow with the square root of the library (170 tracks: 8-30 songs; 2,000 or more:
    20-100), the count as a power law through 6 playlists for 170 tracks and 100 for 300,000.
    """
    min_size = int(np.clip(round(0.6 * math.sqrt(n_tracks)), 5, 20))
    max_size = int(np.clip(round(2.3 * math.sqrt(n_tracks)), 2 * min_size, 100))
    playlists = int(np.clip(round(0.87 * n_tracks ** 0.376), 2, 100))
    return min_size, max_size, playlists


def sample_size(n_tracks: int) -> int:
    """Tracks one run clusters: the whole library up to SAMPLE_TRACKS."""
    return min(n_tracks, SAMPLE_TRACKS)


def search_space(n_tracks: int, *, algorithms: Sequence[str] = ALGORITHMS, min_size: int | None = None,
                 max_size: int | None = None, playlists: int | None = None,
                 dimensions: int = VECTOR_DIMENSIONS) -> SearchSpace:
    """The ranges a search explores on a library of `n_tracks`.

    Parameters
    ----------
    n_tracks : int
        Analysed tracks in the library.
    algorithms : sequence of str
        Algorithms to try, from ALGORITHMS; spectral is left out when the sample is larger than
        SPECTRAL_MAX_TRACKS.
    min_size, max_size : int, optional
        Smallest and largest playlist, in songs; default: `default_sizes`.
    playlists : int, optional
        Playlists wanted; default: `default_sizes`, at most n_tracks // min_size.
    dimensions : int
        Of the track vectors; PCA keeps fewer components than this.

    Returns
    -------
    SearchSpace
        k runs from the playlists wanted (fewer when that many would average less than max_size
        songs) to three times as many, never so high that clusters would hold fewer than min_size
        songs on average (nor MIN_SAMPLE_CLUSTER sample tracks).

    Raises
    ------
    ValueError
        With a message for the user: the library is too small for two playlists of min_size,
        a size or count is out of range, or no algorithm is left.
    """
    default_min, default_max, default_count = default_sizes(max(n_tracks, 1))
    min_size = default_min if min_size is None else int(min_size)
    max_size = max(default_max, 2 * min_size) if max_size is None else int(max_size)
    if min_size < 2:
        raise ValueError("min_size must be at least 2 songs")
    if max_size < min_size:
        raise ValueError(f"max_size ({max_size}) must be at least min_size ({min_size})")
    if n_tracks < 2 * min_size:
        raise ValueError(f"{n_tracks} analysed tracks are too few for automatic playlists: two playlists of "
                         f"at least {min_size} songs need {2 * min_size} (analyse more music, or lower min_size)")
    if playlists is not None and int(playlists) < 1:
        raise ValueError("playlists must be at least 1")
    unknown = sorted(set(algorithms) - set(ALGORITHMS))
    if unknown or not algorithms:
        raise ValueError(f"unknown algorithms {unknown}: choose from " + ", ".join(ALGORITHMS))
    sample = sample_size(n_tracks)
    chosen = tuple(a for a in ALGORITHMS if a in algorithms and (a != "spectral" or sample <= SPECTRAL_MAX_TRACKS))
    if not chosen:
        raise ValueError(f"spectral clustering is offered for samples of at most {SPECTRAL_MAX_TRACKS} tracks; "
                         f"this library's runs cluster {sample}: choose another algorithm")
    min_cluster = max(2, min(MIN_SAMPLE_CLUSTER, min_size), round(min_size * sample / n_tracks))
    k_cap = max(2, min(n_tracks // min_size, sample // min_cluster))
    count = min(default_count if playlists is None else int(playlists), n_tracks // min_size)
    k_low = min(k_cap, max(2, min(count, math.ceil(n_tracks / max_size))))
    k_high = min(k_cap, max(k_low, 3 * count))
    pca = tuple(c for c in PCA_CHOICES if c < min(sample, dimensions))
    return SearchSpace(n_tracks=n_tracks, algorithms=chosen, min_size=min_size, max_size=max_size,
                       playlists=max(1, count), k_range=(k_low, k_high), pca_choices=pca or (0,),
                       sample_size=sample, min_cluster=min_cluster,
                       min_samples_range=(_MIN_SAMPLES_RANGE[0], max(_MIN_SAMPLES_RANGE[0],
                                                                     min(_MIN_SAMPLES_RANGE[1], min_cluster + 2))))


# ---------------------------------------------------------------------------
# configs

def _log_uniform_int(rng: np.random.Generator, low: int, high: int) -> int:
    """An integer in low..high, as likely in 10..20 as in 20..40: k matters by ratio, not by difference."""
    return int(np.clip(math.floor(math.exp(rng.uniform(math.log(low), math.log(high + 1)))), low, high))


def _random_config(space: SearchSpace, rng: np.random.Generator, algorithm: str | None = None) -> dict[str, Any]:
    algorithm = algorithm or str(rng.choice(space.algorithms))
    config: dict[str, Any] = {"algorithm": algorithm}
    if algorithm == "dbscan":
        config["eps"] = round(float(rng.uniform(*space.eps_range)), 3)
        config["min_samples"] = int(rng.integers(space.min_samples_range[0], space.min_samples_range[1] + 1))
    else:
        config["k"] = _log_uniform_int(rng, *space.k_range)
    if algorithm == "gmm":
        config["covariance"] = str(rng.choice(_COVARIANCES))
    if algorithm == "spectral":
        config["neighbours"] = int(rng.integers(space.neighbours_range[0], space.neighbours_range[1] + 1))
    config["pca"] = int(rng.choice(space.pca_choices))
    return config


def _mutated(config: Mapping[str, Any], space: SearchSpace, rng: np.random.Generator) -> dict[str, Any]:
    """`config` with each parameter changed with probability MUTATE_EACH (at least one), inside `space`."""
    if len(space.algorithms) > 1 and rng.random() < SWITCH_ALGORITHM:
        other = str(rng.choice([a for a in space.algorithms if a != config["algorithm"]]))
        moved = _random_config(space, rng, other)
        for kept in ("k", "pca"):
            if kept in moved and kept in config:
                moved[kept] = config[kept]
        return _clipped(moved, space)
    out = dict(config)
    names = [name for name in out if name != "algorithm"]
    forced = str(rng.choice(names))
    for name in names:
        if name != forced and rng.random() >= MUTATE_EACH:
            continue
        value = out[name]
        if name == "k":
            out[name] = int(round(value * math.exp(rng.normal(0, 0.25)))) or 1
            if out[name] == value:
                out[name] = value + int(rng.choice((-1, 1)))
        elif name == "neighbours":
            out[name] = int(round(value * math.exp(rng.normal(0, 0.25))))
        elif name == "pca":
            choices = space.pca_choices
            at = choices.index(value) if value in choices else 0
            out[name] = choices[int(np.clip(at + rng.choice((-1, 1)), 0, len(choices) - 1))]
        elif name == "covariance":
            out[name] = next(c for c in _COVARIANCES if c != value)
        elif name == "eps":
            out[name] = round(float(value * math.exp(rng.normal(0, 0.12))), 3)
        elif name == "min_samples":
            out[name] = int(value + rng.choice((-2, -1, 1, 2)))
    return _clipped(out, space)


def _clipped(config: dict[str, Any], space: SearchSpace) -> dict[str, Any]:
    if "k" in config:
        config["k"] = int(np.clip(config["k"], *space.k_range))
    if "eps" in config:
        config["eps"] = float(np.clip(config["eps"], *space.eps_range))
    if "min_samples" in config:
        config["min_samples"] = int(np.clip(config["min_samples"], *space.min_samples_range))
    if "neighbours" in config:
        config["neighbours"] = int(np.clip(config["neighbours"], *space.neighbours_range))
    if config.get("pca") not in space.pca_choices:
        config["pca"] = min(space.pca_choices, key=lambda c: abs(c - int(config.get("pca", 0))))
    return config


def next_configs(space: SearchSpace, elites: list[dict], count: int, rng: np.random.Generator,
                 exploit: bool) -> list[dict]:
    """The next `count` configs to run.

    Parameters
    ----------
    space : SearchSpace
    elites : list of dict
        The best configs so far, best first (run outcomes with a "config" are accepted too).
        Elites of algorithms outside the space are ignored.
    count : int
        Configs wanted.
    rng : np.random.Generator
        The search's generator (a seeded search is reproducible).
    exploit : bool
        False: all random.  True: each config is, with probability EXPLOIT_PROBABILITY, an elite
        (better ranked ones chosen more often) with every parameter liable to mutate; else random.

    Returns
    -------
    list of dict
        JSON-able configs inside `space`.
    """
    parents = [dict(e.get("config", e)) for e in elites]
    parents = [p for p in parents if p.get("algorithm") in space.algorithms]
    chances = 1.0 / np.arange(1, len(parents) + 1)
    configs = []
    for _ in range(count):
        if exploit and parents and rng.random() < EXPLOIT_PROBABILITY:
            parent = parents[int(rng.choice(len(parents), p=chances / chances.sum()))]
            configs.append(_mutated(parent, space, rng))
        else:
            configs.append(_random_config(space, rng))
    return configs


def best_runs(outcomes: list[dict], count: int) -> list[dict]:
    """The `count` best outcomes by score, one per config, failed runs left out: the elites.

    Parameters
    ----------
    outcomes : list of dict
        `run` outcomes (the elites so far and the new ones together).
    count : int
        Elites kept (PRESETS[...]["elites"]).
    """
    best: dict[str, dict] = {}
    for outcome in outcomes:
        if "failed" in outcome:
            continue
        key = repr(sorted(outcome["config"].items()))
        if key not in best or outcome["score"] > best[key]["score"]:
            best[key] = outcome
    return sorted(best.values(), key=lambda o: (-o["score"], o["run"]))[:count]


# ---------------------------------------------------------------------------
# samples

def _strata(features: TrackFeatures) -> np.ndarray:
    """Each track's top MSD tag (argmax of its scores), -1 for untagged tracks."""
    tags = features.msd
    tagged = ~np.isnan(tags).all(axis=1)
    top = np.full(len(features), -1, np.int64)
    top[tagged] = np.nanargmax(tags[tagged], axis=1)
    return top


def _sample(features: TrackFeatures, size: int, run_number: int, seed: int) -> np.ndarray:
    n = len(features)
    if size >= n:
        return np.arange(n)
    strata = _strata(features)
    names, counts = np.unique(strata, return_counts=True)
    quotas = _largest_remainder(counts, size)
    order = np.random.default_rng([seed, 0x5A]).permutation(n)    # one fixed shuffle per seed
    rows = []
    for name, count, quota in zip(names, counts, quotas):
        if quota == 0:
            continue
        members = order[strata[order] == name]
        start = (run_number * math.ceil(ROTATE_SHARE * quota)) % count
        rows.append(np.take(members, np.arange(start, start + quota), mode="wrap"))
    return np.sort(np.concatenate(rows))


def _largest_remainder(counts: np.ndarray, total: int) -> np.ndarray:
    """`total` split across strata proportionally to `counts`, every stratum at least one."""
    exact = counts * (total / counts.sum())
    quotas = np.maximum(np.floor(exact).astype(np.int64), 1)
    quotas = np.minimum(quotas, counts)
    short = total - quotas.sum()
    for i in np.argsort(-(exact - np.floor(exact)), kind="stable"):
        if short <= 0:
            break
        if quotas[i] < counts[i]:
            quotas[i] += 1
            short -= 1
    while short < 0:   # the ones given to tiny strata came from the largest
        i = int(np.argmax(quotas))
        quotas[i] -= 1
        short += 1
    return quotas


def sample_rows(features: TrackFeatures, space: SearchSpace, run_number: int, seed: int) -> np.ndarray:
    """The rows run `run_number` clusters: a sample stratified by top tag that rotates run to run.

    Parameters
    ----------
    features : TrackFeatures
    space : SearchSpace
        Its sample_size is the sample's size.
    run_number : int
        Each run replaces ROTATE_SHARE of every stratum's part of the previous run's sample.
    seed : int
        The search's seed.

    Returns
    -------
    np.ndarray
        Sorted row numbers; every row when the library fits in the sample.  Strata are the
        tracks' top MSD tags (the highest score), each sampled in proportion to its size and
        at least once; untagged tracks form one stratum.
    """
    return _sample(features, space.sample_size, run_number, seed)


# ---------------------------------------------------------------------------
# runs

def _random_state(seed: int, run_number: int) -> int:
    return int(np.random.SeedSequence([seed, run_number]).generate_state(1)[0])


def _fit_state(seed: int, config: Mapping[str, Any]) -> int:
    """The random state a config is fitted with: the same in every run and in `solve`, so a library
    that fits in one sample gets exactly the clustering its best run scored."""
    digest = zlib.crc32(json.dumps(config, sort_keys=True).encode())
    return int(np.random.SeedSequence([seed, digest]).generate_state(1)[0])


@dataclasses.dataclass
class _Fitted:
    """A config fitted on a sample: its labels, and what assigns other tracks."""

    labels: np.ndarray
    pca: Any
    model: Any
    centres: np.ndarray | None = None       # spectral: mean of each cluster, in the clustering space
    core_index: Any = None                  # dbscan: nearest-neighbour search over the core tracks...
    core_labels: np.ndarray | None = None   # ...their clusters...
    eps: float | None = None                # ...and the radius they reach

    def transform(self, unit: np.ndarray) -> np.ndarray:
        return unit if self.pca is None else self.pca.transform(unit)


def _fit(unit: np.ndarray, config: Mapping[str, Any], random_state: int) -> _Fitted:
    """Cluster `unit` (n, d) with `config`; raises ValueError when the config cannot run here."""
    with warnings.catch_warnings():
        # A disconnected neighbour graph (spectral) or fewer distinct points than k: the
        # clustering still comes back, and its score says what it is worth.
        warnings.simplefilter("ignore", UserWarning)
        return _fit_quietly(unit, config, random_state)


def _fit_quietly(unit: np.ndarray, config: Mapping[str, Any], random_state: int) -> _Fitted:
    from sklearn.cluster import DBSCAN, KMeans, MiniBatchKMeans, SpectralClustering
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture
    from sklearn.neighbors import NearestNeighbors

    n = unit.shape[0]
    algorithm = config["algorithm"]
    components = int(config.get("pca", 0))
    pca = None
    data = unit
    if components:
        if components >= min(n, unit.shape[1]):
            raise ValueError(f"pca {components} needs more than {components} tracks and dimensions")
        pca = PCA(components, svd_solver="randomized", random_state=random_state).fit(unit)
        data = pca.transform(unit)
    if algorithm in ("kmeans", "gmm", "spectral"):
        k = int(config["k"])
        if not 2 <= k < n:
            raise ValueError(f"k={k} needs between 2 and {n - 1} clusters")
    if algorithm == "kmeans":
        kind = MiniBatchKMeans if n >= MINIBATCH_FROM else KMeans
        extra = {"batch_size": 2048} if kind is MiniBatchKMeans else {}
        model = kind(n_clusters=k, n_init=1, random_state=random_state, **extra).fit(data)
        return _Fitted(model.labels_.astype(np.int64), pca, model)
    if algorithm == "gmm":
        reg = _GMM_REG * float(data.var(axis=0).mean())
        model = GaussianMixture(k, covariance_type=config["covariance"], reg_covar=reg, n_init=1,
                                init_params="k-means++", max_iter=100, random_state=random_state).fit(data)
        return _Fitted(model.predict(data).astype(np.int64), pca, model)
    if algorithm == "spectral":
        neighbours = min(int(config["neighbours"]), n - 1)
        model = SpectralClustering(k, affinity="nearest_neighbors", n_neighbors=neighbours,
                                   assign_labels="cluster_qr", random_state=random_state).fit(data)
        labels = model.labels_.astype(np.int64)
        clusters = np.unique(labels)
        centres = np.stack([data[labels == c].mean(axis=0) for c in clusters])
        return _Fitted(np.searchsorted(clusters, labels), pca, model, centres=centres)
    if algorithm == "dbscan":
        min_samples = int(config["min_samples"])
        if min_samples >= n:
            raise ValueError(f"min_samples={min_samples} needs more than {min_samples} tracks")
        kth = NearestNeighbors(n_neighbors=min_samples).fit(data).kneighbors(data)[0][:, -1]
        eps = float(config["eps"]) * float(np.median(kth))
        if eps <= 0:
            raise ValueError("the tracks are all alike: no distance to scale eps by")
        model = DBSCAN(eps=eps, min_samples=min_samples).fit(data)
        core = model.core_sample_indices_
        index = NearestNeighbors(n_neighbors=1).fit(data[core]) if core.size else None
        return _Fitted(model.labels_.astype(np.int64), pca, model, core_index=index,
                       core_labels=model.labels_[core].astype(np.int64), eps=eps)
    raise ValueError(f"unknown algorithm {algorithm!r}")


def run(features: TrackFeatures, config: Mapping[str, Any], run_number: int, seed: int,
        weights: Mapping[str, float] | None = None, *, space: SearchSpace | None = None) -> dict[str, Any]:
    """Cluster run `run_number`'s sample with `config` and score it.

    Parameters
    ----------
    features : TrackFeatures
        The snapshot: standardized unit vectors, tags.
    config : mapping
        From `next_configs`.
    run_number, seed : int
        Pick the sample and every random state: same inputs, same outcome.
    weights : mapping, optional
        Score weights per measure; default config.CLUSTER_SCORE_WEIGHTS.
    space : SearchSpace, optional
        The search's space (the playlists it asks for count in the score); default: the default
        space for this library.

    Returns
    -------
    dict
        JSON-able: run, config, score (FAILED_SCORE when the config could not cluster, with
        "failed": the reason), breakdown (cluster_scoring.score's), clusters, sizes_min /
        sizes_median / sizes_max (songs: sample cluster sizes scaled to the library),
        noise_share (0-1, of the sample), seconds (wall time).
    """
    started = time.perf_counter()
    space = space or search_space(len(features))
    rows = sample_rows(features, space, run_number, seed)
    unit = features.vectors[rows]
    outcome: dict[str, Any] = {"run": int(run_number), "config": dict(config), "score": FAILED_SCORE,
                               "breakdown": {}, "clusters": 0, "sizes_min": 0, "sizes_median": 0,
                               "sizes_max": 0, "noise_share": 0.0}
    try:
        with threadpool_limits(1):
            fitted = _fit(unit, config, _fit_state(seed, config))
            labels = fitted.labels
            placed = labels[labels >= 0]
            counts = np.unique(placed, return_counts=True)[1]
            sizes = counts * (len(features) / rows.size)
            outcome.update(clusters=int(sizes.size), noise_share=round(float(np.mean(labels < 0)), 4))
            if sizes.size:
                outcome.update(sizes_min=int(round(sizes.min())), sizes_median=int(round(np.median(sizes))),
                               sizes_max=int(round(sizes.max())))
            if sizes.size < 2:
                raise ValueError(f"{sizes.size} cluster(s): nothing to tell apart")
            largest = space.max_size * rows.size / len(features)
            if largest >= SPLIT_FROM and counts.max() > largest:   # score the playlists build will cut
                labels = cluster_playlists.split_oversize(unit, labels, int(largest), _random_state(seed, run_number),
                                                          starts=1)
            outcome["parts"] = int(np.unique(labels[labels >= 0]).size)
            ranks = cluster_scoring.percentiles(cluster_scoring.label_scores(features.msd[rows],
                                                                             features.mtt[rows]))
            total, breakdown = cluster_scoring.score(
                unit, ranks, labels, weights=CLUSTER_SCORE_WEIGHTS if weights is None else weights,
                seed=_random_state(seed, run_number), min_size=space.min_size, max_size=space.max_size,
                playlists=space.playlists, scale=len(features) / rows.size)
            outcome.update(score=total, breakdown=breakdown)
    except (ValueError, KeyError, TypeError, ArithmeticError, np.linalg.LinAlgError) as error:
        outcome["failed"] = str(error) or type(error).__name__
    outcome["seconds"] = round(time.perf_counter() - started, 3)
    return outcome


def solve(features: TrackFeatures, config: Mapping[str, Any], seed: int) -> np.ndarray:
    """Cluster the whole library with `config`.

    The config is fitted on the library, or on run 0's sample when the library is larger than
    SAMPLE_TRACKS; then every track is assigned: k-means and GMM predict, spectral takes the
    nearest cluster centre, DBSCAN the cluster of the nearest core track within eps (noise
    stays unplaced, as it did in the runs).

    Parameters
    ----------
    features : TrackFeatures
    config : mapping
        Usually the best run's.
    seed : int
        The search's seed.

    Returns
    -------
    np.ndarray
        int64 (n,) cluster per track, -1 for unplaced.

    Raises
    ------
    ValueError
        When the config cannot cluster this library (e.g. DBSCAN finds a single cluster).
    """
    n = len(features)
    rows = _sample(features, sample_size(n), 0, seed)
    with threadpool_limits(1):
        fitted = _fit(features.vectors[rows], config, _fit_state(seed, config))
        if rows.size == n:
            labels = fitted.labels
        else:
            labels = np.concatenate([_assign(fitted, features.vectors[start:start + _ASSIGN_BLOCK])
                                     for start in range(0, n, _ASSIGN_BLOCK)])
    if np.unique(labels[labels >= 0]).size < 2:
        raise ValueError(f"{config.get('algorithm')} found fewer than two clusters in this library")
    return labels


def _assign(fitted: _Fitted, unit: np.ndarray) -> np.ndarray:
    data = fitted.transform(unit)
    if fitted.eps is not None:
        if fitted.core_index is None:
            return np.full(unit.shape[0], -1, np.int64)
        distance, nearest = fitted.core_index.kneighbors(data)
        return np.where(distance[:, 0] <= fitted.eps, fitted.core_labels[nearest[:, 0]], -1)
    if fitted.centres is not None:
        squared = (data ** 2).sum(axis=1)[:, None] - 2 * data @ fitted.centres.T + (fitted.centres ** 2).sum(axis=1)
        return squared.argmin(axis=1).astype(np.int64)
    return fitted.model.predict(data).astype(np.int64)
