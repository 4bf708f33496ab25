"""Laying the library out on the music map: where each track's point goes.

The map is drawn from the similarity index's own points (standardized,
unit-length track vectors), so "close on the map" tries to mean what "similar"
means everywhere else in Sonarium.

- `fit` lays every track out afresh: UMAP (umap-learn) with a fixed seed, so
  the same library always gives the same picture; PCA below
  UMAP_MIN_TRACKS, where UMAP's 15-neighbour graph would join nearly
  every track to every other.
- `place` adds new tracks to an existing map without moving the others: each
  goes to the weighted mean of the map positions of its nearest index
  neighbours already on the map.  This is how UMAP's own `transform` starts
  a new point (before refining it), and it needs nothing but the index and the
  map: keeping the fitted UMAP model for `transform` would cost a 371 MiB blob
  at 100,000 tracks (twice the index) and seconds of loading and compiling per
  placing run, for placements no closer to their kind (docs/PERFORMANCE.md,
  "Music map: projection", has both methods' figures).
- `neighbours_kept` measures how honest a map is: the share of a track's 10
  index neighbours that are also among its 10 nearest points on the map.

Map coordinates have no unit: only distances between points mean anything.
"""
from __future__ import annotations

import dataclasses
import functools
import sys
import warnings

import numpy as np
from scipy.spatial import cKDTree

UMAP_MIN_TRACKS = 50        # fewer tracks are laid out by PCA
UMAP_NEIGHBOURS = 15        # UMAP's n_neighbors: the local neighbourhood it keeps
UMAP_MIN_DIST = 0.1         # how tightly UMAP may pack similar tracks (its min_dist)
SEED = 20260                # the one seed every map is fitted with: same library, same map
PLACE_NEIGHBOURS = 10       # index neighbours a placed track is averaged from
PLACE_CANDIDATES = 50       # index neighbours looked at to find PLACE_NEIGHBOURS already on the map
QUALITY_NEIGHBOURS = 10     # neighbours compared by neighbours_kept
QUALITY_SAMPLE = 2000       # tracks neighbours_kept looks at in a bigger library


@dataclasses.dataclass
class Layout:
    """Map positions for the rows of the vectors that were laid out.

    xy : float32 (n, 2), unitless map coordinates
    method : "umap" or "pca"
    """

    xy: np.ndarray
    method: str


def fit(points: np.ndarray, seed: int = SEED) -> Layout:
    """Lay every track out afresh.

    Parameters
    ----------
    points : float32 (n, d)
        The index's points (standardized, unit-length track vectors), in a fixed order (by track id):
        the same points in the same order with the same seed give the same map.
    seed : int
        UMAP's random state.

    Returns
    -------
    Layout
        UMAP of the points (euclidean distance between unit vectors, which orders neighbours as cosine
        does) when there are at least UMAP_MIN_TRACKS, else their first two principal components.
    """
    points = np.asarray(points, np.float32)
    if len(points) < UMAP_MIN_TRACKS:
        return Layout(_principal_components(points), "pca")
    with warnings.catch_warnings():
        # A seed makes UMAP run single-threaded and it says so each time; that is the point of the seed.
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        # pynndescent's graph search refers to arrays numba cannot keep on disk (_umap turned its cache on).
        warnings.filterwarnings("ignore", message="Cannot cache compiled function")
        xy = umap_reducer(seed).fit_transform(points)
    return Layout(np.asarray(xy, np.float32), "umap")


def umap_reducer(seed: int = SEED):
    """The map's UMAP, unfitted (bench/map.py fits it too, to weigh keeping it for `transform`)."""
    return _umap().UMAP(n_neighbors=UMAP_NEIGHBOURS, min_dist=UMAP_MIN_DIST, metric="euclidean",
                        random_state=seed, low_memory=True, verbose=False)


@functools.cache
def _umap():
    """umap-learn, its numba kernels compiled once per cache dir rather than once per process.

    Most of umap-learn's kernels are compiled without numba's disk cache: every
    new process (each job's forked work horse) spent 14 s compiling them before
    a fit of 300 tracks that then took 0.3 s.  Turning the cache on for each of
    them makes a later process load them in well under a second; the cache goes
    where NUMBA_CACHE_DIR says (the data dir, set by the launcher).
    """
    import umap  # 1-2 s to import, more on a first start: only where a map is fitted
    from numba.core.dispatcher import Dispatcher
    for name, module in list(sys.modules.items()):
        if name.startswith(("umap.", "pynndescent.")):
            for kernel in vars(module).values():
                if isinstance(kernel, Dispatcher):
                    try:
                        kernel.enable_caching()
                    except RuntimeError:  # no writable cache dir: it compiles in each process, as before
                        return umap
    return umap


