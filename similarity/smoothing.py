"""Neighbourhood re-ranking: similar songs ranked by the company both songs keep.

A track's smoothed point is its own point in the index (standardized, unit
length) plus those of its NEIGHBOURS nearest tracks, renormalised (what image
retrieval calls database-side augmentation).  Two songs whose neighbourhoods
overlap (an album, a soundtrack, one artist's sound) rank closer than their own
excerpts alone would say, and a song whose excerpts caught an odd passage is
placed by the company it keeps.  On the dev corpus the share of same-source
songs among a song's 10 nearest rose from 0.657 to 0.698 at the default depth,
and to 0.682 with the number of neighbours chosen without each source's own
songs (docs/QUALITY.md, bench/quality.py).

The index keeps the songs' own points: distances shown to users, duplicate
tests, paths, alchemy and the map are unchanged.  `rerank` re-orders the
candidates the index found for a seed (similarity.neighbours), which costs one
batched index query for the candidates' own neighbours.  `smooth_all` smooths
a whole set at once (benchmarks rank every pair with it).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:
    from similarity.index import TrackIndex

#: Nearest tracks blended into each point (chosen by leave-one-source-out on the dev corpus:
#: 6 won in four of six folds; 5 to 8 all scored within 0.015 of it).
NEIGHBOURS = 6
_BLOCK = 1024  # rows per block of smooth_all's exact search


def _unit(points: np.ndarray) -> np.ndarray:
    return (points / np.maximum(np.linalg.norm(points, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def smooth_all(points: np.ndarray, k: int = NEIGHBOURS) -> np.ndarray:
    """Smoothed points of a whole set, by exact search (for benchmarks: O(n^2)).

    Parameters
    ----------
    points : float32 (n, d), standardized unit vectors (similarity.index's space).
    k : neighbours blended into each point (fewer when the set is smaller).

    Returns
    -------
    np.ndarray
        float32 (n, d), unit length.
    """
    points = np.asarray(points, np.float32)
    k = min(k, len(points) - 1)
    if k <= 0:
        return points
    nearest = np.zeros((len(points), k), np.int64)
    for start in range(0, len(points), _BLOCK):
        similarity = points[start:start + _BLOCK] @ points.T
        rows = np.arange(len(similarity))
        similarity[rows, start + rows] = -np.inf
        nearest[start:start + len(similarity)] = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    return _unit(points + points[nearest].sum(axis=1))


def smoothed_points(index: TrackIndex, ids: Sequence[int], k: int = NEIGHBOURS) -> np.ndarray:
    """The smoothed points of indexed tracks, float32 (len(ids), d), unit length.

    Raises KeyError (as TrackIndex.unit_vectors) naming a track that is not indexed.
    """
    points = index.unit_vectors(list(ids))
    k = min(k, index.size - 1)
    if k <= 0 or not len(points):
        return points
    found, _ = index.nearest_many(points, k + 1)
    # Each track normally finds itself first; a duplicate recording may come first instead.
    rows = [[int(n) for n in row if int(n) != own][:k] for row, own in zip(found, ids)]
    neighbour_ids = sorted({n for row in rows for n in row})
    neighbour_points = dict(zip(neighbour_ids, index.unit_vectors(neighbour_ids)))
    sums = np.stack([np.sum([neighbour_points[n] for n in row], axis=0) if row else np.zeros(points.shape[1])
                     for row in rows])
    return _unit(points + sums)


def rerank(index: TrackIndex, seed_id: int, candidates: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """`candidates` [(track id, distance to the seed)] re-ordered by their smoothed points'
    closeness to the seed's smoothed point; the distances stay the direct ones."""
    if len(candidates) < 2:
        return candidates
    points = smoothed_points(index, [seed_id] + [track_id for track_id, _ in candidates])
    closeness = points[1:] @ points[0]
    return [candidates[i] for i in np.argsort(-closeness, kind="stable")]
