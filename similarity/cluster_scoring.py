"""How good one clustering of a sample is, as one number and its breakdown.

Five measures, each put on one scale: 0 is what a random partition of the same
sizes on the same sample gets, 1 is the best the measure can say.

- purity: how strongly a cluster's tracks carry the cluster's own top labels.
  Each cluster's labels are ranked by the mean score of its tracks (ranked by
  score, never taken by their position in a list); purity is the mean score
  of the tracks on their cluster's TOP_LABELS labels, over placed tracks.
  The reference takes each track's highest score among the top labels
  instead; on percentile scores (below) the highest of any three labels is
  0.75 on average by chance alone, which drowns what the clusters add.
- diversity: how many different dominant labels the clusters have, weighted
  by how dominant they are.  A cluster's dominant label is its top-ranked one
  and its strength that label's mean score; the sum over distinct dominant
  labels of their strongest cluster's strength, divided by the number of
  clusters.
- silhouette (cosine, on a subsample of SILHOUETTE_TRACKS placed tracks),
  Davies-Bouldin and Calinski-Harabasz, in the track-vector space the runs
  share (standardized unit vectors, whatever PCA a run used), so runs with
  and without PCA compare.  Best: 1, 0 and unbounded.

For purity and diversity the best is what a cluster of its size can reach: a
cluster holding a share q of the sample has a mean percentile of at most
1 - q/2 on any label (its tracks being the top ones), so the best purity is
the size-weighted mean of 1 - q/2, and the best diversity the plain mean of
1 - q/2 (every cluster its own dominant label).

Purity and diversity follow the reference system's definitions; what differs
is the label ranking and the normalisation, against random partitions
measured on the run's own sample instead of hard-coded statistics.

Labels.  The MSD and MTT tag probabilities, merged into one vocabulary
(`LABELS`): tags both models have ("rock", "piano"... "electronic") and
synonyms within one model ("female", "woman", "female vocal"...) are one label,
scored by the highest of their probabilities, so one idea is not counted two
to four times.  The six moods are left out: they are computed from these very
tags (analysis.moods), so they would weigh a dozen tags twice.  Scores are
percentile ranks within the sample (0-1): a label every track scores high on
("instrumental" in a game-music library) then cannot be every cluster's top
label, and a rare one is not drowned by common ones.  A track without tags
is neutral (0.5) on every label.

The total is  placeable_share x sum(weight x normalised measure), weights
from config.CLUSTER_SCORE_WEIGHTS.  placeable_share (`placeable_share`) is how
much of the playlists asked for the clustering can fill: a run of crumbs or
mostly noise scores near 0 however neat its crumbs are, and so does one that
cuts the library finer than the playlists wanted can hold.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import silhouette_score

from analysis.labels import MSD_LABELS, MTT_LABELS

TOP_LABELS = 3             # a cluster's labels that count for purity (the reference uses 3 too)
SILHOUETTE_TRACKS = 1500   # silhouette is O(n^2): 1500 tracks cost ~0.05 s and vary by ~0.01
RANDOM_PARTITIONS = 3      # random partitions averaged for each measure's zero point
MEASURES = ("purity", "diversity", "silhouette", "davies_bouldin", "calinski_harabasz")

# Tags that name one idea: every (vocabulary, tag) here is scored under the
# merged label; the other tags keep their own lower-cased name, so tags both
# models have ("rock", "guitar", "ambient"...) meet under one label.
_SYNONYMS = {
    ("msd", "female vocalists"): "female vocals", ("msd", "female vocalist"): "female vocals",
    ("mtt", "female"): "female vocals", ("mtt", "woman"): "female vocals",
    ("mtt", "female vocal"): "female vocals", ("mtt", "female voice"): "female vocals",
    ("msd", "male vocalists"): "male vocals", ("mtt", "male"): "male vocals", ("mtt", "man"): "male vocals",
    ("mtt", "male vocal"): "male vocals", ("mtt", "male voice"): "male vocals",
    ("mtt", "vocal"): "vocals", ("mtt", "voice"): "vocals", ("mtt", "singing"): "vocals",
    ("mtt", "no vocals"): "instrumental", ("mtt", "no vocal"): "instrumental", ("mtt", "no voice"): "instrumental",
    ("mtt", "beat"): "beats", ("mtt", "classic"): "classical", ("mtt", "choral"): "choir",
    ("msd", "chill"): "chillout", ("msd", "electronica"): "electronic",
}


def _vocabulary() -> tuple[tuple[str, ...], tuple[tuple[int, ...], ...], tuple[tuple[int, ...], ...]]:
    members: dict[str, tuple[list[int], list[int]]] = {}
    for vocabulary, tags in (("msd", MSD_LABELS), ("mtt", MTT_LABELS)):
        for column, tag in enumerate(tags):
            label = _SYNONYMS.get((vocabulary, tag), tag.lower())
            members.setdefault(label, ([], []))[vocabulary == "mtt"].append(column)
    names = tuple(members)
    return (names, tuple(tuple(members[n][0]) for n in names), tuple(tuple(members[n][1]) for n in names))


#: The merged tag vocabulary, lower case; column j of `label_scores` is LABELS[j].
LABELS, _MSD_COLUMNS, _MTT_COLUMNS = _vocabulary()


def label_scores(msd: np.ndarray, mtt: np.ndarray) -> np.ndarray:
    """Tag probabilities in the merged vocabulary.

    Parameters
    ----------
    msd, mtt : np.ndarray
        (n, 50) probabilities (0-1) in MSD_LABELS / MTT_LABELS order; NaN rows for untagged tracks.

    Returns
    -------
    np.ndarray
        float32 (n, len(LABELS)), 0-1: each label the highest probability among its tags; NaN when
        the track has none of them.
    """
    out = np.full((msd.shape[0], len(LABELS)), np.nan, np.float32)
    for j, (from_msd, from_mtt) in enumerate(zip(_MSD_COLUMNS, _MTT_COLUMNS)):
        for source, columns in ((msd, from_msd), (mtt, from_mtt)):
            for column in columns:
                out[:, j] = np.fmax(out[:, j], source[:, column])   # fmax: a NaN loses to a number
    return out


def percentiles(scores: np.ndarray) -> np.ndarray:
    """Each column's values as percentile ranks within the rows (0 lowest, 1 highest, ties averaged).

    Parameters
    ----------
    scores : np.ndarray
        (n, m) scores; NaN counts as the column's median (neutral), an all-NaN column as 0.

    Returns
    -------
    np.ndarray
        float32 (n, m) in 0..1; 0.5 everywhere when n is 1.
    """
    filled = np.array(scores, dtype=np.float32)
    if filled.shape[0] <= 1:
        return np.full(filled.shape, 0.5, np.float32)
    missing = np.isnan(filled)
    if missing.any():
        with np.errstate(all="ignore"):
            medians = np.nan_to_num(np.nanmedian(np.where(missing.all(axis=0), 0.0, filled), axis=0))
        filled = np.where(missing, medians, filled)
    return ((rankdata(filled, axis=0) - 1.0) / (filled.shape[0] - 1)).astype(np.float32)


def _centroids(values: np.ndarray, labels: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """Mean row of `values` per cluster, in `clusters` order (every cluster has a row)."""
    order = np.argsort(labels, kind="stable")
    starts = np.searchsorted(labels[order], clusters)
    sums = np.add.reduceat(values[order].astype(np.float64), starts, axis=0)
    return sums / np.diff(np.append(starts, labels.size))[:, None]


def davies_bouldin(points: np.ndarray, labels: np.ndarray) -> float:
    """Davies-Bouldin index (Euclidean; 0 best): the mean over clusters of the worst ratio of two
    clusters' spreads (mean distance to their centre) to the distance between their centres.

    The same value as sklearn's davies_bouldin_score, in a few matrix operations instead of a
    distance call per cluster (hundreds of clusters per run).
    """
    clusters = np.unique(labels)
    centres = _centroids(points, labels, clusters)
    index = np.searchsorted(clusters, labels)
    spread = np.bincount(index, np.linalg.norm(points - centres[index], axis=1)) / np.bincount(index)
    squared = (centres ** 2).sum(axis=1)
    apart = np.sqrt(np.maximum(squared[:, None] + squared[None, :] - 2 * centres @ centres.T, 0.0))
    np.fill_diagonal(apart, np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.nan_to_num((spread[:, None] + spread[None, :]) / apart, nan=0.0, posinf=0.0)
    return float(ratio.max(axis=1).mean())


def calinski_harabasz(points: np.ndarray, labels: np.ndarray) -> float:
    """Calinski-Harabasz index (between- over within-cluster dispersion, each per degree of freedom;
    higher is better), as sklearn's calinski_harabasz_score computes it."""
    clusters, index, sizes = np.unique(labels, return_inverse=True, return_counts=True)
    centres = _centroids(points, labels, clusters)
    mean = points.mean(axis=0)
    between = float((sizes * ((centres - mean) ** 2).sum(axis=1)).sum())
    within = float(((points - centres[index]) ** 2).sum())
    k, n = clusters.size, labels.size
    return 1.0 if within == 0 else between * (n - k) / (within * (k - 1))