def _principal_components(points: np.ndarray) -> np.ndarray:
    """The first two principal component scores (zeros where the points have fewer dimensions of spread)."""
    xy = np.zeros((len(points), 2), np.float32)
    if len(points) < 2:
        return xy
    centred = points.astype(np.float64) - points.mean(axis=0)
    left, singular, _ = np.linalg.svd(centred, full_matrices=False)
    components = min(2, len(singular))
    scores = left[:, :components] * singular[:components]
    # SVD's signs are arbitrary: make each axis's largest score positive so a refit cannot mirror the map.
    scores *= np.where(scores[np.abs(scores).argmax(axis=0), range(components)] < 0, -1.0, 1.0)
    xy[:, :components] = scores
    return xy


def place(neighbour_ids: np.ndarray, neighbour_distances: np.ndarray, mapped_ids: np.ndarray,
          mapped_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions for new tracks, from their index neighbours that are already on the map.

    Parameters
    ----------
    neighbour_ids : int (m, k)
        Each new track's nearest index neighbours, closest first (k >= PLACE_NEIGHBOURS; more lets tracks
        whose closest neighbours are new too find enough mapped ones).
    neighbour_distances : float (m, k)
        Their cosine distances (0..2).
    mapped_ids : int64 (n,)
        Track ids on the map, ascending.
    mapped_xy : float32 (n, 2)
        Their positions.

    Returns
    -------
    xy : float32 (m, 2)
        The weighted mean of the positions of each track's PLACE_NEIGHBOURS closest mapped neighbours; the
        closest weighs 1 and weights fall off as exp(-(d - d_closest) / (mean d - d_closest)), so a near
        duplicate lands on its twin and a track among equals lands amid them.
    placed : bool (m,)
        False for a track none of whose neighbours is on the map (its row of xy is NaN).
    """
    rows = np.searchsorted(mapped_ids, neighbour_ids).clip(0, max(len(mapped_ids) - 1, 0))
    on_map = (mapped_ids[rows] == neighbour_ids) if len(mapped_ids) else np.zeros(neighbour_ids.shape, bool)
    # The first PLACE_NEIGHBOURS mapped neighbours of each row, closest first.
    keep = on_map & (np.cumsum(on_map, axis=1) <= PLACE_NEIGHBOURS)
    count = keep.sum(axis=1)
    placed = count > 0
    closest = np.where(placed, np.where(keep, neighbour_distances, np.inf).min(axis=1), 0.0)[:, None]
    mean = (np.where(keep, neighbour_distances, 0.0).sum(axis=1) / np.maximum(count, 1))[:, None]
    weights = np.where(keep, np.exp(-(neighbour_distances - closest) / np.maximum(mean - closest, 1e-6)), 0.0)
    xy = np.full((len(neighbour_ids), 2), np.nan, np.float32)
    xy[placed] = ((weights[placed, :, None] * mapped_xy[rows[placed]]).sum(axis=1)
                  / weights[placed].sum(axis=1)[:, None]).astype(np.float32)
    return xy, placed


def sample_rows(count: int, seed: int = SEED) -> np.ndarray:
    """The rows neighbours_kept looks at: all of a small library, QUALITY_SAMPLE fixed ones of a big one."""
    if count <= QUALITY_SAMPLE:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, QUALITY_SAMPLE, replace=False))


def neighbours_kept(xy: np.ndarray, rows: np.ndarray, true_neighbours: list[np.ndarray]) -> float | None:
    """How well the map keeps the index's neighbourhoods, 0..1 (1: every neighbour is a map neighbour).

    Parameters
    ----------
    xy : float32 (n, 2)
        Every track's map position.
    rows : int (s,)
        The tracks looked at (rows of xy).
    true_neighbours : list of int arrays
        For each looked-at track, the rows of xy of its index neighbours (at most QUALITY_NEIGHBOURS; rows
        not on the map left out).

    Returns
    -------
    float or None
        The mean over the looked-at tracks of |index neighbours ∩ its QUALITY_NEIGHBOURS nearest map points|
        / |index neighbours|; None when no track has a neighbour (a library of one).
    """
    if len(xy) < 2 or not len(rows):
        return None
    wanted = min(QUALITY_NEIGHBOURS + 1, len(xy))
    _, nearest = cKDTree(xy).query(xy[rows], k=wanted)
    shares = []
    for row, on_map, expected in zip(rows, nearest, true_neighbours):
        if len(expected):
            found = [int(r) for r in on_map if r != row][:QUALITY_NEIGHBOURS]
            shares.append(len(set(found) & set(expected.tolist())) / len(expected))
    return float(np.mean(shares)) if shares else None