def top_labels(ranks: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each cluster's label columns ranked by their mean percentile in it, highest first.

    Parameters
    ----------
    ranks : np.ndarray
        (n, m) label percentiles of the placed tracks.
    labels : np.ndarray
        (n,) cluster of each track (no noise).

    Returns
    -------
    (np.ndarray, np.ndarray)
        The clusters (sorted) and, per cluster, all m label columns in rank order.
    """
    clusters = np.unique(labels)
    return clusters, np.argsort(-_centroids(ranks, labels, clusters), axis=1, kind="stable")


def purity(ranks: np.ndarray, labels: np.ndarray) -> float:
    """Mean percentile of the tracks on their cluster's TOP_LABELS labels (0-1).

    Parameters
    ----------
    ranks : np.ndarray
        (n, m) label percentiles of the placed tracks.
    labels : np.ndarray
        (n,) cluster of each track (no noise).
    """
    clusters, ranked = top_labels(ranks, labels)
    own_top = ranked[np.searchsorted(clusters, labels), :TOP_LABELS]
    return float(np.take_along_axis(ranks, own_top, axis=1).mean())


def diversity(ranks: np.ndarray, labels: np.ndarray) -> float:
    """Sum over distinct dominant labels of their strongest cluster's mean percentile, per cluster (0-1).

    Parameters
    ----------
    ranks : np.ndarray
        (n, m) label percentiles of the placed tracks.
    labels : np.ndarray
        (n,) cluster of each track (no noise).
    """
    clusters = np.unique(labels)
    centroids = _centroids(ranks, labels, clusters)
    dominant = centroids.argmax(axis=1)
    strength = centroids[np.arange(clusters.size), dominant]
    best: dict[int, float] = {}
    for label, value in zip(dominant.tolist(), strength.tolist()):
        best[label] = max(best.get(label, 0.0), value)
    return sum(best.values()) / clusters.size


def _silhouette(distances: np.ndarray, labels: np.ndarray) -> float:
    if not 2 <= np.unique(labels).size < labels.size:
        return float("nan")
    return float(silhouette_score(distances, labels, metric="precomputed"))


def _raw_measures(unit: np.ndarray, ranks: np.ndarray, labels: np.ndarray,
                  distances: np.ndarray, subsample: np.ndarray) -> dict[str, float]:
    return {"purity": purity(ranks, labels), "diversity": diversity(ranks, labels),
            "silhouette": _silhouette(distances, labels[subsample]),
            "davies_bouldin": davies_bouldin(unit, labels),
            "calinski_harabasz": calinski_harabasz(unit, labels)}


def _normalised(measure: str, raw: float, random: float, ideal: float) -> float:
    """0 for the random partitions' value, 1 for the measure's best; clipped to -1..1."""
    if not (np.isfinite(raw) and np.isfinite(random)):
        return 0.0
    if measure == "davies_bouldin":        # lower is better, 0 is best
        value = 1.0 - raw / random if random > 0 else 0.0
    elif measure == "calinski_harabasz":   # higher is better, no upper bound
        value = 1.0 - random / raw if raw > 0 else -1.0
    else:
        value = (raw - random) / (ideal - random) if ideal - random > 1e-9 else 0.0
    return float(np.clip(value, -1.0, 1.0))


def placeable_share(sizes: np.ndarray, *, tracks: float, min_size: int, max_size: int, playlists: int) -> float:
    """How much of the playlists asked for these clusters would fill (0-1).

    Each cluster is cut as cluster_playlists.build cuts it (into ceil(size / max_size) parts,
    taken here as equal), parts under min_size are dropped, the `playlists` largest kept; their
    tracks are compared with the most that many playlists can hold in this library.

    Parameters
    ----------
    sizes : np.ndarray
        Songs in each cluster, in the library (a sample's sizes scaled up).
    tracks : float
        Songs in the library, placed or not.
    min_size, max_size, playlists : int
        The playlists asked for.
    """
    sizes = np.asarray(sizes, dtype=np.float64)
    parts = np.ceil(sizes / max_size).astype(np.int64)
    part_sizes = np.repeat(sizes / np.maximum(parts, 1), parts)
    kept = np.sort(part_sizes[part_sizes >= min_size])[::-1][:playlists].sum()
    most = min(tracks, playlists * max_size)
    return float(min(kept / most, 1.0)) if most > 0 else 0.0


def score(unit: np.ndarray, ranks: np.ndarray, labels: np.ndarray, *, weights: Mapping[str, float],
          seed: int, min_size: int, max_size: int, playlists: int, scale: float = 1.0) -> tuple[float, dict]:
    """The weighted, normalised score of one clustering of a sample, and its breakdown.

    Parameters
    ----------
    unit : np.ndarray
        (n, d) the sample's standardized unit track vectors (cosine distance = 1 - dot).
    ranks : np.ndarray
        (n, m) the sample's label percentiles (`percentiles(label_scores(...))`).
    labels : np.ndarray
        (n,) int cluster per track, -1 for noise; at least two clusters.
    weights : mapping
        Weight per name in MEASURES (missing: 0), e.g. config.CLUSTER_SCORE_WEIGHTS.
    seed : int
        Seeds the random partitions and the silhouette subsample.
    min_size, max_size, playlists : int
        The playlists asked for (songs, songs, count), for `placeable_share`.
    scale : float
        Library tracks per sample track (1 when the sample is the library).

    Returns
    -------
    (float, dict)
        The total (unitless; 0 for a random partition, at most the sum of the weights) and, per
        measure, {"raw", "random", "normalised", "weight"} plus "placeable_share" (0-1).

    Raises
    ------
    ValueError
        When fewer than two clusters remain once noise is left out.
    """
    placed = labels >= 0
    unit, ranks, labels = unit[placed], ranks[placed], labels[placed]
    sizes = np.unique(labels, return_counts=True)[1]
    if sizes.size < 2:
        raise ValueError("fewer than two clusters")
    rng = np.random.default_rng(seed)
    subsample = np.sort(rng.permutation(labels.size)[:SILHOUETTE_TRACKS])
    points = unit[subsample].astype(np.float32)
    distances = np.clip(1.0 - points @ points.T, 0.0, 2.0)
    np.fill_diagonal(distances, 0.0)
    raw = _raw_measures(unit, ranks, labels, distances, subsample)
    randoms = [_raw_measures(unit, ranks, rng.permutation(labels), distances, subsample)
               for _ in range(RANDOM_PARTITIONS)]
    reachable = 1.0 - sizes / (2.0 * labels.size)   # a cluster's best mean percentile on any label
    ideal = {"purity": float((sizes * reachable).sum() / labels.size),
             "diversity": float(np.sort(reachable)[::-1][:ranks.shape[1]].sum() / sizes.size), "silhouette": 1.0}
    placeable = placeable_share(sizes * scale, tracks=placed.size * scale, min_size=min_size, max_size=max_size,
                                playlists=playlists)
    breakdown: dict = {}
    total = 0.0
    for measure in MEASURES:
        random = float(np.mean([r[measure] for r in randoms]))
        normalised = _normalised(measure, raw[measure], random, ideal.get(measure, 0.0))
        weight = float(weights.get(measure, 0.0))
        total += weight * normalised
        breakdown[measure] = {"raw": _rounded(raw[measure]), "random": _rounded(random),
                              "normalised": round(normalised, 4), "weight": weight}
    breakdown["placeable_share"] = round(placeable, 4)
    return round(placeable * total, 6), breakdown


def _rounded(value: float) -> float | None:
    """4 decimals for the JSON breakdown; None for NaN (not JSON)."""
    return round(value, 4) if np.isfinite(value) else None
